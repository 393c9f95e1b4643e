// ipc-gateway/vite's options and first moments, under the current Vite: a gateway elsewhere
// (proxy), an app that does not build when Vite starts, and a types file it must not write.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { createGateway, type Gateway } from "../../gateway/index.ts";
import { memoryLogger } from "../helpers/app.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { removeApp, startVite, viteApp, viteBuild, type RunningVite } from "../helpers/vite.ts";
import { PROJECT_DIR } from "../helpers/cli.ts";
import { APP_FILES, until } from "./suite.ts";

let browser: Browser;
const dirs: string[] = [];
const vites: RunningVite[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(vites.map((vite) => vite.stop()));
  for (const dir of dirs) removeApp(dir);
});

function app(files: Record<string, string>, options: Record<string, unknown> = {}, serverConfig = ""): string {
  const dir = viteApp(files, options, serverConfig);
  dirs.push(dir);
  return dir;
}

async function vite(dir: string, env: NodeJS.ProcessEnv = {}, preview = false): Promise<RunningVite> {
  const running = await startVite(8, dir, env, preview);
  vites.push(running);
  return running;
}

describe("proxy: a gateway running elsewhere", () => {
  let gateway: Gateway;
  let gatewayUrl: string;

  beforeAll(async () => {
    // The gateway's own app folder; the Vite app has only its page.
    const backend = app(APP_FILES);
    gateway = await createGateway({ config: join(backend, "gateway.yaml"), logger: memoryLogger(), watch: false });
    ({ url: gatewayUrl } = await gateway.listen({ port: 0, host: "127.0.0.1" }));
  }, 60_000);
  afterAll(() => gateway?.close());

  test("the page on Vite's origin calls it (its socket too); another site's page is still refused", async () => {
    const { "index.html": html, "src/main.ts": main } = APP_FILES;
    const dir = app({ "index.html": html!, "src/main.ts": main! }, { proxy: gatewayUrl });
    const running = await vite(dir);
    expect(running.output()).toContain(`gateway: /ipc/ and /__gateway/ go to the gateway at ${gatewayUrl}`);
    const page = await browser.newPage();
    try {
      await page.goto(running.url);
      await page.waitForFunction(() => document.getElementById("out")?.textContent === "Hello, Vite!");
      await page.waitForFunction(() => (window as any).__TAURI_INTERNALS__.gateway.page);
      const heard = await page.evaluate(async () => {
        const { invoke, listen } = (window as any).app;
        let resolveHeard!: (payload: unknown) => void;
        const heardPromise = new Promise((resolve) => (resolveHeard = resolve));
        await listen("announcement", (event: { payload: unknown }) => resolveHeard(event.payload));
        await invoke("announce", { text: "through the proxy" });
        return heardPromise;
      });
      expect(heard).toEqual({ text: "through the proxy" });
    } finally {
      await page.close();
    }
    const refused = await fetch(`${running.url}/ipc/greet`, { method: "POST", headers: { "content-type": "application/json", origin: "http://evil.example" }, body: '{"name":"x"}' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ kind: "forbidden-origin", origin: "http://evil.example" });
  }, 60_000);
});

