// The dev console (/__gateway/ under gateway dev) in headless Chromium, on a copy of the example
// app: forms built from the schema catalog invoke commands (download with a Channel), an event is
// emitted and logged, a broken edit shows its banner. And the console is served only under dev:
// the real bin's `serve` answers 404, its `dev` serves the compiled dist/console/.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { gatewayFor } from "../helpers/app.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { startGateway } from "../helpers/cli.ts";
import { request } from "../helpers/http.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The example app's manifest, handlers and schemas (a copy is edited, never the repo's). */
function exampleApp(): Record<string, string> {
  const files: Record<string, string> = { "gateway.yaml": readFileSync(join(ROOT, "gateway.yaml"), "utf8") };
  for (const dir of ["handlers", "schemas"]) {
    for (const name of readdirSync(join(ROOT, dir))) files[`${dir}/${name}`] = readFileSync(join(ROOT, dir, name), "utf8");
  }
  return files;
}

let app: Awaited<ReturnType<typeof gatewayFor>>;
let url: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  // The console as the package build makes it (dist/console/, where the gateway's sources read it under jest).
  execFileSync(process.execPath, ["scripts/build-console.js"], { cwd: ROOT });
  app = await gatewayFor(exampleApp(), { watch: true, env: {} });
  await app.gw.watching;
  ({ url } = await app.gw.listen({ port: 0 }));
  browser = await launchBrowser();
  page = await openConsole();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

async function openConsole(): Promise<Page> {
  const opened = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  opened.on("pageerror", (error) => pageErrors.push(String(error)));
  await opened.goto(`${url}/__gateway/`);
  await opened.waitForSelector("[data-item='command:greet']");
  return opened;
}

const select = (item: string) => page.click(`[data-item='${item}']`);
const logLine = (kind: string, text: string) => page.locator(`.log li[data-kind=${kind}]`, { hasText: text });

