// Tauri 2 capability files (discover.capabilities) as a real Tauri app's src-tauri/capabilities
// folder holds them: one capability per file, a TOML file, the list form and the
// { "capabilities": [...] } form, a remote.urls capability. Honoured per window and origin over
// HTTP and the WebSocket (deny wins), unknown permissions warned about once per gateway, mistakes
// reported by the real `gateway check`, `gateway explain` answering from the command line, edits
// applied under watch, and a build served with `serve --from` without the sources.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "@jest/globals";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { memoryLogger, rejectionOf, tempApp, type TempApp } from "./helpers/app.ts";
import { runGateway } from "./helpers/cli.ts";
import { devGateway, type DevGateway } from "./helpers/dev.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { connectPage } from "./helpers/ws.ts";

const MANIFEST = `version: 1
server:
  origins: [https://app.example.com, https://evil.example.com]
discover:
  handlers: handlers
  capabilities: src-tauri/capabilities
events:
  note: { from: [frontend, backend] }
`;

/** src-tauri/capabilities/default.json as \`npm create tauri-app\` writes it, with the app's own commands. */
const DEFAULT_JSON = `{
  "$schema": "../gen/schemas/desktop-schema.json",
  "identifier": "main-capability",
  "description": "Capability for the main window",
  "windows": ["main"],
  "permissions": [
    "core:default",
    "core:event:default",
    "opener:default",
    "allow-greet",
    "allow-save-doc",
    "deny-purge"
  ]
}
`;

const ADMIN_TOML = `identifier = "admin"
description = "the admin windows"
windows = ["admin-*"]
permissions = [
  "allow-admin-reset",
  { identifier = "allow-greet", allow = [{ path = "$HOME/*" }] },
]
`;

/** The list form: a capability for every window (not the remote ones), and one for a remote page only (`local: false`). */
const LIST_JSON = `[
  { "identifier": "everywhere", "windows": ["*"], "permissions": ["allow-purge"] },
  {
    "identifier": "web",
    "windows": ["main"],
    "local": false,
    "remote": { "urls": ["https://app.example.com/app/*"] },
    "permissions": ["allow-remote-ping", "core:event:allow-listen"]
  }
]
`;

const WRAPPED_JSON = `{
  "capabilities": [
    { "identifier": "settings", "webviews": ["settings"], "permissions": ["allow-save-doc", "core:event:allow-unlisten"] }
  ]
}
`;

const FILES: Record<string, string> = {
  "gateway.yaml": MANIFEST,
  "handlers/greet.ts": "export default () => 'hello';\n",
  "handlers/save_doc.ts": "export default () => 'saved';\n",
  "handlers/purge.ts": "export default () => 'purged';\n",
  "handlers/admin_reset.ts": "export default () => 'reset';\n",
  "handlers/remote-ping.ts": "export default () => 'pong';\n",
  "src-tauri/capabilities/default.json": DEFAULT_JSON,
  "src-tauri/capabilities/admin.toml": ADMIN_TOML,
  "src-tauri/capabilities/list.json": LIST_JSON,
  "src-tauri/capabilities/wrapped.json": WRAPPED_JSON,
  // Not capability files: left alone.
  "src-tauri/capabilities/README.md": "# capabilities\n",
};

/** What gateway logs and `gateway check` prints about the folder above (paths from the app's folder). */
const WARNINGS = [
  'src-tauri/capabilities/admin.toml: permission "allow-greet" has scopes (allow/deny): the gateway ignores scopes and applies the permission without them',
  'src-tauri/capabilities/default.json:7:5: permission "core:default" is not one the gateway knows (it reads allow-<command>, deny-<command> and core:event:*): ignored',
  'src-tauri/capabilities/default.json:9:5: permission "opener:default" is not one the gateway knows (it reads allow-<command>, deny-<command> and core:event:*): ignored',
];

const warningsIn = (lines: string[]) => lines.filter((l) => l.startsWith("gateway: src-tauri/")).map((l) => l.slice("gateway: ".length));

