// Identity and capabilities seen from a real page: headless Chromium, the real @tauri-apps/api,
// the gateway's /__gateway/tauri.js with ?token= (or auth.jwt's cookie). Each principal gets
// exactly its commands (over the page's WebSocket and over HTTP) and its events; forged window
// labels, expired and tampered tokens are refused before any handler runs; a Channel streams for
// an allowed principal; an edit under watch that revokes a capability reaches an open page at its
// next call; `gateway dev` explains a refusal, `serve` does not.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { SignJWT } from "jose";
import type { Browser, Page } from "playwright-core";
import { gatewayFor } from "../helpers/app.ts";
import { launchBrowser, openPage, pageBundle, startPageServer, type PageServer } from "../helpers/browser.ts";
import { devGateway, type DevGateway } from "../helpers/dev.ts";

const SECRET = "an HS256 secret for the browser access tests, over 32 bytes";
const STATIC_TOKEN = "ci-bot-static-token-0123456789";

const HANDLERS = `
import type { Channel, Invoke, Principal, SetupContext } from "ipc-gateway";
// How often each handler ran: a refused call must leave its count alone.
const calls: Record<string, number> = {};
const chats: unknown[] = [];
function ran(command: string, principal: Principal | null) {
  calls[command] = (calls[command] ?? 0) + 1;
  return { command, principal: principal === null ? null : principal.id };
}
export function setup({ app }: SetupContext) {
  app.listen("chat", (e) => chats.push(e.payload));
}
export const listTodos = ({ principal }: Invoke) => ran("list-todos", principal);
export const addTodo = ({ body, principal, app }: Invoke<{ text: string }>) => {
  app.emit("todo-changed", { added: body.text, by: principal?.id ?? null });
  return ran("add-todo", principal);
};
export const auditLog = ({ principal }: Invoke) => ran("audit-log", principal);
export const purgeAll = ({ principal }: Invoke) => ran("purge-all", principal);
export async function countTo({ body, principal }: Invoke<{ n: number; onItem: Channel<number> }>) {
  ran("count-to", principal);
  for (let i = 0; i < body.n; i++) await body.onItem.send(i);
  return body.n;
}
export const stats = () => ({ calls: { ...calls }, chats: [...chats] });
`;

const EDITOR_COMMANDS = "commands: { allow: [list-todos, add-todo, count-to] }";
const EDITOR_EVENTS = "events: { listen: [todo-changed, chat], emit: [chat] }";

/** The app's manifest: pages come from `origins`; `staticDir` serves the gateway's own page. */
function manifest(origins: string[], staticDir?: string): string {
  return `
version: 1
server:
  origins: [${origins.join(", ")}]
${staticDir ? `  static: ${staticDir}\n` : ""}auth:
  tokens:
    ci-bot: { token: ${STATIC_TOKEN}, roles: [editor] }
  jwt:
    secret: ${SECRET}
    windows: windows
    cookie: session
commands:
  list-todos: { handler: handlers/todos.ts#listTodos }
  add-todo: { handler: handlers/todos.ts#addTodo, body: { type: object, properties: { text: { type: string } }, required: [text] } }
  audit-log: { handler: handlers/todos.ts#auditLog }
  purge-all: { handler: handlers/todos.ts#purgeAll }
  count-to: { handler: handlers/todos.ts#countTo, body: { type: object, properties: { n: { type: integer }, onItem: { x-channel: numbers } }, required: [n, onItem] } }
  stats: { handler: handlers/todos.ts#stats }
channels:
  numbers: { message: { type: integer } }
events:
  todo-changed: { from: [backend], payload: { type: object, properties: { added: { type: string } }, required: [added] } }
  chat: { from: [frontend], payload: { type: object, properties: { text: { type: string } }, required: [text] } }
capabilities:
  viewer:
    principals: [role:viewer]
    commands: { allow: [list-todos] }
    events: { listen: [todo-changed] }
  editor:
    principals: [role:editor]
    ${EDITOR_COMMANDS}
    ${EDITOR_EVENTS}
  admin:
    principals: [role:admin]
    commands: { allow: ["*"] }
    events: { listen: ["*"], emit: ["*"] }
  partner:
    principals: [role:partner]
    origins: ["http://localhost:*"]
    commands: { allow: [add-todo] }
  no-purge:
    principals: ["*", anonymous]
    commands: { deny: [purge-all] }
`;
}