describe("under gateway dev", () => {
  test("lists every command, channel and event of the catalog, as window gateway-console", async () => {
    const catalog = (await request(`${url}/__gateway/catalog.json`, { method: "GET" })).json();
    const items = await page.locator("[data-item]").evaluateAll((links) => links.map((a) => a.getAttribute("data-item")));
    expect(items).toEqual([
      ...Object.keys(catalog.commands).map((n) => `command:${n}`),
      ...Object.keys(catalog.channels).map((n) => `channel:${n}`),
      ...Object.keys(catalog.events).map((n) => `event:${n}`),
    ]);
    expect(items).toEqual(expect.arrayContaining(["command:greet", "command:download", "channel:progress", "event:chat-message"]));
    // The label comes from the gateway's tauri.js, read back through @tauri-apps/api's getCurrentWindow().
    await expect(page.locator(".top").textContent()).resolves.toContain("window gateway-console");
  });

  test("invokes greet from its generated form: the answer, its duration and the log line", async () => {
    await select("command:greet");
    await page.fill("[name=name]", "Ada");
    await page.click("button:has-text('Invoke')");
    const outcome = page.locator("[data-outcome=ok]");
    await outcome.waitFor();
    expect(await outcome.locator("pre").textContent()).toBe('{\n  "message": "Hello, Ada!"\n}');
    expect(await outcome.locator(".ms").textContent()).toMatch(/^\d+(\.\d)? ms$/);
    // The gateway's own account of the call, from gateway://invocation.
    await logLine("invocation", "window gateway-console").filter({ hasText: "greet" }).first().waitFor();
    expect(await logLine("invocation", "greet").first().textContent()).toMatch(/greetok · 200 · \d+(\.\d)? ms · window gateway-console \(ws\)$/); // invoke travels on the console's socket

    // The gateway checks the body: an empty name is refused by the schema (minLength 1).
    await page.fill("[name=name]", "");
    await page.click("button:has-text('Invoke')");
    await page.locator("[data-outcome=error]", { hasText: "invalid-body" }).waitFor();
    await logLine("invocation", "invalid-body · 422").first().waitFor();
  });

  test("a handler's InvokeError, and bytes in and out", async () => {
    await select("command:divide");
    await page.fill("[name=a]", "1");
    await page.fill("[name=b]", "0");
    await page.click("button:has-text('Invoke')");
    const rejected = page.locator("[data-outcome=error]");
    await rejected.waitFor();
    expect(JSON.parse((await rejected.locator("pre").textContent())!)).toEqual({ code: "division-by-zero", message: "cannot divide by zero" });
    await page.locator(".log li.failed[data-kind=invocation]", { hasText: "divide" }).first().waitFor();

    await select("command:reverse");
    await page.fill("[name=body]", "stressed");
    await page.click("button:has-text('Invoke')");
    const answer = page.locator("[data-outcome=ok]");
    await answer.waitFor();
    expect(await answer.locator("pre.value").textContent()).toBe("desserts");
    expect(await answer.locator("small").textContent()).toBe("8 bytes");
    // The same bytes typed as hex.
    await page.click(".binary button:has-text('hex')");
    expect(await page.inputValue("[name=body]")).toBe("73 74 72 65 73 73 65 64");
    await page.fill("[name=body]", "61 62 63");
    await page.click("button:has-text('Invoke')");
    await page.locator("[data-outcome=ok] pre.value", { hasText: "cba" }).waitFor();
  });

  test("download with a Channel: its messages show while it runs, then the answer", async () => {
    await select("command:download");
    await page.fill("[name=steps]", "8");
    await page.click("button:has-text('Invoke')");
    await page.locator("[data-outcome=running] .messages li").first().waitFor(); // streaming, not yet answered
    await page.locator("[data-outcome=ok]").waitFor({ timeout: 10_000 });
    expect(await page.getAttribute(".messages", "data-received")).toBe("8");
    const messages = await page.locator(".messages li").allTextContents();
    expect(messages[0]).toBe('progress #0{"step":1,"of":8,"percent":13}');
    expect(messages[7]).toBe('progress #7{"step":8,"of":8,"percent":100}');
    expect(JSON.parse((await page.locator("[data-outcome=ok] > pre").textContent())!)).toEqual({ steps: 8 });
    await expect(logLine("channel", "download.onProgress").count()).resolves.toBeGreaterThanOrEqual(8);
    await logLine("channel", "progress #7").first().waitFor();
  });

  test("emits chat-message from its form; it is logged, heard back through listen and by the backend", async () => {
    await select("event:chat-message");
    await page.fill("[name=from]", "console");
    await page.fill("[name=text]", "hello from the console");
    await page.click("button:has-text('Emit')");
    await page.locator("[data-outcome=ok]", { hasText: "emitted" }).waitFor();
    await logLine("emit", "hello from the console").first().waitFor();
    await logLine("event", "hello from the console").first().waitFor(); // the console listens to every declared topic
    expect(await page.locator(".received li").first().textContent()).toBe('{"from":"console","text":"hello from the console"}');
    expect(await app.gw.invoke("chat-history")).toContainEqual({ from: "console", text: "hello from the console" });

    // A topic only the backend emits: listen, but no emit form.
    await select("event:announcement");
    expect(await page.locator("button:has-text('Emit')").count()).toBe(0);
    await app.gw.app.emit("announcement", { text: "from the backend" });
    await logLine("event", "from the backend").first().waitFor();
  });

  test("a broken edit shows the banner with path:line:col, also to a console opened meanwhile; the fix clears it", async () => {
    const greet = app.app.read("handlers/greet.ts");
    app.app.write("handlers/greet.ts", `${greet}\nexport const broken = ;\n`);
    const where = page.locator(".banner .where");
    await where.waitFor({ timeout: 10_000 });
    const expected = /^(handlers\/greet\.ts:\d+:\d+): /.exec(app.gw.lastError ?? "")?.[1];
    expect(expected).toBeDefined();
    expect(await where.textContent()).toBe(expected);
    await logLine("error", expected!).first().waitFor();

    const late = await openConsole();
    expect(await late.locator(".banner .where").textContent()).toBe(expected);
    await late.close();

    app.app.write("handlers/greet.ts", greet);
    await page.locator(".banner").waitFor({ state: "detached", timeout: 10_000 });
    await logLine("reload", "generation").first().waitFor();
    await page.locator(".flash", { hasText: "reloaded" }).waitFor();
  });
});

