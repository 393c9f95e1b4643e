// Calls per second from a real Chromium page, for npm run bench: the gateway's `invoke` over the
// page's WebSocket (tauri.js's default) and over HTTP (?transport=http), against Fastify 5 with
// `fetch` and a raw `ws` RPC (the ceiling), each server in its own process, at concurrency 1, 6
// and 64, in alternating rounds. Chromium is driven over a bare DevTools pipe
// (--remote-debugging-pipe) with no network domain enabled: Playwright watches every page's
// network traffic, which halves fetch throughput. Each contender's tab is brought to the front
// for its rounds (see DevTools.inFront). Besides rates and p99, each figure shows the CPU time per
// call spent in the server's process and in Chromium's (all its processes), read from /proc.
//
// Knobs: BENCH_BROWSER_ROUNDS (7), BENCH_BROWSER_MS (1000 per round), BENCH_BROWSER_CONCURRENCY
// ("1,6,64"), and BENCH_BROWSER_B="NAME=value ...", which adds a second gateway started with
// those environment variables to the same rounds (an A/B test of a change behind a variable).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { median, type Figure } from "./measure.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROUNDS = Number(process.env.BENCH_BROWSER_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_BROWSER_MS ?? 1000);
const CONCURRENCY = (process.env.BENCH_BROWSER_CONCURRENCY ?? "1,6,64").split(",").map(Number);

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

  /** Open `url` in a new tab; resolves once the bench script is ready. */
  async open(url: string): Promise<BenchPage> {
    const { targetId } = await this.send("Target.createTarget", { url });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    for (let i = 0; i < 200; i++) {
      if (await this.evaluate(sessionId, "typeof window.runBench === 'function'").catch(() => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.evaluate(sessionId, "window.benchReady()");
    return { targetId, sessionId };
  }

  /**
   * Run `expression` in the page with its tab in front. A tab behind another is hidden, and
   * Chromium gives a hidden page's work a lower priority: every contender is measured in front,
   * and the others, hidden, cost nothing meanwhile (visible pages draw frames even when still).
   */
  async inFront(page: BenchPage, expression: string): Promise<any> {
    await this.send("Target.activateTarget", { targetId: page.targetId });
    return this.evaluate(page.sessionId, expression);
  }
}

interface BenchPage {
  targetId: string;
  sessionId: string;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** The machine's CPU time counters so far: all of it, and what the hypervisor took (steal). */
function machineTicks(): { total: number; steal: number } {
  // cpu  user nice system idle iowait irq softirq steal ...
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
}

/** CPU time (user + system, ms) that each root and every process below it have used so far (one pass over /proc). */
function cpuMsOfTrees(roots: number[]): number[] {
  const parentOf = new Map<number, number>();
  const ticksOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command's closing parenthesis: state ppid ... utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    parentOf.set(Number(entry), Number(fields[1]));
    ticksOf.set(Number(entry), Number(fields[11]) + Number(fields[12]));
  }
  const ticks = roots.map(() => 0);
  for (const [pid, own] of ticksOf) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parentOf.get(p)) {
      const at = roots.indexOf(p);
      if (at !== -1) {
        ticks[at]! += own;
        break;
      }
    }
  }
  return ticks.map((t) => (t * 1000) / TICKS_PER_SECOND);
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
    // One process per peer (tsx's CLI would run it in a child that outlives a SIGKILL of the CLI).
    const peerArgs = ["--import", "tsx", join(ROOT, "bench", "browser-peers.ts")];
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
    const contenders: Record<string, BenchPage> = {
      "gateway invoke (WebSocket)": await devtools.open(`${gateway.url}/bench.html?mode=gateway`),
      "gateway invoke (HTTP)": await devtools.open(`${gateway.url}/bench.html?mode=gateway-http`),
      "Fastify 5 + fetch": await devtools.open(`${fastify.url}/bench.html?mode=fetch`),
      "raw ws RPC (ceiling)": await devtools.open(`${raw.url}/bench.html?mode=raw`),
    };
    const serverOf: Record<string, number> = {
      "gateway invoke (WebSocket)": gateway.child.pid!,
      "gateway invoke (HTTP)": gateway.child.pid!,
      "Fastify 5 + fetch": fastify.child.pid!,
      "raw ws RPC (ceiling)": raw.child.pid!,
    };
    if (process.env.BENCH_BROWSER_B) {
      // An A/B experiment: a second gateway with these environment variables, in the same rounds.
      const env = Object.fromEntries(process.env.BENCH_BROWSER_B.split(" ").map((pair) => pair.split("=") as [string, string]));
      const b = await startServer([join(ROOT, "bin", "gateway.js"), "serve", "--port", "0"], app, env);
      children.push(b.child);
      contenders[`gateway B (${process.env.BENCH_BROWSER_B})`] = await devtools.open(`${b.url}/bench.html?mode=gateway`);
      serverOf[`gateway B (${process.env.BENCH_BROWSER_B})`] = b.child.pid!;
    }
    const names = Object.keys(contenders);
    // Warm up every page (JIT, connections) before measuring.
    for (const name of names) await devtools.inFront(contenders[name]!, "window.runBench(6, 500)");

    const figures: Figure[] = [];
    console.log(`  Chromium ${CHROMIUM} over a DevTools pipe; ${ROUNDS} alternating rounds of ${ROUND_MS} ms per contender and concurrency`);
    for (const concurrency of CONCURRENCY) {
      const rates = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<string, number[]>;
      const p99s = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<string, number[]>;
      // CPU per call, where it is spent: the server's process, and Chromium's (all its processes).
      const cpu = Object.fromEntries(names.map((n) => [n, { server: 0, chromium: 0, calls: 0 }])) as Record<string, { server: number; chromium: number; calls: number }>;
      // On a virtual machine, time the hypervisor takes away shows up as latency spikes.
      const ticksBefore = machineTicks();
      for (let round = 0; round < ROUNDS; round++) {
        for (const name of round % 2 === 0 ? names : [...names].reverse()) {
          const [server, chromium] = cpuMsOfTrees([serverOf[name]!, chrome.pid!]);
          const result = (await devtools.inFront(contenders[name]!, `window.runBench(${concurrency}, ${ROUND_MS})`)) as { rate: number; p99: number; calls: number };
          const [serverAfter, chromiumAfter] = cpuMsOfTrees([serverOf[name]!, chrome.pid!]);
          cpu[name].server += serverAfter! - server!;
          cpu[name].chromium += chromiumAfter! - chromium!;
          cpu[name].calls += result.calls;
          rates[name].push(result.rate);
          p99s[name].push(result.p99);
        }
      }
      const ticksAfter = machineTicks();
      const stolen = (100 * (ticksAfter.steal - ticksBefore.steal)) / Math.max(1, ticksAfter.total - ticksBefore.total);
      for (const name of names) {
        const perCall = (ms: number) => ((ms * 1000) / cpu[name].calls).toFixed(0);
        figures.push({
          name: `browser c=${concurrency}: ${name}`,
          value: median(rates[name]!),
          unit: `calls/s (p99 ${median(p99s[name]!).toFixed(2)} ms; CPU/call µs: server ${perCall(cpu[name].server)}, Chromium ${perCall(cpu[name].chromium)})`,
        });
      }
      figures.push({ name: `browser c=${concurrency}: CPU time taken by the hypervisor (steal)`, value: stolen, unit: "%" });
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
        // The machine's own tail (scheduling, a hypervisor's steal) is in the ceiling's p99 too.
        figures.push({ name: "browser c=1: p99 gateway (WebSocket) / raw ws ceiling's", value: p99 / median(p99s["raw ws RPC (ceiling)"]!), unit: "x" });
      }
    }
    return figures;
  } finally {
    // Chromium writes to its profile until it has exited: wait before removing it.
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGKILL"))),
      ),
    );
    rmSync(app, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}