/** A same-origin page the gateway serves itself (for the cookie): tauri.js, then the @tauri-apps/api bundle. */
const ownPage = (transport: string) =>
  `<!doctype html><html><head><script src="/__gateway/tauri.js?window=main${transport}"></script><script src="/app.js"></script></head><body></body></html>`;

async function mint(claims: Record<string, unknown>, options: { sub: string; exp?: number | string; secret?: string }): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(options.sub).setIssuedAt();
  jwt.setExpirationTime(options.exp ?? "1h");
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

/** The same token with its payload rewritten (the signature left as it was). */
function tamper(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  change(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: any };

/** window.api.invoke in the page, settled either way. */
function call(page: Page, cmd: string, args: unknown = {}): Promise<Outcome> {
  return page.evaluate(
    ([cmd, args]) => window.api.invoke(cmd as string, args as never).then((value: unknown) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })),
    [cmd, args] as const,
  );
}

/** A round trip on the page's socket: afterwards the page has every event queued for it before. */
const flush = (page: Page) => page.evaluate(() => window.api.invoke("plugin:event|unlisten", { event: "flush", eventId: 0 }));

/** Start collecting `event` on window.seen[event]; settles as the listen call does. */
function listen(page: Page, event: string): Promise<Outcome> {
  return page.evaluate((event) => {
    const w = window as any;
    w.seen ??= {};
    w.seen[event] = [];
    return window.api.listen(event, (e: { payload: unknown }) => w.seen[event].push(e.payload)).then(
      () => ({ ok: true as const, value: null }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  }, event);
}

const seen = (page: Page, event: string) => page.evaluate((event) => (window as any).seen[event] as unknown[], event);

function emit(page: Page, event: string, payload: unknown): Promise<Outcome> {
  return page.evaluate(
    ([event, payload]) => window.api.emit(event as string, payload).then(() => ({ ok: true as const, value: null }), (error: unknown) => ({ ok: false as const, error })),
    [event, payload] as const,
  );
}

/**
 * Load a page without waiting for its socket (a refused credential never gets one). A WebSocket
 * the page itself opens tells whether the gateway takes this credential for a label: "open" or
 * "refused" (the upgrade answered with an error, which a browser sees only as a close).
 */
async function loadPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as any).api !== undefined);
  return page;
}

