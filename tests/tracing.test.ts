// Traces (issue 20 item 3, CONTRACT §9): with @opentelemetry/api in the app and an SDK registered,
// one SERVER span per invocation after the RPC conventions (rpc.system.name tauri, rpc.method,
// rpc.response.status_code, error.type), its parent the call's `traceparent` (HTTP headers, a
// WebSocket frame's headers, in-process headers), the handler inside it (its own spans nest), and
// the trace's ids in the call's log entry and log lines. Without an SDK: no spans, same answers.
// Without the API in the app's folder: the gateway never loads it (the real bin, in a child process).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import * as otelApi from "@opentelemetry/api";
import { context, propagation, trace, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { createGateway, type Gateway } from "../gateway/index.ts";
import type { InvocationLog, Logger } from "../gateway/runtime/logger.ts";
import { SPAN_KIND_SERVER, SPAN_STATUS_ERROR, type OtelApi } from "../gateway/ops/otel-api.ts";
import { tempApp, rejectionOf, type TempApp } from "./helpers/app.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { connectPage, type Frame } from "./helpers/ws.ts";
import { PROJECT_DIR, startGateway, type RunningGateway } from "./helpers/cli.ts";

/** Inside the project, so that the app's folder resolves @opentelemetry/api (as an app that has it). */
const TMP = join(PROJECT_DIR, ".tmp");

const MANIFEST = `
version: 1
commands:
  greet:
    handler: handlers/app.ts#greet
    body: { type: object, required: [name], properties: { name: { type: string, minLength: 1 } } }
  nested: { handler: handlers/app.ts#nested }
  refuse: { handler: handlers/app.ts#refuse }
  boom: { handler: handlers/app.ts#boom }
`;

const APP = `
import { trace } from "@opentelemetry/api";
import { InvokeError } from "ipc-gateway";
export const greet = ({ body }: any) => ({ message: "Hello, " + body.name + "!" });
// The handler's own span, made as any app makes one: it nests under the invocation's.
export const nested = () =>
  trace.getTracer("app").startActiveSpan("db.query", async (span) => {
    await new Promise((r) => setTimeout(r, 2));
    span.end();
    return trace.getActiveSpan()?.spanContext().spanId ?? null;
  });
export const refuse = () => { throw new InvokeError({ code: "nope" }); };
export const boom = async () => { throw new Error("boom"); };
`;

// The gateway declares the part of the API it uses (so that its own declarations need no API
// installed): the real API must fit it (tsc checks this line), and its numbers be the real ones.
const declared: OtelApi = otelApi;
test("the gateway's declaration of the API fits the real one", () => {
  expect(declared.trace).toBe(trace);
  expect([SPAN_KIND_SERVER, SPAN_STATUS_ERROR]).toEqual([SpanKind.SERVER, SpanStatusCode.ERROR]);
});

const PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
const PARENT_SPAN = "b7ad6b7169203331";
const TRACEPARENT = `00-${PARENT_TRACE}-${PARENT_SPAN}-01`;

interface Captured {
  invocations: InvocationLog[];
  errors: { message: string; fields?: Record<string, unknown> }[];
}

function capturingLogger(): Logger & Captured {
  const invocations: InvocationLog[] = [];
  const errors: Captured["errors"] = [];
  return {
    invocations,
    errors,
    info: () => {},
    warn: () => {},
    error: (message, _error, fields) => void errors.push({ message, fields }),
    invocation: (entry) => void invocations.push(entry),
  };
}

const exporter = new InMemorySpanExporter();
let provider: NodeTracerProvider;
let app: TempApp;
let gw: Gateway;
let url: string;
let logger: Logger & Captured;

function register(): void {
  provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
}

function unregister(): void {
  trace.disable();
  context.disable();
  propagation.disable();
}

beforeAll(async () => {
  register();
  mkdirSync(TMP, { recursive: true });
  app = tempApp({ "gateway.yaml": MANIFEST, "handlers/app.ts": APP }, TMP);
  logger = capturingLogger();
  gw = await createGateway({ config: app.path("gateway.yaml"), logger });
  ({ url } = await gw.listen({ port: 0 }));
});

afterAll(async () => {
  await gw?.close();
  app?.remove();
  unregister();
  await provider?.shutdown();
});

/** The gateway's spans (not a handler's own) for the call with this request id. */
function spansFor(requestId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.attributes["ipc_gateway.request_id"] === requestId);
}

