// The part of @opentelemetry/api (1.x) the gateway uses, declared here rather than imported: the
// API is an optional peer, so the gateway's published declarations must not need it (an app
// that type-checks without it installed, and without skipLibCheck, still compiles).

/** A span's ids, W3C hex. */
export interface SpanContext {
  traceId: string;
  spanId: string;
  isRemote?: boolean;
  traceFlags: number;
}

/** Opaque: what the API's context functions take and give. */
export interface Context {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): Context;
  deleteValue(key: symbol): Context;
}

export interface Span {
  spanContext(): SpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: string): unknown;
  setAttributes(attributes: Record<string, string>): unknown;
  setStatus(status: { code: number; message?: string | undefined }): unknown;
  end(): void;
}

export interface Tracer {
  startSpan(name: string, options: { kind: number; attributes: Record<string, string> }, context: Context): Span;
}

export interface TracerProvider {
  getTracer(name: string, version?: string): Tracer;
}

export interface TextMapGetter<Carrier> {
  get(carrier: Carrier, key: string): string | string[] | undefined;
  keys(carrier: Carrier): string[];
}

/** The API module's exports the gateway calls. */
export interface OtelApi {
  trace: {
    getTracerProvider(): TracerProvider;
    setSpan(context: Context, span: Span): Context;
    getSpanContext(context: Context): SpanContext | undefined;
  };
  context: {
    active(): Context;
    with<A extends unknown[], R>(context: Context, fn: (...args: A) => R, thisArg?: unknown, ...args: A): R;
  };
  propagation: {
    extract<Carrier>(context: Context, carrier: Carrier, getter?: TextMapGetter<Carrier>): Context;
  };
}

/** The specification's numbers (the API's SpanKind.SERVER, SpanStatusCode.ERROR). */
export const SPAN_KIND_SERVER = 1;
export const SPAN_STATUS_ERROR = 2;
