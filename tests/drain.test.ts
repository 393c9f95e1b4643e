// Probes and drain through the real bin: /livez and /readyz, and what SIGTERM does to the work in
// flight (HTTP calls, calls over pages' sockets, a streaming channel) within and past server.drain.
import { afterEach, expect, jest, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { gatewayFor, rejectionOf, tempApp, type TempApp } from "./helpers/app.ts";
import { startGateway, type RunningGateway } from "./helpers/cli.ts";
import { connectPage, type Frame, type TestPage } from "./helpers/ws.ts";
import { invokeJson, request, type RawResponse } from "./helpers/http.ts";
import { WebSocket, WebSocketServer } from "ws";
import { Page } from "../gateway/runtime/pages.ts";
import { Channel } from "../gateway/runtime/channels.ts";
import { startRedis } from "./helpers/redis.ts";

jest.setTimeout(30_000);

const manifest = (drain: string, extra = "") => `version: 1
server:
  drain: ${drain}
${extra}commands:
  slow:
    handler: handlers/work.ts#slow
    body: { type: object, properties: { i: { type: integer }, ms: { type: integer } } }
  started:
    handler: handlers/work.ts#started
  stream:
    handler: handlers/work.ts#stream
    body: { type: object, properties: { n: { type: integer }, every: { type: integer }, onItem: { x-channel: numbers } } }
  hello:
    handler: handlers/work.ts#hello
channels:
  numbers:
    message: { type: integer }
`;

// Each send() that resolved is written down synchronously (sent.txt): what the handler was told
// reached the page, to compare with what the page got.
const WORK = `
import { appendFileSync } from "node:fs";
import type { Channel, Invoke } from "ipc-gateway";
let count = 0;
export async function slow({ body, signal }: Invoke<{ i: number; ms: number }>) {
  count++;
  // Stops waiting when the gateway gives up on the call (the signal aborts when it is cut off).
  await new Promise((r) => {
    const timer = setTimeout(r, body.ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), r(undefined)));
  });
  return body.i;
}
export const started = () => count;
export const hello = () => "hello";
export async function stream({ body }: Invoke<{ n: number; every: number; onItem: Channel<number> }>) {
  count++;
  let sent = 0;
  for (let i = 0; i < body.n; i++) {
    await new Promise((r) => setTimeout(r, body.every));
    try {
      await body.onItem.send(i);
    } catch (error: any) {
      appendFileSync("refused.txt", error.kind + ": " + error.message + "\\n");
      break;
    }
    appendFileSync("sent.txt", i + "\\n");
    sent++;
  }
  return sent;
}
`;

let app: TempApp | undefined;
let running: RunningGateway | undefined;

afterEach(() => {
  running?.kill();
  app?.remove();
  app = running = undefined;
});

async function start(mode: "serve" | "dev", files: Record<string, string>): Promise<RunningGateway> {
  app = tempApp(files);
  running = await startGateway(mode, app.dir, ["--log-format", "json"]);
  return running;
}

const get = (url: string) => request(url, { method: "GET" });

/** Until `count` handlers have started (asked over HTTP: nothing is guessed from time). */
async function untilStarted(url: string, count: number): Promise<void> {
  for (;;) {
    const started = (await invokeJson(url, "started", {})).json() as number;
    if (started >= count) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A page that remembers how its socket closed. */
async function pageWithClose(url: string): Promise<TestPage & { closed: Promise<{ code: number; reason: string; framesBefore: number }> }> {
  const page = await connectPage(url);
  const closed = new Promise<{ code: number; reason: string; framesBefore: number }>((resolve) =>
    page.ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), framesBefore: page.frames.length })),
  );
  return { ...page, closed };
}

function channelFrames(page: TestPage, channel: number): Frame[] {
  return page.frames.filter((f) => (f.type === "channel" || f.type === "channel-end") && f.channel === channel);
}

