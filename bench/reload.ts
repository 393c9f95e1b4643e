// Hot reload figures for npm run bench:
// - latency from a file write to the first answer from the new code, under `gateway dev`,
//   against restarting the whole process under `tsx watch` on the same app, in the same run
//   (with BENCH_BASELINE=<another checkout>, its `gateway dev` too, edits in turn with this one's);
// - memory over 500 reloads of a handler that holds 20k objects (bench/reload-memory.ts, run
//   in its own process with --expose-gc).
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request, Agent } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterOverBefore, gatewaySides, inTurn, median, percentile, type Figure } from "./measure.ts";
import { freePort } from "../tests/helpers/ports.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GATEWAY_EDITS = Number(process.env.BENCH_RELOAD_EDITS ?? 50);
const TSX_EDITS = Number(process.env.BENCH_TSX_EDITS ?? 20);

/** A copy of the example app with one more command whose answer tells which edit it runs. */
function benchApp(): string {
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, ".tmp", "reload-bench-"));
  for (const part of ["gateway.yaml", "handlers", "schemas"]) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  writeVersion(dir, 0);
  return dir;
}

function writeVersion(dir: string, version: number): void {
  writeFileSync(join(dir, "handlers", "edited.ts"), `import type { Invoke } from "ipc-gateway";\nexport default (_: Invoke) => ({ version: ${version} });\n`);
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** The version `cmd`'s running code answers with, or undefined while nothing answers (a restart). */
function askVersion(port: number, cmd = "edited", body = "{}"): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: `/ipc/${cmd}`, method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c));
      res.on("end", () => {
        try {
          resolve((JSON.parse(text) as { version?: number }).version);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on("error", () => resolve(undefined));
    req.end(body);
  });
}

/** Poll `cmd` until its code answers `version`; milliseconds since `started` (when the edit was written). */
export async function untilVersion(port: number, version: number, started: number, cmd?: string, body?: string): Promise<number> {
  for (;;) {
    if ((await askVersion(port, cmd, body)) === version) return performance.now() - started;
    if (performance.now() - started > 30_000) throw new Error(`edit ${version} never went live`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Write edit `version`, then poll until the new code answers; milliseconds from the write. */
async function timeEdit(dir: string, port: number, version: number): Promise<number> {
  const started = performance.now();
  writeVersion(dir, version);
  return untilVersion(port, version, started);
}

function start(command: string, args: string[], cwd: string): ChildProcess {
  const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GATEWAY_TOKEN: "", NODE_OPTIONS: "" } });
  // Read what it logs (gateway dev logs every invocation): a pipe nobody reads fills up, and a
  // process writing its log to it then waits forever.
  child.stderr!.resume();
  return child;
}

function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c;
      const match = /gateway listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code} before listening: ${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts a server of the app in `dir` that reloads it on edits; says its port on stdout. */
type Launch = (dir: string, config: string) => Promise<ChildProcess>;

const gatewayDev =
  (bin: string): Launch =>
  async (dir, config) =>
    start(process.execPath, [bin, "dev", "--config", config, "--port", "0"], dir);

const tsxWatch: Launch = async (dir, config) =>
  start(join(ROOT, "node_modules/.bin/tsx"), ["watch", "--clear-screen=false", "--include", join(dir, "handlers"), "--include", join(dir, "schemas"), "--include", config, join(ROOT, "bin/gateway.js"), "serve", "--config", config, "--port", String(await freePort())], dir);

/** Edit latencies of each contender (one list each), every one on a copy of the app of its own, their edits in turn. */
async function latencies(launches: Launch[], edits: number): Promise<number[][]> {
  const dirs = launches.map(() => benchApp());
  const children: ChildProcess[] = [];
  try {
    for (const [i, launch] of launches.entries()) children.push(await launch(dirs[i]!, join(dirs[i]!, "gateway.yaml")));
    const ports = await Promise.all(children.map(listeningPort));
    await new Promise((r) => setTimeout(r, 500)); // let the watchers settle
    const times = launches.map(() => [] as number[]);
    for (let version = 1; version <= edits; version++) {
      for (const i of inTurn(version - 1, [...launches.keys()])) {
        times[i]!.push(await timeEdit(dirs[i]!, ports[i]!, version));
        await new Promise((r) => setTimeout(r, 150)); // separate the edits
      }
    }
    return times;
  } finally {
    for (const child of children) await stop(child);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

interface MemoryReport {
  samples: { reloads: number; rssMB: number; heapMB: number }[];
  loadMs: number[];
}

function memory(): Promise<MemoryReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", join(ROOT, "bench/reload-memory.ts")], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as MemoryReport) : reject(new Error(`memory bench exited with ${code}`))));
  });
}

export async function benchReload(): Promise<Figure[]> {
  const sides = gatewaySides(ROOT);
  const gateways = await latencies(sides.map((side) => gatewayDev(side.bin)), GATEWAY_EDITS);
  const restart = (await latencies([tsxWatch], TSX_EDITS))[0]!;
  const gateway = gateways.at(-1)!; // this checkout's
  const mem = await memory();
  const at = (n: number) => mem.samples.find((s) => s.reloads === n)!;
  const growth = at(500).rssMB - at(0).rssMB;
  const climb = at(500).rssMB - at(100).rssMB;
  const speedup = median(restart) / median(gateway);
  console.log(`  gateway dev: ${GATEWAY_EDITS} edits${sides.length > 1 ? ` each, before (${sides[0]!.bin}) in turn with after (this checkout)` : ""}; tsx watch: ${TSX_EDITS} restarts (each restart reloads the whole app)`);
  console.log(`  memory (RSS MB after GC) by reloads: ${mem.samples.map((s) => `${s.reloads}: ${s.rssMB.toFixed(0)}`).join(", ")}`);
  console.log(`  memory (heap MB after GC) by reloads: ${mem.samples.map((s) => `${s.reloads}: ${s.heapMB.toFixed(1)}`).join(", ")}`);
  return [
    ...sides.flatMap(({ tag }, s) => [
      { name: `reload${tag}: gateway dev, write -> new answer, median`, value: median(gateways[s]!), unit: "ms", target: "<= 100 ms", pass: median(gateways[s]!) <= 100 },
      { name: `reload${tag}: gateway dev, write -> new answer, p95`, value: percentile(gateways[s]!, 95), unit: "ms", target: "<= 250 ms", pass: percentile(gateways[s]!, 95) <= 250 },
    ]),
    ...afterOverBefore("reload: gateway dev median", gateways.map(median)),
    ...afterOverBefore("reload: gateway dev p95", gateways.map((g) => percentile(g, 95))),
    { name: "reload: tsx watch restart, write -> new answer, median", value: median(restart), unit: "ms" },
    { name: "reload: tsx watch restart, write -> new answer, p95", value: percentile(restart, 95), unit: "ms" },
    { name: "reload: tsx watch median / gateway dev median", value: speedup, unit: "ratio", target: ">= 5x faster", pass: speedup >= 5 },
    { name: "reload: rebuild after a handler edit (compile, evaluate, swap), median", value: median(mem.loadMs), unit: "ms" },
    { name: "memory: RSS growth over 500 reloads", value: growth, unit: "MB", target: "<= 50 MB", pass: growth <= 50 },
    { name: "memory: RSS change from reload 100 to 500", value: climb, unit: "MB", target: "no steady climb (<= 10 MB)", pass: climb <= 10 },
  ];
}
