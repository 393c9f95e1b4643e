// The unmodified @tauri-apps/api and pyInvoke in headless Chromium, in a page served from a
// second origin: invoke resolves and rejects exactly as in Tauri, bytes both ways, headers, the
// window label, and a page from a disallowed origin is refused. The whole matrix runs twice: over
// the page's WebSocket (tauri.js's default once the socket is open) and over HTTP
// (`?transport=http`, and what a page uses before its socket opens).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { createServer } from "node:http";
import type { Browser, Page } from "playwright-core";
import { openPage, pageBundle, startBrowserApp, type BrowserApp, type PageServer } from "../helpers/browser.ts";

const MISC = `
import { InvokeError, type Invoke } from "ipc-gateway";
let calls = 0;
export const greet = ({ body }: Invoke<{ name: string }>) => { calls++; return { message: "Hello, " + body.name + "!" }; };
export const shout = ({ body }: Invoke<string>) => body.toUpperCase();
export const reverse = ({ body }: Invoke<Uint8Array>) => Uint8Array.from(body).reverse();
export const rejectString = () => { throw new InvokeError("plain string"); };
export const rejectObject = () => { throw new InvokeError({ code: 7 }); };
export const headers = ({ headers }: Invoke) => headers;
export const whoami = ({ window }: Invoke) => window.label;
export const count = () => calls;
export const nothing = () => undefined;
export const echo = ({ body }: Invoke) => body;
`;

function manifest(origin: string): string {
  return `
version: 1
server:
  origins: [${origin}]
commands:
  greet: { handler: handlers/misc.ts#greet, body: { type: object, properties: { name: { type: string } }, required: [name] } }
  shout: { handler: handlers/misc.ts#shout, body: { type: string } }
  reverse: { handler: handlers/misc.ts#reverse, body: binary, returns: binary }
  reject-string: { handler: handlers/misc.ts#rejectString }
  reject-object: { handler: handlers/misc.ts#rejectObject }
  headers: { handler: handlers/misc.ts#headers }
  whoami: { handler: handlers/misc.ts#whoami }
  count: { handler: handlers/misc.ts#count }
  nothing: { handler: handlers/misc.ts#nothing }
  echo: { handler: handlers/misc.ts#echo }
  settings-only: { handler: handlers/misc.ts#whoami, windows: [settings] }
`;
}

let app: BrowserApp;
let browser: Browser;
let pages: PageServer;
let page: Page;
const byTransport: Record<"ws" | "http", Page> = {} as Record<"ws" | "http", Page>;

beforeAll(async () => {
  app = await startBrowserApp(manifest, { "handlers/misc.ts": MISC });
  ({ browser, pages, main: page } = app);
  byTransport.ws = page;
  byTransport.http = await openPage(browser, `${pages.origin}/?window=main&transport=http`);
}, 60_000);

afterAll(async () => app?.close());

/** Run `invoke` in the page; report resolve/reject the way the page saw it. */
function invokeInPage(target: Page, cmd: string, args?: unknown, options?: unknown) {
  return target.evaluate(
    async ({ cmd, args, options }) => {
      try {
        const value = await window.api.invoke(cmd, args as never, options as never);
        if (value instanceof ArrayBuffer) return { resolved: true, arrayBuffer: Array.from(new Uint8Array(value)) };
        return { resolved: true, value };
      } catch (error) {
        return { resolved: false, error, type: typeof error, isError: error instanceof Error };
      }
    },
    { cmd, args, options },
  );
}

