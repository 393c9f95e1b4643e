// Hostile input, table-driven, against the real `gateway` bin (`gateway dev`, so the development
// error paths are attacked too; the handler faults also against `gateway serve`). Every case is
// followed by a normal call over HTTP and over a WebSocket page, which must succeed: no input may
// end the process, wedge it, or grow it without bound. The classes follow issue 8:
//   1 frames and wire fields trusted too early   2 depth   3 values that cannot be sent
//   4 files and descriptors   5 memory   6 statuses   7 stray errors
//   8 files the gateway reads (the manifest and schema files, edited under dev or there at start)
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, unlinkSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { startGateway, type LogLine, type RunningGateway } from "./helpers/cli.ts";
import { HOSTILE_APP, HOSTILE_MANIFEST } from "./helpers/hostile-app.ts";
import { invokeJson, request, type RawResponse } from "./helpers/http.ts";
import { connectPage, type Frame, type TestPage } from "./helpers/ws.ts";

interface Context {
  gw: RunningGateway;
  app: TempApp;
  /** A page that stays connected through the whole suite, for the normal calls. */
  page: TestPage;
}

interface Case {
  name: string;
  run(ctx: Context): Promise<void>;
}

// ---- helpers -------------------------------------------------------------------------------

const deepArray = (levels: number, leaf = "0") => "[".repeat(levels) + leaf + "]".repeat(levels);
const deepObject = (levels: number) => '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
const deepTree = (levels: number) => '{"label":"x","children":['.repeat(levels) + '{"label":"leaf"}' + "]}".repeat(levels);

function post(ctx: Context, cmd: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(`${ctx.gw.url}/ipc/${encodeURIComponent(cmd)}`, { headers: { "content-type": "application/json", ...headers }, body });
}

function get(ctx: Context, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(`${ctx.gw.url}${path}`, { method: "GET", headers });
}

/** A rejection answered over HTTP: status, Tauri-Response: error, JSON with this kind. */
function expectKind(res: RawResponse, status: number, kind: string, message?: RegExp): void {
  expect({ status: res.status, kind: res.json().kind }).toEqual({ status, kind });
  expect(res.headers["tauri-response"]).toBe("error");
  if (message) expect(res.json().message).toMatch(message);
}

/** Send raw text (or bytes) on a fresh page and return the first error or reply frame. */
async function sendRaw(ctx: Context, data: string | Buffer, binary = false): Promise<Frame> {
  const page = await connectPage(ctx.gw.url);
  try {
    page.ws.send(data, { binary });
    return await page.next((f) => f.type === "error" || f.type === "reply");
  } finally {
    await page.close();
  }
}

/** A frame with a sound rid: the refusal comes as a reply the page's promise can reject with. */
async function expectReplyRefusal(ctx: Context, frame: object, status: number, kind: string, field?: string): Promise<void> {
  const reply = await sendRaw(ctx, JSON.stringify(frame));
  expect(reply.type).toBe("reply");
  expect(reply.ok).toBe(false);
  expect({ status: reply.status, kind: (reply.error as { kind: string }).kind }).toEqual({ status, kind });
  if (field !== undefined) expect((reply.error as { field?: string }).field).toBe(field);
}

/** Text the gateway cannot take as JSON, written as tauri.js writes a frame: a 400 reply for its rid. */
async function expectRidRefusal(ctx: Context, text: string, message: RegExp): Promise<void> {
  const rid = JSON.parse(/"rid":("[^"]*"|\d+)/.exec(text)![1]!);
  const reply = await sendRaw(ctx, text);
  expect(reply).toMatchObject({ type: "reply", rid, ok: false, status: 400, error: { kind: "bad-request" } });
  expect((reply.error as { message: string }).message).toMatch(message);
}

/** A frame without a sound rid: an error frame, naming the field when there is one. */
async function expectErrorFrame(ctx: Context, data: string | Buffer, message: RegExp, binary = false): Promise<void> {
  const frame = await sendRaw(ctx, data, binary);
  expect(frame.type).toBe("error");
  const error = frame.error as { kind: string; message: string };
  expect(error.kind).toBe("bad-request");
  expect(error.message).toMatch(message);
}

/** Invoke over a fresh page's WebSocket. */
async function wsInvoke(ctx: Context, cmd: string, body: unknown): Promise<Frame> {
  const page = await connectPage(ctx.gw.url);
  try {
    return await page.call(cmd, body);
  } finally {
    await page.close();
  }
}

/** The close code a page's socket ends with after sending `data`. */
async function closeCodeAfter(ctx: Context, data: Buffer, binary: boolean): Promise<number> {
  const page = await connectPage(ctx.gw.url);
  const closed = new Promise<number>((resolve) => page.ws.once("close", (code) => resolve(code)));
  page.ws.send(data, { binary });
  return closed;
}

/** Bytes written on a bare TCP connection; resolves with what came back before the server closed it. */
function rawHttp(ctx: Context, chunks: string[], pauseMs = 0): Promise<string> {
  const { port } = new URL(ctx.gw.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1");
    let answer = "";
    socket.on("data", (d) => (answer += d));
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
    socket.on("connect", async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    });
  });
}

const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);

/** The normal call after every case: over HTTP and over the suite's page. */
async function expectHealthy(ctx: Context): Promise<void> {
  const res = await invokeJson(ctx.gw.url, "greet", { name: "Ada" });
  expect({ status: res.status, body: res.json() }).toEqual({ status: 200, body: { message: "Hello, Ada!" } });
  const reply = await ctx.page.call("greet", { name: "Grace" });
  expect({ ok: reply.ok, value: reply.value }).toEqual({ ok: true, value: { message: "Hello, Grace!" } });
}

// ---- class 1: frames and wire fields ---------------------------------------------------------

