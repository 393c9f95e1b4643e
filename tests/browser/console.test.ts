// The dev console (/__gateway/ under gateway dev) in headless Chromium, on a copy of the example
// app: forms built from the schema catalog invoke commands (download with a Channel, its messages
// one row of the log), an event is emitted and logged, a broken edit shows its banner; a command
// shows its handler (linked into the editor through openInEditor), time limit and windows and the
// invoke() call to copy; health's problems and the type check's findings show as banners. And the
// console is served only under dev: the real bin's `serve` answers 404 (and its manifest.json
// names no file), its `dev` serves the compiled dist/console/.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
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
/** What Chromium reports of the console's own Content-Security-Policy refusing something it does. */
const policyViolations: string[] = [];

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
  // The clipboard as a user who allowed it: the Copy buttons write there (tested by reading it back).
  const opened = await browser.newPage({ viewport: { width: 1400, height: 900 }, permissions: ["clipboard-read", "clipboard-write"] });
  opened.on("pageerror", (error) => pageErrors.push(String(error)));
  opened.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) policyViolations.push(message.text());
  });
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
    // The call the form makes, as code to copy.
    const snippet = 'import { invoke } from "@tauri-apps/api/core";\n\nawait invoke("greet", { name: "Ada" });';
    expect(await page.locator(".snippet code").textContent()).toBe(snippet);
    await page.click(".snippet button:has-text('copy')");
    await page.locator(".snippet button:has-text('copied')").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(snippet);
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
    // In the log: one row for the call, its messages folded under it.
    const row = logLine("channel", "download");
    expect(await row.count()).toBe(1);
    expect(await row.getAttribute("data-count")).toBe("8");
    expect(await row.locator("summary").textContent()).toBe("8 channel messages (progress)");
    expect(await row.locator("ol.items li").first().isVisible()).toBe(false);
    await row.locator("summary").click();
    expect(await row.locator("ol.items li").allTextContents()).toEqual(
      Array.from({ length: 8 }, (_, i) => expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}progress #${i}\\{"step":${i + 1},"of":8,"percent":\\d+\\}$`))),
    );
    // The snippet passes a Channel for the channel field.
    expect(await page.locator(".snippet code").textContent()).toBe(
      'import { Channel, invoke } from "@tauri-apps/api/core";\n\nconst onProgress = new Channel((message) => console.log(message)); // progress\nawait invoke("download", { steps: 8, onProgress });',
    );
  });

  test("a command's handler file, time limit and windows; without openInEditor the path is text to copy", async () => {
    await select("command:greet");
    const line = app.app.read("handlers/greet.ts").split("\n").findIndex((l) => l.startsWith("export default")) + 1;
    expect(line).toBeGreaterThan(1);
    const handler = page.locator(".facts .handler");
    expect(await handler.locator("code.handler-file").textContent()).toBe(`handlers/greet.ts:${line}`);
    expect(await handler.locator("a").count()).toBe(0); // no editor to open it in
    expect(await handler.locator("small").first().textContent()).toBe("default export");
    expect(await page.locator("[data-fact=timeout]").textContent()).toBe("30 s");
    expect(await page.locator("[data-fact=windows]").textContent()).toBe("any");
    await handler.locator("button:has-text('copy path')").click();
    await handler.locator("button:has-text('copied')").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`handlers/greet.ts:${line}`);
  });

  test("the header links to the OpenAPI and AsyncAPI documents, which answer", async () => {
    for (const name of ["openapi.json", "asyncapi.json"]) {
      const href = await page.locator(".top nav a", { hasText: name }).getAttribute("href");
      expect(href).toBe(`/__gateway/${name}`);
      expect((await request(`${url}${href}`, { method: "GET" })).status).toBe(200);
    }
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


describe("schemas and addresses that once stopped it", () => {
  // A linked list (a definition inside itself) and two definitions that refer to each other.
  const RECURSIVE = {
    "gateway.yaml": `
version: 1
commands:
  push:
    handler: echo.ts
    body:
      type: object
      properties:
        list: { $ref: "#/$defs/node" }
      required: [list]
      $defs:
        node:
          type: object
          properties:
            value: { type: integer }
            next: { $ref: "#/$defs/node" }
          required: [value]
  pair:
    handler: echo.ts
    body: { $ref: schemas/a.json }
  greet:
    handler: echo.ts
    body: { type: object, properties: { name: { type: string } }, required: [name] }
`,
    "schemas/a.json": JSON.stringify({ type: "object", properties: { name: { type: "string" }, b: { $ref: "b.json" } }, required: ["name", "b"] }),
    "schemas/b.json": JSON.stringify({ type: "object", properties: { n: { type: "number" }, a: { $ref: "a.json" } }, required: ["n"] }),
    "echo.ts": "export default ({ body }: { body: unknown }) => body;\n",
  };
  let recursive: Awaited<ReturnType<typeof gatewayFor>>;
  let base: string;
  let opened: Page;

  beforeAll(async () => {
    recursive = await gatewayFor(RECURSIVE, { dev: true });
    ({ url: base } = await recursive.gw.listen({ port: 0 }));
    opened = await browser.newPage();
    opened.on("pageerror", (error) => pageErrors.push(String(error)));
  });

  afterAll(async () => {
    await opened?.close();
    await recursive?.close();
  });

  /** Invoke from the form; the answer of that very run (a view numbers its runs from 1). */
  const invokeFromForm = async () => {
    const shown = opened.locator("[data-run]");
    const last = (await shown.count()) === 0 ? 0 : Number(await shown.getAttribute("data-run"));
    await opened.click("button:has-text('Invoke')");
    return JSON.parse((await opened.locator(`[data-run="${last + 1}"][data-outcome=ok] > pre`).textContent())!);
  };

  test("a linked list: fields down to where the definition holds itself, JSON from there", async () => {
    await opened.goto(`${base}/__gateway/#command/push`);
    await opened.waitForSelector("[name='list.value']");
    expect(await opened.locator("textarea[name='list.next']").count()).toBe(1);
    expect(await opened.locator(".input:has(> .json-field > textarea[name='list.next']) > .hint").textContent()).toBe("object, as JSON (it holds Node again)");
    await opened.fill("[name='list.value']", "1");
    await opened.fill("[name='list.next']", '{"value": 2, "next": {"value": 3}}');
    expect(await invokeFromForm()).toEqual({ list: { value: 1, next: { value: 2, next: { value: 3 } } } });
  });

  test("two definitions that refer to each other", async () => {
    await opened.click("[data-item='command:pair']");
    await opened.waitForSelector("[name='b.n']");
    expect(await opened.locator("textarea[name='b.a']").count()).toBe(1);
    await opened.fill("[name=name]", "outer");
    await opened.fill("[name='b.n']", "2");
    await opened.fill("[name='b.a']", '{"name": "inner", "b": {"n": 3}}');
    expect(await invokeFromForm()).toEqual({ name: "outer", b: { n: 2, a: { name: "inner", b: { n: 3 } } } });
    await opened.click("[data-item='command:greet']");
    await opened.fill("[name=name]", "after the cycle");
    expect(await invokeFromForm()).toEqual({ name: "after the cycle" });
  });

  test("a fragment that is not percent-encoding names nothing: the console shows its first item", async () => {
    for (const fragment of ["#command/%E0%A4%A", "#%", "#command/%", "#command/push%ZZ"]) {
      await opened.goto(`${base}/__gateway/${fragment}`);
      await opened.waitForSelector("[data-item='command:greet'].current", { timeout: 10_000 }); // the catalog's first command
      expect(await opened.locator("#app").textContent()).not.toContain("could not start");
    }
    // Changed while open, too.
    await opened.evaluate(() => (location.hash = "#command/%E0%A4%A"));
    await opened.click("[data-item='command:greet']");
    await opened.fill("[name=name]", "after a bad fragment");
    expect(await invokeFromForm()).toEqual({ name: "after a bad fragment" });
  });

  test("another origin cannot frame the console (or any gateway document); the console itself still works", async () => {
    // A page of another origin that frames the console and health.
    const framer: Server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><iframe id=console src="${base}/__gateway/"></iframe><iframe id=health src="${base}/__gateway/health"></iframe>`);
    });
    await new Promise<void>((resolve) => framer.listen(0, "127.0.0.1", resolve));
    const framing = await browser.newPage();
    try {
      // Its load event waits for its frames, refused ones included.
      await framing.goto(`http://127.0.0.1:${(framer.address() as { port: number }).port}/`);
      // A frame the browser refused holds its error page, not the gateway's document.
      const frames = framing.frames().filter((f) => f !== framing.mainFrame());
      expect(frames).toHaveLength(2);
      for (const frame of frames) {
        expect(frame.url()).not.toMatch(/^http:\/\/127\.0\.0\.1:\d+\/__gateway\//);
      }
      expect(await framing.locator("iframe#console").contentFrame().locator("[data-item]").count()).toBe(0);
    } finally {
      await framing.close();
      await new Promise<void>((resolve) => framer.close(() => resolve()));
    }
    const headers = (await request(`${base}/__gateway/`, { method: "GET" })).headers;
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    // The console, opened as a page, runs under its policy: it invokes (socket and all).
    await opened.goto(`${base}/__gateway/#command/greet`);
    await opened.fill("[name=name]", "after framing");
    expect(await invokeFromForm()).toEqual({ name: "after framing" });
  });
});

describe("a handler's place, the editor link, the gateway's problems and the type check", () => {
  const APP = {
    "gateway.yaml": `
version: 1
commands:
  hello:
    handler: handlers/app.ts#hello
    timeout: 1500ms
    windows: [main, gateway-console]
    body: { type: object, properties: { name: { type: string } }, required: [name] }
  spin:
    handler: handlers/app.ts#spin
    timeout: 100ms
`,
    "handlers/app.ts": [
      "// Two handlers of one module.",
      "export function hello({ body }: { body: { name: string } }) {",
      "  return `hello ${body.name}`;",
      "}",
      "",
      "// Holds the event loop past its 100 ms: the gateway's event-loop problem.",
      "export const spin = () => {",
      "  const end = Date.now() + 400;",
      "  while (Date.now() < end);",
      "  return null;",
      "};",
      "",
    ].join("\n"),
  };
  let linked: Awaited<ReturnType<typeof gatewayFor>>;
  let base: string;

  beforeAll(async () => {
    linked = await gatewayFor(APP, { dev: true, openInEditor: "/__open-in-editor" });
    ({ url: base } = await linked.gw.listen({ port: 0 }));
  });

  afterAll(async () => linked?.close());

  async function open(path: string, prepare?: (page: Page) => Promise<unknown>): Promise<Page> {
    const opened = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    opened.on("pageerror", (error) => pageErrors.push(String(error)));
    await prepare?.(opened);
    await opened.goto(`${base}/__gateway/${path}`);
    await opened.waitForSelector("[data-item='command:hello']");
    return opened;
  }

  test("the handler's file links into the editor: a click requests openInEditor?file=<absolute path>:<line>", async () => {
    const manifest = (await request(`${base}/__gateway/manifest.json`, { method: "GET" })).json();
    expect(manifest.openInEditor).toBe("/__open-in-editor");
    const path = linked.app.path("handlers/app.ts");
    expect(manifest.commands.hello.handler).toEqual({ file: "handlers/app.ts", export: "hello", line: 2, path });
    expect(manifest.commands.spin.handler).toEqual({ file: "handlers/app.ts", export: "spin", line: 7, path });

    // What the editor endpoint (Vite's, in an app) is asked, answered here by the browser.
    const asked: string[] = [];
    let askedOnce!: () => void;
    const wasAsked = new Promise<void>((r) => (askedOnce = r));
    const opened = await open("#command/hello", (p) =>
      p.route("**/__open-in-editor?*", (route) => {
        asked.push(route.request().url());
        askedOnce();
        return route.fulfill({ status: 200, body: "" });
      }),
    );
    try {
      const link = opened.locator(".facts a.handler-file");
      expect(await link.textContent()).toBe("handlers/app.ts:2");
      expect(await opened.locator(".facts .handler small").first().textContent()).toBe("export hello");
      expect(await opened.locator("[data-fact=timeout]").textContent()).toBe("1.5 s");
      expect(await opened.locator("[data-fact=windows]").textContent()).toBe("main, gateway-console");
      await link.click();
      await wasAsked;
      expect(asked).toEqual([`${base}/__open-in-editor?file=${encodeURIComponent(`${path}:2`)}`]);
      expect(opened.url()).toBe(`${base}/__gateway/#command/hello`); // a request, not a navigation
      expect(await opened.locator(".handler .field-error").count()).toBe(0);

      // The snippet follows the form as it changes.
      await opened.fill("[name=name]", 'Ada "the first"');
      expect(await opened.locator(".snippet code").textContent()).toContain('await invoke("hello", { name: "Ada \\"the first\\"" });');
      await opened.fill("[name=name]", "Grace");
      expect(await opened.locator(".snippet code").textContent()).toContain('await invoke("hello", { name: "Grace" });');
    } finally {
      await opened.close();
    }
  });

  test("a problem of the gateway (a handler held the event loop) shows in the banner, from health", async () => {
    const opened = await open("#command/spin");
    try {
      expect(await opened.locator(".banner").count()).toBe(0);
      await expect(linked.gw.invoke("spin")).rejects.toMatchObject({ kind: "timeout" });
      const problem = opened.locator(".banner.problems [data-problem=event-loop]");
      await problem.waitFor({ timeout: 15_000 }); // health is read again within seconds
      expect(await problem.textContent()).toContain('command "spin" held the event loop');
    } finally {
      await opened.close();
    }
  });

  const FINDINGS = {
    ok: false,
    checked: 2,
    problems: [
      { file: "handlers/app.ts", line: 3, column: 10, message: "Type 'string' is not assignable to type 'number'." },
      { file: "tsconfig.json", line: null, column: null, message: "No inputs were found." },
    ],
  };

  test("the type check's findings show in the banner: from health's typeCheck, and from gateway://type-check", async () => {
    // This gateway runs no type check: health is answered with one (the shape gateway dev --check-types gives it).
    const fromHealth = await open("", (p) =>
      p.route("**/__gateway/health", async (route) => {
        const real = await route.fetch();
        return route.fulfill({ response: real, json: { ...(await real.json()), typeCheck: FINDINGS } });
      }),
    );
    try {
      const banner = fromHealth.locator(".banner.types");
      await banner.waitFor();
      expect(await banner.locator("strong").textContent()).toBe("The type check found 2 problems (2 handlers checked); the gateway serves them anyway.");
      expect(await banner.locator("li").allTextContents()).toEqual(["handlers/app.ts:3:10 Type 'string' is not assignable to type 'number'.", "tsconfig.json No inputs were found."]);
    } finally {
      await fromHealth.close();
    }

    // The event, delivered on the console's own socket as the gateway would send it (to the
    // listener the console registered for it), then cleared by a check that finds nothing.
    let toPage: ((frame: unknown) => void) | undefined;
    const pending = new Map<number, number>(); // the listen call's rid -> its handler (callback id)
    let resolve!: (listener: { id: number; handler: number }) => void;
    const listening = new Promise<{ id: number; handler: number }>((r) => (resolve = r));
    const fromEvent = await open("", (p) =>
      p.routeWebSocket(/\/ipc\/ws/, (ws) => {
        const server = ws.connectToServer();
        toPage = (frame) => ws.send(JSON.stringify(frame));
        ws.onMessage((message) => {
          if (typeof message === "string") {
            const frame = JSON.parse(message);
            if (frame.cmd === "plugin:event|listen" && frame.body?.event === "gateway://type-check") pending.set(frame.rid, frame.body.handler);
          }
          server.send(message);
        });
        server.onMessage((message) => {
          if (typeof message === "string") {
            const frame = JSON.parse(message);
            if (frame.type === "reply" && pending.has(frame.rid)) resolve({ id: frame.value, handler: pending.get(frame.rid)! });
          }
          ws.send(message);
        });
      }),
    );
    try {
      const listener = await listening;
      expect(await fromEvent.locator(".banner.types").count()).toBe(0); // (the event-loop problem above is still on)
      toPage!({ type: "event", id: listener.id, handler: listener.handler, event: "gateway://type-check", payload: FINDINGS });
      const banner = fromEvent.locator(".banner.types");
      await banner.waitFor();
      expect(await banner.locator("li .where").allTextContents()).toEqual(["handlers/app.ts:3:10", "tsconfig.json"]);
      await fromEvent.locator(".log li[data-kind=error]", { hasText: "handlers/app.ts:3:10: Type 'string'" }).waitFor();
      toPage!({ type: "event", id: listener.id, handler: listener.handler, event: "gateway://type-check", payload: { ok: true, checked: 2, problems: [] } });
      await banner.waitFor({ state: "detached" });
    } finally {
      await fromEvent.close();
    }
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
      // Its manifest.json says nothing of the server's files (nor of an editor).
      const manifest = await request(`${serve.url}/__gateway/manifest.json`, { method: "GET" });
      expect(manifest.status).toBe(200);
      expect(manifest.json().commands.greet).toEqual({ body: expect.anything(), returns: expect.anything(), errors: null, timeout: 30000 });
      expect(manifest.json()).not.toHaveProperty("openInEditor");
      expect(manifest.text).not.toContain("handlers/greet.ts");
      expect(manifest.text).not.toContain(ROOT.replace(/\/$/, ""));
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
      // Under dev, manifest.json says where each handler is.
      const manifest = (await request(`${dev.url}/__gateway/manifest.json`, { method: "GET" })).json();
      expect(manifest.commands.greet.handler).toEqual({ file: "handlers/greet.ts", export: "default", line: 3, path: join(ROOT, "handlers/greet.ts") });
      expect(manifest.openInEditor).toBeNull();
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
  test("the console pages ran without errors, and their policy refused nothing they do", () => {
    expect(pageErrors).toEqual([]);
    expect(policyViolations).toEqual([]);
  });
});
