// Channels and events for npm run bench:
// - channel messages per second received by a client, against a raw `ws` send loop of the same
//   frames in the same run (same process layout: server and client in this process);
// - one event fanned out to 100 listening connections: deliveries per second.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { WebSocket, WebSocketServer } from "ws";
import { createGateway } from "../gateway/index.ts";
import { median, type Figure } from "./measure.ts";

const MESSAGES = 100_000;
const ROUNDS = 3;
const LISTENERS = 100;
const EVENTS = 2_000;

const MANIFEST = `
version: 1
commands:
  stream:
    handler: handlers/stream.ts
    body: { type: object, properties: { n: { type: integer }, onItem: { x-channel: items } } }
channels:
  items:
    message: { type: object, properties: { i: { type: integer }, done: { type: number }, note: { type: string } }, required: [i] }
events:
  tick: { payload: { type: object, properties: { n: { type: integer } } } }
`;

const HANDLER = `
import type { Channel, Invoke } from "ipc-gateway";
export default async function stream({ body }: Invoke<{ n: number; onItem: Channel<unknown> }>) {
  for (let i = 0; i < body.n; i++) await body.onItem.send({ i, done: i / body.n, note: "progress" });
  return body.n;
}
`;

/** A client that counts channel frames until the end marker (or `expected` messages). */
function connect(url: string): Promise<{ ws: WebSocket; page: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("error", reject);
    ws.once("message", (data) => {
      const hello = JSON.parse(String(data)) as { page?: string };
      resolve({ ws, page: hello.page ?? "" });
    });
  });
}

function countUntil(ws: WebSocket, expected: number, isCounted: (frame: { type: string }) => boolean): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onMessage = (data: Buffer) => {
      if (!isCounted(JSON.parse(data.toString()) as { type: string })) return;
      if (++seen === expected) {
        ws.off("message", onMessage);
        resolve();
      }
    };
    ws.on("message", onMessage);
  });
}

function post(url: string, body: unknown, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve());
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function gatewayChannelRate(base: string): Promise<number> {
  const { ws, page } = await connect(`${base.replace("http", "ws")}/ipc/ws?window=main`);
  const started = performance.now();
  const arrived = countUntil(ws, MESSAGES, (f) => f.type === "channel");
  await post(`${base}/ipc/stream`, { n: MESSAGES, onItem: "__CHANNEL__:1" }, { "gateway-page": page });
  await arrived;
  const rate = MESSAGES / ((performance.now() - started) / 1000);
  ws.close();
  return rate;
}

/** The floor: the same frames through a plain ws server, with the same back-pressure rule. */
async function rawChannelRate(): Promise<number> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise((r) => server.once("listening", r));
  const port = (server.address() as { port: number }).port;
  server.on("connection", async (socket) => {
    for (let i = 0; i < MESSAGES; i++) {
      socket.send(JSON.stringify({ type: "channel", channel: 1, index: i, message: { i, done: i / MESSAGES, note: "progress" } }));
      if (socket.bufferedAmount > 1024 * 1024) while (socket.bufferedAmount > 256 * 1024) await new Promise((r) => setImmediate(r));
    }
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  const started = performance.now();
  await countUntil(ws, MESSAGES, (f) => f.type === "channel");
  const rate = MESSAGES / ((performance.now() - started) / 1000);
  ws.close();
  await new Promise((r) => server.close(r));
  return rate;
}

async function fanOutRate(base: string, emit: (n: number) => void): Promise<number> {
  const clients = await Promise.all(Array.from({ length: LISTENERS }, () => connect(`${base.replace("http", "ws")}/ipc/ws?window=main`)));
  await Promise.all(
    clients.map(
      ({ ws }, i) =>
        new Promise<void>((resolve) => {
          ws.once("message", () => resolve());
          ws.send(JSON.stringify({ type: "invoke", rid: 1, cmd: "plugin:event|listen", body: { event: "tick", target: { kind: "Any" }, handler: i } }));
        }),
    ),
  );
  const started = performance.now();
  const all = Promise.all(clients.map(({ ws }) => countUntil(ws, EVENTS, (f) => f.type === "event")));
  for (let n = 0; n < EVENTS; n++) {
    emit(n);
    if (n % 50 === 49) await new Promise((r) => setImmediate(r)); // let the sockets drain, as a real app would between emits
  }
  await all;
  const rate = (LISTENERS * EVENTS) / ((performance.now() - started) / 1000);
  for (const { ws } of clients) ws.close();
  return rate;
}

export async function benchStreams(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), "gw-bench-streams-"));
  mkdirSync(join(dir, "handlers"));
  writeFileSync(join(dir, "gateway.yaml"), MANIFEST);
  writeFileSync(join(dir, "handlers/stream.ts"), HANDLER);
  const gw = await createGateway({ config: join(dir, "gateway.yaml"), logger: { info() {}, warn() {}, error: (m) => console.error(m) } });
  const { url } = await gw.listen({ port: 0 });
  try {
    const gatewayRates: number[] = [];
    const rawRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      gatewayRates.push(await gatewayChannelRate(url));
      rawRates.push(await rawChannelRate());
    }
    const fanOut = await fanOutRate(url, (n) => gw.app.emit("tick", { n }));
    const ratio = median(gatewayRates) / median(rawRates);
    console.log(`  channel: ${MESSAGES.toLocaleString("en-US")} messages per run, ${ROUNDS} runs each; fan-out: ${EVENTS} events x ${LISTENERS} connections`);
    return [
      { name: "channel: gateway messages received per second", value: median(gatewayRates), unit: "msg/s" },
      { name: "channel: raw ws send loop, same frames", value: median(rawRates), unit: "msg/s" },
      { name: "channel: gateway / raw ws", value: ratio, unit: "ratio", target: ">= 0.7", pass: ratio >= 0.7 },
      { name: `events: one emit fanned out to ${LISTENERS} connections`, value: fanOut, unit: "deliveries/s" },
    ];
  } finally {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