test("an app that does not build when Vite starts: Vite serves, the overlay shows the mistake at once, and the fix takes it away", async () => {
  const dir = app({ ...APP_FILES, "handlers/greet.ts": "export default (=> 1;\n" }, { types: "src/ipc.ts" });
  const running = await vite(dir);
  expect(running.output()).toContain("gateway: the app does not build yet");
  const page = await browser.newPage();
  try {
    await page.goto(running.url);
    await page.waitForSelector("vite-error-overlay", { state: "attached" });
    const file = await page.evaluate(() => document.querySelector("vite-error-overlay")!.shadowRoot!.querySelector(".file")!.textContent);
    expect(file).toBe(`${join(dir, "handlers/greet.ts")}:1:17`);
    const notReady = await fetch(`${running.url}/ipc/greet`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"x"}' });
    expect(notReady.status).toBe(503);
    writeFileSync(join(dir, "handlers/greet.ts"), "export default () => 'fixed';\n");
    await page.waitForSelector("vite-error-overlay", { state: "detached" });
    await until(async () => (await fetch(`${running.url}/ipc/greet`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"x"}' })).status === 200);
    // Written once the app builds.
    await until(() => {
      try {
        return readFileSync(join(dir, "src/ipc.ts"), "utf8").includes("greet");
      } catch {
        return false;
      }
    });
  } finally {
    await page.close();
  }
}, 60_000);

test("types naming the manifest: Vite does not start, and says why in one line", async () => {
  const dir = app(APP_FILES, { types: "gateway.yaml" });
  const before = readFileSync(join(dir, "gateway.yaml"), "utf8");
  await expect(vite(dir)).rejects.toThrow(/\[ipc-gateway\] .*gateway\.yaml: is the manifest, not a file to generate \(types names where the types go\); nothing was written/);
  expect(readFileSync(join(dir, "gateway.yaml"), "utf8")).toBe(before);
}, 60_000);

test("a proxy that is no URL: Vite does not start, and says why", async () => {
  const dir = app(APP_FILES, { proxy: "127.0.0.1:1430" });
  await expect(vite(dir)).rejects.toThrow(/\[ipc-gateway\] proxy must be the gateway's URL \(e\.g\. http:\/\/127\.0\.0\.1:1430\), not "127\.0\.0\.1:1430"/);
}, 60_000);

test("the dev console on Vite's origin opens a handler's file through Vite's editor launcher", async () => {
  const dir = app(APP_FILES);
  // The "editor": a script that writes down what it was asked to open (Vite's LAUNCH_EDITOR).
  const editor = join(dir, "editor.sh");
  const opened = join(dir, "opened.txt");
  writeFileSync(editor, `#!/bin/sh\nprintf '%s ' "$@" > ${JSON.stringify(opened)}\n`);
  chmodSync(editor, 0o755);
  const running = await vite(dir, { LAUNCH_EDITOR: editor });
  const page = await browser.newPage();
  try {
    await page.goto(`${running.url}/__gateway/#command/greet`);
    const link = page.locator(".facts a.handler-file");
    expect(await link.textContent()).toBe("handlers/greet.ts:1");
    await link.click();
    await until(() => existsSync(opened) && readFileSync(opened, "utf8").length > 0);
    expect(readFileSync(opened, "utf8").trim()).toBe(`${join(dir, "handlers/greet.ts")} 1 1`);
  } finally {
    await page.close();
  }
}, 60_000);

test("vite preview serves the build with the gateway on its routes (no dev console there)", async () => {
  const dir = app(APP_FILES);
  await viteBuild(8, dir);
  const running = await vite(dir, {}, true);
  const page = await browser.newPage();
  try {
    await page.goto(running.url);
    await page.waitForFunction(() => document.getElementById("out")?.textContent === "Hello, Vite!");
    await page.waitForFunction(() => (window as any).__TAURI_INTERNALS__.gateway.page);
  } finally {
    await page.close();
  }
  expect((await fetch(`${running.url}/__gateway/`)).status).toBe(404);
}, 60_000);

test("checkTypes: a handler that does not match its schema shows in the overlay, and goes once it does", async () => {
  const mistyped = 'import type { Handler } from "ipc-gateway";\n\nconst greet: Handler<"greet"> = ({ body }) => body.name.length;\nexport default greet;\n';
  const dir = app({ ...APP_FILES, "handlers/greet.ts": mistyped }, { checkTypes: true, handlers: "handlers/gateway.d.ts" });
  const running = await vite(dir);
  const page = await browser.newPage();
  try {
    await page.goto(running.url);
    await page.waitForSelector("vite-error-overlay", { state: "attached" });
    const shown = await page.evaluate(() => {
      const root = document.querySelector("vite-error-overlay")!.shadowRoot!;
      return { message: root.querySelector(".message-body")!.textContent, file: root.querySelector(".file")!.textContent };
    });
    expect(shown.message).toContain("handlers do not match their schemas");
    expect(shown.file).toBe(`${join(dir, "handlers/greet.ts")}:3:47`);
    await running.printed(/gateway: type check: handlers\/greet\.ts:3:47: /);
    writeFileSync(join(dir, "handlers/greet.ts"), mistyped.replace("body.name.length", "`Hello, ${body.name}!`"));
    await page.waitForSelector("vite-error-overlay", { state: "detached" });
  } finally {
    await page.close();
  }
}, 90_000);

test("under https (HTTP/2, where :authority stands for Host) the page calls the gateway, and its socket connects", async () => {
  const fixture = join(PROJECT_DIR, "tests/fixtures/https");
  const dir = app(APP_FILES, {}, `https: { key: ${JSON.stringify(readFileSync(join(fixture, "key.pem"), "utf8"))}, cert: ${JSON.stringify(readFileSync(join(fixture, "cert.pem"), "utf8"))} }`);
  const running = await vite(dir);
  expect(running.url).toMatch(/^https:\/\//);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    const protocols: string[] = [];
    page.on("response", (response) => {
      if (new URL(response.url()).pathname === "/__gateway/tauri.js") protocols.push(response.request().url());
    });
    await page.goto(running.url);
    await page.waitForFunction(() => document.getElementById("out")?.textContent === "Hello, Vite!");
    await page.waitForFunction(() => (window as any).__TAURI_INTERNALS__.gateway.page);
    // Over HTTP/2 itself: the page's own fetch of an invocation (the socket carries the others).
    const overH2 = await page.evaluate(async () => {
      const answer = await fetch("/ipc/greet", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"h2"}' });
      const value = await answer.json();
      // The call's timing entry (which names the protocol) comes once the response is done.
      let entry: PerformanceResourceTiming | undefined;
      while (!(entry = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/ipc/greet")) as PerformanceResourceTiming | undefined)) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return { status: answer.status, value, protocol: entry.nextHopProtocol };
    });
    expect(overH2).toEqual({ status: 200, value: "Hello, h2!", protocol: "h2" });
    // A body over the limit is refused on its own stream; the connection's other calls go on.
    const tooLarge = await page.evaluate(async () => {
      const big = JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) });
      const refused = await fetch("/ipc/greet", { method: "POST", headers: { "content-type": "application/json" }, body: big });
      const after = await fetch("/ipc/greet", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"after"}' });
      return { refused: refused.status, kind: (await refused.json()).kind, after: await after.json() };
    });
    expect(tooLarge).toEqual({ refused: 413, kind: "payload-too-large", after: "Hello, after!" });
    expect(protocols).toEqual([`${running.url}/__gateway/tauri.js`]);
  } finally {
    await context.close();
  }
}, 60_000);