describe.each(["ws", "http"] as const)("invoke over %s", (transport) => {
  let page: Page;
  beforeAll(() => {
    page = byTransport[transport];
  });

  test("travels the way it should: the page's socket, or HTTP", async () => {
    expect(await page.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.transport)).toBe(transport);
    // Over HTTP the handler sees the browser's request headers; over the socket only the call's own.
    const seen = (await invokeInPage(page, "headers", {}, { headers: { "x-a": "1" } })) as { value: Record<string, string> };
    if (transport === "ws") expect(seen.value).toEqual({ "x-a": "1" });
    else expect(seen.value["user-agent"]).toBeDefined();
  });

  test("the page sees a Tauri environment", async () => {
    expect(await page.evaluate(() => window.api.isTauri())).toBe(true);
    expect(await page.evaluate(() => window.api.getCurrentWindow().label)).toBe("main");
    expect(await page.evaluate(() => window.api.getCurrentWebviewWindow().label)).toBe("main");
  });

  test("resolves with the JSON value", async () => {
    expect(await invokeInPage(page, "greet", { name: "Ada" })).toEqual({ resolved: true, value: { message: "Hello, Ada!" } });
    expect(await invokeInPage(page, "shout", "quiet")).toEqual({ resolved: true, value: "QUIET" });
    expect(await invokeInPage(page, "nothing")).toEqual({ resolved: true, value: null });
  });

  test("values with Tauri's IPC hook go in their IPC form, at any depth; toJSON is honoured", async () => {
    const sent = await page.evaluate(async () => {
      // What @tauri-apps/api's SERIALIZE_TO_IPC_FN names; a class of the app's, without toJSON.
      class UserId {
        constructor(readonly id: number) {}
        ["__TAURI_TO_IPC_KEY__"]() {
          return { User: this.id };
        }
      }
      // Each alone, so that nothing else in the body sends it the replacer's way.
      return Promise.all([
        window.api.invoke("echo", { plain: { list: [1, "two", null, { three: true }] }, text: "__CHANNEL__: only a string" }),
        window.api.invoke("echo", { user: new UserId(1) }),
        window.api.invoke("echo", { deep: [[{ user: new UserId(3) }]] }),
        window.api.invoke("echo", { withToJson: { toJSON: () => ({ nested: new UserId(2) }) } }),
        window.api.invoke("echo", { when: new Date(0) }),
      ]);
    });
    expect(sent).toEqual([
      { plain: { list: [1, "two", null, { three: true }] }, text: "__CHANNEL__: only a string" },
      { user: { User: 1 } },
      { deep: [[{ user: { User: 3 } }]] },
      { withToJson: { nested: { User: 2 } } },
      { when: "1970-01-01T00:00:00.000Z" },
    ]);
  });

  test("a body with cycles is refused in the page, as JSON.stringify refuses it, and nothing is sent", async () => {
    const before = (await invokeInPage(page, "count")) as { value: number };
    const refused = await page.evaluate(async () => {
      // tauri.js walks a body before serializing it: a cycle must end that walk, and
      // JSON.stringify's own refusal must reach the caller (not a stack overflow).
      const node: Record<string, unknown> = { name: "Ada" };
      node.a = node.b = node.c = node;
      try {
        await window.api.invoke("greet", node);
        return "sent";
      } catch (error) {
        return error instanceof TypeError ? error.message : `not a TypeError: ${String(error)}`;
      }
    });
    expect(refused).toMatch(/circular/i);
    expect(await invokeInPage(page, "count")).toEqual({ resolved: true, value: before.value });
  });

  test("rejects with the raw InvokeError value: a string stays a string", async () => {
    expect(await invokeInPage(page, "reject-string")).toEqual({ resolved: false, error: "plain string", type: "string", isError: false });
    expect(await invokeInPage(page, "reject-object")).toEqual({ resolved: false, error: { code: 7 }, type: "object", isError: false });
  });

  test("rejects with the gateway's own errors as values", async () => {
    const unknown = await invokeInPage(page, "missing");
    expect(unknown).toMatchObject({ resolved: false, error: { kind: "unknown-command", command: "missing" }, isError: false });
    const invalid = await invokeInPage(page, "greet", { name: 3 });
    expect(invalid).toMatchObject({ resolved: false, error: { kind: "invalid-body", errors: [{ instancePath: "/name" }] } });
  });

  test("binary in as Uint8Array, ArrayBuffer or number[]; out as ArrayBuffer", async () => {
    const result = await page.evaluate(async () => {
      const toList = (b: ArrayBuffer) => ({ isArrayBuffer: b instanceof ArrayBuffer, bytes: Array.from(new Uint8Array(b)) });
      return {
        uint8: toList(await window.api.invoke<ArrayBuffer>("reverse", new Uint8Array([1, 2, 3]))),
        arrayBuffer: toList(await window.api.invoke<ArrayBuffer>("reverse", new Uint8Array([4, 5]).buffer as never)),
        numbers: toList(await window.api.invoke<ArrayBuffer>("reverse", [7, 8, 9] as never)),
      };
    });
    expect(result).toEqual({
      uint8: { isArrayBuffer: true, bytes: [3, 2, 1] },
      arrayBuffer: { isArrayBuffer: true, bytes: [5, 4] },
      numbers: { isArrayBuffer: true, bytes: [9, 8, 7] },
    });
  });

  test("headers reach the handler: a plain object, a Headers or pairs", async () => {
    const seen = await page.evaluate(async () => ({
      object: await window.api.invoke<Record<string, string>>("headers", {}, { headers: { "X-Trace": "one" } }),
      headers: await window.api.invoke<Record<string, string>>("headers", {}, { headers: new Headers({ "X-Trace": "two" }) }),
      pairs: await window.api.invoke<Record<string, string>>("headers", {}, { headers: [["X-Trace", "three"]] }),
    }));
    expect(seen.object["x-trace"]).toBe("one");
    expect(seen.headers["x-trace"]).toBe("two");
    expect(seen.pairs["x-trace"]).toBe("three");
    expect(seen.object["gateway-window"]).toBeUndefined();
  });

  test("pyInvoke calls the command named by the function, with the JSON body", async () => {
    const result = await page.evaluate(async () => ({
      greet: await window.api.pyInvoke("greet", { name: "Py" }),
      shout: await window.api.pyInvoke("shout", "py"),
      rejected: await window.api.pyInvoke("reject-string", {}).catch((e: unknown) => ({ rejected: e })),
    }));
    expect(result).toEqual({ greet: { message: "Hello, Py!" }, shout: "PY", rejected: { rejected: "plain string" } });
  });

  test("the window label comes from the script's query", async () => {
    const settings = await openPage(browser, `${pages.origin}/?window=settings${transport === "http" ? "&transport=http" : ""}`);
    try {
      expect(await invokeInPage(settings, "whoami")).toEqual({ resolved: true, value: "settings" });
      expect(await invokeInPage(settings, "settings-only")).toEqual({ resolved: true, value: "settings" });
      expect(await invokeInPage(page, "settings-only")).toMatchObject({ resolved: false, error: { kind: "not-allowed" } });
      expect(await settings.evaluate(() => window.api.getCurrentWindow().label)).toBe("settings");
    } finally {
      await settings.close();
    }
  });
});

