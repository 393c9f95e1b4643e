// `gateway serve` and `gateway dev` through the real bin: the one listening line, a graceful stop
// on SIGTERM with a request in flight, and a hot reload seen from outside the process.
import { afterEach, expect, test } from "@jest/globals";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { GATEWAY_BIN, runGateway, startGateway, type RunningGateway } from "./helpers/cli.ts";
import { connectPage } from "./helpers/ws.ts";
import { childrenOf, stopProcess } from "./helpers/processes.ts";
import { invokeJson, request } from "./helpers/http.ts";

const APP = {
  "gateway.yaml": "version: 1\ncommands:\n  slow:\n    handler: handlers/slow.ts\n  hello:\n    handler: handlers/hello.ts\n  boom:\n    handler: handlers/boom.ts\n",
  "handlers/boom.ts": 'import type { Invoke } from "ipc-gateway";\n\ninterface Shape {\n  n: number;\n}\n\nexport default function boom(_: Invoke): Shape {\n  throw new Error("kaboom");\n}\n',
  "handlers/slow.ts": 'export default async () => { await new Promise((r) => setTimeout(r, 500)); return "finished"; };\n',
  "handlers/hello.ts": 'export default () => "v1";\n',
};

let child: ChildProcess | undefined;
let app: TempApp | undefined;
let running: RunningGateway | undefined;

afterEach(() => {
  child?.kill("SIGKILL");
  app?.remove();
  child = app = running = undefined;
});

async function start(mode: "serve" | "dev"): Promise<RunningGateway> {
  app = tempApp(APP);
  running = await startGateway(mode, app.dir);
  child = running.child;
  return running;
}

const exitOf = (process: ChildProcess) => new Promise<number | null>((resolve) => process.once("exit", (code) => resolve(code)));

test("serve prints one listening line, and on SIGTERM finishes the request in flight, then exits 0", async () => {
  const { url, lines } = await start("serve");
  expect(lines).toEqual([`gateway listening on ${url}`]);
  const inFlight = invokeJson(url, "slow", {});
  await new Promise((r) => setTimeout(r, 100));
  const exited = exitOf(child!);
  child!.kill("SIGTERM");
  const res = await inFlight;
  expect(res.status).toBe(200);
  expect(res.json()).toBe("finished");
  expect(await exited).toBe(0);
  await expect(invokeJson(url, "hello", {})).rejects.toThrow(/ECONNREFUSED/);
});

test("a handler's error is logged with its stack in the handler's own TypeScript lines; the caller gets no stack", async () => {
  const { url, waitForLog } = await start("serve");
  const res = await invokeJson(url, "boom", {});
  expect(res.json()).toEqual({ kind: "internal", message: '"boom" failed', command: "boom" });
  const logged = await waitForLog(/^command "boom" \(handlers\/boom\.ts#default\) threw$/);
  expect(logged.err).toMatchObject({ type: "Error", message: "kaboom" });
  expect(logged.err!.stack).toMatch(/at .*boom \(.*handlers\/boom\.ts:8:9\)/); // `throw new Error` is line 8, column 9
});

test("dev reloads an edited handler while serving", async () => {
  const { url } = await start("dev");
  expect((await invokeJson(url, "hello", {})).json()).toBe("v1");
  await new Promise((r) => setTimeout(r, 300)); // the watcher settles
  app!.write("handlers/hello.ts", 'export default () => "v2";\n');
  let answer = "v1";
  for (let i = 0; i < 100 && answer !== "v2"; i++) {
    await new Promise((r) => setTimeout(r, 20));
    answer = (await invokeJson(url, "hello", {})).json();
  }
  expect(answer).toBe("v2");
  const exited = exitOf(child!);
  child!.kill("SIGINT");
  expect(await exited).toBe(0);
});

test("a broken manifest: nothing starts, every mistake is printed, exit 1", async () => {
  app = tempApp({ "gateway.yaml": "version: 1\ncommands:\n  a:\n    handler: nope.ts\n  b:\n    hanlder: x.ts\n" });
  child = spawn(process.execPath, [GATEWAY_BIN, "serve", "--port", "0"], { cwd: app.dir, env: { ...process.env, NODE_OPTIONS: "" } });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c));
  expect(await exitOf(child)).toBe(1);
  expect(stderr).toContain("gateway.yaml:4:14: handler file not found: nope.ts");
  expect(stderr).toContain('gateway.yaml:6:5: unknown key "hanlder" in commands.b (did you mean "handler"?)');
});

