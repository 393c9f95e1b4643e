// The invoke pipeline in-process: every body and return type, every error kind it produces,
// InvokeError, headers, windows, time limits and the handler's signal.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { InvokeError } from "../gateway/index.ts";
import { ERROR_STATUS } from "../gateway/runtime/errors.ts";
import { gatewayFor, rejectionOf } from "./helpers/app.ts";

const MANIFEST = `
version: 1
commands:
  echo:                       # any JSON, no schemas
    handler: handlers/echo.ts
  object:
    handler: handlers/echo.ts
    body: { type: object, properties: { n: { type: integer } }, required: [n], additionalProperties: false }
    returns: { type: object }
  string:
    handler: handlers/echo.ts
    body: { type: string }
    returns: { type: string }
  number:
    handler: handlers/echo.ts
    body: { type: number }
    returns: { type: number }
  array:
    handler: handlers/echo.ts
    body: { type: array, items: { type: integer } }
    returns: { type: array }
  boolean:
    handler: handlers/echo.ts
    body: { type: boolean }
    returns: { type: boolean }
  "null":
    handler: handlers/echo.ts
    body: { type: "null" }
    returns: { type: "null" }
  nothing:
    handler: handlers/misc.ts#nothing
    returns: { type: "null" }
  bytes:
    handler: handlers/misc.ts#reverse
    body: binary
    returns: binary
  bytes-to-json:
    handler: handlers/misc.ts#length
    body: binary
    returns: { type: integer }
  not-bytes:
    handler: handlers/echo.ts
    returns: binary
  lies:
    handler: handlers/misc.ts#lies
    returns: { type: object, properties: { n: { type: integer } }, required: [n] }
  reject-string:
    handler: handlers/misc.ts#rejectString
  reject-object:
    handler: handlers/misc.ts#rejectObject
  crash:
    handler: handlers/misc.ts#crash
  crash-sync:
    handler: handlers/misc.ts#crashSync
  slow:
    handler: handlers/misc.ts#slow
    timeout: 50ms
  last-abort:
    handler: handlers/misc.ts#lastAbortReason
  headers:
    handler: handlers/misc.ts#headers
  window:
    handler: handlers/misc.ts#window
  settings-only:
    handler: handlers/misc.ts#window
    windows: [settings]
  wait-for-abort:
    handler: handlers/misc.ts#waitForAbort
  instance:
    handler: handlers/misc.ts#instance
`;

const ECHO = `export default ({ body }: { body: unknown }) => body;\n`;

const MISC = `
import { InvokeError, type Invoke } from "ipc-gateway";
export const nothing = () => undefined;
export const reverse = ({ body }: Invoke<Uint8Array>) => Uint8Array.from(body).reverse();
export const length = ({ body }: Invoke<Uint8Array>) => body.length;
export const lies = () => ({ n: "not a number" });
export async function rejectString() { throw new InvokeError("plain string"); }
export function rejectObject() { throw new InvokeError({ code: 7, detail: ["a", null] }); }
export async function crash() { throw new Error("secret database password in this message"); }
export function crashSync() { null!.x; }
let lastAbort = "none";
export async function slow({ signal }: Invoke) {
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 5000);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      lastAbort = signal.reason.name;
      resolve(undefined);
    });
  });
  return { finished: true };
}
export const lastAbortReason = () => lastAbort;
export const headers = ({ headers }: Invoke) => ({ headers: { ...headers }, frozen: Object.isFrozen(headers) });
export const window = ({ window }: Invoke) => window.label;
export function waitForAbort({ signal }: Invoke) {
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(String(signal.reason?.name)), { once: true }));
}
export const instance = () => ({ isInvokeError: new InvokeError("x") instanceof InvokeError });
`;

let ctx: Awaited<ReturnType<typeof gatewayFor>>;
beforeAll(async () => {
  ctx = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/echo.ts": ECHO, "handlers/misc.ts": MISC });
});
afterAll(async () => ctx.close());

const invoke = (cmd: string, body?: unknown, options?: Parameters<typeof ctx.gw.invoke>[2]) => ctx.gw.invoke(cmd, body, options);

describe("every JSON type as body and return", () => {
  test.each([
    ["object", { n: 1 }],
    ["string", "héllo ✓"],
    ["number", 3.25],
    ["array", [1, 2, 3]],
    ["boolean", false],
    ["null", null],
    ["echo", { nested: { list: [1, "two", null, true] } }],
  ])("%s", async (cmd, value) => {
    expect(await invoke(cmd, value)).toEqual(value);
  });

  test("a missing body is {} (as Tauri's invoke without args)", async () => {
    expect(await invoke("echo")).toEqual({});
  });

  test("undefined is returned as null", async () => {
    expect(await invoke("nothing")).toBeNull();
  });

  test("JSON sent as UTF-8 bytes is parsed for a JSON command (pyInvoke sends bytes)", async () => {
    expect(await invoke("object", new TextEncoder().encode('{"n": 5}'))).toEqual({ n: 5 });
  });
});

