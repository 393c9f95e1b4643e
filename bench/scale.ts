// How start and reload scale with the app's size, for npm run bench: apps of N commands (each
// with its own handler and two schema files) for N = 10, 100, 1,000. For each: `gateway dev`
// from spawn to its listening line with an empty cache (cold) and with the cache a previous start
// left (warm), RSS once listening, and the time from editing one handler to the first answer from
// the new code; beside Fastify 5 registering the same N routes with the same schema files.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, type Figure } from "./measure.ts";
import { untilVersion } from "./reload.ts";
import { defaultCacheDir } from "../gateway/config/disk-cache.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SIZES = (process.env.BENCH_SCALE_SIZES ?? "10,100,1000").split(",").map(Number);
const STARTS = Number(process.env.BENCH_SCALE_STARTS ?? 3);
const EDITS = Number(process.env.BENCH_SCALE_EDITS ?? 10);

/** An app of `n` commands, c0 ... c(n-1), in a folder of its own. */
function makeApp(n: number): string {
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, ".tmp", `scale-${n}-`));
  mkdirSync(join(dir, "handlers"));
  mkdirSync(join(dir, "schemas"));
  let manifest = "version: 1\ncommands:\n";
  for (let i = 0; i < n; i++) {
    manifest += `  c${i}:\n    handler: handlers/c${i}.ts\n    body: schemas/c${i}.body.json\n    returns: schemas/c${i}.returns.json\n`;
    writeHandler(dir, i, 0);
    writeFileSync(join(dir, "schemas", `c${i}.body.json`), JSON.stringify(bodySchema(i)));
    writeFileSync(join(dir, "schemas", `c${i}.returns.json`), JSON.stringify(returnsSchema()));
  }
  writeFileSync(join(dir, "gateway.yaml"), manifest);
  return dir;
}

function bodySchema(i: number) {
  return { type: "object", properties: { name: { type: "string", minLength: 1, maxLength: 100 }, n: { type: "integer", minimum: i } }, required: ["name"], additionalProperties: false };
}

function returnsSchema() {
  return { type: "object", properties: { version: { type: "integer" }, message: { type: "string" } }, required: ["version", "message"] };
}

function writeHandler(dir: string, i: number, version: number): void {
  writeFileSync(
    join(dir, "handlers", `c${i}.ts`),
    `import type { Invoke } from "ipc-gateway";\n\nexport default function c${i}({ body }: Invoke<{ name: string }>) {\n  return { version: ${version}, message: "c${i} " + body.name };\n}\n`,
  );
}

/** Fastify 5 with the same routes and schema files, as a script of its own. */
function writeFastifyServer(dir: string, n: number): string {
  const file = join(dir, "fastify-server.mjs");
  writeFileSync(
    file,
    `import { readFileSync } from "node:fs";
import Fastify from ${JSON.stringify(join(ROOT, "node_modules", "fastify", "fastify.js"))};
const app = Fastify({ logger: false });
for (let i = 0; i < ${n}; i++) {
  const body = JSON.parse(readFileSync(new URL(\`./schemas/c\${i}.body.json\`, import.meta.url), "utf8"));
  const returns = JSON.parse(readFileSync(new URL(\`./schemas/c\${i}.returns.json\`, import.meta.url), "utf8"));
  app.post(\`/ipc/c\${i}\`, { schema: { body, response: { 200: returns } } }, async (request) => ({ version: 0, message: \`c\${i} \${request.body.name}\` }));
}
const url = await app.listen({ host: "127.0.0.1", port: 0 });
console.log("gateway listening on " + url);
`,
  );
  return file;
}

interface Started {
  child: ChildProcess;
  port: number;
  ms: number;
}

function startProcess(args: string[], cwd: string): Promise<Started> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c;
      const match = /gateway listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (match) resolve({ child, port: Number(match[1]), ms: performance.now() - started });
    });
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c));
    child.once("exit", (code) => reject(new Error(`exited with ${code} before listening: ${out}${err}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

function rssMiB(child: ChildProcess): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024;
}

/** Edit one handler; milliseconds from the write to the first answer from the new code. */
async function timeEdit(dir: string, port: number, i: number, version: number): Promise<number> {
  const started = performance.now();
  writeHandler(dir, i, version);
  return untilVersion(port, version, started, `c${i}`, '{"name":"x"}');
}

const GATEWAY_BIN = join(ROOT, "bin", "gateway.js");
/** Where the gateway keeps this app's disk cache (removed for a cold start). */
const cacheOf = (dir: string) => defaultCacheDir(join(dir, "gateway.yaml"))!;

export async function benchScale(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const reloads = new Map<number, number>();
  console.log(`  apps of N commands (handler + 2 schema files each); ${STARTS} starts each (median), ${EDITS} one-handler edits`);
  for (const n of SIZES) {
    const dir = makeApp(n);
    try {
      const fastify = writeFastifyServer(dir, n);
      const cold: number[] = [];
      const warm: number[] = [];
      const fastifyStarts: number[] = [];
      let rss = 0;
      let fastifyRss = 0;
      for (let round = 0; round < STARTS; round++) {
        rmSync(cacheOf(dir), { recursive: true, force: true });
        const c = await startProcess([GATEWAY_BIN, "dev", "--port", "0", "--log-level", "warn"], dir);
        cold.push(c.ms);
        await stop(c.child);
        const w = await startProcess([GATEWAY_BIN, "dev", "--port", "0", "--log-level", "warn"], dir);
        warm.push(w.ms);
        rss = rssMiB(w.child);
        await stop(w.child);
        const f = await startProcess([fastify], dir);
        fastifyStarts.push(f.ms);
        fastifyRss = rssMiB(f.child);
        await stop(f.child);
      }
      const running = await startProcess([GATEWAY_BIN, "dev", "--port", "0", "--log-level", "warn"], dir);
      await new Promise((r) => setTimeout(r, 300));
      const edits: number[] = [];
      for (let v = 1; v <= EDITS; v++) edits.push(await timeEdit(dir, running.port, v % n, v));
      await stop(running.child);
      reloads.set(n, median(edits));
      figures.push(
        { name: `scale N=${n}: gateway dev cold start (empty cache), spawn to listening`, value: median(cold), unit: "ms" },
        { name: `scale N=${n}: gateway dev warm start`, value: median(warm), unit: "ms" },
        { name: `scale N=${n}: Fastify 5 start, same routes and schemas`, value: median(fastifyStarts), unit: "ms" },
        { name: `scale N=${n}: gateway warm / Fastify start`, value: median(warm) / median(fastifyStarts), unit: "x", ...(n === 1000 ? { target: "<= 0.5", pass: median(warm) / median(fastifyStarts) <= 0.5 } : {}) },
        { name: `scale N=${n}: reload after one handler edit, write to new answer (median)`, value: median(edits), unit: "ms" },
        { name: `scale N=${n}: RSS listening (gateway / Fastify)`, value: rss, unit: `MiB / ${fastifyRss.toFixed(0)} MiB` },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (reloads.has(10) && reloads.has(1000)) {
    const ratio = reloads.get(1000)! / reloads.get(10)!;
    figures.push({ name: "scale: reload at N=1000 / reload at N=10", value: ratio, unit: "x", target: "<= 1.5", pass: ratio <= 1.5 });
  }
  return figures;
}
