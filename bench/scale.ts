// How start and reload scale with the app's size, for npm run bench: apps of N commands (each
// with its own handler and two schema files) for N = 10, 100, 1,000. For each: `gateway dev`
// from spawn to its listening line with an empty cache (cold) and with the cache a previous start
// left (warm), RSS once listening, and the time from editing one handler to the first answer from
// the new code; `gateway check` from spawn to exit, cold, warm, and warm after `gateway types` (which
// builds from the manifest alone); beside Fastify 5 registering the same N routes with the same
// schema files.
// BENCH_BASELINE=<another checkout>: its gateway measured too, in turn with this one (before / after).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterOverBefore, gatewaySides, inTurn, median, type Figure } from "./measure.ts";
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

/** Milliseconds from spawn to exit (which must be 0). */
function runToExit(args: string[], cwd: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(" ")} exited with ${code}: ${err}`))));
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

/** Where the gateway keeps this app's disk cache (removed for a cold start). */
const cacheOf = (dir: string) => defaultCacheDir(join(dir, "gateway.yaml"))!;
const devArgs = (bin: string) => [bin, "dev", "--port", "0", "--log-level", "warn"];

export async function benchScale(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const sides = gatewaySides(ROOT);
  const reloads = sides.map(() => new Map<number, number>());
  console.log(`  apps of N commands (handler + 2 schema files each); ${STARTS} starts each (median), ${EDITS} one-handler edits`);
  if (sides.length > 1) console.log(`  before: ${sides[0]!.bin}, in turn with this checkout, each with apps of its own`);
  for (const n of SIZES) {
    // An app per side: the cache folder is keyed by the manifest's path, and checkouts of the same
    // version would each find the other's entries in a format it may not read.
    const dirs = sides.map(() => makeApp(n));
    try {
      const fastify = writeFastifyServer(dirs[0]!, n);
      const cold = sides.map(() => [] as number[]);
      const warm = sides.map(() => [] as number[]);
      const checkCold = sides.map(() => [] as number[]);
      const checkWarm = sides.map(() => [] as number[]);
      const checkAfterTypes = sides.map(() => [] as number[]);
      const rss = sides.map(() => 0);
      const fastifyStarts: number[] = [];
      let fastifyRss = 0;
      for (let round = 0; round < STARTS; round++) {
        for (const s of inTurn(round, [...sides.keys()])) {
          rmSync(cacheOf(dirs[s]!), { recursive: true, force: true });
          const c = await startProcess(devArgs(sides[s]!.bin), dirs[s]!);
          cold[s]!.push(c.ms);
          await stop(c.child);
          const w = await startProcess(devArgs(sides[s]!.bin), dirs[s]!);
          warm[s]!.push(w.ms);
          rss[s] = rssMiB(w.child);
          await stop(w.child);
          rmSync(cacheOf(dirs[s]!), { recursive: true, force: true });
          checkCold[s]!.push(await runToExit([sides[s]!.bin, "check"], dirs[s]!));
          checkWarm[s]!.push(await runToExit([sides[s]!.bin, "check"], dirs[s]!));
          await runToExit([sides[s]!.bin, "types", "--out", "gateway-types.ts"], dirs[s]!);
          checkAfterTypes[s]!.push(await runToExit([sides[s]!.bin, "check"], dirs[s]!));
        }
        const f = await startProcess([fastify], dirs[0]!);
        fastifyStarts.push(f.ms);
        fastifyRss = rssMiB(f.child);
        await stop(f.child);
      }
      // Every side's gateway running at once (an idle one costs nothing), the edits in turn.
      const running: Started[] = [];
      for (const [s, side] of sides.entries()) running.push(await startProcess(devArgs(side.bin), dirs[s]!));
      await new Promise((r) => setTimeout(r, 300));
      const edits = sides.map(() => [] as number[]);
      for (let v = 1; v <= EDITS; v++) {
        for (const s of inTurn(v - 1, [...sides.keys()])) edits[s]!.push(await timeEdit(dirs[s]!, running[s]!.port, v % n, v));
      }
      for (const r of running) await stop(r.child);
      for (const [s, { tag }] of sides.entries()) {
        reloads[s]!.set(n, median(edits[s]!));
        const ratio = median(warm[s]!) / median(fastifyStarts);
        figures.push(
          { name: `scale N=${n}${tag}: gateway dev cold start (empty cache), spawn to listening`, value: median(cold[s]!), unit: "ms" },
          { name: `scale N=${n}${tag}: gateway dev warm start`, value: median(warm[s]!), unit: "ms" },
          { name: `scale N=${n}${tag}: gateway warm / Fastify start`, value: ratio, unit: "x", ...(n === 1000 ? { target: "<= 0.5", pass: ratio <= 0.5 } : {}) },
          { name: `scale N=${n}${tag}: gateway check cold (empty cache), spawn to exit`, value: median(checkCold[s]!), unit: "ms" },
          { name: `scale N=${n}${tag}: gateway check warm`, value: median(checkWarm[s]!), unit: "ms" },
          { name: `scale N=${n}${tag}: gateway check warm, after gateway types`, value: median(checkAfterTypes[s]!), unit: "ms" },
          { name: `scale N=${n}${tag}: reload after one handler edit, write to new answer (median)`, value: median(edits[s]!), unit: "ms" },
          { name: `scale N=${n}${tag}: RSS listening (gateway / Fastify)`, value: rss[s]!, unit: `MiB / ${fastifyRss.toFixed(0)} MiB` },
        );
      }
      figures.push(
        { name: `scale N=${n}: Fastify 5 start, same routes and schemas`, value: median(fastifyStarts), unit: "ms" },
        ...afterOverBefore(`scale N=${n}: cold start`, cold.map(median)),
        ...afterOverBefore(`scale N=${n}: warm start`, warm.map(median)),
        ...afterOverBefore(`scale N=${n}: gateway check warm`, checkWarm.map(median)),
        ...afterOverBefore(`scale N=${n}: gateway check after gateway types`, checkAfterTypes.map(median)),
        ...afterOverBefore(`scale N=${n}: reload after one edit`, edits.map(median)),
      );
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [s, { tag }] of sides.entries()) {
    if (!reloads[s]!.has(10) || !reloads[s]!.has(1000)) continue;
    const ratio = reloads[s]!.get(1000)! / reloads[s]!.get(10)!;
    figures.push({ name: `scale${tag}: reload at N=1000 / reload at N=10`, value: ratio, unit: "x", target: "<= 1.5", pass: ratio <= 1.5 });
  }
  return figures;
}