describe("binary", () => {
  test("bytes in, bytes out", async () => {
    const out = await invoke("bytes", new Uint8Array([1, 2, 3, 255]));
    expect(out).toBeInstanceOf(Uint8Array);
    expect([...(out as Uint8Array)]).toEqual([255, 3, 2, 1]);
  });

  test("an ArrayBuffer or a Buffer is accepted as bytes", async () => {
    expect([...((await invoke("bytes", new Uint8Array([1, 2]).buffer)) as Uint8Array)]).toEqual([2, 1]);
    expect([...((await invoke("bytes", Buffer.from([7, 8]))) as Uint8Array)]).toEqual([8, 7]);
  });

  test("binary body with a JSON return", async () => {
    expect(await invoke("bytes-to-json", new Uint8Array(10))).toBe(10);
  });

  test("a binary command refuses a JSON body", async () => {
    const error = await rejectionOf(invoke("bytes", { not: "bytes" }));
    expect(error).toEqual({ kind: "bad-request", message: '"bytes" takes a binary body (application/octet-stream)' });
  });

  test("a binary return that is not bytes is invalid-return", async () => {
    const error = await rejectionOf(invoke("not-bytes", { a: 1 }));
    expect(error).toMatchObject({ kind: "invalid-return", command: "not-bytes" });
  });
});

describe("errors the gateway rejects with", () => {
  test("unknown-command", async () => {
    expect(await rejectionOf(invoke("missing"))).toEqual({ kind: "unknown-command", message: 'no command named "missing"', command: "missing" });
  });

  test("invalid-body carries ajv's errors", async () => {
    const error = await rejectionOf(invoke("object", { n: "one" }));
    expect(error).toMatchObject({
      kind: "invalid-body",
      command: "object",
      errors: [{ instancePath: "/n", keyword: "type", message: "must be integer" }],
    });
    expect(error.message).toBe('body of "object" does not match its schema: /n must be integer');
  });

  test("invalid-body for an unexpected property", async () => {
    const error = await rejectionOf(invoke("object", { n: 1, extra: true }));
    expect(error.errors[0]).toMatchObject({ keyword: "additionalProperties", params: { additionalProperty: "extra" } });
  });

  test("invalid-return sends nothing of the value", async () => {
    const error = await rejectionOf(invoke("lies"));
    expect(error).toMatchObject({ kind: "invalid-return", command: "lies", errors: [{ instancePath: "/n", keyword: "type" }] });
    expect(JSON.stringify(error)).not.toContain("not a number");
  });

  test("bad-request for bytes that are not JSON", async () => {
    const error = await rejectionOf(invoke("object", new TextEncoder().encode("{nope")));
    expect(error.kind).toBe("bad-request");
    expect(error.message).toMatch(/^body is not valid JSON/);
  });

  test("bad-request for a __proto__ key (prototype poisoning)", async () => {
    const error = await rejectionOf(invoke("echo", new TextEncoder().encode('{"__proto__": {"polluted": true}}')));
    expect(error.kind).toBe("bad-request");
  });

  test("not-allowed when the window may not call the command", async () => {
    expect(await rejectionOf(invoke("settings-only", {}, { window: "main" }))).toEqual({
      kind: "not-allowed",
      message: 'window "main" may not call "settings-only"',
      command: "settings-only",
      window: "main",
    });
    expect(await invoke("settings-only", {}, { window: "settings" })).toBe("settings");
  });

  test("timeout, and the handler's signal is aborted with a TimeoutError", async () => {
    const error = await rejectionOf(invoke("slow"));
    expect(error).toEqual({ kind: "timeout", message: '"slow" did not finish within 50 ms', command: "slow", limit: 50 });
    expect(await invoke("last-abort")).toBe("TimeoutError");
  });

  test("internal: no stack, no original message outside dev; the log has the details", async () => {
    const error = await rejectionOf(invoke("crash"));
    expect(error).toEqual({ kind: "internal", message: '"crash" failed', command: "crash" });
    expect(ctx.logger.errors.some((e) => String((e as Error).stack).includes("secret database password"))).toBe(true);
  });

  test("internal for a synchronous throw", async () => {
    expect(await rejectionOf(invoke("crash-sync"))).toMatchObject({ kind: "internal", command: "crash-sync" });
  });

  test("every kind has its HTTP status", () => {
    expect(ERROR_STATUS).toEqual({
      "unknown-command": 404,
      "invalid-body": 422,
      "invalid-return": 500,
      "invalid-error": 500,
      "bad-request": 400,
      "unsupported-media-type": 415,
      "payload-too-large": 413,
      "not-allowed": 403,
      "forbidden-origin": 403,
      "forbidden-host": 403,
      unauthorized: 401,
      timeout: 504,
      internal: 500,
      "unknown-event": 404,
      "invalid-payload": 422,
      "event-not-allowed": 403,
      "invalid-message": 500,
      "channel-closed": 500,
      "channel-full": 500,
      overloaded: 503,
      "not-ready": 503,
      "headers-too-large": 431,
      "request-timeout": 408,
      "not-found": 404,
      "method-not-allowed": 405,
      "bus-unavailable": 503,
      forbidden: 403,
      "rate-limited": 429,
      "shutting-down": 503,
      unreachable: 502,
    });
  });
});

