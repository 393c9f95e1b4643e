// Calls per second from a real Chromium page, for npm run bench: the gateway's `invoke` over the
// page's WebSocket (tauri.js's default) and over HTTP (?transport=http), against Fastify 5 with
// `fetch` and a raw `ws` RPC (the ceiling), each server in its own process, at concurrency 1, 6
// and 64, in alternating rounds. Chromium is driven over a bare DevTools pipe
// (--remote-debugging-pipe) with no network domain enabled: Playwright watches every page's
// network traffic, which halves fetch throughput.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { median, type Figure } from "./measure.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROUNDS = Number(process.env.BENCH_BROWSER_ROUNDS ?? 3);
const ROUND_MS = Number(process.env.BENCH_BROWSER_MS ?? 1500);
const CONCURRENCY = [1, 6, 64];

const PAGE_HTML = `<!doctype html><html><head>
<script>
  var q = new URLSearchParams(location.search);
  if (q.get("mode") === "gateway" || q.get("mode") === "gateway-http")
    document.write('<script src="/__gateway/tauri.js?window=main' + (q.get("mode") === "gateway-http" ? "&transport=http" : "") + '"><\\/script>');
</script>
<script src="/bench.js"></script></head><body>bench</body></html>`;

const MANIFEST = `version: 1
server:
  static: web
commands:
  greet:
    handler: handlers/greet.ts
    body: { type: object, properties: { name: { type: string, minLength: 1, maxLength: 100 } }, required: [name], additionalProperties: false }
    returns: { type: object, properties: { message: { type: string } }, required: [message] }
`;

const HANDLER = 'import type { Invoke } from "ipc-gateway";\nexport default ({ body }: Invoke<{ name: string }>) => ({ message: "Hello, " + body.name + "!" });\n';

/** A DevTools session over Chromium's pipe (fd 3 in, fd 4 out; messages end with \\0). */
class DevTools {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private buffered = "";

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.on("data", (chunk: Buffer) => {
      this.buffered += chunk.toString();
      let end: number;
      while ((end = this.buffered.indexOf("\0")) !== -1) {
        const message = JSON.parse(this.buffered.slice(0, end)) as { id?: number; result?: unknown; error?: { message: string } };
        this.buffered = this.buffered.slice(end + 1);
        const waiter = message.id === undefined ? undefined : this.waiting.get(message.id);
        if (!waiter) continue;
        this.waiting.delete(message.id!);
        if (message.error) waiter.reject(new Error(message.error.message));
        else waiter.resolve(message.result);
      }
    });
  }

  send(method: string, params: object = {}, sessionId?: string): Promise<any> {
    const id = this.nextId++;
    this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  async evaluate(sessionId: string, expression: string): Promise<any> {
    const result = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
    if (result.exceptionDetails) throw new Error(`in the page: ${JSON.stringify(result.exceptionDetails)}`);
    return result.result.value;
  }

  /** Open `url` in a new tab; resolves with its session once the bench script is ready. */
  async open(url: string): Promise<string> {
    const { targetId } = await this.send("Target.createTarget", { url });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    for (let i = 0; i < 200; i++) {
      if (await this.evaluate(sessionId, "typeof window.runBench === 'function'").catch(() => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.evaluate(sessionId, "window.benchReady()");
    return sessionId;
  }
}

function startServer(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "", ...env } });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c;
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (match) resolve({ child, url: match[1]! });
    });
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c));
    child.once("exit", (code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
  });
}

