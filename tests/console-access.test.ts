// Who called, in the logs and the dev console: each invocation's log entry carries its principal
// (HTTP, the WebSocket; JSON fields and the pretty line), the console shows it and can "call as"
// another principal (in headless Chromium, through the Gateway-Principal header that only
// `gateway dev` honours), and under `serve` that header changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type { Browser, Page } from "playwright-core";
import { fromPino, type InvocationLog } from "../gateway/runtime/logger.ts";
import { gatewayFor, memoryLogger } from "./helpers/app.ts";
import { launchBrowser } from "./helpers/browser.ts";
import { connectPage } from "./helpers/ws.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ALICE = "alice-token-0123456789";
const ROOT_TOKEN = "root-token-0123456789";

/** Two static principals, capabilities by role and by id, a channel command and an event. */
const APP = {
  "gateway.yaml": `version: 1
auth:
  tokens:
    alice: { token: ${ALICE}, roles: [viewer] }
    root: { token: ${ROOT_TOKEN}, roles: [admin] }
capabilities:
  console:
    description: the dev console's own connection (anonymous) may look around
    principals: [anonymous]
    windows: [gateway-console]
    commands: { allow: [whoami, stream] }
    events: { listen: ["*"] }
  viewers:
    principals: [role:viewer, role:admin]
    commands: { allow: [whoami, list] }
    events: { listen: [note] }
  admins:
    principals: [role:admin, ops-*]
    commands: { allow: ["*"] }
    events: { emit: [note] }
commands:
  whoami: { handler: whoami.ts }
  list: { handler: list.ts }
  purge: { handler: list.ts }
  stream:
    handler: stream.ts
    body: { type: object, properties: { ticks: { x-channel: tick } }, required: [ticks] }
channels:
  tick:
    message: { type: integer }
events:
  note: {}
`,
  "whoami.ts": "export default ({ principal }: any) => principal && { id: principal.id, roles: principal.roles };\n",
  "list.ts": "export default () => ['a', 'b'];\n",
  "stream.ts": "export default async ({ body }: any) => { await body.ticks.send(1); return 'streamed'; };\n",
};

type LogLine = { msg: string; invocation?: InvocationLog };

/** A pino logger writing JSON lines into memory (what `serve` writes when stderr is no terminal). */
function jsonLogger(): { logger: ReturnType<typeof fromPino>; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: fromPino(pino({ level: "info", base: undefined }, sink)), lines };
}