describe("InvokeError", () => {
  test("rejects with exactly a string", async () => {
    expect(await rejectionOf(invoke("reject-string"))).toBe("plain string");
  });

  test("rejects with exactly an object", async () => {
    expect(await rejectionOf(invoke("reject-object"))).toEqual({ code: 7, detail: ["a", null] });
  });

  test("handlers get the gateway's own InvokeError class", async () => {
    expect(await invoke("instance")).toEqual({ isInvokeError: true });
  });

  test("the status of an InvokeError rejection is 400", async () => {
    expect(await ctx.gw.invokeHandler({ cmd: "reject-string" })).toEqual({ ok: false, status: 400, error: "plain string", fromHandler: true });
  });

  test("an InvokeError thrown outside a handler is an Error with the value", () => {
    const error = new InvokeError({ a: 1 });
    expect(error).toBeInstanceOf(Error);
    expect(error.value).toEqual({ a: 1 });
    expect(error.message).toBe('{"a":1}');
  });
});

describe("the handler's argument", () => {
  test("headers are lower-cased, read-only, without the gateway's own", async () => {
    const result = await invoke("headers", {}, { headers: { "X-Trace": "abc", "Gateway-Window": "main", "Tauri-Callback": "1", Accept: ["a", "b"] } });
    expect(result).toEqual({ headers: { "x-trace": "abc", accept: "a, b" }, frozen: true });
  });

  test("headers may be a Headers object or pairs", async () => {
    expect(await invoke("headers", {}, { headers: new Headers({ "X-One": "1" }) })).toEqual({ headers: { "x-one": "1" }, frozen: true });
    expect(await invoke("headers", {}, { headers: [["X-Two", "2"]] })).toEqual({ headers: { "x-two": "2" }, frozen: true });
  });

  test("the window label defaults to main", async () => {
    expect(await invoke("window")).toBe("main");
    expect(await invoke("window", {}, { window: "settings" })).toBe("settings");
  });

  test("the caller going away aborts the handler's signal", async () => {
    const caller = new AbortController();
    const pending = invoke("wait-for-abort", {}, { signal: caller.signal });
    setTimeout(() => caller.abort(), 20);
    expect(await pending).toBe("AbortError");
  });
});

describe("pyInvoke routing", () => {
  test("plugin:pytauri|pyfunc calls the command named in header pyfunc, which the handler does not see", async () => {
    const body = new TextEncoder().encode("{}");
    const response = await ctx.gw.invokeHandler({ cmd: "plugin:pytauri|pyfunc", body, headers: { pyfunc: "headers", "x-a": "1" } });
    expect(response).toEqual({ ok: true, value: { headers: { "x-a": "1" }, frozen: true } });
  });

  test("without the header it is a bad request", async () => {
    const response = await ctx.gw.invokeHandler({ cmd: "plugin:pytauri|pyfunc", body: new Uint8Array() });
    expect(response).toMatchObject({ ok: false, status: 400, error: { kind: "bad-request" } });
  });
});

describe("dev mode", () => {
  test("internal errors carry the original message", async () => {
    const dev = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/echo.ts": ECHO, "handlers/misc.ts": MISC }, { dev: true });
    try {
      expect(await rejectionOf(dev.gw.invoke("crash"))).toEqual({
        kind: "internal",
        message: '"crash" failed: secret database password in this message',
        command: "crash",
      });
    } finally {
      await dev.close();
    }
  });
});