const frameCases: Case[] = [
  ["text that is not JSON", "{type: invoke", /not valid JSON/],
  ["an empty frame (read as {})", "", /frame: \/type is missing/],
  ["null", "null", /must be object/],
  ["a number", "42", /must be object/],
  ["a string", '"invoke"', /must be object/],
  ["an array", '[{"type":"invoke","rid":1,"cmd":"echo"}]', /must be object/],
  ["true", "true", /must be object/],
  ["an empty object", "{}", /\/type is missing/],
  ["an unknown type without a rid", '{"type":"hello","cmd":"echo"}', /\/rid is missing/],
  ["no rid", '{"type":"invoke","cmd":"echo"}', /\/rid is missing/],
  ["a negative rid", '{"type":"invoke","rid":-1,"cmd":"echo"}', /\/rid/],
  ["a fractional rid", '{"type":"invoke","rid":1.5,"cmd":"echo"}', /\/rid/],
  ["a rid of 1e400 (Infinity)", '{"type":"invoke","rid":1e400,"cmd":"echo"}', /too large to represent/],
  ["a rid past 2^53", '{"type":"invoke","rid":1152921504606846976,"cmd":"echo"}', /\/rid/],
  ["a rid that is an object", '{"type":"invoke","rid":{"a":1},"cmd":"echo"}', /\/rid/],
  ["a rid that is a long string", JSON.stringify({ type: "invoke", rid: "r".repeat(200), cmd: "echo" }), /\/rid/],
  ["a rid nested 100,000 levels", `{"type":"invoke","cmd":"echo","rid":${deepArray(100_000)}}`, /nested deeper than 128/],
  ["a __proto__ key in the body, the rid not where tauri.js writes it", '{"rid":1,"type":"invoke","cmd":"echo","body":{"__proto__":{"admin":true}}}', /forbidden prototype property/],
].map(([name, text, message]) => ({
  name: `[1] WebSocket: ${name as string}`,
  run: (ctx: Context) => expectErrorFrame(ctx, text as string, message as RegExp),
}));

// Text that cannot be taken as JSON, but starts as tauri.js writes a frame: its rid is answered
// (a reply the page's promise rejects with), as for a frame over the size limit.
const unparsableWithRid: [string, string, RegExp][] = [
  ["a body holding 1e400", '{"type":"invoke","rid":41,"cmd":"echo","body":{"n":1e400}}', /too large to represent/],
  ["a string rid and a body holding -1e400", '{"type":"invoke","rid":"r-42","cmd":"echo","body":[-1e400]}', /too large to represent/],
  ["a __proto__ key in the body", '{"type":"invoke","rid":43,"cmd":"echo","body":{"__proto__":{"admin":true}}}', /forbidden prototype property/],
  ["constructor.prototype in the body", '{"type":"invoke","rid":44,"cmd":"echo","body":{"constructor":{"prototype":{"admin":true}}}}', /forbidden prototype property/],
  ["text cut short after the rid", '{"type":"invoke","rid":45,"cmd":"echo","body":{"a":', /not valid JSON/],
];
for (const [name, text, message] of unparsableWithRid) {
  frameCases.push({
    name: `[1] WebSocket: ${name}, with a readable rid, is answered for that rid`,
    run: (ctx) => expectRidRefusal(ctx, text, message),
  });
}

/** A binary invoke frame: [u32 header length][header][bytes], or a header length that lies. */
function binaryFrame(header: string, bytes: Buffer, claimedLength = Buffer.byteLength(header)): Buffer {
  const frame = Buffer.alloc(4 + Buffer.byteLength(header) + bytes.length);
  frame.writeUInt32BE(claimedLength, 0);
  frame.write(header, 4);
  bytes.copy(frame, 4 + Buffer.byteLength(header));
  return frame;
}