function socketOpens(page: Page, gateway: string, label: string, token: string): Promise<"open" | "refused"> {
  return page.evaluate(
    ([base, label, token]) =>
      new Promise<"open" | "refused">((resolve, reject) => {
        const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ipc/ws?window=${encodeURIComponent(label)}&token=${encodeURIComponent(token)}`);
        // Open means registered (the gateway's hello); a refused page's socket is closed with 4401.
        ws.onmessage = (message) => {
          if (JSON.parse(message.data).type !== "hello") return;
          resolve("open");
          ws.close();
        };
        ws.onclose = (event) => (event.code === 4401 ? resolve("refused") : reject(new Error(`closed with ${event.code} ${event.reason}`)));
      }),
    [gateway, label, token] as const,
  );
}

const COMMANDS = ["list-todos", "add-todo", "audit-log", "purge-all"] as const;
const argsOf = (command: string) => (command === "add-todo" ? { text: `from a page` } : {});

let browser: Browser;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  browser = await launchBrowser();
  tokens.vera = await mint({ roles: ["viewer"], windows: ["main", "settings-*"] }, { sub: "vera" });
  tokens.eddie = await mint({ roles: ["editor"] }, { sub: "eddie" });
  tokens.ada = await mint({ roles: ["admin"] }, { sub: "ada" });
  tokens.pat = await mint({ roles: ["partner"] }, { sub: "pat" });
  tokens["ci-bot"] = STATIC_TOKEN;
}, 60_000);

afterAll(async () => browser?.close());

describe("under serve (watch off)", () => {
  let pages: PageServer;
  let gateway: Awaited<ReturnType<typeof gatewayFor>>;
  let url: string;

  beforeAll(async () => {
    pages = await startPageServer();
    const localhost = `http://localhost:${pages.port}`;
    gateway = await gatewayFor({
      "gateway.yaml": manifest([pages.origin, localhost], "public"),
      "handlers/todos.ts": HANDLERS,
      "public/index.html": ownPage(""),
      "public/http.html": ownPage("&transport=http"),
      "public/app.js": await pageBundle(),
    });
    url = (await gateway.gw.listen({ port: 0 })).url;
    pages.setGateway(url);
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await pages?.close();
  });

  const stats = () => gateway.gw.invoke<{ calls: Record<string, number>; chats: unknown[] }>("stats", undefined, { principal: { id: "test", roles: ["admin"] } });
  const pageUrl = (label: string, token: string | undefined, transport: "ws" | "http", host = "127.0.0.1") =>
    `http://${host}:${pages.port}/?window=${label}${token ? `&token=${encodeURIComponent(token)}` : ""}${transport === "http" ? "&transport=http" : ""}`;

  interface Case {
    who: string;
    /** Key in `tokens`; undefined: no credential. */
    token?: string;
    /** The principal id handlers see. */
    id: string | null;
    host?: string;
    allowed: readonly string[];
  }
  const CASES: Case[] = [
    { who: "viewer (JWT)", token: "vera", id: "vera", allowed: ["list-todos"] },
    { who: "editor (JWT)", token: "eddie", id: "eddie", allowed: ["list-todos", "add-todo"] },
    { who: "admin (JWT): everything but the denied purge-all", token: "ada", id: "ada", allowed: ["list-todos", "add-todo", "audit-log"] },
    { who: "ci-bot (static token, role editor)", token: "ci-bot", id: "ci-bot", allowed: ["list-todos", "add-todo"] },
    { who: "partner from an origin its pattern matches", token: "pat", id: "pat", host: "localhost", allowed: ["add-todo"] },
    { who: "partner from an origin its pattern does not match", token: "pat", id: "pat", allowed: [] },
    { who: "anonymous", id: null, allowed: [] },
  ];

  describe.each(["ws", "http"] as const)("each principal gets exactly its commands, invoking over %s", (transport) => {
    test.each(CASES)("$who", async ({ token, id, host, allowed }) => {
      const page = await openPage(browser, pageUrl("main", token && tokens[token], transport, host));
      try {
        expect(await page.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.transport)).toBe(transport);
        const before = (await stats()).calls;
        const outcomes: Record<string, Outcome> = {};
        for (const command of COMMANDS) outcomes[command] = await call(page, command, argsOf(command));
        const after = (await stats()).calls;
        const who = id === null ? "an anonymous caller" : `principal "${id}"`;
        for (const command of COMMANDS) {
          if (allowed.includes(command)) expect(outcomes[command]).toEqual({ ok: true, value: { command, principal: id } });
          else expect(outcomes[command]).toEqual({ ok: false, error: { kind: "forbidden", command, message: `${who} may not call "${command}"` } });
          // The handler ran once for each allowed call and never for a refused one.
          expect((after[command] ?? 0) - (before[command] ?? 0)).toBe(allowed.includes(command) ? 1 : 0);
        }
      } finally {
        await page.close();
      }
    });
  });

  describe("each principal gets exactly its events", () => {
    test("a viewer hears todo-changed and may neither hear nor send chat; an editor emits chat to listening pages and the backend", async () => {
      const vera = await openPage(browser, pageUrl("main", tokens.vera, "ws"));
      const eddie = await openPage(browser, pageUrl("main", tokens.eddie, "ws"));
      const ada = await openPage(browser, pageUrl("main", tokens.ada, "ws"));
      try {
        expect(await listen(vera, "todo-changed")).toEqual({ ok: true, value: null });
        expect(await listen(vera, "chat")).toEqual({
          ok: false,
          error: { kind: "event-not-allowed", event: "chat", action: "listen", message: 'principal "vera" may not listen to event "chat"' },
        });
        expect(await listen(eddie, "chat")).toEqual({ ok: true, value: null });
        expect(await listen(ada, "chat")).toEqual({ ok: true, value: null });

        // A backend emit reaches the viewer's allowed listener.
        expect(await call(eddie, "add-todo", { text: "milk" })).toEqual({ ok: true, value: { command: "add-todo", principal: "eddie" } });
        await flush(vera);
        expect(await seen(vera, "todo-changed")).toEqual([{ added: "milk", by: "eddie" }]);

        // The viewer may not emit chat: nobody hears it, the backend included.
        const chatsBefore = (await stats()).chats.length;
        expect(await emit(vera, "chat", { text: "from vera" })).toEqual({
          ok: false,
          error: { kind: "event-not-allowed", event: "chat", action: "emit", message: 'principal "vera" may not emit event "chat"' },
        });
        // The editor may: the admin's page, the editor's own page and the backend hear it.
        expect(await emit(eddie, "chat", { text: "from eddie" })).toEqual({ ok: true, value: null });
        await flush(ada);
        await flush(eddie);
        expect(await seen(ada, "chat")).toEqual([{ text: "from eddie" }]);
        expect(await seen(eddie, "chat")).toEqual([{ text: "from eddie" }]);
        expect((await stats()).chats.slice(chatsBefore)).toEqual([{ text: "from eddie" }]);

        // An event the manifest says comes from the backend only stays so, even for emit: ["*"].
        expect(await emit(ada, "todo-changed", { added: "forged" })).toMatchObject({ ok: false, error: { kind: "event-not-allowed", event: "todo-changed" } });
        await flush(vera);
        expect(await seen(vera, "todo-changed")).toEqual([{ added: "milk", by: "eddie" }]);
      } finally {
        await Promise.all([vera.close(), eddie.close(), ada.close()]);
      }
    });

    test("an anonymous page may listen to nothing", async () => {
      const page = await openPage(browser, pageUrl("main", undefined, "ws"));
      try {
        expect(await listen(page, "todo-changed")).toEqual({
          ok: false,
          error: { kind: "event-not-allowed", event: "todo-changed", action: "listen", message: 'an anonymous caller may not listen to event "todo-changed"' },
        });
      } finally {
        await page.close();
      }
    });
  });

  test.each(["ws", "http"] as const)("a Channel streams to an allowed principal and not to a refused one (invoking over %s)", async (transport) => {
    const eddie = await openPage(browser, pageUrl("main", tokens.eddie, transport));
    const vera = await openPage(browser, pageUrl("main", tokens.vera, transport));
    try {
      const stream = (page: Page) =>
        page.evaluate(async () => {
          const received: number[] = [];
          const channel = new window.api.Channel<number>((m) => received.push(m));
          const outcome = await window.api.invoke("count-to", { n: 200, onItem: channel }).then(
            (value: unknown) => ({ ok: true, value }),
            (error: unknown) => ({ ok: false, error }),
          );
          // The end marker unregisters the channel's callback (@tauri-apps/api's Channel).
          for (let i = 0; i < 500 && outcome.ok && window.__TAURI_INTERNALS__.callbacks.has(channel.id); i++) await new Promise((r) => setTimeout(r, 10));
          return { outcome, received };
        });
      const before = (await stats()).calls["count-to"] ?? 0;
      const allowed = await stream(eddie);
      expect(allowed.outcome).toEqual({ ok: true, value: 200 });
      expect(allowed.received).toEqual(Array.from({ length: 200 }, (_, i) => i));
      const refused = await stream(vera);
      expect(refused).toEqual({ outcome: { ok: false, error: { kind: "forbidden", command: "count-to", message: 'principal "vera" may not call "count-to"' } }, received: [] });
      expect((await stats()).calls["count-to"]).toBe(before + 1);
    } finally {
      await Promise.all([eddie.close(), vera.close()]);
    }
  });

  describe("credentials that are refused: nothing runs", () => {
    /** Every handler's count, to compare before and after. */
    const counts = async () => (await stats()).calls;

    test("a window label the token's windows claim does not allow: the socket is refused and invoke rejects unauthorized", async () => {
      const before = await counts();
      const page = await loadPage(browser, pageUrl("admin", tokens.vera, "ws"));
      try {
        // The same token for labels its claim allows does connect (from this very page).
        expect(await socketOpens(page, url, "admin", tokens.vera!)).toBe("refused");
        expect(await socketOpens(page, url, "main", tokens.vera!)).toBe("open");
        expect(await socketOpens(page, url, "settings-2", tokens.vera!)).toBe("open");
        expect(await page.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.page)).toBeNull();
        for (const command of ["list-todos", "add-todo"]) {
          expect(await call(page, command, argsOf(command))).toEqual({
            ok: false,
            error: { kind: "unauthorized", message: 'the token does not allow window "admin" (it allows: main, settings-*)' },
          });
        }
        // What needs the socket (a listener) is told why, rather than waiting for a socket that never comes.
        expect(await listen(page, "todo-changed")).toEqual({
          ok: false,
          error: { kind: "unauthorized", message: 'the token does not allow window "admin" (it allows: main, settings-*)' },
        });
      } finally {
        await page.close();
      }
      expect(await counts()).toEqual(before);
    });

    test.each([
      ["an expired token", async () => mint({ roles: ["admin"] }, { sub: "ada", exp: Math.floor(Date.now() / 1000) - 60 }), "the token has expired"],
      ["a tampered token (a viewer's, its roles rewritten to admin)", async () => tamper(tokens.vera!, (c) => (c.roles = ["admin"])), "the token's signature is not valid"],
      ["a token signed with another secret", async () => mint({ roles: ["admin"] }, { sub: "ada", secret: "not the gateway's secret, but long enough for HS256" }), "the token's signature is not valid"],
    ])("%s: the socket is refused, invoke rejects unauthorized over both transports", async (_, token, message) => {
      const credential = await token();
      const before = await counts();
      for (const transport of ["ws", "http"] as const) {
        const page = await loadPage(browser, pageUrl("main", credential, transport));
        try {
          expect(await socketOpens(page, url, "main", credential)).toBe("refused");
          for (const command of ["list-todos", "audit-log", "purge-all"]) {
            expect(await call(page, command)).toEqual({ ok: false, error: { kind: "unauthorized", message } });
          }
        } finally {
          await page.close();
        }
      }
      expect(await counts()).toEqual(before);
    });

    test("a token that expires while its page is open: the open socket's next call is refused", async () => {
      // Long enough for the page to open and make one call on a slow, shared machine.
      const exp = Math.floor(Date.now() / 1000) + 12;
      const page = await openPage(browser, pageUrl("main", await mint({ roles: ["viewer"] }, { sub: "vera", exp }), "ws"));
      try {
        expect(await call(page, "list-todos")).toEqual({ ok: true, value: { command: "list-todos", principal: "vera" } });
        while (Date.now() <= exp * 1000) await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 20));
        const before = await counts();
        expect(await call(page, "list-todos")).toEqual({ ok: false, error: { kind: "unauthorized", message: "the token has expired" } });
        expect(await listen(page, "todo-changed")).toEqual({ ok: false, error: { kind: "unauthorized", message: "the token has expired" } });
        expect(await counts()).toEqual(before);
      } finally {
        await page.close();
      }
    }, 40_000);
  });

  test("the JWT in auth.jwt's cookie authenticates the gateway's own page, over the socket and over HTTP", async () => {
    const context = await browser.newContext();
    try {
      await context.addCookies([{ name: "session", value: tokens.eddie!, url }]);
      for (const file of ["index.html", "http.html"]) {
        const page = await openPage(context, `${url}/${file}`);
        expect(await page.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.transport)).toBe(file === "index.html" ? "ws" : "http");
        expect(await call(page, "add-todo", { text: "by cookie" })).toEqual({ ok: true, value: { command: "add-todo", principal: "eddie" } });
        expect(await call(page, "audit-log")).toEqual({ ok: false, error: { kind: "forbidden", command: "audit-log", message: 'principal "eddie" may not call "audit-log"' } });
        await page.close();
      }
    } finally {
      await context.close();
    }
    // Without the cookie the same page is anonymous.
    const page = await openPage(browser, `${url}/index.html`);
    try {
      expect(await call(page, "add-todo", { text: "no cookie" })).toEqual({
        ok: false,
        error: { kind: "forbidden", command: "add-todo", message: 'an anonymous caller may not call "add-todo"' },
      });
    } finally {
      await page.close();
    }
  });
});