export async function benchBrowser(): Promise<Figure[]> {
  const script = (
    await build({ entryPoints: [join(ROOT, "bench", "browser-page.ts")], bundle: true, format: "iife", platform: "browser", target: "chrome120", write: false, logLevel: "silent" })
  ).outputFiles[0]!.text;
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const app = mkdtempSync(join(ROOT, ".tmp", "browser-bench-"));
  mkdirSync(join(app, "handlers"));
  mkdirSync(join(app, "web"));
  writeFileSync(join(app, "gateway.yaml"), MANIFEST);
  writeFileSync(join(app, "handlers", "greet.ts"), HANDLER);
  writeFileSync(join(app, "web", "bench.html"), PAGE_HTML);
  writeFileSync(join(app, "web", "bench.js"), script);
  const profile = mkdtempSync(join(tmpdir(), "bench-chromium-"));
  const children: ChildProcess[] = [];
  try {
    const gateway = await startServer([join(ROOT, "bin", "gateway.js"), "serve", "--port", "0"], app);
    const peerArgs = [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), join(ROOT, "bench", "browser-peers.ts")];
    const pageEnv = { BENCH_PAGE_HTML: PAGE_HTML, BENCH_PAGE_SCRIPT: script };
    const fastify = await startServer([...peerArgs, "fastify"], ROOT, pageEnv);
    const raw = await startServer([...peerArgs, "raw"], ROOT, pageEnv);
    children.push(gateway.child, fastify.child, raw.child);

    const chrome = spawn(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-pipe",
        `--user-data-dir=${profile}`,
        "about:blank",
      ],
      { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] },
    );
    children.push(chrome);
    const devtools = new DevTools(chrome.stdio[3] as Writable, chrome.stdio[4] as Readable);
    const contenders = {
      "gateway invoke (WebSocket)": await devtools.open(`${gateway.url}/bench.html?mode=gateway`),
      "gateway invoke (HTTP)": await devtools.open(`${gateway.url}/bench.html?mode=gateway-http`),
      "Fastify 5 + fetch": await devtools.open(`${fastify.url}/bench.html?mode=fetch`),
      "raw ws RPC (ceiling)": await devtools.open(`${raw.url}/bench.html?mode=raw`),
    };
    const names = Object.keys(contenders) as (keyof typeof contenders)[];
    // Warm up every page (JIT, connections) before measuring.
    for (const name of names) await devtools.evaluate(contenders[name], "window.runBench(6, 500)");

    const figures: Figure[] = [];
    console.log(`  Chromium ${CHROMIUM} over a DevTools pipe; ${ROUNDS} alternating rounds of ${ROUND_MS} ms per contender and concurrency`);
    for (const concurrency of CONCURRENCY) {
      const rates = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<(typeof names)[number], number[]>;
      const p99s = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<(typeof names)[number], number[]>;
      for (let round = 0; round < ROUNDS; round++) {
        for (const name of round % 2 === 0 ? names : [...names].reverse()) {
          const result = (await devtools.evaluate(contenders[name], `window.runBench(${concurrency}, ${ROUND_MS})`)) as { rate: number; p99: number };
          rates[name].push(result.rate);
          p99s[name].push(result.p99);
        }
      }
      for (const name of names) {
        figures.push({ name: `browser c=${concurrency}: ${name}`, value: median(rates[name]), unit: `calls/s (p99 ${median(p99s[name]).toFixed(2)} ms)` });
      }
      const ws = median(rates["gateway invoke (WebSocket)"]);
      const fetchRate = median(rates["Fastify 5 + fetch"]);
      const target = concurrency === 1 ? 5 : concurrency === 64 ? 10 : undefined;
      figures.push({
        name: `browser c=${concurrency}: gateway (WebSocket) / Fastify + fetch`,
        value: ws / fetchRate,
        unit: "x",
        ...(target ? { target: `>= ${target}`, pass: ws / fetchRate >= target } : {}),
      });
      figures.push({
        name: `browser c=${concurrency}: gateway (WebSocket) / raw ws ceiling`,
        value: ws / median(rates["raw ws RPC (ceiling)"]),
        unit: "x",
        target: ">= 0.8",
        pass: ws / median(rates["raw ws RPC (ceiling)"]) >= 0.8,
      });
      if (concurrency === 1) {
        const p99 = median(p99s["gateway invoke (WebSocket)"]);
        figures.push({ name: "browser c=1: gateway (WebSocket) p99 latency", value: p99, unit: "ms", target: "< 1", pass: p99 < 1 });
      }
    }
    return figures;
  } finally {
    // Chromium writes to its profile until it has exited: wait before removing it.
    await Promise.all(
      children.map((child) => (child.exitCode !== null ? undefined : new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGKILL"))))),
    );
    rmSync(app, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}