test("SIGTERM with 200 HTTP and 200 socket calls and a stream in flight: every call is answered with its value, /readyz 503 and /livez 200 meanwhile, pages closed 1012 after their replies, exit 0", async () => {
  const { url, exited, child, waitForLog } = await start("serve", { "gateway.yaml": manifest("20s"), "handlers/work.ts": WORK });
  expect((await get(`${url}/readyz`)).status).toBe(200);

  const pages = await Promise.all([0, 1, 2, 3].map(() => pageWithClose(url)));
  const ms = (i: number) => 300 + ((i * 37) % 500);
  const http: Promise<RawResponse>[] = [];
  for (let i = 0; i < 200; i++) http.push(invokeJson(url, "slow", { i, ms: ms(i) }));
  const ws: Promise<Frame>[] = [];
  for (let i = 0; i < 200; i++) ws.push(pages[i % 4]!.call("slow", { i, ms: ms(i) }));
  const streamed = pages[0]!.call("stream", { n: 20, every: 40, onItem: "__CHANNEL__:77" });
  // A page with no calls of its own, streamed to by an HTTP call naming it: kept open until its channel ends.
  const watcher = await pageWithClose(url);
  const streamedOverHttp = invokeJson(url, "stream", { n: 20, every: 40, onItem: "__CHANNEL__:88" }, { "gateway-page": watcher.id });
  await untilStarted(url, 402);

  child.kill("SIGTERM");
  await waitForLog(/SIGTERM: draining/);
  const ready = await get(`${url}/readyz`);
  expect(ready.status).toBe(503);
  expect(ready.json()).toEqual({ ok: false, reason: "draining" });
  expect((await get(`${url}/livez`)).status).toBe(200);
  // New work is still served while draining.
  expect((await invokeJson(url, "hello", {})).json()).toBe("hello");

  const answers = await Promise.all(http);
  answers.forEach((res, i) => {
    expect(res.status).toBe(200);
    expect(res.json()).toBe(i);
  });
  const replies = await Promise.all(ws);
  replies.forEach((reply, i) => expect(reply).toMatchObject({ ok: true, value: i }));
  expect(await streamed).toMatchObject({ ok: true, value: 20 });
  const frames = channelFrames(pages[0]!, 77);
  expect(frames.map((f) => f.index)).toEqual([...Array(21).keys()]);
  expect(frames.at(-1)!.type).toBe("channel-end");

  expect((await streamedOverHttp).json()).toBe(20);
  await watcher.closed; // the answer came over HTTP; the messages and the end over the page's socket, before its close
  expect(channelFrames(watcher, 88).map((f) => f.index)).toEqual([...Array(21).keys()]);
  for (const page of [...pages, watcher]) {
    const closed = await page.closed;
    expect(closed.code).toBe(1012);
    // Nothing came after the close (its replies came before it).
    expect(closed.framesBefore).toBe(page.frames.length);
  }
  expect(await exited).toBe(0);
});

test("past server.drain the calls still running are answered 503 shutting-down over HTTP and the socket, the stream ends with that reason, and send() resolved only for what the page got", async () => {
  const { url, exited, child, waitForLog } = await start("serve", { "gateway.yaml": manifest("1s"), "handlers/work.ts": WORK });
  const page = await pageWithClose(url);
  const quick = (i: number) => i % 2 === 0; // even calls finish within the drain, odd ones cannot
  const ms = (i: number) => (quick(i) ? 100 : 20_000);
  const http: Promise<RawResponse>[] = [];
  const ws: Promise<Frame>[] = [];
  for (let i = 0; i < 40; i++) {
    http.push(invokeJson(url, "slow", { i, ms: ms(i) }));
    ws.push(page.call("slow", { i, ms: ms(i) }));
  }
  const streamed = page.call("stream", { n: 100_000, every: 5, onItem: "__CHANNEL__:5" });
  await untilStarted(url, 81);

  child.kill("SIGTERM");
  const answers = await Promise.all(http);
  const replies = await Promise.all(ws);
  for (let i = 0; i < 40; i++) {
    if (quick(i)) {
      expect(answers[i]!.json()).toBe(i);
      expect(replies[i]).toMatchObject({ ok: true, value: i });
    } else {
      expect(answers[i]!.status).toBe(503);
      expect(answers[i]!.json()).toMatchObject({ kind: "shutting-down", command: "slow" });
      expect(replies[i]).toMatchObject({ ok: false, status: 503, error: { kind: "shutting-down", command: "slow" } });
    }
  }
  expect(await streamed).toMatchObject({ ok: false, status: 503, error: { kind: "shutting-down" } });
  expect((await page.closed).code).toBe(1012);
  expect(await exited).toBe(0);
  await waitForLog(/answered 503 shutting-down/);

  // The page's channel: messages 0..n-1 in order, then its end at n.
  const frames = channelFrames(page, 5);
  const end = frames.at(-1)!;
  expect(end.type).toBe("channel-end");
  expect(frames.map((f) => f.index)).toEqual([...Array((end.index as number) + 1).keys()]);
  // Every send() that resolved was a message the page received; the next one was refused.
  const sent = readFileSync(app!.path("sent.txt"), "utf8").trim().split("\n").map(Number);
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.length).toBe(end.index);
  expect(readFileSync(app!.path("refused.txt"), "utf8")).toMatch(/^channel-closed: .*shutting down/);
});

test("a second SIGTERM exits at once, with status 1, without waiting for the drain", async () => {
  const { url, exited, child, waitForLog } = await start("serve", { "gateway.yaml": manifest("60s"), "handlers/work.ts": WORK });
  const call = invokeJson(url, "slow", { i: 1, ms: 60_000 }).catch((error: Error) => error);
  await untilStarted(url, 1);
  child.kill("SIGTERM");
  await waitForLog(/SIGTERM: draining/);
  child.kill("SIGTERM");
  expect(await exited).toBe(1);
  expect(String(await call)).toMatch(/socket hang up|ECONNRESET/); // the connection went with the process
  expect(running!.stderr()).toMatch(/SIGTERM again; exiting now/);
});

