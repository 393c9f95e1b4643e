// Traces (CONTRACT §9: `traceparent` honoured through @opentelemetry/api when the app has it): one
// SERVER span per invocation that reaches the invoke pipeline, after OpenTelemetry's RPC
// conventions, its parent taken from the call's `traceparent` (HTTP headers, a WebSocket frame's
// headers, in-process `headers`), the handler running inside it so that its own spans nest.
//
// The API is an optional peer: it is looked for from the app's folder and loaded only when found
// there (the app's copy, the one its SDK set-up registers through; copies share the registered
// provider through a global symbol anyway). Loaded, it still traces nothing until an SDK has
// registered a tracer provider: before that, the API hands out no-op tracers, and a call costs a
// global lookup and one comparison here (nothing is started, allocated or measured).
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { SPAN_KIND_SERVER, SPAN_STATUS_ERROR, type Context, type OtelApi, type Span, type TextMapGetter, type Tracer, type TracerProvider } from "./otel-api.ts";
import { readHeader } from "../runtime/codec.ts";
import { OTHER_METHOD } from "./rpc-method.ts";
import { packageVersion } from "../config/package-info.ts";
import type { Logger } from "../runtime/logger.ts";
import type { HeadersInput, InvokeResponse, TraceSlot } from "../runtime/types.ts";
import type { ResponseSink } from "../runtime/invoke.ts";

type Api = OtelApi;

/** The instrumentation scope the spans are reported under. */
export const TRACER_NAME = "ipc-gateway";
/** `rpc.system.name`: what the calls speak (Tauri's IPC protocol). */
export const RPC_SYSTEM = "tauri";
/** The gateway's own span attributes, under a namespace of their own. */
export const ATTRIBUTES = {
  transport: "ipc_gateway.transport",
  window: "ipc_gateway.window",
  requestId: "ipc_gateway.request_id",
} as const;
/** A value the caller chose (an unknown command's name, a window label) is cut here on the span. */
const MAX_CALLER_VALUE = 256;
/** A propagation header longer than this is not read (W3C's are under 600 bytes; baggage's limit is 8192). */
const MAX_HEADER = 8192;

/** What a traced call is about, as the pipeline knows it before it routes the call. */
export interface CallInfo {
  /** The command it reaches, when that is a command (or an event-plugin command); else undefined. */
  method: string | undefined;
  /** The name the caller sent (for an unknown command's `rpc.method_original`). */
  name: string;
  transport: string;
  window: string;
  requestId: string;
  headers: HeadersInput | undefined;
}

/**
 * The pipeline's own execution of a call, given where to answer and the call's trace ids: an
 * answer now, or undefined and the sink answered later (given a sink, it returns no promise).
 */
export type Execute<R> = (request: R, sink: ResponseSink, ids: TraceSlot) => InvokeResponse | Promise<InvokeResponse> | undefined;

/**
 * The API loaded from the app's folder, or undefined when that folder does not resolve it (then
 * nothing of OpenTelemetry is ever loaded). A copy that resolves but fails to load is said once.
 */