frameCases.push(
  { name: "[1] WebSocket: a binary frame shorter than its length field", run: (ctx) => expectErrorFrame(ctx, Buffer.from([1, 2, 3]), /starts with its header's length/, true) },
  {
    name: "[1] WebSocket: a binary frame whose header length runs past its end",
    run: (ctx) => expectErrorFrame(ctx, binaryFrame('{"type":"invoke"}', Buffer.from([1]), 0xffffff), /header length does not fit/, true),
  },
  { name: "[1] WebSocket: a binary frame whose header is not JSON", run: (ctx) => expectErrorFrame(ctx, binaryFrame("{nope", Buffer.from([1])), /header: body is not valid JSON/, true) },
  {
    name: "[1] WebSocket: a binary frame whose header holds 1e400 after a readable rid is answered for that rid",
    run: async (ctx) => {
      const reply = await sendRaw(ctx, binaryFrame('{"type":"invoke","rid":46,"cmd":"bytes","headers":{"n":1e400}}', Buffer.from([1])), true);
      expect(reply).toMatchObject({ type: "reply", rid: 46, ok: false, status: 400, error: { kind: "bad-request", message: expect.stringMatching(/too large to represent/) } });
    },
  },
  {
    name: "[1] WebSocket: a binary frame whose header also has a body",
    run: async (ctx) => {
      const reply = await sendRaw(ctx, binaryFrame(JSON.stringify({ type: "invoke", rid: 5, cmd: "bytes", body: {} }), Buffer.from([1])), true);
      expect(reply).toMatchObject({ type: "reply", rid: 5, ok: false, status: 400, error: { kind: "bad-request", field: "/body" } });
    },
  },
  {
    name: "[1] WebSocket: a binary frame to a JSON command is parsed as UTF-8 JSON, as over HTTP",
    run: async (ctx) => {
      const reply = await sendRaw(ctx, binaryFrame(JSON.stringify({ type: "invoke", rid: 6, cmd: "greet" }), Buffer.from('{"name":"Bin"}')), true);
      expect(reply).toMatchObject({ type: "reply", rid: 6, ok: true, value: { message: "Hello, Bin!" } });
    },
  },
  {
    name: "[1] WebSocket: a binary frame of bytes that are not JSON to a JSON command",
    run: async (ctx) => {
      const reply = await sendRaw(ctx, binaryFrame(JSON.stringify({ type: "invoke", rid: 7, cmd: "greet" }), Buffer.from([0xff, 0x00])), true);
      expect(reply).toMatchObject({ type: "reply", rid: 7, ok: false, status: 400, error: { kind: "bad-request" } });
    },
  },
);

const replyRefusals: [string, object, number, string, string?][] = [
  ["no cmd", { type: "invoke", rid: 1 }, 400, "bad-request", "/cmd"],
  ["an unknown type with a rid", { type: "hello", rid: 1, cmd: "echo" }, 400, "bad-request", "/type"],
  ["cmd that is a number", { type: "invoke", rid: 1, cmd: 5 }, 400, "bad-request", "/cmd"],
  ["an empty cmd", { type: "invoke", rid: 1, cmd: "" }, 400, "bad-request", "/cmd"],
  ["a 2,000-character cmd", { type: "invoke", rid: 1, cmd: "c".repeat(2000) }, 400, "bad-request", "/cmd"],
  ["a string rid with no cmd", { type: "invoke", rid: "abc" }, 400, "bad-request", "/cmd"],
  ["headers as an array of non-pairs", { type: "invoke", rid: 1, cmd: "echo", headers: [1, 2, 3] }, 400, "bad-request", "/headers"],
  ["headers as an array of pairs", { type: "invoke", rid: 1, cmd: "echo", headers: [["a", "b"]] }, 400, "bad-request", "/headers"],
  ["a header value with its own toString/valueOf", { type: "invoke", rid: 1, cmd: "echo", headers: { a: { toString: 1, valueOf: 2 } } }, 400, "bad-request", "/headers/a"],
  ["a header value that is a number", { type: "invoke", rid: 1, cmd: "echo", headers: { a: 5 } }, 400, "bad-request", "/headers/a"],
  ["a header value that is null", { type: "invoke", rid: 1, cmd: "echo", headers: { a: null } }, 400, "bad-request", "/headers/a"],
  ["a header value that is an array", { type: "invoke", rid: 1, cmd: "echo", headers: { a: ["x", "y"] } }, 400, "bad-request", "/headers/a"],
  ["300 headers", { type: "invoke", rid: 1, cmd: "echo", headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`h${i}`, "v"])) }, 400, "bad-request", "/headers"],
  ["a pyfunc header that is an object", { type: "invoke", rid: 1, cmd: "plugin:pytauri|pyfunc", headers: { pyfunc: { toString: "echo" } } }, 400, "bad-request", "/headers/pyfunc"],
  ["an unknown field", { type: "invoke", rid: 1, cmd: "echo", window: "admin" }, 400, "bad-request", "/window"],
  ["pyInvoke without its pyfunc header", { type: "invoke", rid: 1, cmd: "plugin:pytauri|pyfunc", body: {} }, 400, "bad-request"],
  ["cmd __proto__", { type: "invoke", rid: 1, cmd: "__proto__" }, 404, "unknown-command"],
  ["cmd constructor", { type: "invoke", rid: 1, cmd: "constructor" }, 404, "unknown-command"],
  ["cmd hasOwnProperty", { type: "invoke", rid: 1, cmd: "hasOwnProperty" }, 404, "unknown-command"],
  ["pyfunc naming __proto__", { type: "invoke", rid: 1, cmd: "plugin:pytauri|pyfunc", headers: { pyfunc: "__proto__" }, body: {} }, 404, "unknown-command"],
  ["listen with a handler id past 2^53", { type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "chat", target: { kind: "Any" }, handler: 2 ** 60 } }, 400, "bad-request", "/handler"],
  ["listen with a negative handler id", { type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "chat", handler: -1 } }, 400, "bad-request", "/handler"],
  ["listen with a string handler id", { type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "chat", handler: "1" } }, 400, "bad-request", "/handler"],
  ["listen with an unknown target kind", { type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "chat", target: { kind: "Nope" }, handler: 1 } }, 400, "bad-request", "/target/kind"],
  ["listen on a Window target without a label", { type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "chat", target: { kind: "Window" }, handler: 1 } }, 400, "bad-request", "/target/kind"],
  ["listen on a bad event name", { type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "no spaces!", handler: 1 } }, 400, "bad-request", "/event"],
  ["listen with args that are a string", { type: "invoke", rid: 1, cmd: "plugin:event|listen", body: "chat" }, 400, "bad-request", "/"],
  ["unlisten with an object eventId", { type: "invoke", rid: 1, cmd: "plugin:event|unlisten", body: { event: "chat", eventId: {} } }, 400, "bad-request", "/eventId"],
  ["emit_to a numeric target", { type: "invoke", rid: 1, cmd: "plugin:event|emit_to", body: { event: "chat", target: 5, payload: 1 } }, 400, "bad-request", "/target"],
  ["emit without an event", { type: "invoke", rid: 1, cmd: "plugin:event|emit", body: { payload: 1 } }, 400, "bad-request", "/event"],
  ["emit of a gateway:// event", { type: "invoke", rid: 1, cmd: "plugin:event|emit", body: { event: "gateway://reload", payload: 1 } }, 403, "event-not-allowed"],
  ["emit of an undeclared event", { type: "invoke", rid: 1, cmd: "plugin:event|emit", body: { event: "nope", payload: 1 } }, 404, "unknown-event"],
  ["an unknown event-plugin command", { type: "invoke", rid: 1, cmd: "plugin:event|nope", body: { event: "chat" } }, 404, "unknown-command"],
  ["a channel id past 2^53", { type: "invoke", rid: 1, cmd: "stream", body: { on: "__CHANNEL__:99999999999999999999", what: "fine" } }, 422, "invalid-body"],
  ["a negative channel id", { type: "invoke", rid: 1, cmd: "stream", body: { on: "__CHANNEL__:-1", what: "fine" } }, 422, "invalid-body"],
  ["a channel that is an object", { type: "invoke", rid: 1, cmd: "stream", body: { on: { id: 1 }, what: "fine" } }, 422, "invalid-body"],
  ["a JSON body for a binary command", { type: "invoke", rid: 1, cmd: "bytes", body: { a: 1 } }, 400, "bad-request"],
];
for (const [name, frame, status, kind, field] of replyRefusals) {
  frameCases.push({ name: `[1] WebSocket: ${name}`, run: (ctx) => expectReplyRefusal(ctx, frame, status, kind, field) });
}

frameCases.push(
  {
    name: "[1] WebSocket: a text frame that is not UTF-8 closes that socket (1007) only",
    run: async (ctx) => expect(await closeCodeAfter(ctx, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false)).toBe(1007),
  },
  {
    name: "[1] WebSocket: a frame past the body limit plus 1 MiB closes that socket (1009) only",
    run: async (ctx) => expect(await closeCodeAfter(ctx, Buffer.alloc(3 * 1024 * 1024 + 10, 0x20), false)).toBe(1009),
  },
  {
    name: "[1] WebSocket: a text frame over the body limit is answered 413, as over HTTP",
    run: async (ctx) => {
      const reply = await sendRaw(ctx, `{"type":"invoke","rid":8,"cmd":"echo","body":"${"x".repeat(2 * 1024 * 1024 + 70_000)}"}`);
      expect(reply).toMatchObject({ type: "reply", rid: 8, ok: false, status: 413, error: { kind: "payload-too-large" } });
    },
  },
  {
    name: "[1] WebSocket: a mistake is answered and the same socket keeps working",
    run: async (ctx) => {
      const page = await connectPage(ctx.gw.url);
      page.ws.send('{"type":"invoke","rid":99,"cmd":"echo","headers":[1]}');
      expect((await page.next((f) => f.type === "reply" && f.rid === 99)).ok).toBe(false);
      const reply = await page.call("echo", { still: "here" });
      expect(reply.value).toEqual({ still: "here" });
      await page.close();
    },
  },
);

