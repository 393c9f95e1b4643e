// The event bus through real sockets (no browser): pages are `ws` clients on /ipc/ws, the
// backend is handlers and a module's setup(). Tauri 2's target rules, once/unlisten, the
// manifest's event declarations, eval, and no leak when pages close.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { gatewayFor } from "./helpers/app.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { connectPage, type TestPage } from "./helpers/ws.ts";
import type { Listening } from "../gateway/transports/http.ts";

const MANIFEST = `
version: 1
commands:
  emit: { handler: handlers/backend.ts#emit }
  emit-to: { handler: handlers/backend.ts#emitTo }
  emit-filter: { handler: handlers/backend.ts#emitFilter }
  log: { handler: handlers/backend.ts#log }
  listen-then-unlisten: { handler: handlers/backend.ts#listenThenUnlisten }
  eval: { handler: handlers/backend.ts#evalIn }
events:
  news:
    payload: { type: object, properties: { text: { type: string } }, required: [text] }
  page-only: { from: [frontend] }
  backend-only: { from: [backend] }
  ping: {}
`;

const BACKEND = `
import type { Invoke, SetupContext } from "ipc-gateway";
const received: unknown[] = [];
export function setup({ app }: SetupContext) {
  app.listen("news", (e) => received.push({ via: "listen", event: e.event, payload: e.payload }));
  app.listen("page-only", (e) => received.push({ via: "listen", event: e.event, payload: e.payload }));
  app.once("ping", (e) => received.push({ via: "once", event: e.event, payload: e.payload }));
}
function attempt(fn: () => void) {
  try { fn(); return { ok: true }; } catch (error: any) { return { ok: false, kind: error.kind, name: error.name }; }
}
export const emit = ({ body, app }: Invoke<any>) => attempt(() => app.emit(body.event, body.payload));
export const emitTo = ({ body, app }: Invoke<any>) => attempt(() => app.emitTo(body.target, body.event, body.payload));
export const emitFilter = ({ body, app }: Invoke<any>) =>
  attempt(() => app.emitFilter(body.event, body.payload, (t) => "label" in t && t.label === body.label));
export const log = () => received.splice(0);
export function listenThenUnlisten({ app }: Invoke) {
  const seen: unknown[] = [];
  const id = app.listen("news", (e) => seen.push(e.payload));
  app.emit("news", { text: "heard" });
  app.unlisten(id);
  app.emit("news", { text: "not heard" });
  return seen;
}
export const evalIn = ({ window, body }: Invoke<string>) => { window.eval(body); return window.label; };
`;

let ctx: Awaited<ReturnType<typeof gatewayFor>>;
let server: Listening;
const open: TestPage[] = [];

beforeAll(async () => {
  ctx = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/backend.ts": BACKEND });
  server = await ctx.gw.listen({ port: 0 });
});
afterAll(async () => {
  await Promise.all(open.map((p) => p.close()));
  await ctx.close();
});

async function page(label = "main"): Promise<TestPage> {
  const p = await connectPage(server.url, label);
  open.push(p);
  return p;
}

let nextHandler = 100;
/** plugin:event|listen from a page, as @tauri-apps/api's listen() does; returns { id, handler }. */
async function listen(p: TestPage, event: string, target: unknown = { kind: "Any" }) {
  const handler = nextHandler++;
  const reply = await p.call("plugin:event|listen", { event, target, handler });
  expect(reply.ok).toBe(true);
  return { id: reply.value as number, handler };
}

const events = (p: TestPage, handler: number) => p.frames.filter((f) => f.type === "event" && f.handler === handler);
/**
 * A round trip on the page's socket: its reply is queued after every frame the gateway had
 * already queued for the page, so afterwards the page has seen all of them.
 */
const flush = (...pages: TestPage[]) => Promise.all(pages.map((p) => p.call("plugin:event|unlisten", { event: "flush", eventId: 0 })));
/** Wait until the gateway's view (health) satisfies `done`. */
async function until(done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await done()); i++) await new Promise((r) => setTimeout(r, 10));
}
const backend = (cmd: string, body: unknown) => ctx.gw.invoke<any>(cmd, body);

