// What ipc-gateway/vite must do under each supported Vite major, as a user sees it in Chromium:
// the page on Vite's origin calls the gateway (invoke, a Channel, events over the page's socket),
// an edited handler answers anew, a broken edit shows in Vite's overlay until fixed, the types
// file follows the schemas, and `vite build` then `gateway serve` serves the built page.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { createGateway, type Gateway } from "../../gateway/index.ts";
import { memoryLogger } from "../helpers/app.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { removeApp, startVite, viteApp, viteBuild, type RunningVite, type ViteMajor } from "../helpers/vite.ts";

export const APP_FILES: Record<string, string> = {
  "gateway.yaml": `version: 1
server:
  static: dist
commands:
  greet:
    handler: handlers/greet.ts
    body: schemas/greet.body.json
    returns: { type: string }
  count:
    handler: handlers/count.ts
    body:
      type: object
      properties:
        to: { type: integer, minimum: 1, maximum: 100 }
        onStep: { x-channel: step }
      required: [to, onStep]
    returns: { type: integer }
  announce:
    handler: handlers/announce.ts
    body: { type: object, properties: { text: { type: string } }, required: [text] }
channels:
  step:
    message: { type: integer }
events:
  announcement:
    payload: { type: object, properties: { text: { type: string } }, required: [text] }
`,
  "schemas/greet.body.json": JSON.stringify({ type: "object", properties: { name: { type: "string" } }, required: ["name"] }, null, 2),
  "handlers/greet.ts": "export default ({ body }: { body: { name: string } }) => `Hello, ${body.name}!`;\n",
  "handlers/count.ts": `export default async ({ body }: { body: { to: number; onStep: { send(n: number): Promise<void> } } }) => {
  for (let i = 1; i <= body.to; i++) await body.onStep.send(i);
  return body.to;
};
`,
  "handlers/announce.ts": `export default ({ body, app }: { body: { text: string }; app: { emit(e: string, p: unknown): void } }) => {
  app.emit("announcement", { text: body.text });
  return null;
};
`,
  "index.html": `<!doctype html>
<html>
  <head><title>vite app</title></head>
  <body>
    <p id="out"></p>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`,
  // The official @tauri-apps/api, as a Vite app imports it.
  "src/main.ts": `import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
(window as any).app = { Channel, invoke, listen };
invoke<string>("greet", { name: "Vite" }).then((text) => (document.getElementById("out")!.textContent = text));
`,
};