/** An app served on 127.0.0.1 (port 0) until `close()`. */
async function served(files: Record<string, string>, logger = memoryLogger()): Promise<{ gw: Gateway; base: string; close(): Promise<void> }> {
  const app = tempApp(files);
  const gw = await createGateway({ config: app.path("gateway.yaml"), logger });
  const listening = await gw.listen({ port: 0, host: "127.0.0.1" });
  return {
    gw,
    base: listening.url,
    async close() {
      await listening.close();
      await gw.close();
      app.remove();
    },
  };
}

describe("a Tauri capability folder over HTTP and the WebSocket", () => {
  let app: TempApp;
  let gw: Gateway;
  let base: string;
  let close: () => Promise<void>;
  const logger = memoryLogger();

  beforeAll(async () => {
    app = tempApp(FILES);
    gw = await createGateway({ config: app.path("gateway.yaml"), logger });
    const listening = await gw.listen({ port: 0, host: "127.0.0.1" });
    base = listening.url;
    close = async () => {
      await listening.close();
      await gw.close();
    };
  });
  afterAll(async () => {
    await close?.();
    app?.remove();
  });

  const call = (cmd: string, window: string, origin?: string) =>
    invokeJson(base, cmd, {}, { "gateway-window": window, ...(origin !== undefined ? { origin } : {}) });

  test("each window gets exactly the commands its capabilities allow", async () => {
    const outcomes: Record<string, number> = {};
    for (const cmd of ["greet", "save_doc", "purge", "admin_reset", "remote-ping"]) {
      for (const window of ["main", "settings", "admin-1", "other"]) outcomes[`${cmd} ${window}`] = (await call(cmd, window)).status;
    }
    expect(outcomes).toEqual({
      // main-capability (and the admin capability for its windows)
      "greet main": 200,
      "greet settings": 403,
      "greet admin-1": 200,
      "greet other": 403,
      // allow-save-doc names save_doc: main-capability and settings (through "webviews")
      "save_doc main": 200,
      "save_doc settings": 200,
      "save_doc admin-1": 403,
      "save_doc other": 403,
      // "everywhere" allows it in every window; main-capability's deny wins in main
      "purge main": 403,
      "purge settings": 200,
      "purge admin-1": 200,
      "purge other": 200,
      "admin_reset main": 403,
      "admin_reset settings": 403,
      "admin_reset admin-1": 200,
      "admin_reset other": 403,
      // only for the remote page
      "remote-ping main": 403,
      "remote-ping settings": 403,
      "remote-ping admin-1": 403,
      "remote-ping other": 403,
    });
    const refused = await call("purge", "main");
    expect(refused.json()).toEqual({ kind: "forbidden", command: "purge", message: 'an anonymous caller may not call "purge"' });
  });

  test("remote.urls is the origin (its path ignored); files without remote are for the gateway's own pages", async () => {
    expect((await call("remote-ping", "main", "https://app.example.com")).status).toBe(200);
    expect((await call("remote-ping", "main", "https://evil.example.com")).status).toBe(403);
    // web is for window main only
    expect((await call("remote-ping", "admin-1", "https://app.example.com")).status).toBe(403);
    // main-capability has no remote: not for another origin, even one server.origins admits ...
    expect((await call("greet", "main", "https://app.example.com")).status).toBe(403);
    // ... but for the gateway's own page
    expect((await call("greet", "main", base)).status).toBe(200);
    expect((await call("save_doc", "main", base)).status).toBe(200);
  });

  test("core:event permissions decide listening and emitting, over the socket and HTTP", async () => {
    const emit = (window: string) => request(`${base}/ipc/${encodeURIComponent("plugin:event|emit")}`, {
      headers: { "content-type": "application/json", "gateway-window": window },
      body: JSON.stringify({ event: "note", payload: "hi" }),
    });
    expect((await emit("main")).status).toBe(200);
    const refused = await emit("settings");
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ kind: "event-not-allowed", event: "note", action: "emit" });

    const main = await connectPage(base, "main");
    const settings = await connectPage(base, "settings");
    try {
      expect(await main.call("plugin:event|listen", { event: "note", target: { kind: "Any" }, handler: 1 })).toMatchObject({ ok: true });
      expect(await settings.call("plugin:event|listen", { event: "note", target: { kind: "Any" }, handler: 1 })).toMatchObject({
        ok: false,
        status: 403,
        error: { kind: "event-not-allowed", event: "note", action: "listen" },
      });
      // core:event:allow-unlisten: always fine
      expect(await settings.call("plugin:event|unlisten", { event: "note", eventId: 1 })).toMatchObject({ ok: true });
    } finally {
      await Promise.all([main.close(), settings.close()]);
    }
  });

  test("the permissions the gateway does not know, and scopes, are warned about once each", () => {
    expect(warningsIn(logger.lines).sort()).toEqual(WARNINGS);
  });

  test("in-process calls are decided the same way (window and no Origin)", async () => {
    expect(await gw.invoke("greet", {}, { window: "main" })).toBe("hello");
    expect(await rejectionOf(gw.invoke("greet", {}, { window: "other" }))).toMatchObject({ kind: "forbidden", command: "greet" });
  });
});

