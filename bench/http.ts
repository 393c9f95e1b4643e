// HTTP invocations per second and p99 latency of the gateway against Fastify 5, on the same
// validated route (POST /ipc/greet, the same schema files), driven by the same autocannon settings.
// Both servers run as child processes, so neither shares an event loop with the load generator.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
// @ts-expect-error -- autocannon ships no type declarations; the little used here is typed below.
import untypedAutocannon from "autocannon";
import { median, type Figure } from "./measure.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ROUTE = "/ipc/greet";
const BODY = JSON.stringify({ name: "Ada" });
const EXPECTED = JSON.stringify({ message: "Hello, Ada!" });

/**
 * The same load for both servers. On a small shared machine the capacity itself swings by +-30%
 * from one second to the next, so the servers take turns in many short rounds and the ratio is the
 * median of the ratios of neighbouring rounds (each pair ran under nearly the same conditions);
 * 10 x 2 x 2 s keeps the suite near 45 s.
 */
const LOAD = { connections: 50, pipelining: 1, durationS: 2, warmupS: 2, rounds: 10 };

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (options: {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
  connections: number;
  pipelining: number;
  duration: number;
}) => Promise<AutocannonResult>;
const autocannon = untypedAutocannon as Autocannon;

export interface Server {
  name: string;
  url: string;
  /** The server's process: its CPU time is read from /proc (see cpuNs). */
  pid: number;
  /** Resolves with the exit code, or the signal that ended the process. */
  stop(): Promise<Exit>;
}

type Exit = number | NodeJS.Signals | null;

interface Sample {
  rate: number;
  p99: number;
}