describe("between pages and the backend", () => {
  test("app.emit reaches a page's listener as { event, id, payload }", async () => {
    const p = await page();
    const { id, handler } = await listen(p, "news");
    expect(await backend("emit", { event: "news", payload: { text: "hello" } })).toEqual({ ok: true });
    const frame = await p.next((f) => f.type === "event" && f.handler === handler);
    expect(frame).toEqual({ type: "event", handler, event: "news", id, payload: { text: "hello" } });
    await backend("log", {});
  });

  test("a page's emit reaches backend listeners and listeners in every page (itself included)", async () => {
    const a = await page();
    const b = await page("settings");
    const onA = await listen(a, "news");
    const onB = await listen(b, "news");
    const reply = await a.call("plugin:event|emit", { event: "news", payload: { text: "from a page" } });
    expect(reply).toMatchObject({ ok: true, value: null });
    await b.next((f) => f.type === "event" && f.handler === onB.handler);
    await a.next((f) => f.type === "event" && f.handler === onA.handler);
    expect(await backend("log", {})).toEqual([{ via: "listen", event: "news", payload: { text: "from a page" } }]);
  });

  test("a page may emit over HTTP too (no socket needed)", async () => {
    const res = await invokeJson(server.url, "plugin:event|emit", { event: "page-only", payload: 1 });
    expect(res.status).toBe(200);
    expect(await backend("log", {})).toEqual([{ via: "listen", event: "page-only", payload: 1 }]);
  });

  test("once fires once", async () => {
    const p = await page();
    await p.call("plugin:event|emit", { event: "ping", payload: 1 });
    await p.call("plugin:event|emit", { event: "ping", payload: 2 });
    expect(await backend("log", {})).toEqual([{ via: "once", event: "ping", payload: 1 }]);
  });

  test("unlisten stops delivery", async () => {
    const p = await page();
    const { id, handler } = await listen(p, "news");
    await backend("emit", { event: "news", payload: { text: "1" } });
    await p.next((f) => f.type === "event" && f.handler === handler);
    expect((await p.call("plugin:event|unlisten", { event: "news", eventId: id })).ok).toBe(true);
    await backend("emit", { event: "news", payload: { text: "2" } });
    await flush(p);
    expect(events(p, handler).map((f) => f.payload)).toEqual([{ text: "1" }]);
    await backend("log", {});
  });

  test("a page cannot unlisten another page's listener", async () => {
    const a = await page();
    const b = await page();
    const { id, handler } = await listen(a, "news");
    await b.call("plugin:event|unlisten", { event: "news", eventId: id });
    await backend("emit", { event: "news", payload: { text: "still here" } });
    await a.next((f) => f.type === "event" && f.handler === handler);
    await backend("log", {});
  });
});

describe("targets (Tauri 2)", () => {
  test("emitTo reaches only its target; a listener with target Any receives everything", async () => {
    const main = await page("main");
    const settings = await page("settings");
    const any = await page("other");
    const onMain = await listen(main, "news", { kind: "Window", label: "main" });
    const onSettings = await listen(settings, "news", { kind: "WebviewWindow", label: "settings" });
    const onAny = await listen(any, "news", { kind: "Any" });

    await backend("emit-to", { target: "settings", event: "news", payload: { text: "to settings" } }); // a string is AnyLabel
    await backend("emit-to", { target: { kind: "Window", label: "main" }, event: "news", payload: { text: "to main's Window" } });
    await backend("emit-to", { target: { kind: "WebviewWindow", label: "main" }, event: "news", payload: { text: "to main's WebviewWindow" } });
    await backend("emit-to", { target: { kind: "App" }, event: "news", payload: { text: "to the app" } });
    await flush(main, settings, any);

    const texts = (p: TestPage, h: number) => events(p, h).map((f) => (f.payload as { text: string }).text);
    expect(texts(main, onMain.handler)).toEqual(["to main's Window"]);
    expect(texts(settings, onSettings.handler)).toEqual(["to settings"]);
    expect(texts(any, onAny.handler)).toEqual(["to settings", "to main's Window", "to main's WebviewWindow", "to the app"]);
    expect(await backend("log", {})).toEqual([{ via: "listen", event: "news", payload: { text: "to the app" } }]);
  });

  test("Webview targets and emitTo Any", async () => {
    const webview = await page("panel");
    const window = await page("panel");
    const onWebview = await listen(webview, "news", { kind: "Webview", label: "panel" });
    const onWindow = await listen(window, "news", { kind: "Window", label: "panel" });
    await backend("emit-to", { target: { kind: "Webview", label: "panel" }, event: "news", payload: { text: "webview" } });
    await backend("emit-to", { target: { kind: "Any" }, event: "news", payload: { text: "everyone" } });
    await flush(webview, window);
    const texts = (p: TestPage, h: number) => events(p, h).map((f) => (f.payload as { text: string }).text);
    expect(texts(webview, onWebview.handler)).toEqual(["webview", "everyone"]);
    expect(texts(window, onWindow.handler)).toEqual(["everyone"]);
    expect(await backend("log", {})).toEqual([{ via: "listen", event: "news", payload: { text: "everyone" } }]);
  });

  test("app.unlisten stops a handler's listener", async () => {
    expect(await backend("listen-then-unlisten", {})).toEqual([{ text: "heard" }]);
    await backend("log", {});
  });

  test("a page's emit_to", async () => {
    const main = await page("main");
    const settings = await page("settings");
    const onMain = await listen(main, "news", { kind: "Window", label: "main" });
    const onSettings = await listen(settings, "news", { kind: "Window", label: "settings" });
    await main.call("plugin:event|emit_to", { target: { kind: "AnyLabel", label: "settings" }, event: "news", payload: { text: "hi" } });
    await settings.next((f) => f.type === "event" && f.handler === onSettings.handler);
    await flush(main);
    expect(events(main, onMain.handler)).toEqual([]);
  });

  test("emitFilter decides per target", async () => {
    const a = await page("a");
    const b = await page("b");
    const onA = await listen(a, "news", { kind: "Window", label: "a" });
    const onB = await listen(b, "news", { kind: "Window", label: "b" });
    expect(await backend("emit-filter", { event: "news", payload: { text: "only b" }, label: "b" })).toEqual({ ok: true });
    await b.next((f) => f.type === "event" && f.handler === onB.handler);
    await flush(a);
    expect(events(a, onA.handler)).toEqual([]);
  });
});