describe("gateway dev: edits of the folder apply at the next call, warnings stay said once", () => {
  let dev: DevGateway;
  const logger = memoryLogger();
  beforeAll(async () => {
    dev = await devGateway(FILES, { logger });
  });
  afterAll(async () => {
    await dev?.close();
  });

  test("an edited file, a new file, a broken one and a removed one", async () => {
    const { gw, app, next } = dev;
    const may = async (cmd: string, window: string) => {
      try {
        await gw.invoke(cmd, {}, { window });
        return true;
      } catch (error) {
        if ((error as { kind?: string }).kind !== "forbidden") throw error;
        return false;
      }
    };
    expect(await may("greet", "settings")).toBe(false);
    app.write("src-tauri/capabilities/wrapped.json", WRAPPED_JSON.replace('"allow-save-doc"', '"allow-save-doc", "allow-greet"'));
    expect((await next()).kind).toBe("reload");
    expect(await may("greet", "settings")).toBe(true);

    expect(await may("admin_reset", "late")).toBe(false);
    app.write("src-tauri/capabilities/late.toml", 'identifier = "late"\nwindows = ["late"]\npermissions = ["allow-admin-reset", "core:default"]\n');
    expect((await next()).kind).toBe("reload");
    expect(await may("admin_reset", "late")).toBe(true);

    app.write("src-tauri/capabilities/late.toml", 'identifier = "late"\nwindows = ["late"]\npermissions = ["allow-admin-rest"]\n');
    const broken = await next();
    expect(broken).toMatchObject({ kind: "error" });
    expect(broken.payload.message).toBe('src-tauri/capabilities/late.toml: permission "allow-admin-rest": no command named "admin-rest" or "admin_rest" (did you mean "allow-admin-reset"?)');
    expect(await may("admin_reset", "late")).toBe(true); // the last good generation still serves

    rmSync(app.path("src-tauri/capabilities/late.toml"));
    expect((await next()).kind).toBe("reload");
    expect(await may("admin_reset", "late")).toBe(false);

    // Five builds, each reading core:default again: said once.
    expect(warningsIn(logger.lines).sort()).toEqual(WARNINGS);
  });
});

