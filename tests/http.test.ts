// The HTTP transport over a real server on 127.0.0.1: statuses, headers, content types, the body
// limit, Origin, Host and token rules, CORS, the gateway's own routes, and a graceful stop.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { gatewayFor } from "./helpers/app.ts";
import { invokeJson, request } from "./helpers/http.ts";
import type { Listening } from "../gateway/transports/http.ts";

const MANIFEST = `
version: 1
server:
  origins: [http://app.example:5173]
  bodyLimit: 1kb
  static: public
commands:
  echo:
    handler: handlers/misc.ts#echo
  greet:
    handler: handlers/misc.ts#greet
    body: { type: object, properties: { name: { type: string } }, required: [name] }
    returns: { type: object, properties: { message: { type: string } }, required: [message] }
  bytes:
    handler: handlers/misc.ts#reverse
    body: binary
    returns: binary
  lies:
    handler: handlers/misc.ts#lies
    returns: { type: string }
  reject:
    handler: handlers/misc.ts#reject
  crash:
    handler: handlers/misc.ts#crash
  slow:
    handler: handlers/misc.ts#slow
    timeout: 50ms
  "ns/sub:cmd":
    handler: handlers/misc.ts#echo
  settings-only:
    handler: handlers/misc.ts#echo
    windows: [settings]
  headers:
    handler: handlers/misc.ts#headers
  bigint:
    handler: handlers/misc.ts#bigint
  wait:
    handler: handlers/misc.ts#wait
`;

const MISC = `
import { InvokeError, type Invoke } from "ipc-gateway";
export const echo = ({ body }: Invoke) => body;
export const greet = ({ body }: Invoke<{ name: string }>) => ({ message: "Hello, " + body.name + "!" });
export const reverse = ({ body }: Invoke<Uint8Array>) => Uint8Array.from(body).reverse();
export const lies = () => 42;
export function reject() { throw new InvokeError("nope"); }
export async function crash() { throw new Error("at /secret/path.ts:12"); }
export async function slow({ signal }: Invoke) {
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
}
export const headers = ({ headers }: Invoke) => headers;
export const bigint = () => ({ n: 10n });
export async function wait({ body }: Invoke<{ ms: number }>) {
  await new Promise((resolve) => setTimeout(resolve, body.ms));
  return "waited";
}
`;

let ctx: Awaited<ReturnType<typeof gatewayFor>>;
let server: Listening;
let base: string;

beforeAll(async () => {
  ctx = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/misc.ts": MISC, "public/index.html": "<h1>app</h1>", "public/app.js": "1" });
  server = await ctx.gw.listen({ port: 0 });
  base = server.url;
});
afterAll(async () => ctx.close());

