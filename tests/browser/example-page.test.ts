// `npm start` shows a working app: the example page (web/, bundled by scripts/build-web.js)
// served by the gateway at /, driven by clicks in headless Chromium.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { createGateway, type Gateway } from "../../gateway/index.ts";
import { memoryLogger } from "../helpers/app.ts";
import { launchBrowser } from "../helpers/browser.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let gw: Gateway;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  execFileSync(process.execPath, ["scripts/build-web.js"], { cwd: ROOT });
  gw = await createGateway({ config: `${ROOT}gateway.yaml`, logger: memoryLogger(), env: { PORT: "0" } });
  const { url } = await gw.listen({ port: 0 });
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as any).__TAURI_INTERNALS__?.gateway?.page);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

const output = (id: string) => page.locator(`#${id}`);

test("greet with invoke and pyInvoke, and its rejection", async () => {
  await page.click("#greet");
  await page.waitForFunction(() => document.getElementById("greet-out")!.textContent!.includes("Hello, Ada!"));
  await page.fill("#greet-name", "nobody");
  await page.click("#greet-py");
  await page.waitForFunction(() => document.getElementById("greet-out")!.textContent === "nobody is not a name");
  expect(await output("greet-out").getAttribute("class")).toBe("error");
});

test("shout, reverse and the drop-in add; divide's InvokeError", async () => {
  await page.click("#shout");
  await page.waitForFunction(() => document.getElementById("shout-out")!.textContent === "HELLO");
  await page.click("#reverse");
  await page.waitForFunction(() => document.getElementById("reverse-out")!.textContent === "desserts");
  await page.click("#add");
  await page.waitForFunction(() => document.getElementById("math-out")!.textContent === "7");
  await page.click("#divide");
  await page.waitForFunction(() => document.getElementById("math-out")!.textContent!.includes("division-by-zero"));
});

test("download fills the progress bar from the channel", async () => {
  await page.click("#download");
  await page.waitForFunction(() => (document.getElementById("progress") as HTMLProgressElement).value === 100, undefined, { timeout: 10_000 });
  await page.waitForFunction(() => document.getElementById("download-out")!.textContent!.includes('"steps": 40'));
});

test("chat events go to every page and the backend; announcements come back", async () => {
  await page.click("#chat-send");
  await page.waitForFunction(() => document.getElementById("chat-log")!.textContent!.includes("hi there"));
  await page.click("#chat-history");
  await page.waitForFunction(() => document.getElementById("chat-out")!.textContent!.includes("hi there"));
  await page.click("#announce");
  await page.waitForFunction(() => document.getElementById("announcements")!.textContent === "announcement: the gateway says hello");
});