describe("gateway check", () => {
  let app: TempApp;
  beforeAll(() => {
    app = tempApp({
      ...FILES,
      "gateway.yaml": `${MANIFEST}capabilities:
  editors:
    commands: { allow: [greet, sav_doc] }
    events: { listen: [nte] }
`,
      "src-tauri/capabilities/default.json": DEFAULT_JSON.replace('"allow-save-doc"', '"allow-sav-doc"'),
      "src-tauri/capabilities/bad.toml": 'identifier = "bad"\nwindows = ["main"\n',
      "src-tauri/capabilities/broken.json": '{ "identifier": "broken",\n  "permissions": [,]\n}\n',
      "src-tauri/capabilities/shape.json": '{\n  "identifier": "shape",\n  "window": ["main"],\n  "permissions": []\n}\n',
      "src-tauri/capabilities/twice.json": '{ "capabilities": [\n  { "identifier": "editors", "windows": ["main"], "permissions": ["core:event:deny-emit"] }\n] }\n',
    });
  });
  afterAll(() => app?.remove());

  test("names every mistake of the manifest's capabilities and the Tauri files, with did you mean", async () => {
    const result = await runGateway(["check"], { cwd: app.dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    // The warnings as the files are read (in name order), then the mistakes (the manifest's first).
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      ...WARNINGS.map((w) => `warning: ${w}`),
      'gateway.yaml:11:32: capabilities.editors.commands.allow: no command named "sav_doc" (did you mean "save_doc"?)',
      'gateway.yaml:12:24: capabilities.editors.events.listen: no event named "nte" (did you mean "note"?)',
      "src-tauri/capabilities/bad.toml:3:1: not valid TOML: expected comma or end of structure",
      "src-tauri/capabilities/broken.json:2:19: not valid JSON: Unexpected token ','",
      'src-tauri/capabilities/default.json:11:5: permission "allow-sav-doc": no command named "sav-doc" or "sav_doc" (did you mean "allow-save-doc"?)',
      'src-tauri/capabilities/shape.json:3:3: not a Tauri capability: unknown key "window" (did you mean "windows"?)',
      'src-tauri/capabilities/twice.json:2:19: capability "editors" is also defined by gateway.yaml (capabilities.editors): identifiers must be unique',
      'src-tauri/capabilities/twice.json:2:67: permission "core:event:deny-emit": the gateway cannot deny events; leave core:event:allow-emit (or core:event:default) out of the capabilities of those windows instead',
    ]);
  });

  test("the folder as a Tauri app has it: a summary, the warnings, exit 0", async () => {
    const good = tempApp(FILES);
    try {
      const result = await runGateway(["check"], { cwd: good.dir });
      expect(result).toMatchObject({ code: 0, stdout: "gateway.yaml: 5 commands, 0 channels, 1 events, 5 capabilities\n" });
      expect(result.stderr.trimEnd().split("\n").sort()).toEqual(WARNINGS.map((w) => `warning: ${w}`));
    } finally {
      good.remove();
    }
  });

  test("a discover.capabilities folder that is not there", async () => {
    const missing = tempApp({ ...FILES, "gateway.yaml": MANIFEST.replace("src-tauri/capabilities", "src-tauri/capabilitys") });
    try {
      const result = await runGateway(["check"], { cwd: missing.dir });
      expect(result).toMatchObject({ code: 1, stderr: "gateway.yaml:6:17: discover.capabilities folder not found: src-tauri/capabilitys\n" });
    } finally {
      missing.remove();
    }
  });
});

describe("gateway explain", () => {
  let app: TempApp;
  let open: TempApp;
  beforeAll(() => {
    app = tempApp({
      ...FILES,
      "gateway.yaml": `${MANIFEST}capabilities:
  editors:
    principals: [role:editor]
    commands: { allow: [admin_reset] }
`,
    });
    open = tempApp({ "gateway.yaml": "version: 1\ndiscover:\n  handlers: handlers\nevents:\n  note: {}\n", "handlers/greet.ts": "export default () => 'hi';\n" });
  });
  afterAll(() => {
    app?.remove();
    open?.remove();
  });

  const explain = (...args: string[]) => runGateway(["explain", ...args], { cwd: app.dir });

  test.each([
    [["greet"], 0, 'allowed by capability "main-capability"'],
    [["save_doc", "--window", "settings"], 0, 'allowed by capability "settings"'],
    [["purge"], 1, 'denied by capability "main-capability" (denies "purge")'],
    [["purge", "--window", "admin-7"], 0, 'allowed by capability "everywhere"'],
    [["greet", "--window", "other"], 1, 'denied: capability "admin" would let it call "greet" but is for windows admin-*, not "other"'],
    [["remote-ping", "--origin", "https://app.example.com/app/index.html"], 0, 'allowed by capability "web"'],
    [["remote-ping"], 1, 'denied: capability "web" would let it call "remote-ping" but is for origins https://app.example.com, not a request without Origin'],
    [["greet", "--origin", "https://evil.example.com"], 1, `denied: capability "main-capability" would let it call "greet" but is for the gateway's own pages, not https://evil.example.com`],
    [["admin_reset", "--principal", "ann", "--role", "editor"], 0, 'allowed by capability "editors"'],
    [["admin_reset"], 1, 'denied: capability "editors" would let it call "admin_reset" but is for role:editor, not anonymous'],
    [["note"], 0, 'allowed by capability "main-capability"'],
    [["note", "--window", "settings"], 1, 'denied: capability "main-capability" would let it listen to "note" but is for windows main, not "settings"'],
    [["note", "--emit", "--origin", "https://app.example.com"], 1, 'denied: capability "main-capability" would let it emit "note" but is for the gateway\'s own pages, not https://app.example.com'],
  ])("explain %j", async (args, code, line) => {
    const result = await explain(...args);
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code, stdout: `${line}\n`, stderr: "" });
  });

  test("a name that is neither a command nor an event: one line with did you mean, exit 2", async () => {
    expect(await explain("gret")).toEqual({ code: 2, stdout: "", stderr: 'gateway explain: "gret" is neither a command nor an event: did you mean greet?\n' });
    const missing = await explain();
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^gateway explain: name the command or event to explain\n\nusage: gateway explain <command\|event>/);
    expect((await explain("greet", "--emit")).code).toBe(2);
    expect((await explain("greet", "--origin", "not a url")).stderr).toMatch(/^gateway explain: --origin must be a URL/);
  });

  test("an app without capabilities lets everyone do everything", async () => {
    expect(await runGateway(["explain", "greet", "--window", "anything"], { cwd: open.dir })).toEqual({ code: 0, stdout: "allowed (no capabilities: every caller may call every command)\n", stderr: "" });
    expect(await runGateway(["explain", "note", "--emit"], { cwd: open.dir })).toEqual({ code: 0, stdout: "allowed (no capabilities: every caller may listen to and emit every event)\n", stderr: "" });
  });

  test("is listed in gateway --help", async () => {
    expect((await runGateway(["--help"])).stdout).toMatch(/\n {2}explain +say whether a caller may call a command or use an event, and which capability decides\n/);
  });
});