const httpWireCases: Case[] = [
  {
    name: "[1] HTTP: plugin:event|listen with a handler id past 2^53",
    run: async (ctx) => expectKind(await post(ctx, "plugin:event|listen", JSON.stringify({ event: "chat", handler: 2 ** 60 })), 400, "bad-request", /\/handler/),
  },
  {
    name: "[1] HTTP: plugin:event|emit_to with a target that is an array",
    run: async (ctx) => expectKind(await post(ctx, "plugin:event|emit_to", JSON.stringify({ event: "chat", target: [1] })), 400, "bad-request", /\/target/),
  },
  { name: "[1] HTTP: a command name that is broken percent-encoding", run: async (ctx) => expectKind(await request(`${ctx.gw.url}/ipc/%E0%A4%A`, { body: "{}" }), 400, "bad-request") },
  { name: "[1] HTTP: command __proto__", run: async (ctx) => expectKind(await post(ctx, "__proto__", "{}"), 404, "unknown-command") },
  { name: "[1] HTTP: a __proto__ key in the body", run: async (ctx) => expectKind(await post(ctx, "echo", '{"__proto__":{"admin":true}}'), 400, "bad-request") },
  { name: "[1] HTTP: a body of 1e400", run: async (ctx) => expectKind(await post(ctx, "echo", '{"n":1e400}'), 400, "bad-request", /too large/) },
  {
    name: "[1] HTTP: a number of 251 digits with a 2-digit exponent (Infinity without a 3-digit exponent)",
    run: async (ctx) => expectKind(await post(ctx, "echo", `{"n":1${"0".repeat(250)}e99}`), 400, "bad-request", /too large/),
  },
  { name: "[1] HTTP: a body that is not UTF-8", run: async (ctx) => expectKind(await post(ctx, "echo", Buffer.from([0x22, 0xff, 0x22])), 400, "bad-request", /UTF-8/) },
  { name: "[1] HTTP: Content-Type text/plain", run: async (ctx) => expectKind(await post(ctx, "echo", "{}", { "content-type": "text/plain" }), 415, "unsupported-media-type") },
  {
    name: "[1] HTTP: a Gateway-Page naming no page, with a channel",
    run: async (ctx) => expectKind(await post(ctx, "stream", JSON.stringify({ on: "__CHANNEL__:1", what: "fine" }), { "gateway-page": "nope" }), 400, "bad-request"),
  },
  { name: "[1] HTTP: pyInvoke with an empty pyfunc header", run: async (ctx) => expectKind(await post(ctx, "plugin:pytauri|pyfunc", "{}", { pyfunc: "" }), 400, "bad-request") },
];

// ---- class 2: depth ----------------------------------------------------------------------------

const depthCases: Case[] = [
  ...(
    [
      ["echo", "an array 100,000 levels deep", deepArray(100_000)],
      ["echo", "an object 100,000 levels deep", deepObject(100_000)],
      ["tree", "a tree 50,000 levels deep (recursive schema)", deepTree(50_000)],
      ["json", "a generic JSON value 100,000 levels deep (recursive schema)", deepArray(100_000)],
      ["echo", "129 levels", deepArray(129)],
    ] as const
  ).map(([cmd, name, body]) => ({
    name: `[2] HTTP: ${name}`,
    run: async (ctx: Context) => expectKind(await post(ctx, cmd, body), 400, "bad-request", /nested deeper than 128 levels/),
  })),
  {
    name: "[2] HTTP: 128 levels is accepted and echoed",
    run: async (ctx) => {
      const res = await post(ctx, "json", deepArray(128));
      expect(res.status).toBe(200);
      expect(res.text).toBe(deepArray(128));
    },
  },
  {
    name: "[2] HTTP: a tree 127 levels deep passes its recursive schema",
    run: async (ctx) => expect((await post(ctx, "tree", deepTree(63))).status).toBe(200),
  },
  {
    name: "[2] HTTP: pyInvoke bytes nested 100,000 levels",
    run: async (ctx) =>
      expectKind(await post(ctx, "plugin:pytauri|pyfunc", Buffer.from(deepArray(100_000)), { "content-type": "application/octet-stream", pyfunc: "echo" }), 400, "bad-request", /nested deeper/),
  },
  {
    name: "[2] HTTP: plugin:event|emit of a payload 100,000 levels deep",
    run: async (ctx) => expectKind(await post(ctx, "plugin:event|emit", `{"event":"chat","payload":${deepArray(100_000)}}`), 400, "bad-request", /nested deeper/),
  },
  ...(["echo", "tree", "json"] as const).map((cmd) => ({
    name: `[2] WebSocket: a body 100,000 levels deep to ${cmd}`,
    run: (ctx: Context) => expectRidRefusal(ctx, `{"type":"invoke","rid":1,"cmd":"${cmd}","body":${cmd === "tree" ? deepTree(20_000) : deepArray(100_000)}}`, /nested deeper than 128/),
  })),
  {
    name: "[2] WebSocket: a body 128 levels deep is accepted, as over HTTP",
    run: async (ctx) => {
      const reply = await ctx.page.call("json", JSON.parse(deepArray(128)));
      expect(reply.ok).toBe(true);
      expect(JSON.stringify(reply.value)).toBe(deepArray(128));
    },
  },
  {
    name: "[2] WebSocket: a deep event payload emitted while a page listens",
    run: async (ctx) => {
      const listener = await connectPage(ctx.gw.url);
      await listener.call("plugin:event|listen", { event: "chat", target: { kind: "Any" }, handler: 7 });
      await expectRidRefusal(ctx, `{"type":"invoke","rid":1,"cmd":"plugin:event|emit","body":{"event":"chat","payload":${deepArray(100_000)}}}`, /nested deeper/);
      // A payload at the limit is delivered.
      const emitted = await ctx.page.call("plugin:event|emit", { event: "chat", payload: JSON.parse(deepArray(127)) });
      expect(emitted.ok).toBe(true);
      const event = await listener.next((f) => f.type === "event");
      expect(JSON.stringify(event.payload)).toBe(deepArray(127));
      await listener.close();
    },
  },
  {
    name: "[2] a handler emitting a payload 100,000 levels deep while a page listens is refused",
    run: async (ctx) => {
      const listener = await connectPage(ctx.gw.url);
      await listener.call("plugin:event|listen", { event: "chat", handler: 8 });
      const res = await invokeJson(ctx.gw.url, "emits", { what: "deep" });
      expect(res.json()).toEqual({ refused: "invalid-payload" });
      await listener.close();
    },
  },
];