test("dev started on a broken manifest listens anyway, answers not-ready naming the mistakes, and comes alive when fixed", async () => {
  app = tempApp({ ...APP, "gateway.yaml": APP["gateway.yaml"].replace("handlers/hello.ts", "handlers/helo.ts") });
  running = await startGateway("dev", app.dir);
  child = running.child;
  const refused = await invokeJson(running.url, "hello", {});
  expect({ status: refused.status, body: refused.json() }).toEqual({
    status: 503,
    body: {
      kind: "not-ready",
      message: expect.stringContaining("gateway.yaml:6:14: handler file not found: handlers/helo.ts"),
      mistakes: ["gateway.yaml:6:14: handler file not found: handlers/helo.ts"],
    },
  });
  const health = await request(`${running.url}/__gateway/health`, { method: "GET" });
  expect({ status: health.status, body: health.json() }).toMatchObject({ status: 503, body: { ok: false, lastError: expect.stringContaining("helo.ts") } });
  expect(running.stderr()).toContain("gateway.yaml:6:14: handler file not found: handlers/helo.ts");

  app.write("gateway.yaml", APP["gateway.yaml"]);
  let answer = refused;
  for (let i = 0; i < 200 && answer.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 25));
    answer = await invokeJson(running.url, "hello", {});
  }
  expect({ status: answer.status, body: answer.json() }).toEqual({ status: 200, body: "v1" });
  expect((await request(`${running.url}/__gateway/health`, { method: "GET" })).json()).toMatchObject({ ok: true, lastError: null });
});

test("dev prints its listening line only once edits are watched: an edit saved right after it is picked up", async () => {
  const { url } = await start("dev");
  app!.write("handlers/hello.ts", 'export default () => "saved at once";\n');
  let answer: unknown = "v1";
  for (let i = 0; i < 200 && answer !== "saved at once"; i++) {
    await new Promise((r) => setTimeout(r, 25));
    answer = (await invokeJson(url, "hello", {})).json();
  }
  expect(answer).toBe("saved at once");
});

test("dev logs one line per invocation (command, window, outcome, status, duration) and a hint for a refused origin", async () => {
  const { url, waitForLog, logs } = await start("dev");
  await invokeJson(url, "hello", {}, { "gateway-window": "settings" });
  await invokeJson(url, "nope", {});
  await invokeJson(url, "boom", {});
  await request(`${url}/ipc/hello`, { headers: { origin: "http://127.0.0.1:5173", "content-type": "application/json" }, body: "{}" });
  const ok = await waitForLog(/^hello 200 ok /);
  expect(ok.invocation).toEqual({ cmd: "hello", window: "settings", transport: "http", status: 200, outcome: "ok", ms: expect.any(Number), principal: null, requestId: expect.any(String) });
  expect((await waitForLog(/^nope 404 unknown-command /)).invocation).toMatchObject({ status: 404, outcome: "unknown-command" });
  expect((await waitForLog(/^boom 500 internal /)).invocation).toMatchObject({ status: 500, outcome: "internal" });
  const hint = await waitForLog(/refused a request from origin http:\/\/127\.0\.0\.1:5173/);
  expect(hint.msg).toContain("add it to server.origins in gateway.yaml");
  expect(hint.level).toBe(40); // warn
  const page = await connectPage(url);
  await page.call("hello", {});
  expect((await waitForLog(/^hello 200 ok .*\(ws, window main\)$/)).invocation).toMatchObject({ transport: "ws" });
  await page.close();
  expect(logs().filter((l) => /^hello /.test(l.msg)).map((l) => l.msg.replace(/ \d+\.\d ms/, ""))).toEqual([
    "hello 200 ok (http, window settings)",
    "hello 403 forbidden-origin (http, window main)",
    "hello 200 ok (ws, window main)",
  ]);
});

test("only invocations are logged as invocations, under the name they reach, with durations to 0.1 ms", async () => {
  const { url, waitForLog, logs } = await start("dev");
  // Not invocations: a CORS preflight (answered 204) and a GET (answered 405).
  const preflight = await request(`${url}/ipc/hello`, { method: "OPTIONS", headers: { origin: url, "access-control-request-method": "POST" } });
  expect(preflight.status).toBe(204);
  expect((await request(`${url}/ipc/hello`, { method: "GET" })).status).toBe(405);
  // pyInvoke reaches the function its pyfunc header names, over HTTP and over a page's socket.
  await request(`${url}/ipc/plugin%3Apytauri%7Cpyfunc`, { headers: { pyfunc: "hello", "content-type": "application/octet-stream" }, body: Buffer.from("{}") });
  const page = await connectPage(url);
  page.ws.send(JSON.stringify({ type: "invoke", rid: 1, cmd: "plugin:pytauri|pyfunc", headers: { pyfunc: "hello" }, body: {} }));
  await page.next((f) => f.type === "reply" && f.rid === 1);
  await page.close();
  await invokeJson(url, "hello", {}, { "gateway-window": "last" }); // the normal call
  await waitForLog(/^hello 200 ok .*\(http, window last\)$/);
  const invocations = logs().filter((l) => l.invocation !== undefined);
  expect(invocations.map((l) => l.msg.replace(/ \d+\.\d ms/, ""))).toEqual(["hello 200 ok (http, window main)", "hello 200 ok (ws, window main)", "hello 200 ok (http, window last)"]);
  for (const line of invocations) {
    const ms = (line.invocation as { ms: number }).ms;
    expect(Math.round(ms * 10) / 10).toBe(ms);
  }
});

