// Request ids (CONTRACT §9.1, issue 20 item 4): `x-request-id` of 1 to 128 printable ASCII
// characters is kept, anything else (too long, empty, non-ASCII, control characters, a space) is
// replaced by one made here. Over HTTP it comes back as the X-Request-Id header of every answer to
// an invocation (200, the handler's errors, and refusals before the pipeline: 401, 403, 413, 415,
// 429), exposed to CORS; over the socket the reply frame carries `requestId`; in-process it is an
// option or a header. The handler reads it as `requestId`, and every log line of the call carries it.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Writable } from "node:stream";
import { pino } from "pino";
import { gatewayFor } from "./helpers/app.ts";
import { invokeJson, request, type RawResponse } from "./helpers/http.ts";
import { connectPage, type Frame, type TestPage } from "./helpers/ws.ts";
import { fromPino, prettyStream, type InvocationLog, type Logger } from "../gateway/runtime/logger.ts";
import { isValidRequestId, newRequestId, requestIdFrom } from "../gateway/runtime/request-id.ts";

const TOKEN = "request-id-token-0123";

const MANIFEST = `
version: 1
server:
  token: ${TOKEN}
  origins: [http://app.example]
  bodyLimit: 1kb
commands:
  id: { handler: handlers/app.ts#id }
  later: { handler: handlers/app.ts#later }
  boom: { handler: handlers/app.ts#boom }
  boomLater: { handler: handlers/app.ts#boomLater }
  lies: { handler: handlers/app.ts#lies, returns: { type: string } }
  limited: { handler: handlers/app.ts#id }
limits:
  limited: { commands: [limited], per: all, rate: 1/h, burst: 1 }
`;

const APP = `
export const id = ({ requestId }: any) => requestId;
export const later = async ({ requestId }: any) => { await new Promise((r) => setTimeout(r, 5)); return requestId; };
export const boom = () => { throw new Error("boom"); };
export const boomLater = async () => { throw new Error("boom later"); };
export const lies = () => 42;
`;

/** What the gateway logged: every line with its fields, and each invocation entry. */
interface Captured {
  lines: { message: string; error?: unknown; fields?: Record<string, unknown> }[];
  invocations: InvocationLog[];
}

function capturingLogger(): Logger & Captured {
  const lines: Captured["lines"] = [];
  const invocations: InvocationLog[] = [];
  return {
    lines,
    invocations,
    info: (message, fields) => void lines.push({ message, fields }),
    warn: (message, fields) => void lines.push({ message, fields }),
    error: (message, error, fields) => void lines.push({ message, error, fields }),
    invocation: (entry) => void invocations.push(entry),
  };
}

const AUTH = { authorization: `Bearer ${TOKEN}` };
const KEPT = [
  "0f8fad5b-d9cb-469f-a165-70867728950e",
  "a",
  "x".repeat(128),
  `!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`, // every printable punctuation mark, quote and backslash included
];
/** Replaced over every transport (HTTP cannot send every one of those below: see each test). */
const REPLACED_ANYWHERE = { tooLong: "x".repeat(129), empty: "", space: "a b", latin1: "café", tab: "a\tb" };
/** Only in-process and over the socket: a header value HTTP clients refuse to send. */
const REPLACED_IN_FRAMES = { newline: "a\nforged log line", nul: "a\u0000b", unicode: "id-\u2603", del: "a\u007fb" };

let app: Awaited<ReturnType<typeof gatewayFor>>;
let logger: Logger & Captured;
let url: string;

beforeAll(async () => {
  logger = capturingLogger();
  app = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/app.ts": APP }, { logger });
  ({ url } = await app.gw.listen({ port: 0 }));
});
afterAll(async () => app?.close());