// ---- class 3: values that cannot be sent -----------------------------------------------------

const UNSENDABLE: [string, RegExp][] = [
  ["circular", /circular reference/],
  ["bigint", /BigInt/],
  ["deep", /nested too deeply|nested deeper/],
  ["deepish", /nested deeper than 128/],
  ["throwingGetter", /serializing it threw: Error: getter/],
  ["throwingToJSON", /serializing it threw: Error: toJSON/],
  ["revokedProxy", /cannot be sent/],
];

function valueCases(transport: "HTTP" | "WebSocket", mode: "dev" | "serve"): Case[] {
  const call = async (ctx: Context, cmd: string, body: unknown) => {
    if (transport === "HTTP") {
      const res = await invokeJson(ctx.gw.url, cmd, body);
      return { status: res.status, value: res.json() };
    }
    const reply = await wsInvoke(ctx, cmd, body);
    return { status: reply.ok ? 200 : (reply.status as number), value: reply.ok ? reply.value : reply.error };
  };
  const cases: Case[] = [];
  for (const [what, reason] of UNSENDABLE) {
    cases.push({
      name: `[3] ${transport}: a handler returning ${what}`,
      run: async (ctx) => {
        const { status, value } = await call(ctx, "returns", { what });
        expect(status).toBe(500);
        expect((value as { kind: string }).kind).toBe(what === "revokedProxy" ? "internal" : "invalid-return");
        expect((value as { message: string }).message).toMatch(reason);
        expect((value as { command: string }).command).toBe("returns");
      },
    });
    cases.push({
      name: `[3] ${transport}: an InvokeError carrying ${what}`,
      run: async (ctx) => {
        const { status, value } = await call(ctx, "rejects", { what });
        expect({ status, kind: (value as { kind: string }).kind }).toEqual({ status: 500, kind: "internal" });
        expect((value as { message: string }).message).toMatch(/InvokeError value cannot be sent|cannot be shown|Maximum call stack/);
      },
    });
  }
  cases.push(
    {
      name: `[3] ${transport}: a handler returning undefined answers null`,
      run: async (ctx) => expect(await call(ctx, "returns", { what: "undefined" })).toEqual({ status: 200, value: null }),
    },
    {
      name: `[3] ${transport}: an InvokeError carrying undefined rejects with null`,
      run: async (ctx) => expect(await call(ctx, "rejects", { what: "undefined" })).toEqual({ status: 400, value: null }),
    },
    {
      name: `[3] ${transport}: NaN and Infinity are sent as null, as JSON.stringify does`,
      run: async (ctx) => expect(await call(ctx, "returns", { what: "nan" })).toEqual({ status: 200, value: { n: null, i: null } }),
    },
  );
  const thrown: [string, RegExp][] = [
    ["nullProto", /null prototype/],
    ["badToString", /toString/],
    ["proxy", /failed/],
    ["revokedProxy", /Revoked Proxy/],
    ["null", /failed: null/],
    ["undefined", /failed: undefined/],
    ["symbol", /Symbol\(thrown\)/],
    ["errorWithBadMessage", /cannot be described/],
    ["deepError", /failed: deep/],
  ];
  for (const [what, message] of thrown) {
    cases.push({
      name: `[3] ${transport}: a handler throwing ${what}${mode === "dev" ? " (gateway dev shows it)" : " (gateway serve names only the command)"}`,
      run: async (ctx) => {
        const { status, value } = await call(ctx, "throws", { what });
        if (mode === "serve") return expect({ status, value }).toEqual({ status: 500, value: { kind: "internal", message: '"throws" failed', command: "throws" } });
        expect({ status, kind: (value as { kind: string }).kind }).toEqual({ status: 500, kind: "internal" });
        expect((value as { message: string }).message).toMatch(message);
      },
    });
  }
  return cases;
}

const channelAndEventValueCases: Case[] = [
  ...["circular", "bigint", "deepish"].map((what) => ({
    name: `[3] a channel message that is ${what} is refused to the handler (invalid-message)`,
    run: async (ctx: Context) => {
      const reply = await ctx.page.call("stream", { on: "__CHANNEL__:41", what });
      expect(reply.value).toEqual({ refused: "invalid-message" });
      const end = await ctx.page.next((f) => f.type === "channel-end" && f.channel === 41);
      expect(end.index).toBe(0); // nothing was sent
    },
  })),
  ...["circular", "bigint", "throwingToJSON"].map((what) => ({
    name: `[3] a backend emit of a payload that is ${what} is refused (invalid-payload)`,
    run: async (ctx: Context) => expect((await invokeJson(ctx.gw.url, "emits", { what })).json()).toEqual({ refused: "invalid-payload" }),
  })),
];

// ---- class 4: files and descriptors ----------------------------------------------------------