test("--log-level debug adds the request lines, the frames, the events", async () => {
  app = tempApp({
    ...APP,
    "gateway.yaml": `${APP["gateway.yaml"]}  announce:\n    handler: handlers/announce.ts\nevents:\n  chat: {}\n`,
    "handlers/announce.ts": 'export default ({ app }: any) => { app.emit("chat", { text: "from the backend" }); return null; };\n',
  });
  running = await startGateway("dev", app.dir, ["--log-level", "debug"]);
  child = running.child;
  const { url, waitForLog } = running;
  await request(`${url}/__gateway/health`, { method: "GET" });
  const page = await connectPage(url, "settings");
  const listened = await page.call("plugin:event|listen", { event: "chat", target: { kind: "Any" }, handler: 7 });
  expect(listened.ok).toBe(true);
  await invokeJson(url, "announce", {});
  await page.next((f) => f.type === "event");
  await page.call("plugin:event|emit", { event: "chat", payload: { text: "from the page" } });
  await page.close();
  expect((await waitForLog(/^http: GET \/__gateway\/health$/)).level).toBe(20);
  expect((await waitForLog(/^http: GET \/__gateway\/health 200 \d+\.\d ms$/)).status).toBe(200);
  await waitForLog(/^http: POST \/ipc\/announce$/);
  expect((await waitForLog(/^ws: page \S+ connected \(window settings\)$/)).window).toBe("settings");
  expect((await waitForLog(/^ws: invoke frame from page \S+: rid 1, plugin:event\|listen, \d+ bytes$/)).cmd).toBe("plugin:event|listen");
  await waitForLog(/^plugin:event\|listen 200 ok$/);
  expect((await waitForLog(/^event chat to 1 listener\(s\) here$/)).listeners).toBe(1);
  expect(running.logs().filter((l) => /^event chat to 1 listener/.test(l.msg))).toHaveLength(2); // the backend's emit, and the page's
  await waitForLog(/^ws: page \S+ closed \(1005\)$/);
  expect((await invokeJson(url, "hello", {})).json()).toBe("v1");
});

test("serve logs warnings and errors only; --log-level and --log-format change that", async () => {
  app = tempApp(APP);
  running = await startGateway("serve", app.dir);
  child = running.child;
  await invokeJson(running.url, "hello", {});
  await invokeJson(running.url, "boom", {});
  await running.waitForLog(/threw$/);
  expect(running.logs().map((l) => l.msg)).toEqual(['command "boom" (handlers/boom.ts#default) threw']);
  child.kill("SIGKILL");

  running = await startGateway("serve", app.dir, ["--log-level", "info", "--log-format", "pretty"]);
  child = running.child;
  await invokeJson(running.url, "hello", {}, { "x-request-id": "pretty-request-1" });
  await running.waitForStderr(/INFO: hello 200 ok \d+\.\d ms \(http, window main, request pretty-request-1\)/);
});

test("--log-level takes only levels", async () => {
  app = tempApp(APP);
  const result = await runGateway(["dev", "--log-level", "loud"], { cwd: app.dir });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('--log-level is one of debug, info, warn, error, silent, not "loud"');
});

test("a stopping gateway stops esbuild's helper process itself (it would linger on for a second or two)", async () => {
  const { child: gateway, stderr } = await start("serve"); // a cold start: every module compiled
  const helpers = childrenOf(gateway.pid!, "esbuild");
  expect(helpers).toHaveLength(1);
  const helper = helpers[0]!;
  // Stopped, the helper can neither exit by itself nor act on a signal: whatever the gateway sent stays pending.
  await stopProcess(helper);
  try {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => gateway.once("exit", (code, signal) => resolve({ code, signal })));
    gateway.kill("SIGTERM");
    // On a failure, the gateway's stderr says what ended it.
    const exit = await exited;
    if (exit.code !== 0) throw new Error(`the gateway exited ${JSON.stringify(exit)}; its stderr:\n${stderr()}`);
    const status = readFileSync(`/proc/${helper}/status`, "utf8");
    const pending = [/^SigPnd:\s+([0-9a-f]+)$/m, /^ShdPnd:\s+([0-9a-f]+)$/m].map((field) => BigInt(`0x${field.exec(status)![1]}`)).reduce((a, b) => a | b);
    expect(pending & (1n << 14n)).toBe(1n << 14n); // SIGTERM (15)
  } finally {
    process.kill(helper, "SIGKILL");
  }
});