/** The invocation entry logged for the answer with this request id (logged when the response closes). */
async function entryFor(requestId: string, transport: "http" | "ws" = "http"): Promise<InvocationLog> {
  for (let i = 0; i < 200; i++) {
    const entry = logger.invocations.find((e) => e.requestId === requestId && e.transport === transport);
    if (entry !== undefined) return entry;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no invocation logged with request id ${requestId}`);
}

const call = (cmd: string, headers: Record<string, string> = {}, body: unknown = {}) => invokeJson(url, cmd, body, { ...AUTH, ...headers });
const idOf = (res: RawResponse) => res.headers["x-request-id"] as string | undefined;

describe("the id itself", () => {
  test("kept: 1 to 128 characters from 0x21 to 0x7e; anything else is replaced", () => {
    for (const id of KEPT) expect(requestIdFrom(id)).toBe(id);
    for (const id of [...Object.values(REPLACED_ANYWHERE), ...Object.values(REPLACED_IN_FRAMES)]) {
      const made = requestIdFrom(id);
      expect(made).not.toBe(id);
      expect(isValidRequestId(made)).toBe(true);
    }
    for (const notText of [undefined, null, 42, ["a"], { toString: () => "a" }]) expect(isValidRequestId(notText)).toBe(false);
  });

  test("made ids are valid, distinct, and share this process's prefix", () => {
    const made = Array.from({ length: 1000 }, () => newRequestId());
    expect(new Set(made).size).toBe(1000);
    for (const id of made) expect(isValidRequestId(id)).toBe(true);
    const prefix = made[0]!.slice(0, made[0]!.lastIndexOf("-") + 1);
    expect(prefix).toMatch(/^[0-9a-f]{12}-$/);
    for (const id of made) expect(id.startsWith(prefix)).toBe(true);
  });
});

describe("over HTTP", () => {
  test.each(KEPT)("a valid id is kept, returned and given to the handler: %s", async (id) => {
    const res = await call("id", { "x-request-id": id });
    expect(res.status).toBe(200);
    expect(idOf(res)).toBe(id);
    expect(res.json()).toBe(id);
    expect(await entryFor(id)).toMatchObject({ cmd: "id", transport: "http", status: 200, outcome: "ok", requestId: id });
  });

  test.each(Object.entries(REPLACED_ANYWHERE))("%s: replaced by one made here, which the handler and the log see", async (_name, given) => {
    const res = await call("later", { "x-request-id": given });
    expect(res.status).toBe(200);
    const id = idOf(res)!;
    expect(id).not.toBe(given);
    expect(isValidRequestId(id)).toBe(true);
    expect(res.json()).toBe(id);
    expect((await entryFor(id)).cmd).toBe("later");
  });

  test("without the header, each call gets its own", async () => {
    const [a, b] = await Promise.all([call("id"), call("later")]);
    expect(idOf(a)).toBe(a.json());
    expect(idOf(b)).toBe(b.json());
    expect(idOf(a)).not.toBe(idOf(b));
  });

  const refusals: [string, number, string, () => Promise<RawResponse>][] = [
    ["no token", 401, "unauthorized", () => invokeJson(url, "id", {}, { "x-request-id": "r-401" })],
    ["an origin not allowed", 403, "forbidden-origin", () => call("id", { "x-request-id": "r-403", origin: "http://evil.example" })],
    ["a body over the limit", 413, "payload-too-large", () => call("id", { "x-request-id": "r-413" }, { pad: "x".repeat(2048) })],
    ["a content type not taken", 415, "unsupported-media-type", () => request(`${url}/ipc/id`, { headers: { ...AUTH, "x-request-id": "r-415", "content-type": "text/plain" }, body: "hi" })],
    ["an unknown command", 404, "unknown-command", () => call("nope", { "x-request-id": "r-404" })],
    ["a handler that throws", 500, "internal", () => call("boom", { "x-request-id": "r-500" })],
  ];
  test.each(refusals)("refused for %s (%i): the answer returns the id, and the log entry has it", async (_why, status, kind, send) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.json().kind).toBe(kind);
    const id = `r-${status}`;
    expect(idOf(res)).toBe(id);
    expect(await entryFor(id)).toMatchObject({ status, outcome: kind, requestId: id });
  });

  test("rate-limited (429): the answer returns the id", async () => {
    expect((await call("limited", { "x-request-id": "r-first" })).status).toBe(200);
    const res = await call("limited", { "x-request-id": "r-429" });
    expect(res.status).toBe(429);
    expect(idOf(res)).toBe("r-429");
    expect(await entryFor("r-429")).toMatchObject({ status: 429, outcome: "rate-limited" });
  });

  test("cross-origin pages may read it (Access-Control-Expose-Headers)", async () => {
    const res = await call("id", { "x-request-id": "from-a-page", origin: "http://app.example" });
    expect(res.status).toBe(200);
    expect(idOf(res)).toBe("from-a-page");
    const exposed = String(res.headers["access-control-expose-headers"]).split(",").map((h) => h.trim().toLowerCase());
    expect(exposed).toContain("x-request-id");
  });

  test("a request that is no invocation gets none", async () => {
    const res = await request(`${url}/ipc/id`, { method: "GET", headers: { ...AUTH, "x-request-id": "not-an-invocation" } });
    expect(res.status).toBe(405);
    expect(idOf(res)).toBeUndefined();
  });
});

describe("every log line of the call carries it", () => {
  const errorLine = (id: string) => logger.lines.find((l) => l.fields?.requestId === id);

  test.each([
    ["boom", /^command "boom" \(.*\) threw$/],
    ["boomLater", /^command "boomLater" \(.*\) threw$/],
    ["lies", /^command "lies" returned a value that does not match its returns schema/],
  ])("%s: the error line has the call's requestId", async (cmd, message) => {
    const id = `log-${cmd}`;
    const res = await call(cmd, { "x-request-id": id });
    expect(res.status).toBe(500);
    expect(idOf(res)).toBe(id);
    const line = errorLine(id);
    expect(line?.message).toMatch(message);
    expect(await entryFor(id)).toMatchObject({ cmd, status: 500 });
  });

  /** The gateway over pino writing into memory, as JSON lines or as pretty (terminal) text. */
  async function pinoGateway(pretty: boolean, run: (url: string) => Promise<void>): Promise<string> {
    let text = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString("utf8");
        done();
      },
    });
    const log = pino({ level: "info", base: undefined, serializers: { err: pino.stdSerializers.err } }, pretty ? prettyStream(sink, false) : sink);
    const gateway = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/app.ts": APP }, { logger: fromPino(log) });
    try {
      const { url: pinoUrl } = await gateway.gw.listen({ port: 0 });
      await run(pinoUrl);
      for (let i = 0; i < 200 && !/ ms /.test(text); i++) await new Promise((r) => setTimeout(r, 5));
    } finally {
      await gateway.close();
    }
    return text;
  }
  const boomAs = (id: string) => async (pinoUrl: string) => {
    expect((await invokeJson(pinoUrl, "boom", {}, { ...AUTH, "x-request-id": id })).status).toBe(500);
  };

  test("pino JSON: the invocation line and a handler's throw have requestId as a top-level field", async () => {
    const lines = (await pinoGateway(false, boomAs("pino-1"))).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const threw = lines.find((l) => /threw$/.test(l.msg));
    expect(threw).toMatchObject({ requestId: "pino-1", err: { message: "boom" } });
    const invocation = lines.find((l) => l.invocation);
    expect(invocation).toMatchObject({ requestId: "pino-1", invocation: { cmd: "boom", requestId: "pino-1" } });
    expect(invocation.msg).toMatch(/^boom 500 internal [\d.]+ ms \(http, window main\)$/); // the field says it; msg is as before
  });

  test("pino pretty: both lines name the request", async () => {
    const text = await pinoGateway(true, boomAs("pretty-1"));
    expect(text).toMatch(/command "boom" \(.*\) threw \(request pretty-1\)\n/);
    expect(text).toMatch(/boom 500 internal [\d.]+ ms \(http, window main, request pretty-1\)\n/);
    expect(text).not.toMatch(/requestId/); // not again as a field below the line
  });
});

describe("over the socket", () => {
  let page: TestPage;
  let rid = 0;
  beforeAll(async () => {
    page = await connectPage(url, "main", {}, { token: TOKEN });
  });
  afterAll(async () => page?.close());

  function send(cmd: string, headers?: Record<string, string>, body: unknown = {}): Promise<Frame> {
    const id = ++rid;
    page.ws.send(JSON.stringify({ type: "invoke", rid: id, cmd, body, ...(headers ? { headers } : {}) }));
    return page.next((f) => f.type === "reply" && f.rid === id);
  }

  test.each(KEPT)("a frame's valid x-request-id is kept, in the reply and given to the handler: %s", async (id) => {
    const reply = await send("later", { "x-request-id": id });
    expect(reply).toMatchObject({ ok: true, value: id, requestId: id });
    expect(await entryFor(id, "ws")).toMatchObject({ cmd: "later", status: 200, requestId: id });
  });

  test("the header's name is case-insensitive, as over HTTP", async () => {
    expect(await send("id", { "X-Request-Id": "upper-case" })).toMatchObject({ value: "upper-case", requestId: "upper-case" });
  });

  test.each(Object.entries({ ...REPLACED_ANYWHERE, ...REPLACED_IN_FRAMES }))("%s: replaced, and the reply says by what", async (_name, given) => {
    const reply = await send("id", { "x-request-id": given });
    expect(reply.ok).toBe(true);
    expect(reply.requestId).not.toBe(given);
    expect(isValidRequestId(reply.requestId)).toBe(true);
    expect(reply.value).toBe(reply.requestId);
  });

  test("without headers each frame gets its own; refusals carry one too", async () => {
    const [a, b] = await Promise.all([send("id"), send("id")]);
    expect(a.requestId).toBe(a.value);
    expect(b.requestId).toBe(b.value);
    expect(a.requestId).not.toBe(b.requestId);
    const unknown = await send("nope", { "x-request-id": "ws-404" });
    expect(unknown).toMatchObject({ ok: false, status: 404, requestId: "ws-404" });
    const thrown = await send("boomLater", { "x-request-id": "ws-500" });
    expect(thrown).toMatchObject({ ok: false, status: 500, requestId: "ws-500" });
    expect(logger.lines.find((l) => l.fields?.requestId === "ws-500")?.message).toMatch(/^command "boomLater" \(.*\) threw$/);
  });

  test("a frame too large to be read is answered with a made id (its headers are not read)", async () => {
    const reply = await send("id", { "x-request-id": "ws-413" }, { pad: "x".repeat(70 * 1024) });
    expect(reply).toMatchObject({ ok: false, status: 413 });
    expect(reply.requestId).not.toBe("ws-413");
    expect(isValidRequestId(reply.requestId)).toBe(true);
  });

  test("a frame refused before it could be read still gets a reply with an id", async () => {
    const id = ++rid;
    page.ws.send(JSON.stringify({ type: "invoke", rid: id, cmd: "id", extra: 1 }));
    const reply = await page.next((f) => f.type === "reply" && f.rid === id);
    expect(reply).toMatchObject({ ok: false, status: 400 });
    expect(isValidRequestId(reply.requestId)).toBe(true);
  });
});

describe("in-process", () => {
  test("the requestId option is kept when valid, else replaced", async () => {
    expect(await app.gw.invoke("id", {}, { requestId: "in-process-1" })).toBe("in-process-1");
    expect(await app.gw.invoke("later", {}, { requestId: "in-process-2" })).toBe("in-process-2");
    for (const given of [...Object.values(REPLACED_ANYWHERE), ...Object.values(REPLACED_IN_FRAMES)]) {
      const made = await app.gw.invoke<string>("id", {}, { requestId: given });
      expect(made).not.toBe(given);
      expect(isValidRequestId(made)).toBe(true);
    }
  });

  test("from x-request-id in the headers (any case, any HeadersInput) when there is no option; the option wins", async () => {
    expect(await app.gw.invoke("id", {}, { headers: { "X-Request-Id": "from-headers" } })).toBe("from-headers");
    expect(await app.gw.invoke("id", {}, { headers: new Headers({ "x-request-id": "from-Headers" }) })).toBe("from-Headers");
    expect(await app.gw.invoke("id", {}, { headers: [["x-request-id", "from-pairs"]] })).toBe("from-pairs");
    expect(await app.gw.invoke("id", {}, { headers: { "x-request-id": "from-headers" }, requestId: "option" })).toBe("option");
    const made = await app.gw.invoke<string>("id", {}, { headers: { "x-request-id": "a b" } });
    expect(made).not.toBe("a b");
    expect(isValidRequestId(made)).toBe(true);
  });

  test("a handler's throw is logged with the call's id", async () => {
    await expect(app.gw.invoke("boom", {}, { requestId: "in-process-boom" })).rejects.toMatchObject({ kind: "internal" });
    expect(logger.lines.find((l) => l.fields?.requestId === "in-process-boom")?.message).toMatch(/^command "boom" \(.*\) threw$/);
  });

  test("invokeHandler (a transport of one's own): its request's requestId, else the header, else a new one", async () => {
    expect(await app.gw.invokeHandler({ cmd: "id", requestId: "given" })).toEqual({ ok: true, value: "given" });
    expect(await app.gw.invokeHandler({ cmd: "id", headers: { "x-request-id": "header" } })).toEqual({ ok: true, value: "header" });
    const made = await app.gw.invokeHandler({ cmd: "id" });
    expect(made.ok && isValidRequestId(made.value)).toBe(true);
  });
});