describe("a page from a disallowed origin", () => {
  test("is refused before any handler runs", async () => {
    const before = (await invokeInPage(page, "count")) as { value: number };
    // The same page server under another name is another origin, not in server.origins.
    const stranger = await browser.newPage();
    try {
      await stranger.goto(`http://localhost:${pages.port}/?window=main`);
      await stranger.waitForFunction(() => (window as any).api !== undefined);
      const result = await invokeInPage(stranger, "greet", { name: "Mallory" });
      // The browser refuses the answer (no CORS for this origin): to the page, the gateway is unreachable.
      expect(result).toMatchObject({ resolved: false, isError: false, error: { kind: "unreachable", message: expect.stringContaining("refused this page's origin") } });
      const socket = await stranger.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.page);
      expect(socket).toBeNull(); // and the WebSocket was refused
    } finally {
      await stranger.close();
    }
    expect(await invokeInPage(page, "count")).toEqual({ resolved: true, value: before.value });
  });
});

describe("when the gateway cannot be reached", () => {
  test("stopped: invoke rejects with { kind: unreachable } (not fetch's TypeError), over HTTP and from a page whose socket closed; back, both answer", async () => {
    const { port } = new URL(app.url);
    await app.listening.close();
    await byTransport.ws.waitForFunction(() => window.__TAURI_INTERNALS__.gateway.page === null);
    for (const transport of ["ws", "http"] as const) {
      const result = await invokeInPage(byTransport[transport], "greet", { name: "nobody there" });
      expect([transport, result]).toEqual([
        transport,
        { resolved: false, type: "object", isError: false, error: { kind: "unreachable", message: expect.stringContaining(`the gateway at ${app.url} could not be reached (`) } },
      ]);
    }
    app.listening = await app.gateway.gw.listen({ port: Number(port) });
    await byTransport.ws.waitForFunction(() => window.__TAURI_INTERNALS__.gateway.page !== null, undefined, { timeout: 15_000 });
    for (const transport of ["ws", "http"] as const) {
      expect(await invokeInPage(byTransport[transport], "greet", { name: "back" })).toEqual({ resolved: true, value: { message: "Hello, back!" } });
    }
  });

  test("behind a proxy that answers in its place (502, a JSON 503, without Tauri-Response): unreachable with that status", async () => {
    const script = await pageBundle();
    // The page and the gateway behind one origin, as a reverse proxy serves them; the gateway is down.
    const proxy = createServer((req, res) => {
      const url = req.url ?? "/";
      if (url === "/") {
        res.writeHead(200, { "content-type": "text/html" });
        return res.end('<!doctype html><script src="/__gateway/tauri.js?window=main&transport=http"></script><script src="/app.js"></script>');
      }
      if (url.startsWith("/__gateway/tauri.js")) {
        void fetch(`${app.url}${url}`).then(async (upstream) => {
          res.writeHead(upstream.status, { "content-type": "text/javascript" });
          res.end(await upstream.text());
        });
        return;
      }
      if (url === "/app.js") {
        res.writeHead(200, { "content-type": "text/javascript" });
        return res.end(script);
      }
      req.resume();
      if (url === "/ipc/greet") {
        res.writeHead(502, { "content-type": "text/html" });
        return res.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
      }
      res.writeHead(503, { "content-type": "application/json" });
      res.end('{"error":"upstream unavailable"}');
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const behind = await browser.newPage();
    try {
      const origin = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
      await behind.goto(`${origin}/`);
      await behind.waitForFunction(() => (window as any).api !== undefined);
      expect(await invokeInPage(behind, "greet", { name: "Ada" })).toEqual({
        resolved: false,
        type: "object",
        isError: false,
        error: { kind: "unreachable", status: 502, message: `the gateway at ${origin} did not answer: 502 Bad Gateway came from something in between (a proxy?), not from the gateway; "greet" may or may not have run` },
      });
      expect(await invokeInPage(behind, "shout", "x")).toMatchObject({ resolved: false, isError: false, error: { kind: "unreachable", status: 503 } });
    } finally {
      await behind.close();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
    expect(await invokeInPage(page, "greet", { name: "direct" })).toEqual({ resolved: true, value: { message: "Hello, direct!" } });
  });
});