async function call(url: string, cmd: string, headers: Record<string, string> = {}): Promise<{ status: number; value: any }> {
  const response = await fetch(`${url}/ipc/${encodeURIComponent(cmd)}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
  return { status: response.status, value: await response.json() };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const as = (principal: unknown) => ({ "gateway-principal": JSON.stringify(principal) });

describe("the principal in the invocation log", () => {
  let app: Awaited<ReturnType<typeof gatewayFor>>;
  let url: string;
  let lines: LogLine[];

  beforeAll(async () => {
    const json = jsonLogger();
    lines = json.lines;
    app = await gatewayFor(APP, { logger: json.logger, dev: true });
    ({ url } = await app.gw.listen({ port: 0 }));
  });
  afterAll(async () => app?.close());

  /** The log entry of the next invocation of `cmd` answered from now on. */
  const nextEntry = async (cmd: string, run: () => Promise<unknown>): Promise<LogLine> => {
    const before = lines.length;
    await run();
    for (;;) {
      const found = lines.slice(before).find((l) => l.invocation?.cmd === cmd);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  test("over HTTP: the authenticated principal's id, also when a capability refuses it; null when anonymous or unauthenticated", async () => {
    const ok = await nextEntry("whoami", () => call(url, "whoami", bearer(ALICE)));
    expect(ok.invocation).toEqual({ cmd: "whoami", window: "main", transport: "http", status: 200, outcome: "ok", ms: expect.any(Number), principal: "alice", requestId: expect.any(String) });
    expect(ok.msg).toMatch(/^whoami 200 ok \d+\.\d ms alice \(http, window main\)$/);

    const refused = await nextEntry("purge", () => call(url, "purge", bearer(ALICE)));
    expect(refused.invocation).toMatchObject({ status: 403, outcome: "forbidden", principal: "alice" });

    const anonymous = await nextEntry("list", () => call(url, "list"));
    expect(anonymous.invocation).toMatchObject({ status: 403, outcome: "forbidden", principal: null });
    expect(anonymous.msg).toMatch(/^list 403 forbidden \d+\.\d ms \(http, window main\)$/);

    const unknown = await nextEntry("whoami", () => call(url, "whoami", bearer("not-a-token")));
    expect(unknown.invocation).toMatchObject({ status: 401, outcome: "unauthorized", principal: null });
  });

  test("over the WebSocket: the page's principal, authenticated at the upgrade", async () => {
    const page = await connectPage(url, "main", bearer(ROOT_TOKEN));
    try {
      const entry = await nextEntry("purge", () => page.call("purge", {}));
      expect(entry.invocation).toMatchObject({ transport: "ws", status: 200, principal: "root" });
      expect(entry.msg).toMatch(/^purge 200 ok \d+\.\d ms root \(ws, window main\)$/);
    } finally {
      await page.close();
    }
  });

  test("an id that is not one plain word is quoted in the line; one with a line break is no principal at all", async () => {
    const entry = await nextEntry("purge", () => call(url, "purge", as({ id: "ops-1 FAKE 200 ok", roles: [] })));
    expect(entry.invocation).toMatchObject({ status: 200, principal: "ops-1 FAKE 200 ok" });
    expect(entry.msg).toMatch(/^purge 200 ok \d+\.\d ms "ops-1 FAKE 200 ok" \(http, window main\)$/);
    const forged = await call(url, "purge", as({ id: "ops-1\nFAKE 200 ok", roles: [] }));
    expect(forged.status).toBe(400);
  });
});

describe("Gateway-Principal: the dev console's call as", () => {
  test("under dev it is who calls; /__gateway/principals.json lists the principals and roles to offer, never a token", async () => {
    const app = await gatewayFor(APP, { dev: true });
    try {
      const { url } = await app.gw.listen({ port: 0 });
      expect(await call(url, "whoami", as({ id: "ops-7", roles: ["auditor"] }))).toEqual({ status: 200, value: { id: "ops-7", roles: ["auditor"] } });
      expect((await call(url, "purge", as({ id: "ops-7" }))).status).toBe(200); // admins: ops-*
      // null is anonymous, whatever credential the request also carries.
      expect((await call(url, "whoami", { ...bearer(ALICE), ...as(null), "gateway-window": "gateway-console" })).value).toBeNull();
      const bad = await call(url, "whoami", { "gateway-principal": "alice" });
      expect(bad).toMatchObject({ status: 400, value: { kind: "bad-request" } });

      const response = await fetch(`${url}/__gateway/principals.json`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).not.toContain(ALICE);
      expect(JSON.parse(text)).toEqual({
        auth: true,
        capabilities: ["console", "viewers", "admins"],
        principals: [
          { id: "alice", roles: ["viewer"], from: "auth.tokens" },
          { id: "root", roles: ["admin"], from: "auth.tokens" },
        ],
        roles: ["admin", "viewer"],
      });
    } finally {
      await app.close();
    }
  });

  test("under serve it changes nothing: the credential (or its absence) decides, and principals.json is not served", async () => {
    const app = await gatewayFor(APP, { dev: false, logger: memoryLogger() });
    try {
      const { url } = await app.gw.listen({ port: 0 });
      const admin = { id: "root", roles: ["admin"] };
      const anonymous = await call(url, "purge", as(admin));
      expect(anonymous).toEqual({ status: 403, value: { kind: "forbidden", command: "purge", message: 'an anonymous caller may not call "purge"' } });
      expect((await call(url, "purge", { ...bearer(ALICE), ...as(admin) })).value).toMatchObject({ kind: "forbidden", message: 'principal "alice" may not call "purge"' });
      expect((await call(url, "whoami", { ...bearer(ALICE), ...as(null) })).value).toEqual({ id: "alice", roles: ["viewer"] });
      expect((await call(url, "whoami", as("not json at all"))).status).toBe(403); // not even read
      expect((await fetch(`${url}/__gateway/principals.json`)).status).toBe(404);
      // In-process, headers are authenticated as over HTTP: the header is ignored there too.
      await expect(app.gw.invoke("whoami", {}, { headers: { ...as(admin), ...bearer(ALICE) } })).resolves.toEqual({ id: "alice", roles: ["viewer"] });
    } finally {
      await app.close();
    }
  });
});

describe("the dev console in Chromium", () => {
  let app: Awaited<ReturnType<typeof gatewayFor>>;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, ["scripts/build-console.js"], { cwd: ROOT });
    app = await gatewayFor(APP, { dev: true });
    const { url } = await app.gw.listen({ port: 0 });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(`${url}/__gateway/#command/whoami`);
    await page.waitForSelector("select[name=call-as]");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Runs of the command shown (its view numbers them from 1, and starts again when another item is opened). */
  let runs = 0;
  const open = async (item: string) => {
    await page.click(`[data-item='${item}']`);
    runs = 0;
  };
  /** Invoke the selected command; this run's outcome element once it has answered. */
  const invoke = async () => {
    await page.click("button:has-text('Invoke')");
    const outcome = page.locator(`[data-run="${++runs}"]`);
    await outcome.locator(".ms").waitFor();
    return outcome;
  };
  const invocationLine = (text: string) => page.locator(".log li[data-kind=invocation]", { hasText: text }).first();

  test("call as offers the console itself, anonymous, each token's principal and someone else with the known roles", async () => {
    const options = await page.locator("select[name=call-as] option").allTextContents();
    expect(options).toEqual(["this console (its connection)", "anonymous", "alice (roles: viewer)", "root (roles: admin)", "someone else…"]);
    await page.selectOption("select[name=call-as]", { label: "someone else…" });
    const roles = await page.locator("input[name=call-as-role]").evaluateAll((boxes) => boxes.map((b) => (b as HTMLInputElement).value));
    expect(roles).toEqual(["admin", "viewer"]);
    await page.selectOption("select[name=call-as]", { label: "this console (its connection)" });
  });

  test("as itself over its socket (anonymous); as alice over HTTP: the answer, and each log line names who called", async () => {
    const itself = await invoke();
    expect(await itself.getAttribute("data-outcome")).toBe("ok");
    expect(await itself.locator("pre").textContent()).toBe("null");
    await invocationLine("(ws) · as anonymous").waitFor();

    await page.selectOption("select[name=call-as]", { label: "alice (roles: viewer)" });
    const alice = await invoke();
    expect(await alice.getAttribute("data-outcome")).toBe("ok");
    expect(JSON.parse((await alice.locator("pre").textContent())!)).toEqual({ id: "alice", roles: ["viewer"] });
    expect(await alice.locator(".as").textContent()).toBe("as alice (roles: viewer)");
    expect(await invocationLine("· as alice").textContent()).toMatch(/whoamiok · 200 · \d+(\.\d)? ms · window gateway-console \(http\) · as alice$/);
  });

  test("a refusal as alice names what would allow it (dev); someone else by id is allowed; anonymous is refused", async () => {
    await open("command:purge");
    await page.selectOption("select[name=call-as]", { label: "alice (roles: viewer)" });
    const refused = await invoke();
    expect(await refused.getAttribute("data-outcome")).toBe("error");
    const value = JSON.parse((await refused.locator("pre").textContent())!);
    expect(value).toMatchObject({ kind: "forbidden", command: "purge" });
    expect(value.message).toMatch(/^principal "alice" \(roles: viewer\) in window "gateway-console" from http:\/\/127\.0\.0\.1:\d+ may not call "purge": capability "admins" would let it call "purge" but is for role:admin, ops-\*, not alice \(roles: viewer\)$/);
    await invocationLine("forbidden · 403").waitFor();
    expect(await invocationLine("forbidden · 403").textContent()).toMatch(/· as alice$/);

    // Someone else starts from the principal chosen before: alice, with her role.
    await page.selectOption("select[name=call-as]", { label: "someone else…" });
    expect(await page.inputValue("input[name=call-as-id]")).toBe("alice");
    expect(await page.isChecked("input[name=call-as-role][value=viewer]")).toBe(true);
    await page.fill("input[name=call-as-id]", "ops-2");
    await page.uncheck("input[name=call-as-role][value=viewer]");
    const ops = await invoke();
    expect(await ops.getAttribute("data-outcome")).toBe("ok");
    expect(await ops.locator(".as").textContent()).toBe("as ops-2");

    await page.check("input[name=call-as-role][value=viewer]");
    await page.fill("input[name=call-as-other-roles]", "auditor, viewer");
    await open("command:whoami");
    expect(JSON.parse((await (await invoke()).locator("pre").textContent())!)).toEqual({ id: "ops-2", roles: ["viewer", "auditor"] });

    await open("command:purge");
    await page.selectOption("select[name=call-as]", { label: "anonymous" });
    const anonymous = await invoke();
    expect(JSON.parse((await anonymous.locator("pre").textContent())!)).toMatchObject({ kind: "forbidden" });
    expect(await anonymous.locator(".as").textContent()).toBe("as anonymous");
  });

  test("a command with a Channel runs only as the console itself", async () => {
    await open("command:stream");
    await page.selectOption("select[name=call-as]", { label: "root (roles: admin)" });
    await page.click("button:has-text('Invoke')");
    expect(await page.locator(`[data-run="${++runs}"]`).textContent()).toContain("can only be called as the console itself");
    await page.selectOption("select[name=call-as]", { label: "this console (its connection)" });
    const streamed = await invoke();
    expect(await streamed.locator("> pre").textContent()).toBe('"streamed"');
  });

  test("emit as a principal: refused for alice (no events.emit), sent for root and heard by the console", async () => {
    await open("event:note");
    await page.selectOption("select[name=call-as]", { label: "alice (roles: viewer)" });
    await page.click("button:has-text('Emit')");
    const refused = page.locator("[data-outcome=error]", { hasText: "refused" });
    await refused.waitFor();
    expect(await refused.locator(".as").textContent()).toBe("as alice (roles: viewer)");
    expect(await refused.textContent()).toContain("event-not-allowed");

    await page.selectOption("select[name=call-as]", { label: "root (roles: admin)" });
    await page.fill("[name=body]", '{"text":"from root"}');
    await page.click("button:has-text('Emit')");
    await page.locator("[data-outcome=ok]", { hasText: "emitted" }).waitFor();
    await page.locator(".log li[data-kind=event]", { hasText: "from root" }).first().waitFor(); // the console's own listener (anonymous, listen: *)
    expect(pageErrors).toEqual([]);
  });
});