test("probes need no credential; under dev /readyz is 503 not-ready while the files never built, 200 once fixed, and stays 200 through a broken edit (the last good version serves); SIGINT drains and exits 0", async () => {
  const broken = "export default () => {\n";
  const { url, exited, child } = await start("dev", {
    "gateway.yaml": "version: 1\nserver:\n  token: secret\ncommands:\n  hello:\n    handler: handlers/hello.ts\n",
    "handlers/hello.ts": broken,
  });
  expect((await get(`${url}/livez`)).json()).toEqual({ ok: true });
  const notReady = await get(`${url}/readyz`);
  expect(notReady.status).toBe(503);
  expect(notReady.json()).toMatchObject({ ok: false, reason: "not-ready" });
  expect((await get(`${url}/__gateway/health`)).status).toBe(401); // health keeps its token

  app!.write("handlers/hello.ts", 'export default () => "fixed";\n');
  let ready = notReady;
  while (ready.status !== 200) {
    await new Promise((r) => setTimeout(r, 50));
    ready = await get(`${url}/readyz`);
  }
  expect(ready.json()).toMatchObject({ ok: true });
  const generation = ready.json().generation as number;

  app!.write("handlers/hello.ts", broken);
  await running!.waitForLog(/the edit is broken/, 10_000);
  const after = await get(`${url}/readyz`);
  expect(after.status).toBe(200);
  expect(after.json()).toEqual({ ok: true, generation });

  child.kill("SIGINT");
  expect(await exited).toBe(0);
});

test("embedders: close() lets an in-process call finish; close({ drainMs: 0 }) answers one still running 503 shutting-down at once", async () => {
  const files = { "gateway.yaml": manifest("10s"), "handlers/work.ts": WORK };
  const first = await gatewayFor(files);
  try {
    const call = first.gw.invoke("slow", { i: 7, ms: 200 });
    await first.gw.close();
    expect(await call).toBe(7);
  } finally {
    first.app.remove();
  }
  const second = await gatewayFor(files);
  try {
    const call = second.gw.invoke("slow", { i: 8, ms: 60_000 });
    await second.gw.close({ drainMs: 0 });
    expect(await rejectionOf(call)).toMatchObject({ kind: "shutting-down", command: "slow" });
    expect(second.logger.lines.join("\n")).toMatch(/1 call still running after server.drain \(0 ms\) answered 503 shutting-down/);
  } finally {
    second.app.remove();
  }
});

test("a channel's send() on a page whose socket is closing rejects (channel-closed), rather than resolving for a message the page never gets", async () => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  try {
    await new Promise((resolve) => server.once("listening", resolve));
    const connected = new Promise<WebSocket>((resolve) => server.once("connection", resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
    client.on("error", () => {}); // the server closes it under the test's feet
    const [socket] = await Promise.all([connected, new Promise((resolve) => client.once("open", resolve))]);
    const page = new Page(socket, "main", undefined);
    const channel = new Channel<number>(page, 1, { name: "numbers", message: { kind: "json" } }, 128);
    await channel.send(0); // an open socket takes it
    socket.close(1012, "gateway restarting; reconnect"); // CLOSING until the page answers
    expect(await rejectionOf(channel.send(1))).toMatchObject({ kind: "channel-closed", message: expect.stringMatching(/numbers.*the page went away/) });
    const closed = new Promise((resolve) => client.once("close", resolve));
    client.terminate();
    await closed;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("with server.bus, /readyz is 503 (reason bus, with its state) while Redis is away, and 200 again once it is back", async () => {
  const redis = await startRedis();
  const prefix = `drain${process.pid}`;
  const files = { "gateway.yaml": manifest("10s", `  bus: { url: "${redis.url}", prefix: ${prefix} }\n`), "handlers/work.ts": WORK };
  const { gw, app: busApp } = await gatewayFor(files);
  try {
    const { url } = await gw.listen({ port: 0 });
    const readyz = async () => (await get(`${url}/readyz`)).json() as { ok: boolean; reason?: string; bus?: string };
    expect(await readyz()).toMatchObject({ ok: true });
    await redis.kill();
    let seen = await readyz();
    while (seen.ok) {
      await new Promise((r) => setTimeout(r, 25));
      seen = await readyz();
    }
    expect(seen).toEqual({ ok: false, reason: "bus", bus: "degraded" });
    expect((await get(`${url}/livez`)).status).toBe(200);
    await redis.restart();
    while (!seen.ok) {
      await new Promise((r) => setTimeout(r, 25));
      seen = await readyz();
    }
    expect(seen).toMatchObject({ ok: true });
  } finally {
    await gw.close({ drainMs: 0 });
    busApp.remove();
    await redis.stop();
  }
});