describe("invocations", () => {
  test("200 with JSON and Tauri-Response: ok", async () => {
    const res = await invokeJson(base, "greet", { name: "Ada" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.headers["tauri-response"]).toBe("ok");
    expect(res.json()).toEqual({ message: "Hello, Ada!" });
  });

  test("an empty JSON body means {}", async () => {
    const res = await request(`${base}/ipc/echo`, { headers: { "content-type": "application/json" } });
    expect(res.json()).toEqual({});
  });

  test("no Content-Type and no body is an empty invocation (curl -X POST)", async () => {
    const res = await request(`${base}/ipc/echo`);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({});
  });

  test("Content-Type with a charset", async () => {
    const res = await request(`${base}/ipc/echo`, { headers: { "content-type": "application/json; charset=utf-8" }, body: '"é"' });
    expect(res.json()).toBe("é");
  });

  test("binary in and out as application/octet-stream", async () => {
    const res = await request(`${base}/ipc/bytes`, { headers: { "content-type": "application/octet-stream" }, body: new Uint8Array([1, 2, 3]) });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/octet-stream");
    expect(res.headers["tauri-response"]).toBe("ok");
    expect([...res.body]).toEqual([3, 2, 1]);
  });

  test("the command name is percent-decoded", async () => {
    const res = await invokeJson(base, "ns/sub:cmd", [1]);
    expect(res.json()).toEqual([1]);
  });

  test("request headers reach the handler, lower-cased, without the gateway's own", async () => {
    const res = await invokeJson(base, "headers", {}, { "X-Trace": "t-1", "Gateway-Window": "main" });
    expect(res.json()).toMatchObject({ "x-trace": "t-1", "content-type": "application/json" });
    expect(res.json()["gateway-window"]).toBeUndefined();
  });
});

describe("rejections: status, Tauri-Response: error, JSON body", () => {
  async function expectRejection(res: Awaited<ReturnType<typeof request>>, status: number, kind: string) {
    expect(res.status).toBe(status);
    expect(res.headers["tauri-response"]).toBe("error");
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.json().kind).toBe(kind);
  }

  test("InvokeError: 400 with exactly the value", async () => {
    const res = await invokeJson(base, "reject", {});
    expect(res.status).toBe(400);
    expect(res.headers["tauri-response"]).toBe("error");
    expect(res.json()).toBe("nope");
  });
  test("404 unknown-command", async () => expectRejection(await invokeJson(base, "nope", {}), 404, "unknown-command"));
  test("422 invalid-body", async () => expectRejection(await invokeJson(base, "greet", { name: 1 }), 422, "invalid-body"));
  test("500 invalid-return", async () => expectRejection(await invokeJson(base, "lies", {}), 500, "invalid-return"));
  test("400 bad-request for malformed JSON", async () => {
    await expectRejection(await request(`${base}/ipc/echo`, { headers: { "content-type": "application/json" }, body: "{oops" }), 400, "bad-request");
  });
  test("400 bad-request for JSON sent to a binary command", async () => expectRejection(await invokeJson(base, "bytes", {}), 400, "bad-request"));
  test("415 unsupported-media-type", async () => {
    await expectRejection(await request(`${base}/ipc/echo`, { headers: { "content-type": "text/plain" }, body: "hi" }), 415, "unsupported-media-type");
  });
  test("415 for a body without Content-Type", async () => {
    await expectRejection(await request(`${base}/ipc/echo`, { body: "hi" }), 415, "unsupported-media-type");
  });
  test("403 not-allowed for a window that may not call the command", async () => {
    await expectRejection(await invokeJson(base, "settings-only", {}, { "Gateway-Window": "main" }), 403, "not-allowed");
    expect((await invokeJson(base, "settings-only", {}, { "Gateway-Window": "settings" })).status).toBe(200);
  });
  test("504 timeout", async () => expectRejection(await invokeJson(base, "slow", {}), 504, "timeout"));
  test("500 internal without the message or a stack", async () => {
    const res = await invokeJson(base, "crash", {});
    await expectRejection(res, 500, "internal");
    expect(res.text).not.toContain("secret");
    expect(res.text).not.toContain("at ");
  });
  test("500 invalid-return for a value that cannot be JSON", async () => {
    const res = await invokeJson(base, "bigint", {});
    expectRejection(res, 500, "invalid-return");
    expect(res.json().message).toMatch(/BigInt/);
  });
  test("405 for GET on an invocation", async () => {
    const res = await request(`${base}/ipc/echo`, { method: "GET" });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("POST, OPTIONS");
  });
});

describe("the body limit", () => {
  test("413 from Content-Length before reading, and the handler never runs", async () => {
    const before = (await invokeJson(base, "headers", {})).status;
    expect(before).toBe(200);
    const res = await request(`${base}/ipc/echo`, { headers: { "content-type": "application/json" }, body: JSON.stringify("x".repeat(2000)) });
    expect(res.status).toBe(413);
    expect(res.headers["tauri-response"]).toBe("error");
    expect(res.json()).toEqual({ kind: "payload-too-large", message: "body is larger than the limit of 1024 bytes", limit: 1024 });
  });

  test("413 while reading a chunked body with no Content-Length", async () => {
    const { request: raw } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = raw(`${base}/ipc/echo`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      req.write('"' + "x".repeat(600));
      req.write("x".repeat(600));
      setTimeout(() => req.end('"'), 50);
    });
    expect(status).toBe(413);
  });

  test("a body just under the limit is accepted", async () => {
    const res = await invokeJson(base, "echo", "x".repeat(1000));
    expect(res.status).toBe(200);
  });
});