describe("gateway build, then serve --from without the sources: capabilities and the auth handler come along", () => {
  let app: TempApp;
  let gw: Gateway;
  let base: string;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    app = tempApp({
      ...FILES,
      "gateway.yaml": `${MANIFEST}auth:
  tokens:
    ci:
      token: \${BOT_TOKEN}
      roles: [editor]
  handler: auth/session.ts
capabilities:
  editors:
    principals: [role:editor]
    commands: { allow: [admin_reset] }
`,
      "auth/session.ts": `import { roleOf } from "./roles.ts";
export default ({ headers }: { headers: Record<string, string> }) => {
  const user = headers["x-user"];
  return user ? { id: user, roles: [roleOf(user)] } : null;
};
`,
      "auth/roles.ts": 'export const roleOf = (user: string) => (user === "ann" ? "editor" : "viewer");\n',
    });
    const built = await runGateway(["build"], { cwd: app.dir, env: { BOT_TOKEN: "the-token-at-build-time" } });
    expect(built.code).toBe(0);
    expect(built.stderr.trimEnd().split("\n")).toEqual(WARNINGS.map((w) => `warning: ${w}`));
    for (const part of ["handlers", "auth", "src-tauri"]) rmSync(app.path(part), { recursive: true });
    gw = await createGateway({ from: join(app.dir, ".gateway"), logger: memoryLogger(), env: { BOT_TOKEN: "the-token-at-start" } });
    const listening = await gw.listen({ port: 0, host: "127.0.0.1" });
    base = listening.url;
    stop = async () => {
      await listening.close();
      await gw.close();
    };
  }, 60_000);
  afterAll(async () => {
    await stop?.();
    app?.remove();
  });

  const call = (cmd: string, window: string, user?: string) => invokeJson(base, cmd, {}, { "gateway-window": window, ...(user ? { "x-user": user } : {}) });

  test("the Tauri capabilities as built", async () => {
    expect((await call("greet", "main")).status).toBe(200);
    expect((await call("greet", "other")).status).toBe(403);
    expect((await call("purge", "main")).status).toBe(403);
    expect((await call("purge", "other")).status).toBe(200);
    expect((await call("admin_reset", "admin-2")).status).toBe(200);
  });

  test("the auth handler (and the module it imports) from the build decides who calls", async () => {
    expect((await call("admin_reset", "main", "ann")).status).toBe(200);
    expect((await call("admin_reset", "main", "bob")).status).toBe(403);
    expect((await call("admin_reset", "main")).status).toBe(403);
    // Tauri capabilities are for everyone, signed in or not.
    expect((await call("greet", "main", "bob")).status).toBe(200);
  });

  test("auth.tokens' \${VAR}s are the environment's at start, not at build time", async () => {
    const withToken = (token: string) => invokeJson(base, "admin_reset", {}, { "gateway-window": "main", authorization: `Bearer ${token}` });
    expect((await withToken("the-token-at-start")).status).toBe(200);
    expect((await withToken("the-token-at-build-time")).status).toBe(401);
  });
});