const fileCases: Case[] = [
  ...["/.env", "/%2eenv", "/.git/config", "/%2Egit/config", "/sub/../.env"].map((path) => ({
    name: `[4] a dotfile: ${path}`,
    run: async (ctx: Context) => expect((await get(ctx, path)).status).toBe(404),
  })),
  ...["/../gateway.yaml", "/%2e%2e/gateway.yaml", "/..%2fgateway.yaml", "/%2e%2e%2f%2e%2e%2fetc/passwd", "/index.html%00.js"].map((path) => ({
    name: `[4] traversal: ${path}`,
    run: async (ctx: Context) => expect((await get(ctx, path)).status).toBe(404),
  })),
  {
    name: "[4] a symlink pointing outside the static folder",
    run: async (ctx) => {
      const outside = mkdtempSync(join(tmpdir(), "gw-outside-"));
      writeFileSync(join(outside, "secret.txt"), "secret");
      symlinkSync(join(outside, "secret.txt"), ctx.app.path("public/escape.txt"));
      symlinkSync(outside, ctx.app.path("public/escape-dir"));
      try {
        expect((await get(ctx, "/escape.txt")).status).toBe(404);
        expect((await get(ctx, "/escape-dir/secret.txt")).status).toBe(404);
      } finally {
        unlinkSync(ctx.app.path("public/escape.txt"));
        unlinkSync(ctx.app.path("public/escape-dir"));
        rmSync(outside, { recursive: true });
      }
    },
  },
  {
    name: "[4] a symlink inside the folder to a dotfile",
    run: async (ctx) => {
      symlinkSync(ctx.app.path("public/.env"), ctx.app.path("public/env.txt"));
      try {
        expect((await get(ctx, "/env.txt")).status).toBe(404);
      } finally {
        unlinkSync(ctx.app.path("public/env.txt"));
      }
    },
  },
  {
    name: "[4] the SPA fallback serves index.html to a browser navigating, and nothing else",
    run: async (ctx) => {
      const page = await get(ctx, "/settings/profile", { accept: "text/html,application/xhtml+xml" });
      expect({ status: page.status, text: page.text }).toEqual({ status: 200, text: "<!doctype html><h1>app</h1>" });
      expect((await get(ctx, "/missing.js", { accept: "*/*" })).status).toBe(404);
      expect((await get(ctx, "/settings/profile", { accept: "application/json" })).status).toBe(404);
    },
  },
  {
    name: "[4] a static file deleted while it is being served",
    run: async (ctx) => {
      ctx.app.write("public/big.bin", "x".repeat(8 * 1024 * 1024));
      const received = await slowDownload(ctx, "/big.bin", () => unlinkSync(ctx.app.path("public/big.bin")));
      // Opened before it was deleted: served whole from the open descriptor.
      expect(received).toBe(8 * 1024 * 1024);
      expect((await get(ctx, "/big.bin")).status).toBe(404);
    },
  },
  {
    name: "[4] a static file truncated while it is being served: the connection is cut, not left short",
    run: async (ctx) => {
      ctx.app.write("public/big2.bin", "x".repeat(8 * 1024 * 1024));
      const received = await slowDownload(ctx, "/big2.bin", () => writeFileSync(ctx.app.path("public/big2.bin"), "short"));
      expect(received).toBeLessThanOrEqual(8 * 1024 * 1024);
      expect((await get(ctx, "/big2.bin")).text).toBe("short");
    },
  },
];

/** Download `path`, calling `meanwhile` after the first chunk; resolves with the bytes received when the response ends or is cut. */
function slowDownload(ctx: Context, path: string, meanwhile: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${ctx.gw.url}${path}`, { agent: false }, (res) => {
      let received = 0;
      let first = true;
      res.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (!first) return;
        first = false;
        res.pause();
        meanwhile();
        setTimeout(() => res.resume(), 50);
      });
      res.on("end", () => resolve(received));
      res.on("error", () => resolve(received));
      res.on("close", () => resolve(received));
    });
    req.on("error", reject);
    req.end();
  });
}

// Schema files an edit under `gateway dev` may bring: each is a broken edit, reported at its place,
// while the generation before it serves on; nothing waits on a FIFO or reads a device.

/**
 * Adds a command whose body is `schema` to the manifest, waits until dev reports the edit as
 * broken with `mistake`, checks the previous generation still serves (a normal call, the API
 * documents), then puts the manifest back and waits for the reload.
 */
async function brokenSchemaEdit(ctx: Context, schema: string, mistake: RegExp): Promise<void> {
  const logged = async (since: number, match: (line: LogLine) => boolean): Promise<LogLine | undefined> => {
    for (let waited = 0; waited < 15_000; waited += 20) {
      const line = ctx.gw.logs().slice(since).find(match);
      if (line) return line;
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  };
  const before = ctx.gw.logs().length;
  ctx.app.write("gateway.yaml", HOSTILE_MANIFEST.replace("\ncommands:\n", `\ncommands:\n  hostile-schema:\n    handler: handlers/h.ts#echo\n    body: ${schema}\n`));
  const broken = await logged(before, (l) => l.msg.startsWith("gateway: the edit is broken") && mistake.test(l.msg));
  expect(broken?.msg).toMatch(mistake);
  await expectHealthy(ctx);
  for (const document of ["openapi", "asyncapi", "catalog"]) expect((await get(ctx, `/__gateway/${document}.json`)).status).toBe(200);
  const restored = ctx.gw.logs().length;
  ctx.app.write("gateway.yaml", HOSTILE_MANIFEST);
  expect((await logged(restored, (l) => l.msg.startsWith("gateway: reloaded")))?.msg).toMatch(/reloaded/);
}