export async function loadTracing(appDir: string, logger: Logger): Promise<Tracing | undefined> {
  let file: string;
  try {
    // From the app's folder, as the app's own import would find it.
    file = createRequire(join(appDir, "package.json")).resolve("@opentelemetry/api");
  } catch {
    return undefined;
  }
  try {
    const loaded = (await import(pathToFileURL(file).href)) as Api & { default?: Api };
    // Its CommonJS build, imported: the named exports, or (a loader that gives only a default) module.exports.
    const api = typeof loaded.trace?.getTracerProvider === "function" ? loaded : loaded.default;
    if (typeof api?.trace?.getTracerProvider !== "function" || typeof api.context?.with !== "function" || typeof api.propagation?.extract !== "function") {
      throw new Error("it has no trace, context or propagation API");
    }
    return new Tracing(api);
  } catch (error) {
    logger.warn(`gateway: traces are off: @opentelemetry/api (${file}) could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

export class Tracing {
  /** The provider the tracer below was taken from (the API's no-op one while no SDK is registered). */
  #provider: unknown;
  #tracer: Tracer | undefined;
  readonly #getter: TextMapGetter<HeadersInput>;

  constructor(private readonly api: Api) {
    this.#getter = { get: headerValue, keys: headerNames };
  }

  /**
   * The registered SDK's tracer, or undefined while none is registered. Called for every
   * invocation, so it is the whole cost of tracing while it is off: the API's global look-up and
   * one comparison (the tracer is fetched again only when the provider behind the API changed:
   * an SDK registered, or `trace.disable()` called).
   */
  tracer(): Tracer | undefined {
    const global = this.api.trace.getTracerProvider() as TracerProvider & { getDelegate?(): TracerProvider; getDelegateTracer?(name: string, version?: string): Tracer | undefined };
    // The API's ProxyTracerProvider delegates to a no-op provider until an SDK sets its own.
    const provider = typeof global.getDelegate === "function" ? global.getDelegate() : global;
    if (provider !== this.#provider) {
      this.#provider = provider;
      this.#tracer = typeof global.getDelegateTracer === "function" ? global.getDelegateTracer(TRACER_NAME, packageVersion()) : global.getTracer(TRACER_NAME, packageVersion());
    }
    return this.#tracer;
  }

  /**
   * Run `execute` inside a new SERVER span for the call and end the span with its answer: at once
   * for an answer given now, or when `execute` answers `call` (the pipeline's ResponseSink) later,
   * which then answers `sink`, or the promise returned here when there is no sink.
   */
  run<R>(tracer: Tracer, info: CallInfo, request: R, execute: Execute<R>, sink: ResponseSink | undefined, slot: TraceSlot | undefined): InvokeResponse | Promise<InvokeResponse> | undefined {
    const api = this.api;
    const parent = this.parentOf(info.headers);
    // Literal keys (the names of ATTRIBUTES): an object literal with computed keys is built slower.
    const attributes: Record<string, string> = {
      "rpc.system.name": RPC_SYSTEM,
      "rpc.method": info.method ?? OTHER_METHOD,
      "ipc_gateway.transport": info.transport,
      "ipc_gateway.window": cut(info.window),
      "ipc_gateway.request_id": info.requestId,
    };
    if (info.method === undefined) attributes["rpc.method_original"] = cut(info.name);
    // The RPC conventions' span name: the method, or the system's name for a method that is not one.
    const span = tracer.startSpan(info.method ?? RPC_SYSTEM, { kind: SPAN_KIND_SERVER, attributes }, parent);
    const ids = span.spanContext();
    const call = new TracedCall(span, sink);
    call.traceId = ids.traceId;
    call.spanId = ids.spanId;
    if (slot !== undefined) {
      slot.traceId = ids.traceId;
      slot.spanId = ids.spanId;
    }
    let response: InvokeResponse | Promise<InvokeResponse> | undefined;
    try {
      response = api.context.with(api.trace.setSpan(parent, span), execute, undefined, request, call, call);
    } catch (error) {
      call.abandon(); // (the pipeline answers rather than throws; should it throw, the span still ends)
      throw error;
    }
    if (response instanceof Promise) {
      // (not with a sink; should it ever, the span still ends with the answer)
      return response.then((answer) => (call.finish(answer), answer), (error: unknown) => (call.abandon(), Promise.reject(error)));
    }
    if (response !== undefined) {
      call.finish(response);
      return response;
    }
    return sink === undefined ? call.promise() : undefined;
  }

  /**
   * The span's parent: the call's `traceparent` (read by the propagator the app registered,
   * W3C's by default), or, without one, the active context (an embedder's span around
   * gw.invoke()). When an HTTP server instrumentation already continued that same trace, its
   * span is active and the parent: the call's span nests under it rather than beside it.
   * Whatever the headers hold, this never throws: a value the propagator cannot use is ignored.
   */
  private parentOf(headers: HeadersInput | undefined): Context {
    const api = this.api;
    const active = api.context.active();
    if (headers === undefined) return active;
    let extracted: Context;
    try {
      extracted = api.propagation.extract(active, headers, this.#getter);
    } catch {
      return active;
    }
    const running = api.trace.getSpanContext(active);
    const given = api.trace.getSpanContext(extracted);
    if (running !== undefined && given !== undefined && given !== running && given.traceId === running.traceId) return active;
    return extracted;
  }
}

/**
 * A traced call between its start and its answer: the ResponseSink the pipeline answers, which
 * ends the span and passes the answer on. Its ids are what the call's log lines carry.
 */
class TracedCall implements ResponseSink, TraceSlot {
  traceId: string | undefined;
  spanId: string | undefined;
  #ended = false;
  /** An answer given before anyone asked for the promise (a thenable whose then() threw). */
  #early: InvokeResponse | undefined;
  #resolve: ((response: InvokeResponse) => void) | undefined;

  constructor(
    private readonly span: Span,
    private readonly sink: ResponseSink | undefined,
  ) {}

  respond(response: InvokeResponse): void {
    this.finish(response);
    if (this.sink !== undefined) this.sink.respond(response);
    else if (this.#resolve !== undefined) this.#resolve(response);
    else this.#early = response;
  }

  promise(): Promise<InvokeResponse> {
    if (this.#early !== undefined) return Promise.resolve(this.#early);
    return new Promise<InvokeResponse>((resolve) => (this.#resolve = resolve));
  }

  /** The answer is known: its status (and error) on the span, which ends. */
  finish(response: InvokeResponse): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.span;
    try {
      if (span.isRecording()) {
        if (response.ok) span.setAttribute("rpc.response.status_code", "200");
        else {
          const kind = response.fromHandler ? "invoke-error" : kindOf(response.error);
          span.setAttributes({ "rpc.response.status_code": String(response.status), "error.type": kind });
          // The gateway's own rejections say what happened; a handler's InvokeError value is the app's data, not sent here.
          span.setStatus({ code: SPAN_STATUS_ERROR, message: response.fromHandler ? kind : messageOf(response.error) });
        }
      }
    } finally {
      span.end();
    }
  }

  /** The pipeline threw (a mistake of ours): the span ends as an error rather than never. */
  abandon(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.span.setStatus({ code: SPAN_STATUS_ERROR, message: "the gateway failed to answer" });
    this.span.setAttribute("error.type", "internal");
    this.span.end();
  }
}

function cut(value: string): string {
  return value.length > MAX_CALLER_VALUE ? value.slice(0, MAX_CALLER_VALUE) : value;
}

/** The `kind` of one of the gateway's own rejection values. */
function kindOf(error: unknown): string {
  const kind = typeof error === "object" && error !== null ? (error as { kind?: unknown }).kind : undefined;
  return typeof kind === "string" ? kind : "error";
}

function messageOf(error: unknown): string | undefined {
  const message = typeof error === "object" && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === "string" ? message : undefined;
}

/** A propagation header's value from any form of headers (case-insensitive); too long ones are not read. */
function headerValue(carrier: HeadersInput, key: string): string | undefined {
  const value = readHeader(carrier, key.toLowerCase());
  return value === undefined || value.length > MAX_HEADER ? undefined : value;
}

function headerNames(carrier: HeadersInput): string[] {
  if (typeof (carrier as Headers).keys === "function" && typeof (carrier as Headers).get === "function") return [...(carrier as Headers).keys()];
  if (Symbol.iterator in carrier) return [...(carrier as Iterable<readonly [string, string]>)].map(([name]) => String(name).toLowerCase());
  return Object.keys(carrier).map((name) => name.toLowerCase());
}