describe("Origin, Host and CORS", () => {
  test("a request without Origin (curl, scripts) is allowed on loopback", async () => {
    expect((await invokeJson(base, "echo", 1)).status).toBe(200);
  });

  test("the gateway's own origin is allowed, without CORS headers", async () => {
    const res = await invokeJson(base, "echo", 1, { Origin: base });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("an origin in server.origins gets CORS headers and Tauri-Response exposed", async () => {
    const res = await invokeJson(base, "echo", 1, { Origin: "http://app.example:5173" });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe("http://app.example:5173");
    expect(res.headers["access-control-expose-headers"]).toBe("Tauri-Response, Retry-After, X-Request-Id");
    expect(res.headers.vary).toBe("Origin");
  });

  test("any other origin gets 403 forbidden-origin before anything runs", async () => {
    const res = await invokeJson(base, "echo", 1, { Origin: "http://evil.example" });
    expect(res.status).toBe(403);
    expect(res.headers["tauri-response"]).toBe("error");
    expect(res.json()).toEqual({ kind: "forbidden-origin", message: "origin http://evil.example is not allowed", origin: "http://evil.example" });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("the null origin (sandboxed frames, file://) is refused", async () => {
    expect((await invokeJson(base, "echo", 1, { Origin: "null" })).status).toBe(403);
  });

  test("CORS preflight is answered for allowed origins only", async () => {
    const ok = await request(`${base}/ipc/echo`, {
      method: "OPTIONS",
      headers: { Origin: "http://app.example:5173", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,gateway-window,x-trace" },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers["access-control-allow-origin"]).toBe("http://app.example:5173");
    expect(ok.headers["access-control-allow-headers"]).toBe("content-type,gateway-window,x-trace");
    expect(ok.headers["access-control-allow-methods"]).toContain("POST");
    const refused = await request(`${base}/ipc/echo`, { method: "OPTIONS", headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" } });
    expect(refused.status).toBe(403);
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("localhost and 127.0.0.1 with the port are the gateway's own hosts", async () => {
    expect((await invokeJson(base, "echo", 1, { Host: `localhost:${server.port}` })).status).toBe(200);
    expect((await invokeJson(base, "echo", 1, { Host: `127.0.0.1:${server.port}` })).status).toBe(200);
  });

  test("any other Host gets 403 forbidden-host (DNS rebinding)", async () => {
    for (const host of ["evil.example", `evil.example:${server.port}`, "localhost", `localhost:1`]) {
      const res = await invokeJson(base, "echo", 1, { Host: host });
      expect(res.status).toBe(403);
      expect(res.json().kind).toBe("forbidden-host");
    }
  });

  test("a refused Host is logged once with the key that admits it: server.hosts (server.host is the bind address)", async () => {
    const res = await invokeJson(base, "echo", 1, { Host: `MyApp.test:${server.port}` });
    expect(res.json().kind).toBe("forbidden-host");
    const hints = ctx.logger.lines.filter((line) => line.includes("refused a request for host MyApp.test"));
    expect(hints).toHaveLength(1);
    expect(hints[0]).toContain("add it to server.hosts in gateway.yaml (e.g. hosts: [myapp.test])");
    expect(hints[0]).not.toMatch(/server\.host\b(?!s)/);
    expect((await invokeJson(base, "echo", 2)).json()).toBe(2);
  });

  test("the Host rule covers every route", async () => {
    expect((await request(`${base}/__gateway/health`, { method: "GET", headers: { Host: "evil.example" } })).status).toBe(403);
  });
});

describe("the gateway's own routes", () => {
  test("/__gateway/health", async () => {
    const res = await request(`${base}/__gateway/health`, { method: "GET" });
    expect(res.status).toBe(200);
    // The loop's delay, and (on Linux, once looked at) the descriptors, are figures of the moment.
    const { eventLoop, descriptors, ...rest } = res.json();
    expect(rest).toEqual({ ok: true, generation: 1, lastError: null, pages: 0, listeners: 0, problems: [] });
    expect(eventLoop).toEqual({ p99Ms: expect.any(Number), maxMs: expect.any(Number), since: expect.any(String) });
    if (descriptors !== undefined) expect(descriptors).toEqual({ open: expect.any(Number), limit: expect.any(Number) });
  });

  test("/__gateway/manifest.json lists commands, channels and events with their schemas", async () => {
    const res = await request(`${base}/__gateway/manifest.json`, { method: "GET" });
    const manifest = res.json();
    expect(manifest.commands.greet).toEqual({
      body: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
      returns: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
      errors: null,
      timeout: 30000,
    });
    expect(manifest.commands.bytes).toMatchObject({ body: "binary", returns: "binary" });
    expect(manifest.commands["settings-only"].windows).toEqual(["settings"]);
    expect(res.text).not.toContain("file:");
  });

  test("/__gateway/tauri.js is JavaScript, with CORS for allowed origins", async () => {
    const res = await request(`${base}/__gateway/tauri.js`, { method: "GET", headers: { Origin: "http://app.example:5173" } });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(res.headers["access-control-allow-origin"]).toBe("http://app.example:5173");
    expect(res.text).toContain("__TAURI_INTERNALS__");
  });

  test("server.static serves the app's page at /, and never outside its folder", async () => {
    const page = await request(`${base}/`, { method: "GET" });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.text).toBe("<h1>app</h1>");
    expect((await request(`${base}/app.js`, { method: "GET" })).headers["content-type"]).toBe("text/javascript; charset=utf-8");
    for (const path of ["/../gateway.yaml", "/%2e%2e/gateway.yaml", "/..%2fgateway.yaml"]) {
      const res = await request(`${base}${path}`, { method: "GET" });
      expect(res.status).toBe(404);
      expect(res.text).not.toContain("version");
    }
  });
});

describe("framing", () => {
  const NOT_FRAMED = { "x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'", "x-content-type-options": "nosniff" };
  const framingHeaders = (headers: Record<string, unknown>) => ({
    "x-frame-options": headers["x-frame-options"],
    "content-security-policy": headers["content-security-policy"],
    "x-content-type-options": headers["x-content-type-options"],
  });

  test("no other page may frame a document of the gateway's: tauri.js, health, the JSON documents, its refusals of other routes", async () => {
    for (const path of ["/__gateway/tauri.js", "/__gateway/health", "/__gateway/manifest.json", "/__gateway/catalog.json", "/__gateway/openapi.json", "/__gateway/asyncapi.json", "/__gateway/nothing", "/ipc/echo"]) {
      const res = await request(`${base}${path}`, { method: "GET" });
      expect([path, res.status < 500, framingHeaders(res.headers)]).toEqual([path, true, NOT_FRAMED]);
    }
    expect((await invokeJson(base, "echo", "after")).json()).toBe("after");
  });
});

describe("token", () => {
  test("with server.token, invocations and gateway routes need Authorization: Bearer", async () => {
    const secured = await gatewayFor(
      { "gateway.yaml": "version: 1\nserver:\n  token: ${TOKEN}\ncommands:\n  headers:\n    handler: h.ts\n", "h.ts": "export default ({ headers }: any) => headers;\n" },
      { env: { TOKEN: "s3cret-token" } },
    );
    const listening = await secured.gw.listen({ port: 0 });
    try {
      const missing = await invokeJson(listening.url, "headers", {});
      expect(missing.status).toBe(401);
      expect(missing.headers["tauri-response"]).toBe("error");
      expect(missing.json().kind).toBe("unauthorized");
      expect((await invokeJson(listening.url, "headers", {}, { Authorization: "Bearer wrong" })).status).toBe(401);
      expect((await request(`${listening.url}/__gateway/health`, { method: "GET" })).status).toBe(401);
      const ok = await invokeJson(listening.url, "headers", {}, { Authorization: "Bearer s3cret-token" });
      expect(ok.status).toBe(200);
      expect(ok.json().authorization).toBeUndefined(); // the token is not the handler's business
      expect((await request(`${listening.url}/__gateway/tauri.js`, { method: "GET" })).status).toBe(200);
    } finally {
      await secured.close();
    }
  });

  test("a non-loopback host refuses to start without a token", async () => {
    const open = await gatewayFor({ "gateway.yaml": "version: 1\ncommands:\n  a:\n    handler: h.ts\n", "h.ts": "export default () => 1;\n" });
    try {
      await expect(open.gw.listen({ port: 0, host: "0.0.0.0" })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without server\.token/);
    } finally {
      await open.close();
    }
  });

  test("a non-loopback host starts with a token", async () => {
    const secured = await gatewayFor(
      { "gateway.yaml": "version: 1\nserver:\n  token: t0ken\ncommands:\n  a:\n    handler: h.ts\n", "h.ts": "export default () => 1;\n" },
    );
    const listening = await secured.gw.listen({ port: 0, host: "0.0.0.0" });
    try {
      const url = `http://127.0.0.1:${listening.port}`;
      expect((await invokeJson(url, "a", {}, { Authorization: "Bearer t0ken" })).json()).toBe(1);
    } finally {
      await secured.close();
    }
  });
});

describe("graceful stop", () => {
  test("a request in flight finishes; new connections are refused; close resolves after", async () => {
    const app = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/misc.ts": MISC, "public/index.html": "" });
    const listening = await app.gw.listen({ port: 0 });
    try {
      const inFlight = invokeJson(listening.url, "wait", { ms: 300 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closed = app.gw.close();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.json()).toBe("waited");
      await closed;
      await expect(invokeJson(listening.url, "echo", 1)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      app.app.remove();
    }
  });
});

describe("server.hosts (behind a load balancer or proxy)", () => {
  test("listed names are accepted as Host, with or without a port, and pages served under them are same-origin", async () => {
    const behind = await gatewayFor({
      "gateway.yaml": "version: 1\nserver:\n  hosts: [app.example.com, edge.example:8443]\ncommands:\n  echo: { handler: handlers/echo.ts }\n",
      "handlers/echo.ts": "export default ({ body }: { body: unknown }) => body;",
    });
    const listening = await behind.gw.listen({ port: 0 });
    try {
      for (const host of ["app.example.com", "APP.example.com:443", "edge.example:8443"]) {
        expect((await invokeJson(listening.url, "echo", 1, { Host: host })).status).toBe(200);
      }
      for (const host of ["edge.example", "edge.example:443", "evil.example"]) {
        expect((await invokeJson(listening.url, "echo", 1, { Host: host })).json().kind).toBe("forbidden-host");
      }
      expect((await invokeJson(listening.url, "echo", 1, { Host: "app.example.com", Origin: "https://app.example.com" })).status).toBe(200);
      expect((await invokeJson(listening.url, "echo", 1, { Host: "app.example.com", Origin: "https://evil.example" })).json().kind).toBe("forbidden-origin");
    } finally {
      await behind.close();
    }
  });
});