describe("forms from schemas", () => {
  const ECHO = {
    "gateway.yaml": `
version: 1
commands:
  echo:
    handler: echo.ts
    body:
      type: object
      properties:
        text: { type: string, description: "any text" }
        count: { type: integer, minimum: 0 }
        ratio: { type: number }
        flag: { type: boolean }
        maybe: { type: boolean }
        color: { enum: [red, green, blue] }
        size: { type: string, enum: [s, m, l], default: m }
        point: { type: object, properties: { x: { type: number }, y: { type: number } }, required: [x, y] }
        tags: { type: array, items: { type: string } }
        kind: { const: echo }
      required: [text, count, flag, point, kind]
      additionalProperties: false
`,
    "echo.ts": "export default ({ body }: { body: unknown }) => body;\n",
  };
  let echo: Awaited<ReturnType<typeof gatewayFor>>;
  let form: Page;

  beforeAll(async () => {
    echo = await gatewayFor(ECHO, { dev: true });
    const { url: echoUrl } = await echo.gw.listen({ port: 0 });
    form = await browser.newPage();
    form.on("pageerror", (error) => pageErrors.push(String(error)));
    await form.goto(`${echoUrl}/__gateway/#command/echo`);
    await form.waitForSelector("[name=text]");
  });

  afterAll(async () => {
    await form?.close();
    await echo?.close();
  });

  let runs = 0;
  /** Invoke, and the answer of this very run (each run of the form is numbered). */
  const answer = async () => {
    await form.click("button:has-text('Invoke')");
    const text = await form.locator(`[data-run="${++runs}"][data-outcome=ok] > pre`).textContent();
    return JSON.parse(text!);
  };

  test("a field for each property: strings, integers and numbers, booleans, enums, a nested object, JSON for an array", async () => {
    expect(await form.locator(".hint", { hasText: "any text" }).textContent()).toBe("string · any text");
    expect(await form.inputValue("[name=size]")).toBe("1"); // the default, m
    await form.fill("[name=text]", "hi");
    await form.fill("[name=count]", "3");
    await form.fill("[name=ratio]", "0.5");
    await form.check("[name=flag]");
    await form.selectOption("[name=maybe]", { label: "false" });
    await form.selectOption("[name=color]", { label: "blue" });
    await form.fill("[name='point.x']", "1");
    await form.fill("[name='point.y']", "-2.5");
    await form.fill("[name=tags]", '["a", "b"]');
    expect(await answer()).toEqual({ text: "hi", count: 3, ratio: 0.5, flag: true, maybe: false, color: "blue", size: "m", point: { x: 1, y: -2.5 }, tags: ["a", "b"], kind: "echo" });

    // Emptied optional fields are left out.
    await form.fill("[name=ratio]", "");
    await form.selectOption("[name=maybe]", { label: "—" });
    await form.fill("[name=tags]", "");
    expect(await answer()).toEqual({ text: "hi", count: 3, flag: true, color: "blue", size: "m", point: { x: 1, y: -2.5 }, kind: "echo" });
  });

  test("JSON on demand, and back to the fields with its value; JSON that does not parse is not sent", async () => {
    await form.click(".mode button:has-text('JSON')");
    const json = JSON.parse(await form.inputValue("[name=body]"));
    expect(json.point).toEqual({ x: 1, y: -2.5 });
    await form.fill("[name=body]", JSON.stringify({ ...json, text: "from JSON" }));
    expect((await answer()).text).toBe("from JSON");
    await form.click(".mode button:has-text('fields')");
    expect(await form.inputValue("[name=text]")).toBe("from JSON");
    expect(await form.inputValue("[name='point.y']")).toBe("-2.5");

    await form.fill("[name=tags]", "[oops");
    await form.click("button:has-text('Invoke')");
    expect(await form.locator(`[data-run="${++runs}"]`).textContent()).toMatch(/^tags is not JSON: /);
  });
});

describe("only under dev", () => {
  test("the real bin: gateway serve answers 404 at /__gateway/; gateway dev serves the compiled dist/console/", async () => {
    const serve = await startGateway("serve", ROOT);
    try {
      for (const path of ["/__gateway/", "/__gateway", "/__gateway/console/console.js"]) {
        const response = await request(`${serve.url}${path}`, { method: "GET" });
        expect([path, response.status, response.json().kind]).toEqual([path, 404, "not-found"]);
      }
    } finally {
      serve.kill();
    }
    const dev = await startGateway("dev", ROOT);
    try {
      const page = await request(`${dev.url}/__gateway/`, { method: "GET" });
      expect(page.status).toBe(200);
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(page.text).toContain('src="console/console.js"');
      const script = await request(`${dev.url}/__gateway/console/console.js`, { method: "GET" });
      expect([script.status, script.headers["content-type"]]).toEqual([200, "text/javascript; charset=utf-8"]);
    } finally {
      dev.kill();
    }
  }, 30_000);

  test("embedders opt in with dev: true; the console's routes serve its files and nothing else", async () => {
    const files = exampleApp();
    const plain = await gatewayFor(files, { env: {} });
    const opted = await gatewayFor(files, { dev: true, env: {} });
    try {
      const off = (await plain.gw.listen({ port: 0 })).url;
      expect((await request(`${off}/__gateway/`, { method: "GET" })).status).toBe(404);

      const on = (await opted.gw.listen({ port: 0 })).url;
      expect((await request(`${on}/__gateway/`, { method: "GET" })).status).toBe(200);
      const css = await request(`${on}/__gateway/console/console.css`, { method: "GET" });
      expect([css.status, css.headers["content-type"]]).toEqual([200, "text/css; charset=utf-8"]);
      const redirect = await request(`${on}/__gateway?window=other`, { method: "GET" });
      expect([redirect.status, redirect.headers.location]).toEqual([308, "/__gateway/?window=other"]);
      for (const path of ["/__gateway/console/", "/__gateway/console/missing.js", "/__gateway/console/%2e%2e%2fgateway.js", "/__gateway/console/.hidden.js", "/__gateway/console/x.constructor"]) {
        expect([path, (await request(`${on}${path}`, { method: "GET" })).status]).toEqual([path, 404]);
      }
    } finally {
      await plain.close();
      await opted.close();
    }
  });
});

describe("afterwards", () => {
  test("the console pages ran without errors", () => {
    expect(pageErrors).toEqual([]);
  });
});