async function spanFor(requestId: string): Promise<ReadableSpan> {
  for (let i = 0; i < 200; i++) {
    const spans = spansFor(requestId);
    if (spans.length > 0) {
      expect(spans).toHaveLength(1);
      return spans[0]!;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no span with request id ${requestId}`);
}

async function entryFor(requestId: string): Promise<InvocationLog> {
  for (let i = 0; i < 200; i++) {
    const entry = logger.invocations.find((e) => e.requestId === requestId);
    if (entry !== undefined) return entry;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no invocation logged with request id ${requestId}`);
}

describe("over HTTP", () => {
  test("one SERVER span per invocation, after the RPC conventions, its parent the traceparent", async () => {
    const res = await invokeJson(url, "greet", { name: "Ada" }, { traceparent: TRACEPARENT, "x-request-id": "t-http-1", "gateway-window": "settings" });
    expect(res.status).toBe(200);
    const span = await spanFor("t-http-1");
    expect(span.name).toBe("greet");
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.instrumentationScope.name).toBe("ipc-gateway");
    expect(span.attributes).toEqual({
      "rpc.system.name": "tauri",
      "rpc.method": "greet",
      "rpc.response.status_code": "200",
      "ipc_gateway.transport": "http",
      "ipc_gateway.window": "settings",
      "ipc_gateway.request_id": "t-http-1",
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.spanContext().traceId).toBe(PARENT_TRACE);
    expect(span.parentSpanContext?.spanId).toBe(PARENT_SPAN);
    expect(span.parentSpanContext?.isRemote).toBe(true);
  });

  test("the invocation's log entry carries the trace and span ids", async () => {
    await invokeJson(url, "greet", { name: "Ada" }, { traceparent: TRACEPARENT, "x-request-id": "t-http-log" });
    const span = await spanFor("t-http-log");
    const entry = await entryFor("t-http-log");
    expect(entry).toMatchObject({ cmd: "greet", outcome: "ok", traceId: PARENT_TRACE, spanId: span.spanContext().spanId });
  });

  test("without a traceparent, each call starts a trace of its own", async () => {
    await invokeJson(url, "greet", { name: "Ada" }, { "x-request-id": "t-root" });
    const span = await spanFor("t-root");
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(PARENT_TRACE);
    expect((await entryFor("t-root")).traceId).toBe(span.spanContext().traceId);
  });

  test("a handler's own span nests under the invocation's", async () => {
    const res = await invokeJson(url, "nested", {}, { traceparent: TRACEPARENT, "x-request-id": "t-nested" });
    expect(res.status).toBe(200);
    const span = await spanFor("t-nested");
    const child = exporter.getFinishedSpans().find((s) => s.name === "db.query" && s.spanContext().spanId === res.json());
    expect(child).toBeDefined();
    expect(child!.spanContext().traceId).toBe(PARENT_TRACE);
    expect(child!.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
  });

  test("a refused body: an error span with error.type invalid-body", async () => {
    const res = await invokeJson(url, "greet", { name: "" }, { "x-request-id": "t-invalid" });
    expect(res.status).toBe(422);
    const span = await spanFor("t-invalid");
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({ "error.type": "invalid-body", "rpc.response.status_code": "422", "rpc.method": "greet" });
  });

  test("a handler's InvokeError: error.type invoke-error, its value not on the span", async () => {
    const res = await invokeJson(url, "refuse", {}, { "x-request-id": "t-refuse" });
    expect(res.status).toBe(400);
    const span = await spanFor("t-refuse");
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: "invoke-error" });
    expect(span.attributes).toMatchObject({ "error.type": "invoke-error", "rpc.response.status_code": "400" });
    expect(JSON.stringify([span.attributes, span.status, span.events])).not.toContain("nope");
  });

  test("a handler that throws: error.type internal, and its error line carries the trace", async () => {
    const res = await invokeJson(url, "boom", {}, { traceparent: TRACEPARENT, "x-request-id": "t-boom" });
    expect(res.status).toBe(500);
    const span = await spanFor("t-boom");
    expect(span.attributes).toMatchObject({ "error.type": "internal", "rpc.response.status_code": "500" });
    const line = logger.errors.find((l) => l.fields?.requestId === "t-boom");
    expect(line?.fields).toEqual({ requestId: "t-boom", traceId: PARENT_TRACE, spanId: span.spanContext().spanId });
  });

  test("an unknown command: no span name of the caller's making (rpc.method _OTHER)", async () => {
    const res = await invokeJson(url, "no-such-command-4711", {}, { "x-request-id": "t-unknown" });
    expect(res.status).toBe(404);
    const span = await spanFor("t-unknown");
    expect(span.name).toBe("tauri");
    expect(span.attributes).toMatchObject({ "rpc.method": "_OTHER", "rpc.method_original": "no-such-command-4711", "error.type": "unknown-command" });
  });

  test.each([
    ["garbage", "not a traceparent"],
    ["all-zero trace id", `00-${"0".repeat(32)}-${PARENT_SPAN}-01`],
    // A future version may have more fields, which W3C's parser takes; past 8 KiB the gateway does not read it.
    ["huge", `cc-${PARENT_TRACE}-${PARENT_SPAN}-01-${"a".repeat(10_000)}`],
  ])("a traceparent that is %s is ignored: the call is answered and starts its own trace", async (name, value) => {
    const id = `t-bad-${name.replace(/\W/g, "")}`;
    const res = await invokeJson(url, "greet", { name: "Ada" }, { traceparent: value, "x-request-id": id });
    expect(res.status).toBe(200);
    const span = await spanFor(id);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(PARENT_TRACE);
  });

  test("two traceparent headers (an array in Node's headers) are ignored, not thrown on", async () => {
    const res = await request(`${url}/ipc/greet`, {
      headers: { "content-type": "application/json", "x-request-id": "t-two", traceparent: [TRACEPARENT, TRACEPARENT] as unknown as string },
      body: JSON.stringify({ name: "Ada" }),
    });
    expect(res.status).toBe(200);
    const span = await spanFor("t-two");
    expect(span.spanContext().traceId).not.toBe(PARENT_TRACE);
  });
});