type Call = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The whole suite for one major. */
export function viteSuite(major: ViteMajor): void {
  let dir: string;
  let vite: RunningVite;
  let browser: Browser;
  let page: Page;
  const posts: string[] = [];

  beforeAll(async () => {
    dir = viteApp(APP_FILES, { types: "src/ipc.ts" });
    [vite, browser] = await Promise.all([startVite(major, dir), launchBrowser()]);
    page = await browser.newPage();
    page.on("request", (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname.startsWith("/ipc/")) posts.push(request.url());
    });
    await openApp(page, vite.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await vite?.stop();
    if (dir) removeApp(dir);
  });

  const call = (cmd: string, args: Record<string, unknown> = {}): Promise<Call> =>
    page.evaluate(
      ([cmd, args]) =>
        (window as any).app.invoke(cmd, args).then(
          (value: unknown) => ({ ok: true, value }),
          (error: unknown) => ({ ok: false, error }),
        ),
      [cmd, args] as const,
    );

  test("the page on Vite's origin calls the gateway: invoke, a Channel and an event, over the page's socket", async () => {
    expect(await page.textContent("#out")).toBe("Hello, Vite!");
    const gateway = await page.evaluate(() => ({ url: (window as any).__TAURI_INTERNALS__.gateway.url, transport: (window as any).__TAURI_INTERNALS__.gateway.transport }));
    expect(gateway).toEqual({ url: vite.url, transport: "ws" });
    posts.length = 0;
    await expect(call("greet", { name: "Ada" })).resolves.toEqual({ ok: true, value: "Hello, Ada!" });
    const streamed = await page.evaluate(async () => {
      const { Channel, invoke } = (window as any).app;
      const steps: number[] = [];
      const channel = new Channel();
      channel.onmessage = (n: number) => steps.push(n);
      const result = await invoke("count", { to: 5, onStep: channel });
      await new Promise((resolve) => setTimeout(resolve, 0));
      return { result, steps };
    });
    expect(streamed).toEqual({ result: 5, steps: [1, 2, 3, 4, 5] });
    const heard = await page.evaluate(async () => {
      const { invoke, listen } = (window as any).app;
      let resolveHeard!: (payload: unknown) => void;
      const heardPromise = new Promise((resolve) => (resolveHeard = resolve));
      const unlisten = await listen("announcement", (event: { payload: unknown }) => resolveHeard(event.payload));
      await invoke("announce", { text: "hi" });
      const payload = await heardPromise;
      unlisten();
      return payload;
    });
    expect(heard).toEqual({ text: "hi" });
    // Every call above went over the page's socket: none was a POST.
    expect(posts).toEqual([]);
    // A body the schema refuses is refused as by `gateway dev`.
    await expect(call("greet", { name: 42 })).resolves.toMatchObject({ ok: false, error: { kind: "invalid-body" } });
  });

  test("another site's page is refused; Vite's own pages and assets are untouched", async () => {
    const refused = await fetch(`${vite.url}/ipc/greet`, { method: "POST", headers: { "content-type": "application/json", origin: "http://evil.example" }, body: '{"name":"x"}' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ kind: "forbidden-origin" });
    const html = await (await fetch(`${vite.url}/`)).text();
    expect(html).toContain('<script src="/__gateway/tauri.js"></script>');
    expect(html).toContain("/@vite/client");
    const main = await fetch(`${vite.url}/src/main.ts`);
    expect(main.status).toBe(200);
  });

  test("an edited handler answers anew, and the reload is said through Vite's logger", async () => {
    writeFileSync(join(dir, "handlers/greet.ts"), "export default ({ body }: { body: { name: string } }) => `Hi there, ${body.name}!`;\n");
    await until(async () => ((await call("greet", { name: "Ada" })) as { value?: unknown }).value === "Hi there, Ada!");
    await vite.printed(/\[vite\] gateway: reloaded in \d+ ms \(generation \d+: handlers\/greet\.ts/);
  });

  test("a broken edit shows in Vite's overlay (file, line, column; a link to open it) and goes when fixed", async () => {
    writeFileSync(join(dir, "handlers/greet.ts"), "export default ({ body } => body;\n");
    await page.waitForSelector("vite-error-overlay", { state: "attached" });
    const shown = await page.evaluate(() => {
      const root = document.querySelector("vite-error-overlay")!.shadowRoot!;
      return { message: root.querySelector(".message-body")?.textContent ?? "", file: root.querySelector(".file")?.textContent ?? "", links: [...root.querySelectorAll(".file-link")].map((a) => a.textContent) };
    });
    expect(shown.message).toContain("the edit is broken");
    expect(shown.file).toBe(`${join(dir, "handlers/greet.ts")}:1:26`);
    expect(shown.links).toContain(`${join(dir, "handlers/greet.ts")}:1:26`);
    // The last good version still answers meanwhile.
    await expect(call("greet", { name: "Ada" })).resolves.toEqual({ ok: true, value: "Hi there, Ada!" });
    writeFileSync(join(dir, "handlers/greet.ts"), "export default ({ body }: { body: { name: string } }) => `Fixed, ${body.name}!`;\n");
    await page.waitForSelector("vite-error-overlay", { state: "detached" });
    await page.waitForFunction(() => (window as any).app !== undefined);
    await until(async () => ((await call("greet", { name: "Ada" })) as { value?: unknown }).value === "Fixed, Ada!");
  });

  test("the types file follows a schema edit", async () => {
    const types = join(dir, "src/ipc.ts");
    expect(readFileSync(types, "utf8")).toMatch(/^\/\/ Generated by `gateway types/);
    expect(readFileSync(types, "utf8")).not.toContain("nickname");
    writeFileSync(join(dir, "schemas/greet.body.json"), JSON.stringify({ type: "object", properties: { name: { type: "string" }, nickname: { type: "string" } }, required: ["name"] }));
    await until(() => readFileSync(types, "utf8").includes("nickname"));
  });

  test("vite build puts the gateway's script in the built page; gateway serve serves it and its calls", async () => {
    await viteBuild(major, dir);
    const built = readFileSync(join(dir, "dist/index.html"), "utf8");
    expect(built).toContain('<script src="/__gateway/tauri.js"></script>');
    expect(existsSync(join(dir, "dist/src/main.ts"))).toBe(false);
    let served: Gateway | undefined;
    const servePage = await browser.newPage();
    try {
      served = await createGateway({ config: join(dir, "gateway.yaml"), logger: memoryLogger() });
      const { url } = await served.listen({ port: 0, host: "127.0.0.1" });
      await servePage.goto(url);
      await servePage.waitForFunction(() => document.getElementById("out")?.textContent === "Fixed, Vite!");
    } finally {
      await servePage.close();
      await served?.close();
    }
  }, 120_000);
}

/** Opens the app and waits for its script (and the gateway's socket). */
async function openApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => (window as any).app !== undefined && (window as any).__TAURI_INTERNALS__?.gateway?.page);
}

/**
 * Polls `condition` until it holds (the test's timeout bounds it). A condition that throws has not
 * held yet: a page Vite reloads meanwhile (it does, to take an overlay away) loses its context.
 */
export async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  const holds = async () => {
    try {
      return await condition();
    } catch {
      return false;
    }
  };
  while (!(await holds())) await new Promise((resolve) => setTimeout(resolve, 50));
}