export async function benchHttp(): Promise<Figure[]> {
  console.log(
    `autocannon: ${LOAD.connections} connections, pipelining ${LOAD.pipelining}, ${LOAD.rounds} rounds x ${LOAD.durationS} s per server ` +
      `(alternating, after ${LOAD.warmupS} s warm-up), POST ${ROUTE} ${BODY}`,
  );
  // Both servers and autocannon share the machine's cores: other work running now skews the figures.
  console.log(`load average before: ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
  const started = await Promise.allSettled([startGateway(), startFastify()]);
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [gateway, fastify] = servers as [Server, Server];
    const samples = await measure([gateway, fastify]);
    for (const server of servers) {
      const mine = samples.get(server.name)!;
      console.log(`  ${server.name.padEnd(8)} req/s per round: ${mine.map((s) => Math.round(s.rate)).join(", ")}; p99 ms per round: ${mine.map((s) => s.p99).join(", ")}`);
    }
    const pairRatios = samples.get(gateway.name)!.map((g, i) => g.rate / samples.get(fastify.name)![i]!.rate);
    return figures(summarise(samples.get(gateway.name)!), summarise(samples.get(fastify.name)!), median(pairRatios));
  } finally {
    await Promise.all(servers.map(stopQuietly));
  }
}

function figures(gateway: Sample, fastify: Sample, rateRatio: number): Figure[] {
  return [
    { name: `http: gateway POST ${ROUTE} (median)`, value: gateway.rate, unit: "req/s" },
    { name: `http: fastify 5 POST ${ROUTE} (median)`, value: fastify.rate, unit: "req/s" },
    { name: "http: gateway / fastify req/s (median of paired rounds)", value: rateRatio, unit: "ratio", target: ">= 1.0", pass: rateRatio >= 1 },
    { name: "http: gateway p99 latency", value: gateway.p99, unit: "ms" },
    { name: "http: fastify 5 p99 latency", value: fastify.p99, unit: "ms" },
    // autocannon records latency in whole milliseconds, so equal p99s are common and count as met.
    { name: "http: gateway p99 / fastify p99", value: gateway.p99 / fastify.p99, unit: "ratio", target: "gateway p99 <= fastify p99", pass: gateway.p99 <= fastify.p99 },
  ];
}

/** Warms each server up, then alternates them over rounds so drift in machine load hits both alike. */
async function measure(servers: Server[]): Promise<Map<string, Sample[]>> {
  for (const server of servers) await checkRoute(server);
  for (const server of servers) await load(server, LOAD.warmupS);
  const samples = new Map(servers.map((s) => [s.name, [] as Sample[]]));
  for (let round = 0; round < LOAD.rounds; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) samples.get(server.name)!.push(await load(server, LOAD.durationS));
  }
  return samples;
}

function summarise(samples: Sample[]): Sample {
  return { rate: median(samples.map((s) => s.rate)), p99: median(samples.map((s) => s.p99)) };
}

/** One autocannon run; throws on any non-2xx, error or timeout, since a benchmark of errors is worthless. */
async function load(server: Server, durationS: number): Promise<Sample> {
  const result = await autocannon({
    url: server.url + ROUTE,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
    connections: LOAD.connections,
    pipelining: LOAD.pipelining,
    duration: durationS,
  });
  if (result.non2xx || result.errors || result.timeouts) {
    const codes = Object.entries(result.statusCodeStats).map(([code, { count }]) => `${code}: ${count}`).join(", ");
    throw new Error(
      `http bench: ${server.name} answered ${result.non2xx} non-2xx responses (${codes}), ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  return { rate: result.requests.average, p99: result.latency.p99 };
}

/**
 * Autocannon only counts status codes, so check once that both servers really answer the route
 * and really validate: a server that skipped validation would look fast for the wrong reason.
 */
async function checkRoute(server: Server): Promise<void> {
  const post = (body: string) => fetch(server.url + ROUTE, { method: "POST", headers: { "content-type": "application/json" }, body });
  const ok = await post(BODY);
  const text = await ok.text();
  if (ok.status !== 200 || JSON.stringify(JSON.parse(text)) !== EXPECTED) {
    throw new Error(`http bench: ${server.name} answered ${ok.status} ${text} to a valid greet, expected 200 ${EXPECTED}`);
  }
  const invalid = await post(JSON.stringify({ name: "" }));
  await invalid.arrayBuffer();
  if (invalid.status < 400 || invalid.status >= 500) {
    throw new Error(`http bench: ${server.name} answered ${invalid.status} to an invalid greet body, expected a 4xx: is validation off?`);
  }
}

/**
 * `gateway serve` on a manifest (default the example's), as a child process of its own;
 * `nodeArgs` go to node before the bin (an --import), `env` is added to the environment.
 */
export function startGateway(config = "gateway.yaml", name = "gateway", options: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<Server> {
  return startChild(name, [...(options.nodeArgs ?? []), "bin/gateway.js", "serve", "--port", "0", "--config", config], /^gateway listening on (http:\/\/\S+)$/, options.env);
}

function startFastify(): Promise<Server> {
  return startChild("fastify", ["--import", "tsx", "bench/fastify-server.ts"], /^listening on (http:\/\/\S+)$/);
}

/**
 * Where `taskset` exists and the machine has 2 cores or more, the servers run on core 1 and this
 * process (autocannon) on core 0. Unpinned, the same server measured 10% apart from one start to
 * the next on this 2-core machine (each process lands beside autocannon or not), more than the
 * differences the paired benches look for.
 */
const SERVER_CPU = 1;
const pinServers = availableParallelism() >= 2 && spawnSync("taskset", ["-cp", "0", String(process.pid)], { stdio: "ignore" }).status === 0;

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/** Spawns `node args` in the project root and resolves once it prints the line that names its URL. */
function startChild(name: string, args: string[], ready: RegExp, extraEnv: Record<string, string> = {}): Promise<Server> {
  // Without the token: gateway.yaml reads GATEWAY_TOKEN, and the bench sends none (nor does Fastify check one).
  const { GATEWAY_TOKEN: _token, ...env } = process.env;
  // Servers on one core and autocannon on the other (see pinServers): a process's figures then
  // do not depend on where the scheduler happened to put it.
  const command = pinServers ? ["taskset", "-c", String(SERVER_CPU), process.execPath, ...args] : [process.execPath, ...args];
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  // Should the bench itself die without reaching its finally, the server must not outlive it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  const stop = async () => {
    process.off("exit", killOnExit);
    return stopChild(child, exited);
  };

  return new Promise<Server>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return; // a later exit is the stop() we asked for, not a failure to start
      settled = true;
      clearTimeout(timer);
      void stop().then(() => reject(new Error(`http bench: ${name} ${why}${stderr ? `; stderr:\n${stderr}` : ""}`)));
    };
    const timer = setTimeout(() => fail(`printed no ready line within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.once("error", (error) => fail(`could not start: ${error.message}`));
    void exited.then((code) => fail(`exited (${code}) before it was ready`));
    // Keep reading stdout after the ready line too, so a chatty server never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const match = ready.exec(line);
      if (!match || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ name, url: match[1]!, pid: child.pid!, stop });
    });
  });
}

/** SIGTERM first so the server stops as it would in production; SIGKILL if it does not. */
async function stopChild(child: ChildProcess, exited: Promise<Exit>): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), STOP_TIMEOUT_MS)));
  const code = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (code !== "late") return code;
  child.kill("SIGKILL");
  return exited;
}

/** Stops a server without throwing, so a failed stop cannot hide the error that ended the bench. */
export async function stopQuietly(server: Server): Promise<void> {
  const exit = await server.stop().catch((error: Error) => error.message);
  if (exit !== 0) console.error(`http bench: warning: ${server.name} did not exit cleanly on SIGTERM (exit: ${exit})`);
}

/** One round of greetRound: requests per second, and the server's CPU time per request. */
export interface Round {
  rate: number;
  cpuUsPerCall: number;
}

/**
 * One round of POST /ipc/greet on `server` (greetRate's load), with the CPU time the server's
 * process spent per request: every thread's run time (Linux schedstat, in ns), before and after.
 * Unlike the rate, it does not depend on how the 2 cores were shared with autocannon or other work.
 */
export async function greetRound(server: Server, headers: Record<string, string> = {}, durationS = 2): Promise<Round> {
  const before = cpuNs(server.pid);
  const result = await autocannon({ url: server.url + ROUTE, method: "POST", headers: { "content-type": "application/json", ...headers }, body: BODY, connections: 50, pipelining: 1, duration: durationS });
  const spent = cpuNs(server.pid) - before;
  if (result.non2xx || result.errors) throw new Error(`bench: ${server.url} answered ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { rate: result.requests.average, cpuUsPerCall: spent / 1000 / result.requests.total };
}

/** Nanoseconds every thread of process `pid` has run (user and system), from /proc/<pid>/task/<tid>/schedstat. */
function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return total;
}

/**
 * Two contenders over alternating rounds (after one warm-up each), so that drift in the machine's
 * load hits both alike. `rateRatio` is the median of b / a over neighbouring rounds (above 1: b
 * serves more); `cpuRatio` the median of a / b of the CPU time per request (above 1: b costs less).
 */
export async function pairedRounds(a: () => Promise<Round>, b: () => Promise<Round>, rounds = 10): Promise<{ a: Round; b: Round; rateRatio: number; cpuRatio: number }> {
  await a();
  await b();
  const as: Round[] = [];
  const bs: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  const middle = (rs: Round[]): Round => ({ rate: median(rs.map((r) => r.rate)), cpuUsPerCall: median(rs.map((r) => r.cpuUsPerCall)) });
  return {
    a: middle(as),
    b: middle(bs),
    rateRatio: median(bs.map((r, i) => r.rate / as[i]!.rate)),
    cpuRatio: median(bs.map((r, i) => as[i]!.cpuUsPerCall / r.cpuUsPerCall)),
  };
}