describe("over the WebSocket and in-process", () => {
  test("an invoke frame's traceparent header is the parent; transport ws", async () => {
    const page = await connectPage(url, "main");
    try {
      page.ws.send(JSON.stringify({ type: "invoke", rid: 1, cmd: "nested", headers: { traceparent: TRACEPARENT, "x-request-id": "t-ws" } }));
      const reply = (await page.next((f: Frame) => f.type === "reply" && f.rid === 1)) as Frame & { ok: boolean; value: string };
      expect(reply.ok).toBe(true);
      const span = await spanFor("t-ws");
      expect(span.attributes).toMatchObject({ "rpc.method": "nested", "ipc_gateway.transport": "ws", "ipc_gateway.window": "main" });
      expect(span.spanContext().traceId).toBe(PARENT_TRACE);
      expect(span.parentSpanContext?.spanId).toBe(PARENT_SPAN);
      const child = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === reply.value);
      expect(child?.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
      expect(await entryFor("t-ws")).toMatchObject({ transport: "ws", traceId: PARENT_TRACE, spanId: span.spanContext().spanId });
    } finally {
      await page.close();
    }
  });

  test("gw.invoke() with a traceparent header; transport in-process", async () => {
    await expect(gw.invoke("greet", { name: "Ada" }, { headers: { Traceparent: TRACEPARENT }, requestId: "t-local" })).resolves.toEqual({ message: "Hello, Ada!" });
    const span = await spanFor("t-local");
    expect(span.attributes["ipc_gateway.transport"]).toBe("in-process");
    expect(span.parentSpanContext?.spanId).toBe(PARENT_SPAN);
  });

  test("headers that throw when read (in-process): the call is still answered, untraced", async () => {
    const hostile = new Proxy({}, { get() { throw new Error("no"); }, has() { throw new Error("no"); }, ownKeys() { throw new Error("no"); } });
    const before = exporter.getFinishedSpans().length;
    await expect(gw.invoke("greet", { name: "Ada" }, { headers: hostile as Record<string, string> })).resolves.toEqual({ message: "Hello, Ada!" });
    expect(exporter.getFinishedSpans()).toHaveLength(before);
  });

  test("gw.invoke() inside an app's own span nests under it", async () => {
    const tracer = trace.getTracer("embedder");
    const outer = await tracer.startActiveSpan("outer", async (span) => {
      await rejectionOf(gw.invoke("refuse", {}, { requestId: "t-local-nested" }));
      span.end();
      return span.spanContext();
    });
    const span = await spanFor("t-local-nested");
    expect(span.spanContext().traceId).toBe(outer.traceId);
    expect(span.parentSpanContext?.spanId).toBe(outer.spanId);
    expect(span.attributes["error.type"]).toBe("invoke-error");
  });
});

