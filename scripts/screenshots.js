#!/usr/bin/env node
// The README's pictures of the dev console, taken in headless Chromium (Debian's /usr/bin/chromium,
// or $CHROMIUM_PATH) from the example app served by the compiled gateway under dev:
//   docs/console-invoke.png   greet invoked from its generated form, the answer and the log line
//   docs/console-channel.png  download streaming its progress Channel
//   docs/console-error.png    chat-message emitted and heard back, then a broken edit's banner
// Run `node scripts/build.js` first. The app is a temporary copy: the broken edit never touches
// the repo's files.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { createGateway } from "../dist/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const docs = join(root, "docs");
const app = mkdtempSync(join(tmpdir(), "gw-screenshots-"));
for (const entry of ["gateway.yaml", "handlers", "schemas"]) cpSync(join(root, entry), join(app, entry), { recursive: true });

const gw = await createGateway({ config: join(app, "gateway.yaml"), watch: true, env: {}, logLevel: "silent" });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  await gw.watching;
  const { url } = await gw.listen({ port: 0 });
  const page = await browser.newPage({ viewport: { width: 1360, height: 820 } });
  await page.goto(`${url}/__gateway/`);
  await page.waitForSelector("[data-item='command:greet']");
  const invoke = () => page.click("button:has-text('Invoke')");
  const shot = async (name) => {
    await page.evaluate(() => document.activeElement?.blur?.());
    await page.screenshot({ path: join(docs, name) });
    console.log(`screenshots: docs/${name}`);
  };

  await page.click("[data-item='command:greet']");
  await page.fill("[name=name]", "Ada");
  await invoke();
  await page.locator("[data-outcome=ok]").waitFor();
  await page.locator(".log li[data-kind=invocation]", { hasText: "greet" }).waitFor();
  await shot("console-invoke.png");

  await page.click("[data-item='command:download']");
  await page.fill("[name=steps]", "10");
  await invoke();
  await page.locator("[data-outcome=ok]").waitFor({ timeout: 10_000 });
  await shot("console-channel.png");

  await page.click("[data-item='event:chat-message']");
  await page.fill("[name=from]", "console");
  await page.fill("[name=text]", "hello from the dev console");
  await page.click("button:has-text('Emit')");
  await page.locator(".log li[data-kind=event]", { hasText: "hello from the dev console" }).waitFor();
  const greet = join(app, "handlers", "greet.ts");
  writeFileSync(greet, `${readFileSync(greet, "utf8")}\nexport const broken = ;\n`);
  await page.locator(".banner .where").waitFor({ timeout: 10_000 });
  await shot("console-error.png");
} finally {
  await browser.close();
  await gw.close();
  rmSync(app, { recursive: true, force: true });
}