describe("remote.urls with local left at its default (true), as in Tauri", () => {
  let app: Awaited<ReturnType<typeof served>>;
  let base: string;
  beforeAll(async () => {
    app = await served({
      "gateway.yaml": MANIFEST,
      "handlers/remote-ping.ts": "export default () => 'pong';\n",
      "src-tauri/capabilities/web.json": `{ "identifier": "web", "windows": ["main"], "remote": { "urls": ["https://app.example.com"] }, "permissions": ["allow-remote-ping"] }\n`,
    });
    base = app.base;
  });
  afterAll(() => app?.close());

  test("applies to those origins and to the gateway's own pages, not to other origins", async () => {
    const status = async (origin?: string) => (await invokeJson(base, "remote-ping", {}, { "gateway-window": "main", ...(origin ? { origin } : {}) })).status;
    expect({ remote: await status("https://app.example.com"), own: await status(base), noOrigin: await status(), other: await status("https://evil.example.com") }).toEqual({
      remote: 200,
      own: 200,
      noOrigin: 200,
      other: 403,
    });
  });
});

describe("pyInvoke is decided by its function's command", () => {
  let app: Awaited<ReturnType<typeof served>>;
  let base: string;
  let ran: string[];

  beforeAll(async () => {
    app = await served({
      "gateway.yaml": `version: 1
auth:
  tokens:
    vera: { token: vera-static-token-123, roles: [viewer] }
capabilities:
  viewers:
    principals: [role:viewer]
    commands: { allow: [read_note] }
discover:
  handlers: handlers
`,
      "handlers/read_note.ts": "export default () => { (globalThis as any).__pyRan.push('read_note'); return 'note'; };\n",
      "handlers/delete_note.ts": "export default () => { (globalThis as any).__pyRan.push('delete_note'); return 'gone'; };\n",
    });
    base = app.base;
  });
  beforeEach(() => {
    ran = (globalThis as any).__pyRan = [];
  });
  afterAll(() => app?.close());

  const pyInvoke = (fn: string) =>
    request(`${base}/ipc/${encodeURIComponent("plugin:pytauri|pyfunc")}`, {
      headers: { "content-type": "application/octet-stream", pyfunc: fn, authorization: "Bearer vera-static-token-123" },
      body: Buffer.from("{}"),
    });

  test("over HTTP: the allowed function runs, the other is 403 forbidden naming it, and does not run", async () => {
    const allowed = await pyInvoke("read_note");
    expect({ status: allowed.status, value: allowed.json() }).toEqual({ status: 200, value: "note" });
    const denied = await pyInvoke("delete_note");
    expect({ status: denied.status, kind: denied.json().kind, command: denied.json().command }).toEqual({ status: 403, kind: "forbidden", command: "delete_note" });
    expect(ran).toEqual(["read_note"]);
  });

  test("over the WebSocket, as the page's principal", async () => {
    const page = await connectPage(base, "main", {}, { token: "vera-static-token-123" });
    try {
      const send = (fn: string, rid: number) => {
        page.ws.send(JSON.stringify({ type: "invoke", rid, cmd: "plugin:pytauri|pyfunc", body: {}, headers: { pyfunc: fn } }));
        return page.next((f) => f.type === "reply" && f.rid === rid);
      };
      expect(await send("read_note", 1)).toMatchObject({ ok: true, value: "note" });
      expect(await send("delete_note", 2)).toMatchObject({ ok: false, status: 403, error: { kind: "forbidden", command: "delete_note" } });
      expect(ran).toEqual(["read_note"]);
    } finally {
      await page.close();
    }
  });
});