const schemaFileCases: Case[] = [
  {
    name: '[4] a schema that is { "$ref": "#" } (a loop that reads no data)',
    run: async (ctx) => {
      ctx.app.write("schemas/self.json", '{ "$ref": "#" }');
      await brokenSchemaEdit(ctx, "schemas/self.json", /schemas\/self\.json:1:3: body of command "hostile-schema": \$ref "#" leads back to itself without going into a property or an item/);
    },
  },
  {
    name: "[4] two schema files that $ref each other",
    run: async (ctx) => {
      ctx.app.write("schemas/ping.json", '{ "$ref": "pong.json" }');
      ctx.app.write("schemas/pong.json", '{ "anyOf": [{ "type": "string" }, { "$ref": "ping.json" }] }');
      await brokenSchemaEdit(ctx, "schemas/ping.json", /schemas\/ping\.json:1:3: body of command "hostile-schema": \$ref "pong\.json" leads back here \(through schemas\/pong\.json#\/anyOf\/1 \$ref "ping\.json"\)/);
    },
  },
  {
    name: "[4] a $ref to a FIFO: refused, never opened",
    run: async (ctx) => {
      execFileSync("mkfifo", [ctx.app.path("schemas/pipe.json")]);
      ctx.app.write("schemas/piped.json", '{ "$ref": "pipe.json" }');
      try {
        await brokenSchemaEdit(ctx, "schemas/piped.json", /schemas\/piped\.json:1:3: \$ref "pipe\.json": not a regular file: schemas\/pipe\.json/);
      } finally {
        unlinkSync(ctx.app.path("schemas/pipe.json"));
      }
    },
  },
  {
    name: "[4] a $ref to /dev/zero: refused, never read (memory stays flat)",
    run: async (ctx) => {
      const before = ctx.gw.rssMiB();
      ctx.app.write("schemas/zero.json", '{ "$ref": "/dev/zero" }');
      await brokenSchemaEdit(ctx, "schemas/zero.json", /schemas\/zero\.json:1:3: \$ref "\/dev\/zero": not a regular file: \/dev\/zero/);
      expect(ctx.gw.rssMiB() - before).toBeLessThan(100);
    },
  },
  {
    name: "[4] a schema file nested 500,000 levels: refused at the level past the limit",
    run: async (ctx) => {
      ctx.app.write("schemas/deep.json", '{"not":'.repeat(500_000) + "{}" + "}".repeat(500_000));
      await brokenSchemaEdit(ctx, "schemas/deep.json", /schemas\/deep\.json:1:1800: nested deeper than 256 levels/);
    },
  },
  {
    name: "[4] a schema file over 4 MiB: refused, not read",
    run: async (ctx) => {
      ctx.app.write("schemas/huge.json", JSON.stringify({ type: "string", description: "d".repeat(5 * 1024 * 1024) }));
      await brokenSchemaEdit(ctx, "schemas/huge.json", /gateway\.yaml:\d+:\d+: body of command "hostile-schema": larger than 4 MiB, the most a schema file may hold: schemas\/huge\.json/);
    },
  },
];

// ---- class 5: memory -------------------------------------------------------------------------

const memoryCases: Case[] = [
  {
    name: "[5] a page that floods invocations and never reads the replies is held back (memory stays bounded, nothing lost)",
    run: async (ctx) => {
      const before = ctx.gw.rssMiB();
      const ws = new WebSocket(`${ctx.gw.url.replace("http", "ws")}/ipc/ws`);
      await new Promise((resolve) => ws.once("open", resolve));
      const socket = (ws as unknown as { _socket: import("node:net").Socket })._socket;
      socket.pause(); // never read what the gateway writes
      const body = { pad: "p".repeat(2000) };
      const sent = 60_000;
      let replies = 0;
      ws.on("message", (data: Buffer) => {
        if (data.includes('"type":"reply"')) replies++;
      });
      for (let rid = 0; rid < sent; rid++) ws.send(JSON.stringify({ type: "invoke", rid, cmd: "echo", body }));
      // Everything is sent from here; the gateway holds it back in TCP rather than in memory.
      await new Promise((r) => setTimeout(r, 1500));
      const peak = ctx.gw.rssMiB();
      socket.resume();
      for (let waited = 0; replies < sent && waited < 60_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      ws.close();
      console.log(`flooding page: gateway RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB while held back; ${replies}/${sent} replies`);
      expect(replies).toBe(sent);
      // Without the hold-back this grows the gateway by ~100 MB (about half a gigabyte in the report's longer flood).
      expect(peak - before).toBeLessThan(40);
    },
  },
  {
    name: "[5] more invocations in flight from one page than its cap all complete, in order of arrival",
    run: async (ctx) => {
      const page = await connectPage(ctx.gw.url);
      const calls = Array.from({ length: 600 }, () => page.call("wait", { ms: 30 }));
      const replies = await Promise.all(calls);
      expect(replies.every((r) => r.ok && r.value === "waited")).toBe(true);
      await page.close();
    },
  },
];

// ---- class 6: statuses -----------------------------------------------------------------------

const statusCases: Case[] = [
  {
    name: "[6] headers over Node's limit: 431",
    run: async (ctx) => expect(statusOf(await rawHttp(ctx, [`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`]))).toBe(431),
  },
  {
    name: "[6] a URL over Node's limit: 431",
    run: async (ctx) => expect(statusOf(await rawHttp(ctx, [`GET /${"u".repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`]))).toBe(431),
  },
  {
    name: "[6] a slow-loris request (headers never finish): 408 within server.requestTimeout",
    run: async (ctx) => {
      const answer = await rawHttp(ctx, ["POST /ipc/echo HTTP/1.1\r\n", "Host: 127.0.0.1\r\n", "X-A: 1\r\n"], 100);
      expect(statusOf(answer)).toBe(408);
      expect(answer).toContain('"kind":"request-timeout"');
    },
  },
  {
    name: "[6] a body that never finishes arriving: 408",
    run: async (ctx) => {
      const { port } = new URL(ctx.gw.url);
      const answer = await rawHttp(ctx, [`POST /ipc/echo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`]);
      expect(statusOf(answer)).toBe(408);
    },
  },
  { name: "[6] a request line that is not HTTP: 400", run: async (ctx) => expect(statusOf(await rawHttp(ctx, ["HELLO THERE\r\n\r\n"]))).toBe(400) },
  {
    name: "[6] Content-Length and Transfer-Encoding together (smuggling): 400",
    run: async (ctx) =>
      expect(statusOf(await rawHttp(ctx, ["POST /ipc/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"]))).toBe(400),
  },
  {
    name: "[6] a header name with a space: 400",
    run: async (ctx) => expect(statusOf(await rawHttp(ctx, ["GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n"]))).toBe(400),
  },
];

// ---- class 7: stray errors -------------------------------------------------------------------

const strayCases: Case[] = [];
for (const transport of ["HTTP", "WebSocket"] as const) {
  for (const [what, logged, error] of [
    ["throw", /^gateway: an uncaught exception from command "stray"; still serving$/, "stray throw from a timer"],
    ["reject", /^gateway: an unhandled promise rejection from command "stray"; still serving$/, "stray rejection from a timer"],
    ["rejectValue", /^gateway: an unhandled promise rejection; still serving$/, undefined],
  ] as const) {
    strayCases.push({
      name: `[7] ${transport}: a handler's timer that ${what === "throw" ? "throws" : "rejects"} after it returned is logged, and the gateway keeps serving`,
      run: async (ctx) => {
        const before = ctx.gw.logs().length;
        if (transport === "HTTP") expect((await invokeJson(ctx.gw.url, "stray", { what })).json()).toBe("returned");
        else expect((await wsInvoke(ctx, "stray", { what })).value).toBe("returned");
        let line: LogLine | undefined;
        for (let waited = 0; !line && waited < 5000; waited += 20) {
          await new Promise((r) => setTimeout(r, 20));
          line = ctx.gw.logs().slice(before).find((l) => logged.test(l.msg));
        }
        expect(line?.msg).toMatch(logged);
        if (error) expect(line!.err?.message).toBe(error);
      },
    });
  }
}

// ---- class 8: files the gateway reads ----------------------------------------------------------

/** A "billion laughs" document: nine levels of anchors, each naming the one before nine times (10^9 values expanded). */
function aliasBomb(indent: string): string {
  const lines = [`${indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]`];
  for (let i = 1; i < 9; i++) lines.push(`${indent}l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(", ")}]`);
  return lines.join("\n") + "\n";
}

/** The mistake an alias bomb is, where it is: at the alias that takes it past 1,000,000 values (l5's first). */
function bombMistake(file: string, text: string): string {
  const lines = text.split("\n");
  const line = lines.findIndex((l) => l.includes("*l5"));
  return `${file}:${line + 1}:${lines[line]!.indexOf("*l5") + 1}: too many values through aliases: this one takes the document past 1,000,000 values (an alias bomb?)`;
}

/** The manifest with one more command, whose body is a `.yaml` schema file. */
const withYamlSchema = (manifest: string) => manifest.replace("commands:\n", "commands:\n  laughs:\n    handler: handlers/h.ts#echo\n    body: schemas/laughs.yaml\n");

/** /__gateway/health once `done` holds for it (polled: a reload follows the watcher). */
async function healthWhen(ctx: Context, done: (health: { ok: boolean; lastError: string | null }) => boolean, what: string): Promise<{ ok: boolean; lastError: string | null }> {
  for (let waited = 0; ; waited += 50) {
    const health = (await get(ctx, "/__gateway/health")).json() as { ok: boolean; lastError: string | null };
    if (done(health)) return health;
    if (waited > 15_000) throw new Error(`${what}: health is still ${JSON.stringify(health)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sourceFileCases: Case[] = [
  {
    name: "[8] an alias bomb saved as the manifest is one mistake at its alias; the last good generation serves on, and the fix reloads",
    run: async (ctx) => {
      const good = ctx.app.read("gateway.yaml");
      const bomb = `${good}laughs:\n${aliasBomb("  ")}`;
      ctx.app.write("gateway.yaml", bomb);
      expect(await healthWhen(ctx, (h) => h.lastError !== null, "the bomb")).toMatchObject({ ok: true, lastError: bombMistake("gateway.yaml", bomb) });
      await expectHealthy(ctx);
      ctx.app.write("gateway.yaml", good);
      await healthWhen(ctx, (h) => h.lastError === null, "the fix");
    },
  },
  {
    name: "[8] an alias bomb saved as a .yaml schema file is one mistake at its alias in that file; the fix reloads",
    run: async (ctx) => {
      const good = ctx.app.read("gateway.yaml");
      const schema = `type: object\n$defs:\n${aliasBomb("  ")}`;
      ctx.app.write("schemas/laughs.yaml", schema);
      ctx.app.write("gateway.yaml", withYamlSchema(good));
      expect(await healthWhen(ctx, (h) => h.lastError !== null, "the bomb")).toMatchObject({ ok: true, lastError: bombMistake("schemas/laughs.yaml", schema) });
      await expectHealthy(ctx);
      ctx.app.write("schemas/laughs.yaml", "type: object\n");
      await healthWhen(ctx, (h) => h.lastError === null, "the fix");
      expect((await invokeJson(ctx.gw.url, "laughs", { a: 1 })).json()).toEqual({ a: 1 });
      ctx.app.write("gateway.yaml", good);
      await healthWhen(ctx, (h) => h.lastError === null, "the manifest as it was");
    },
  },
];

describe("gateway dev started on an alias bomb serves not-ready, naming it, until it is fixed", () => {
  for (const where of ["the manifest", "a .yaml schema file"] as const) {
    test(where, async () => {
      const app = tempApp(HOSTILE_APP);
      let gw: RunningGateway | undefined;
      try {
        const manifest = where === "the manifest" ? `${HOSTILE_MANIFEST}laughs:\n${aliasBomb("  ")}` : withYamlSchema(HOSTILE_MANIFEST);
        const schema = `type: object\n$defs:\n${aliasBomb("  ")}`;
        app.write("gateway.yaml", manifest);
        app.write("schemas/laughs.yaml", schema);
        const mistake = where === "the manifest" ? bombMistake("gateway.yaml", manifest) : bombMistake("schemas/laughs.yaml", schema);
        gw = await startGateway("dev", app.dir);
        expect(gw.stderr()).toContain(`${mistake}\ngateway: the app does not build yet`);
        const refused = await invokeJson(gw.url, "greet", { name: "Ada" });
        expect({ status: refused.status, body: refused.json() }).toMatchObject({ status: 503, body: { kind: "not-ready", mistakes: [mistake] } });
        const ctx = { gw } as Context;
        app.write(where === "the manifest" ? "gateway.yaml" : "schemas/laughs.yaml", where === "the manifest" ? HOSTILE_MANIFEST : "type: object\n");
        await healthWhen(ctx, (h) => h.ok, "the fix");
        const res = await invokeJson(gw.url, "greet", { name: "Ada" });
        expect({ status: res.status, body: res.json() }).toEqual({ status: 200, body: { message: "Hello, Ada!" } });
      } finally {
        gw?.kill();
        app.remove();
      }
    });
  }
});

// ---- the suites --------------------------------------------------------------------------------

function suite(mode: "dev" | "serve", cases: Case[]): void {
  describe(`gateway ${mode}: ${cases.length} hostile inputs, each followed by a normal call`, () => {
    const ctx = {} as Context;
    beforeAll(async () => {
      ctx.app = tempApp(HOSTILE_APP);
      ctx.gw = await startGateway(mode, ctx.app.dir);
      ctx.page = await connectPage(ctx.gw.url);
    });
    afterAll(async () => {
      await ctx.page?.close();
      ctx.gw?.kill();
      ctx.app?.remove();
    });

    test.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
      await c.run(ctx);
      await expectHealthy(ctx);
    });

    test("the process is still running and answers its health check", async () => {
      const exited = await Promise.race([ctx.gw.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))]);
      expect(exited).toBe(false);
      expect((await get(ctx, "/__gateway/health")).json()).toMatchObject({ ok: true });
    });
  });
}

suite("dev", [
  ...frameCases,
  ...httpWireCases,
  ...depthCases,
  ...valueCases("HTTP", "dev"),
  ...valueCases("WebSocket", "dev"),
  ...channelAndEventValueCases,
  ...fileCases,
  ...schemaFileCases,
  ...memoryCases,
  ...statusCases,
  ...strayCases,
  ...sourceFileCases,
]);
// The handler faults again, without development messages.
suite("serve", [...valueCases("HTTP", "serve"), ...valueCases("WebSocket", "serve"), ...strayCases]);