describe("under gateway dev (watch on)", () => {
  let pages: PageServer;
  let dev: DevGateway;
  let url: string;

  beforeAll(async () => {
    pages = await startPageServer();
    dev = await devGateway({ "gateway.yaml": manifest([pages.origin]), "handlers/todos.ts": HANDLERS });
    url = (await dev.gw.listen({ port: 0 })).url;
    pages.setGateway(url);
  }, 60_000);

  afterAll(async () => {
    await dev?.close();
    await pages?.close();
  });

  const pageUrl = (token: string, transport: "ws" | "http") => `${pages.origin}/?window=main&token=${encodeURIComponent(token)}${transport === "http" ? "&transport=http" : ""}`;
  const addTodoCount = async () =>
    (await dev.gw.invoke<{ calls: Record<string, number> }>("stats", undefined, { principal: { id: "test", roles: ["admin"] } })).calls["add-todo"] ?? 0;

  test("a refusal names the closest capability and what it lacks (under serve the same refusal lists none: see above)", async () => {
    const page = await openPage(browser, pageUrl(tokens.vera!, "ws"));
    try {
      expect(await call(page, "add-todo", { text: "x" })).toEqual({
        ok: false,
        error: {
          kind: "forbidden",
          command: "add-todo",
          message: `principal "vera" (roles: viewer) in window "main" from ${pages.origin} may not call "add-todo": capability "editor" would let it call "add-todo" but is for role:editor, not vera (roles: viewer)`,
        },
      });
      expect(await call(page, "purge-all")).toEqual({
        ok: false,
        error: { kind: "forbidden", command: "purge-all", message: `principal "vera" (roles: viewer) in window "main" from ${pages.origin} may not call "purge-all": capability "no-purge" denies "purge-all"` },
      });
      expect(await listen(page, "chat")).toEqual({
        ok: false,
        error: {
          kind: "event-not-allowed",
          event: "chat",
          action: "listen",
          message: `principal "vera" (roles: viewer) in window "main" from ${pages.origin} may not listen to event "chat": capability "editor" would let it listen to "chat" but is for role:editor, not vera (roles: viewer)`,
        },
      });
    } finally {
      await page.close();
    }
  });

  test("a capability revoked by an edit applies to already-open pages at their next call", async () => {
    const overSocket = await openPage(browser, pageUrl(tokens.eddie!, "ws"));
    const overHttp = await openPage(browser, pageUrl(tokens.eddie!, "http"));
    const pageId = () => overSocket.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.page as string | null);
    try {
      const connectedAs = await pageId();
      for (const page of [overSocket, overHttp]) expect(await call(page, "add-todo", { text: "before" })).toEqual({ ok: true, value: { command: "add-todo", principal: "eddie" } });
      expect(await emit(overSocket, "chat", { text: "before" })).toEqual({ ok: true, value: null });

      // The editor loses add-todo and emitting chat; the pages stay open.
      const yaml = dev.app.read("gateway.yaml");
      dev.app.write("gateway.yaml", yaml.replace(EDITOR_COMMANDS, "commands: { allow: [list-todos, count-to] }").replace(EDITOR_EVENTS, "events: { listen: [todo-changed, chat] }"));
      expect(await dev.next(15_000)).toMatchObject({ kind: "reload", payload: { generation: 2 } });

      const before = await addTodoCount();
      for (const page of [overSocket, overHttp]) {
        expect(await call(page, "add-todo", { text: "after" })).toEqual({
          ok: false,
          error: {
            kind: "forbidden",
            command: "add-todo",
            message: `principal "eddie" (roles: editor) in window "main" from ${pages.origin} may not call "add-todo": capability "admin" would let it call "add-todo" but is for role:admin, not eddie (roles: editor)`,
          },
        });
        // What the edit kept is still allowed.
        expect(await call(page, "list-todos")).toEqual({ ok: true, value: { command: "list-todos", principal: "eddie" } });
      }
      expect(await addTodoCount()).toBe(before);
      expect(await emit(overSocket, "chat", { text: "after" })).toEqual({
        ok: false,
        error: {
          kind: "event-not-allowed",
          event: "chat",
          action: "emit",
          message: `principal "eddie" (roles: editor) in window "main" from ${pages.origin} may not emit event "chat": capability "admin" would let it emit "chat" but is for role:admin, not eddie (roles: editor)`,
        },
      });
      // The page kept the socket it had: the refusal came from the new generation, not from a reconnect.
      expect(connectedAs).not.toBeNull();
      expect(await pageId()).toBe(connectedAs);
    } finally {
      await Promise.all([overSocket.close(), overHttp.close()]);
    }
  }, 60_000);

  describe("a listen revoked by an edit", () => {
    let viewer: Page | undefined;
    afterAll(async () => viewer?.close());

    test("the open page's next listen is refused", async () => {
      viewer = await openPage(browser, pageUrl(tokens.vera!, "ws"));
      expect(await listen(viewer, "todo-changed")).toEqual({ ok: true, value: null });
      const yaml = dev.app.read("gateway.yaml");
      expect(yaml).toContain("events: { listen: [todo-changed] }");
      dev.app.write("gateway.yaml", yaml.replace("events: { listen: [todo-changed] }", "events: { listen: [] }"));
      expect(await dev.next(15_000)).toMatchObject({ kind: "reload", payload: { generation: 3 } });
      expect(await listen(viewer, "todo-changed")).toEqual({
        ok: false,
        error: {
          kind: "event-not-allowed",
          event: "todo-changed",
          action: "listen",
          message: `principal "vera" (roles: viewer) in window "main" from ${pages.origin} may not listen to event "todo-changed": capability "editor" would let it listen to "todo-changed" but is for role:editor, not vera (roles: viewer)`,
        },
      });
    }, 60_000);

    // Delivery is checked too: a listener registered before the revoke hears nothing more.
    test("the listener the page already had stops hearing the event", async () => {
      await dev.gw.invoke("add-todo", { text: "after the revoke" }, { principal: { id: "ops", roles: ["admin"] } });
      await flush(viewer!);
      expect(await seen(viewer!, "todo-changed")).toEqual([]);
    });
  });
});
