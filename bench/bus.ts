// Scale-out for npm run bench: event deliveries per second and channel messages per second with
// the in-process bus (one instance, no server.bus) and with 1, 2 and 3 instances joined by a real
// redis-server, each instance its own `gateway serve` process, in one run.
// - events: LISTENERS pages spread evenly over the instances listen; a handler on the first
//   instance emits EVENTS events; deliveries = events x listeners, until every page has all.
// - channel: a page on the first instance; the handler streams MESSAGES messages from the last
//   instance (across the bus when there are several).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { startRedis } from "../tests/helpers/redis.ts";
import { median, type Figure } from "./measure.ts";

const BIN = fileURLToPath(new URL("../bin/gateway.js", import.meta.url));
const LISTENERS = 60;
const EVENTS = 2_000;
const MESSAGES = 30_000;
const ROUNDS = 3;

const manifest = (bus: string | undefined) => `
version: 1
server:
  log: silent
${bus ? `  bus: { url: "${bus}", prefix: bench }` : ""}
commands:
  burst: { handler: handlers/h.ts#burst, body: { type: object, properties: { n: { type: integer } } } }
  stream:
    handler: handlers/h.ts#stream
    body: { type: object, properties: { n: { type: integer }, onItem: { x-channel: items } } }
channels:
  items: { message: { type: object, properties: { i: { type: integer }, note: { type: string } }, required: [i] } }
events:
  tick: { payload: { type: object, properties: { n: { type: integer } } } }
`;

const HANDLERS = `
import type { Channel, Invoke } from "ipc-gateway";
export function burst({ body, app }: Invoke<{ n: number }>) {
  for (let n = 0; n < body.n; n++) app.emit("tick", { n });
  return body.n;
}
export async function stream({ body }: Invoke<{ n: number; onItem: Channel<unknown> }>) {
  for (let i = 0; i < body.n; i++) await body.onItem.send({ i, note: "progress" });
  return body.n;
}
`;

interface Instance {
  url: string;
  child: ChildProcess;
}

function startInstance(config: string): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--config", config, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (data: Buffer) => {
      out += data.toString();
      const match = /gateway listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ url: match[1]!, child });
    });
    child.once("exit", (code) => reject(new Error(`gateway serve exited (${code}): ${out}`)));
  });
}

function stop(instance: Instance): Promise<void> {
  return new Promise((resolve) => {
    if (instance.child.exitCode !== null) return resolve();
    instance.child.once("exit", () => resolve());
    instance.child.kill("SIGTERM");
  });
}

interface Client {
  ws: WebSocket;
  page: string;
  counter: (type: string, n: number) => Promise<void>;
}

function connect(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/ipc/ws?window=main`);
    let waiting: { type: string; left: number; done: () => void } | undefined;
    ws.once("error", reject);
    ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { type: string; page?: string };
      if (frame.type === "hello") {
        return resolve({
          ws,
          page: frame.page!,
          counter: (type, n) => new Promise<void>((done) => void (waiting = { type, left: n, done })),
        });
      }
      if (waiting && frame.type === waiting.type && --waiting.left === 0) {
        const { done } = waiting;
        waiting = undefined;
        done();
      }
    });
  });
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url} answered ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function eventRate(instances: Instance[]): Promise<number> {
  const clients = await Promise.all(Array.from({ length: LISTENERS }, (_, i) => connect(instances[i % instances.length]!.url)));
  await Promise.all(
    clients.map(
      (c, i) =>
        new Promise<void>((resolve) => {
          c.ws.once("message", () => resolve());
          c.ws.send(JSON.stringify({ type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "tick", target: { kind: "Any" }, handler: i } }));
        }),
    ),
  );
  // Let the listeners' targets reach every instance before the clock starts.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  const all = Promise.all(clients.map((c) => c.counter("event", EVENTS)));
  await post(`${instances[0]!.url}/ipc/burst`, { n: EVENTS });
  await all;
  const rate = (EVENTS * LISTENERS) / ((performance.now() - started) / 1000);
  for (const c of clients) c.ws.close();
  return rate;
}

async function channelRate(instances: Instance[]): Promise<number> {
  const client = await connect(instances[0]!.url);
  const started = performance.now();
  const arrived = client.counter("channel", MESSAGES);
  await post(`${instances.at(-1)!.url}/ipc/stream`, { n: MESSAGES, onItem: "__CHANNEL__:1" }, { "gateway-page": client.page });
  await arrived;
  const rate = MESSAGES / ((performance.now() - started) / 1000);
  client.ws.close();
  return rate;
}

export async function benchBus(): Promise<Figure[]> {
  const redis = await startRedis();
  const dirs: string[] = [];
  const app = (bus: string | undefined) => {
    const dir = mkdtempSync(join(tmpdir(), "gw-bench-bus-"));
    dirs.push(dir);
    mkdirSync(join(dir, "handlers"));
    writeFileSync(join(dir, "gateway.yaml"), manifest(bus));
    writeFileSync(join(dir, "handlers/h.ts"), HANDLERS);
    return join(dir, "gateway.yaml");
  };
  const setups: { name: string; config: string; instances: number }[] = [
    { name: "in-process", config: app(undefined), instances: 1 },
    { name: "redis x1", config: app(redis.url), instances: 1 },
    { name: "redis x2", config: app(redis.url), instances: 2 },
    { name: "redis x3", config: app(redis.url), instances: 3 },
  ];
  const events: Record<string, number[]> = {};
  const channels: Record<string, number[]> = {};
  try {
    for (const setup of setups) {
      const instances: Instance[] = [];
      for (let i = 0; i < setup.instances; i++) instances.push(await startInstance(setup.config));
      try {
        await eventRate(instances); // warm-up
        await channelRate(instances);
        events[setup.name] = [];
        channels[setup.name] = [];
        for (let round = 0; round < ROUNDS; round++) {
          events[setup.name]!.push(await eventRate(instances));
          channels[setup.name]!.push(await channelRate(instances));
        }
      } finally {
        await Promise.all(instances.map(stop));
        await redis.command(["FLUSHALL"]);
      }
    }
  } finally {
    await redis.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  const figures: Figure[] = [];
  const base = { events: median(events["in-process"]!), channel: median(channels["in-process"]!) };
  for (const setup of setups) {
    const e = median(events[setup.name]!);
    const c = median(channels[setup.name]!);
    figures.push({ name: `events, ${setup.name}: deliveries/s (${LISTENERS} pages over ${setup.instances} instance(s))`, value: Math.round(e), unit: `/s (${(e / base.events).toFixed(2)}x in-process)` });
    figures.push({ name: `channel, ${setup.name}: messages/s (${setup.instances > 1 ? "handler on another instance" : "same instance"})`, value: Math.round(c), unit: `/s (${(c / base.channel).toFixed(2)}x in-process)` });
  }
  return figures;
}
