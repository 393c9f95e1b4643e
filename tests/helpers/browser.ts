// Real pages in headless Chromium (Debian's /usr/bin/chromium through playwright-core), served
// from a second origin, loading the gateway's /__gateway/tauri.js and the real @tauri-apps/api.
import { build } from "esbuild";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { gatewayFor } from "./app.ts";
import type { Listening } from "../../gateway/index.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const ENTRY = fileURLToPath(new URL("../browser/page-entry.ts", import.meta.url));
let bundle: Promise<string> | undefined;

/** The test page's script: @tauri-apps/api and pyInvoke on window.api (built once per test file). */
export function pageBundle(): Promise<string> {
  bundle ??= build({ entryPoints: [ENTRY], bundle: true, format: "iife", platform: "browser", target: "chrome120", write: false, logLevel: "silent" }).then(
    (result) => result.outputFiles[0]!.text,
  );
  return bundle;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export interface PageServer {
  /** http://127.0.0.1:<port>: the origin to list in server.origins. */
  origin: string;
  port: number;
  /** Points pages at this gateway. */
  setGateway(url: string): void;
  close(): Promise<void>;
}

/**
 * A second origin serving /?window=<label>[&transport=http][&token=<credential>]: an HTML page
 * that loads the gateway's script, then the @tauri-apps/api bundle.
 */
export async function startPageServer(): Promise<PageServer> {
  const script = await pageBundle();
  let gateway = "";
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://page");
    if (url.pathname === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      return res.end(script);
    }
    if (url.pathname !== "/") {
      res.writeHead(404);
      return res.end();
    }
    const label = url.searchParams.get("window") ?? "main";
    // ?transport=http is passed on to tauri.js: invocations then all go over HTTP.
    const transport = url.searchParams.get("transport") === "http" ? "&transport=http" : "";
    // ?token= too: tauri.js sends it on the socket's URL and as Authorization over HTTP.
    const token = url.searchParams.get("token");
    const credential = token ? `&token=${encodeURIComponent(token)}` : "";
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><html><head>
<script src="${gateway}/__gateway/tauri.js?window=${encodeURIComponent(label)}${transport}${credential}"></script>
<script src="/app.js"></script></head><body><div id="out"></div></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    setGateway: (url) => void (gateway = url),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Open a page (the window label in its URL) and wait until @tauri-apps/api and the gateway's socket
 * are ready. A Browser opens it in a context of its own; a BrowserContext shares its cookies.
 */
export async function openPage(browser: Browser | BrowserContext, url: string): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url);
  await page.waitForFunction(() => (window as any).api !== undefined);
  await page.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.ready());
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  return page;
}

export interface BrowserApp {
  browser: Browser;
  pages: PageServer;
  gateway: Awaited<ReturnType<typeof gatewayFor>>;
  /** The gateway's HTTP server (a test may close it and listen again). */
  listening: Listening;
  url: string;
  /** The page of window "main", open and connected. */
  main: Page;
  close(): Promise<void>;
}

/**
 * A gateway over a temp app whose manifest allows the page server's origin, Chromium, and one
 * page (window "main") loaded from that second origin.
 */
export async function startBrowserApp(manifestFor: (pageOrigin: string) => string, files: Record<string, string>): Promise<BrowserApp> {
  const pages = await startPageServer();
  const gateway = await gatewayFor({ "gateway.yaml": manifestFor(pages.origin), ...files });
  const listening = await gateway.gw.listen({ port: 0 });
  const url = listening.url;
  pages.setGateway(url);
  const browser = await launchBrowser();
  const main = await openPage(browser, `${pages.origin}/?window=main`);
  return {
    browser,
    pages,
    gateway,
    listening,
    url,
    main,
    async close() {
      await browser.close();
      await gateway.close();
      await pages.close();
    },
  };
}