describe("with no SDK registered", () => {
  test("no span is made, calls are answered as ever, and log entries carry no trace", async () => {
    unregister();
    try {
      const before = exporter.getFinishedSpans().length;
      const res = await invokeJson(url, "greet", { name: "Ada" }, { traceparent: TRACEPARENT, "x-request-id": "t-off" });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ message: "Hello, Ada!" });
      await expect(gw.invoke("nested", {}, { headers: { traceparent: TRACEPARENT } })).resolves.toBeNull();
      const entry = await entryFor("t-off");
      expect(entry.traceId).toBeUndefined();
      expect(entry.spanId).toBeUndefined();
      expect(exporter.getFinishedSpans()).toHaveLength(before);
    } finally {
      register();
    }
    // Registered again (after the gateway started): traced again.
    await invokeJson(url, "greet", { name: "Ada" }, { "x-request-id": "t-on-again" });
    await spanFor("t-on-again");
  });
});

/**
 * The real bin (compiled dist/, run by `node scripts/build.js`) in a child process. A probe loaded
 * with --import reports at exit whether @opentelemetry/api was loaded (it is CommonJS: loaded, it
 * is in require.cache) and, with a set-up that registers an SDK, prints each exported span.
 */
describe("the real bin", () => {
  const PROBE = `
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
process.on("exit", () => {
  const loaded = Object.keys(require.cache).some((file) => file.includes("/@opentelemetry/api/"));
  process.stderr.write("otel-api-loaded: " + loaded + "\\n");
});
`;
  const SETUP = `
import { NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
const exporter = {
  export(spans, done) {
    for (const s of spans) process.stderr.write("exported-span: " + JSON.stringify({ name: s.name, traceId: s.spanContext().traceId, parent: s.parentSpanContext?.spanId ?? null }) + "\\n");
    done({ code: 0 });
  },
  shutdown: async () => {},
};
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
`;
  const FILES = { "gateway.yaml": "version: 1\nserver:\n  metrics: false\ncommands:\n  hi: { handler: hi.js }\n", "hi.js": "export default () => 'hi';\n" };

  async function stop(running: RunningGateway): Promise<string> {
    running.child.kill("SIGTERM");
    await running.exited;
    return running.stderr();
  }

  test("an app whose folder cannot resolve @opentelemetry/api: it is never loaded", async () => {
    const outside = tempApp({ ...FILES, "probe.mjs": PROBE }); // under the OS temp dir: no node_modules above
    try {
      const running = await startGateway("serve", outside.dir, [], { env: { NODE_OPTIONS: `--import ${outside.path("probe.mjs")}` } });
      const res = await invokeJson(running.url, "hi", {}, { traceparent: TRACEPARENT });
      expect(res.json()).toBe("hi");
      expect(await stop(running)).toContain("otel-api-loaded: false");
    } finally {
      outside.remove();
    }
  }, 30_000);

  test("an app that has it, with an SDK registered by --import: the call is traced from its traceparent", async () => {
    mkdirSync(TMP, { recursive: true });
    const inside = tempApp({ ...FILES, "probe.mjs": PROBE, "otel.mjs": SETUP }, TMP);
    try {
      const running = await startGateway("serve", inside.dir, [], { env: { NODE_OPTIONS: `--import ${inside.path("probe.mjs")} --import ${inside.path("otel.mjs")}` } });
      const res = await invokeJson(running.url, "hi", {}, { traceparent: TRACEPARENT });
      expect(res.json()).toBe("hi");
      await running.waitForStderr("exported-span: ");
      const stderr = await stop(running);
      expect(stderr).toContain(`exported-span: ${JSON.stringify({ name: "hi", traceId: PARENT_TRACE, parent: PARENT_SPAN })}`);
      expect(stderr).toContain("otel-api-loaded: true");
    } finally {
      inside.remove();
    }
  }, 30_000);
});