describe("declared topics", () => {
  test("a page emitting an undeclared topic, an invalid payload, or a backend-only topic is refused", async () => {
    const p = await page();
    expect(await p.call("plugin:event|emit", { event: "nope", payload: 1 })).toMatchObject({ ok: false, status: 404, error: { kind: "unknown-event", event: "nope" } });
    expect(await p.call("plugin:event|emit", { event: "news", payload: { text: 1 } })).toMatchObject({
      ok: false,
      status: 422,
      error: { kind: "invalid-payload", errors: [{ instancePath: "/text" }] },
    });
    expect(await p.call("plugin:event|emit", { event: "backend-only", payload: 1 })).toMatchObject({
      ok: false,
      status: 403,
      error: { kind: "event-not-allowed", from: "frontend" },
    });
    expect(await p.call("plugin:event|emit", { event: "gateway://reload", payload: 1 })).toMatchObject({ ok: false, error: { kind: "event-not-allowed" } });
    expect(await p.call("plugin:event|emit", { event: "bad name!", payload: 1 })).toMatchObject({ ok: false, error: { kind: "bad-request" } });
  });

  test("the backend gets a GatewayError it can catch", async () => {
    expect(await backend("emit", { event: "nope" })).toEqual({ ok: false, kind: "unknown-event", name: "GatewayError" });
    expect(await backend("emit", { event: "page-only" })).toEqual({ ok: false, kind: "event-not-allowed", name: "GatewayError" });
    expect(await backend("emit", { event: "news", payload: {} })).toEqual({ ok: false, kind: "invalid-payload", name: "GatewayError" });
  });

  test("listen needs a page (HTTP without one is a bad request)", async () => {
    const res = await invokeJson(server.url, "plugin:event|listen", { event: "news", target: { kind: "Any" }, handler: 1 });
    expect(res.status).toBe(400);
    expect(res.json().kind).toBe("bad-request");
  });
});

describe("eval and closing pages", () => {
  test("window.eval goes to the pages of the calling window only", async () => {
    const main = await page("main");
    const settings = await page("settings");
    const res = await invokeJson(server.url, "eval", "document.title = 'x'", { "Gateway-Window": "settings" });
    expect(res.json()).toBe("settings");
    await settings.next((f) => f.type === "eval" && f.script === "document.title = 'x'");
    await flush(main);
    expect(main.frames.filter((f) => f.type === "eval")).toEqual([]);
  });

  test("a page that closes loses its listeners (no leak)", async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
    const health = async () => (await request(`${server.url}/__gateway/health`, { method: "GET" })).json();
    await until(async () => (await health()).pages === 0);
    const baseline = await health();
    expect(baseline.pages).toBe(0);
    const p = await page();
    for (let i = 0; i < 50; i++) await listen(p, "news");
    expect((await health()).listeners).toBe(baseline.listeners + 50);
    await p.close();
    await until(async () => (await health()).pages === 0);
    expect(await health()).toMatchObject({ pages: 0, listeners: baseline.listeners });
  });
});
