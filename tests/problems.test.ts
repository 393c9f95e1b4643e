// What the gateway says when something is wrong (issue 20): a handler that holds the event loop
// past its time limit, a disk cache that cannot be written, a Redis that stops answering
// (SIGSTOP) and a process out of file descriptors (prlimit) are each logged once, listed in
// /__gateway/health and shown as gateway_problem in /metrics; and the counters that go with them
// (calls that held the loop, channel messages sent, held back and dropped, calls refused by a
// limit, in-process calls) match what the test did. Real parts throughout: sockets, a real
// redis-server, the real bin under a real descriptor limit.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { createRequire } from "node:module";
import { WebSocket } from "ws";
import { gatewayFor, tempApp, type TempApp } from "./helpers/app.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { connectPage } from "./helpers/ws.ts";
import { startRedis, type TestRedis } from "./helpers/redis.ts";
import { startGateway, type RunningGateway } from "./helpers/cli.ts";
import type { Listening } from "../gateway/transports/http.ts";

interface Sample {
  labels?: Record<string, string>;
  value?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

/** The value of `name`'s series whose labels include `labels` (undefined: no such series). */
async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const res = await request(`${url}/metrics`, { method: "GET" });
  expect(res.status).toBe(200);
  // Histograms are parsed without their TYPE line, so that each labelled _count is a series of its own (see metrics.test.ts).
  const families = parsePrometheus(res.text.replace(/^# TYPE \S+ histogram$/gm, ""));
  const samples = families.filter((f) => f.name === name).flatMap((f) => f.metrics);
  const sample = samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return sample === undefined ? undefined : Number(sample.value);
}

async function health(url: string): Promise<any> {
  return (await request(`${url}/__gateway/health`, { method: "GET" })).json();
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const MANIFEST = `
version: 1
commands:
  greet:
    handler: handlers/app.ts#greet
  spin:
    handler: handlers/app.ts#spin
    timeout: 200ms
  spin-later:
    handler: handlers/app.ts#spinLater
    timeout: 200ms
  quick:
    handler: handlers/app.ts#greet
    timeout: 200ms
  burst:
    handler: handlers/app.ts#burst
    body: { type: object, properties: { onItem: { x-channel: blobs } } }
  outcome:
    handler: handlers/app.ts#outcome
  limited:
    handler: handlers/app.ts#greet
  also-limited:
    handler: handlers/app.ts#greet
channels:
  blobs:
    message: { type: string }
limits:
  tight: { commands: [limited], per: all, rate: 1/h, burst: 2 }
  tighter: { commands: [also-limited], per: all, rate: 1/h, burst: 1 }
`;

const APP = `
import type { Channel, Invoke } from "ipc-gateway";
export const greet = () => "hello";
/** Holds the event loop for 600 ms: three times its time limit. */
function busy(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
}
export function spin() {
  busy(600);
  return "spun";
}
export async function spinLater() {
  await new Promise((resolve) => setTimeout(resolve, 5));
  busy(600);
  return "spun later";
}
let outcomes: string[] | undefined;
/** 200 messages of 64 KiB, none awaited: most wait for the page's socket, which the test stops reading and then closes. */
export async function burst({ body }: Invoke<{ onItem: Channel<string> }>) {
  const blob = "z".repeat(64 * 1024);
  const sends: Promise<string>[] = [];
  for (let i = 0; i < 200; i++) sends.push(body.onItem.send(blob).then(() => "sent", (e: any) => e.kind));
  outcomes = await Promise.all(sends);
  return null;
}
export const outcome = () => outcomes ?? null;
`;

describe("one gateway: a handler that holds the event loop, channel and limit counters, in-process calls", () => {
  let ctx: Awaited<ReturnType<typeof gatewayFor>>;
  let server: Listening;

  beforeAll(async () => {
    ctx = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/app.ts": APP });
    server = await ctx.gw.listen({ port: 0 });
  });
  afterAll(async () => ctx?.close());

  test("nothing is wrong at first: health lists no problem, every gateway_problem is 0, the loop's delay is shown", async () => {
    const h = await health(server.url);
    expect(h.problems).toEqual([]);
    expect(h.eventLoop).toMatchObject({ p99Ms: expect.any(Number), maxMs: expect.any(Number) });
    for (const problem of ["descriptors", "cache", "bus-stalled", "event-loop"]) expect([problem, await metric(server.url, "gateway_problem", { problem })]).toEqual([problem, 0]);
  });

  test("a handler that holds the loop past its time limit is answered 504 timeout, said once with its name, counted, and in health", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await invokeJson(server.url, "spin", {});
      expect([res.status, res.json()]).toEqual([504, expect.objectContaining({ kind: "timeout" })]);
    }
    const said = ctx.logger.lines.filter((line) => line.includes("held the event loop"));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/command "spin" held the event loop for \d+\.\d s, past its 200 ms time limit.*worker thread/);
    expect(Number(/for (\d+\.\d) s/.exec(said[0]!)![1])).toBeGreaterThanOrEqual(0.6); // the handler's own 600 ms, at least
    expect(await metric(server.url, "gateway_event_loop_blocked_total", { rpc_method: "spin" })).toBe(2);
    expect(await metric(server.url, "gateway_problem", { problem: "event-loop" })).toBe(1);
    const h = await health(server.url);
    expect(h.ok).toBe(true); // the app builds: health's ok is about that
    // Health names the newest time the loop was held (the log line said the first: each spin's time differs a little).
    expect(h.problems).toEqual([{ problem: "event-loop", since: expect.any(String), message: expect.stringMatching(/^gateway: command "spin" held the event loop for \d+\.\d s, past its 200 ms time limit.*\(handlers\/app\.ts#spin\)$/) }]);
    // The timed-out answers are what the call histogram counted.
    expect(await metric(server.url, "rpc_server_call_duration_seconds_count", { rpc_method: "spin", transport: "http", outcome: "timeout" })).toBe(2);
  });

  test("a later turn of an asynchronous handler that holds the loop is caught at its answer: 504, said once, counted", async () => {
    const res = await invokeJson(server.url, "spin-later", {});
    expect([res.status, res.json()]).toEqual([504, expect.objectContaining({ kind: "timeout" })]);
    const said = ctx.logger.lines.filter((line) => line.includes('command "spin-later"'));
    expect(said).toEqual([expect.stringMatching(/past its 200 ms time limit, the event loop held meanwhile/)]);
    expect(await metric(server.url, "gateway_event_loop_blocked_total", { rpc_method: "spin-later" })).toBe(1);
    // A command that does not block is not counted.
    expect((await invokeJson(server.url, "quick", {})).status).toBe(200);
    expect(await metric(server.url, "gateway_event_loop_blocked_total", { rpc_method: "quick" })).toBeUndefined();
  });

  test("calls made in-process are counted with transport in-process", async () => {
    for (let i = 0; i < 3; i++) expect(await ctx.gw.invoke("greet")).toBe("hello");
    await expect(ctx.gw.invoke("nope")).rejects.toMatchObject({ kind: "unknown-command" });
    expect(await metric(server.url, "rpc_server_call_duration_seconds_count", { rpc_method: "greet", transport: "in-process", outcome: "ok" })).toBe(3);
    expect(await metric(server.url, "rpc_server_call_duration_seconds_count", { rpc_method: "_OTHER", transport: "in-process", outcome: "unknown-command" })).toBe(1);
  });

  test("calls refused by a limit are counted by the limit's name", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await invokeJson(server.url, "limited", {})).status);
    for (let i = 0; i < 2; i++) statuses.push((await invokeJson(server.url, "also-limited", {})).status);
    expect(statuses).toEqual([200, 200, 429, 429, 429, 200, 429]);
    expect(await metric(server.url, "gateway_rate_limited_total", { limit: "tight" })).toBe(3);
    expect(await metric(server.url, "gateway_rate_limited_total", { limit: "tighter" })).toBe(1);
  });

  test("channel messages: sent, held back for a page that stops reading, dropped when it goes away", async () => {
    const before = {
      sent: (await metric(server.url, "gateway_channel_messages_total")) ?? NaN,
      held: (await metric(server.url, "gateway_channel_messages_held_total")) ?? NaN,
      dropped: (await metric(server.url, "gateway_channel_messages_dropped_total")) ?? NaN,
    };
    const page = await connectPage(server.url);
    page.ws.pause(); // 200 x 64 KiB is far more than the socket's buffers: most of it waits
    const call = invokeJson(server.url, "burst", { onItem: "__CHANNEL__:7" }, { "Gateway-Page": page.id });
    await until("the messages to wait for the page", async () => ((await metric(server.url, "gateway_channel_messages_held_total")) ?? 0) > before.held);
    page.ws.terminate(); // gone with messages still waiting
    expect((await call).status).toBe(200);
    const outcomes = (await ctx.gw.invoke<string[]>("outcome"))!;
    const sent = outcomes.filter((o) => o === "sent").length;
    const closed = outcomes.filter((o) => o === "channel-closed").length;
    expect(sent + closed).toBe(200);
    expect(closed).toBeGreaterThan(0);
    const after = {
      sent: await metric(server.url, "gateway_channel_messages_total"),
      held: await metric(server.url, "gateway_channel_messages_held_total"),
      dropped: await metric(server.url, "gateway_channel_messages_dropped_total"),
    };
    expect(after.sent! - before.sent).toBe(sent);
    expect(after.dropped! - before.dropped).toBe(closed);
    expect(after.held! - before.held).toBeGreaterThan(0);
    expect(after.held! - before.held).toBeLessThanOrEqual(200);
  }, 30_000);
});

describe("a disk cache that cannot be written", () => {
  test("is said once (where and why, every start cold), listed in health, gateway_problem{cache} 1; it still serves", async () => {
    const app: TempApp = tempApp({ "gateway.yaml": MANIFEST, "handlers/app.ts": APP, "not-a-folder": "" });
    // Under a regular file: making the folder fails whoever runs the test (root ignores a chmod).
    const cacheDir = app.path("not-a-folder/cache");
    const ctx = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/app.ts": APP }, { cacheDir });
    try {
      const server = await ctx.gw.listen({ port: 0 });
      expect((await invokeJson(server.url, "greet", {})).status).toBe(200);
      const said = ctx.logger.lines.filter((line) => line.includes("disk cache"));
      expect(said).toEqual([expect.stringMatching(/cannot write the disk cache in .*not-a-folder\/cache \(ENOTDIR\): every start will be cold/)]);
      const h = await health(server.url);
      expect(h.problems).toEqual([{ problem: "cache", since: expect.any(String), message: said[0] }]);
      expect(await metric(server.url, "gateway_problem", { problem: "cache" })).toBe(1);
      expect(await metric(server.url, "gateway_problem", { problem: "event-loop" })).toBe(0);
    } finally {
      await ctx.close();
      app.remove();
    }
  });
});

describe("a Redis that stops answering (SIGSTOP)", () => {
  let redis: TestRedis;
  let pid = 0;
  let stopped = false;
  beforeAll(async () => {
    redis = await startRedis();
    pid = Number(/process_id:(\d+)/.exec(await redis.command(["INFO", "server"]))?.[1]);
  });
  afterAll(async () => {
    if (stopped) process.kill(pid, "SIGCONT");
    await redis?.stop();
  });

  test("makes the bus stalled within a bound: said once, health, /readyz 503 bus, metrics; back to connected when it answers", async () => {
    const manifest = MANIFEST.replace("version: 1\n", `version: 1\nserver:\n  bus: { url: "${redis.url}", prefix: gw-stall-${process.pid} }\n`);
    const ctx = await gatewayFor({ "gateway.yaml": manifest, "handlers/app.ts": APP });
    try {
      const server = await ctx.gw.listen({ port: 0 });
      await until("the bus to connect", async () => (await health(server.url)).bus?.state === "connected");
      expect(await metric(server.url, "gateway_bus_state", { state: "connected" })).toBe(1);
      expect(await metric(server.url, "gateway_bus_lag_seconds")).toBeGreaterThanOrEqual(0);

      process.kill(pid, "SIGSTOP");
      stopped = true;
      await until("the bus to be stalled", async () => (await health(server.url)).bus?.state === "stalled");
      const said = ctx.logger.lines.filter((line) => line.includes("has not answered"));
      expect(said).toEqual([expect.stringMatching(/the bus \(redis:\/\/127\.0\.0\.1:\d+\/?\) has not answered for 2 s though its connection is up: Redis is stalled/)]);
      const h = await health(server.url);
      expect(h.bus).toMatchObject({ state: "stalled", error: expect.stringMatching(/has not answered a PING for \d/) });
      expect(h.problems).toEqual([{ problem: "bus-stalled", since: expect.any(String), message: said[0] }]);
      const ready = await request(`${server.url}/readyz`, { method: "GET" });
      expect([ready.status, ready.json()]).toEqual([503, { ok: false, reason: "bus", bus: "stalled" }]);
      expect(await metric(server.url, "gateway_bus_state", { state: "stalled" })).toBe(1);
      expect(await metric(server.url, "gateway_bus_state", { state: "connected" })).toBe(0);
      expect(await metric(server.url, "gateway_problem", { problem: "bus-stalled" })).toBe(1);
      expect(await metric(server.url, "gateway_bus_lag_seconds")).toBeGreaterThanOrEqual(2);
      // Calls go on meanwhile.
      expect((await invokeJson(server.url, "greet", {})).status).toBe(200);

      process.kill(pid, "SIGCONT");
      stopped = false;
      await until("the bus to answer again", async () => (await health(server.url)).bus?.state === "connected");
      expect(ctx.logger.lines.filter((line) => line.includes("has not answered"))).toHaveLength(1);
      expect(ctx.logger.lines.filter((line) => line.includes("the bus answers again"))).toHaveLength(1);
      expect((await health(server.url)).problems).toEqual([]);
      expect((await request(`${server.url}/readyz`, { method: "GET" })).status).toBe(200);
      expect(await metric(server.url, "gateway_problem", { problem: "bus-stalled" })).toBe(0);
    } finally {
      if (stopped) process.kill(pid, "SIGCONT");
      stopped = false;
      await ctx.close();
    }
  }, 30_000);
});

describe("a process out of file descriptors (the real bin under prlimit)", () => {
  let app: TempApp;
  let gateway: RunningGateway | undefined;
  const held: WebSocket[] = [];
  afterAll(async () => {
    for (const ws of held) ws.terminate();
    gateway?.kill();
    app?.remove();
  });

  test("is said once, listed in health and metrics while it lasts, said again when it is over; the process lives on", async () => {
    app = tempApp({ "gateway.yaml": "version: 1\ncommands:\n  greet: { handler: handlers/app.ts#greet }\n", "handlers/app.ts": 'export const greet = () => "hello";\n' });
    const LIMIT = 96;
    // At info, for the line that says it is over (serve logs warnings and errors by default).
    gateway = await startGateway("serve", app.dir, ["--log-level", "info"], { prefix: ["prlimit", `--nofile=${LIMIT}`, "--"] });
    const url = gateway.url;
    expect((await invokeJson(url, "greet", {})).status).toBe(200);
    // Pages' sockets stay open (a plain connection would be closed when idle): one descriptor each, until none is left.
    let refused = 0;
    for (let i = 0; i < LIMIT && refused === 0; i++) {
      const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ipc/ws`);
      held.push(ws);
      ws.on("error", () => {});
      const opened = await new Promise<boolean>((resolve) => {
        ws.once("open", () => resolve(true));
        ws.once("close", () => resolve(false));
        ws.once("error", () => resolve(false));
      });
      if (!opened) refused++;
    }
    expect(refused).toBe(1); // a new connection was reset: the descriptors are spent
    const line = await gateway.waitForLog(/out of file descriptors/, 10_000);
    expect(line.msg).toMatch(/new connections are being reset\. Raise the limit/);
    expect(line.level).toBe(50); // error

    // Room for one request: close a few pages (not enough to end the problem).
    for (const ws of held.splice(0, 2)) ws.terminate();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const h = (await request(`${url}/__gateway/health`, { method: "GET" })).json();
    expect(h.problems).toEqual([{ problem: "descriptors", since: expect.any(String), message: line.msg }]);
    expect(await metric(url, "gateway_problem", { problem: "descriptors" })).toBe(1);

    // Every page closed: over, and said so.
    for (const ws of held.splice(0)) ws.terminate();
    await gateway.waitForLog(/file descriptors are available again/, 10_000);
    expect(gateway.logs().filter((l) => /out of file descriptors/.test(l.msg))).toHaveLength(1);
    expect((await request(`${url}/__gateway/health`, { method: "GET" })).json().problems).toEqual([]);
    expect(await metric(url, "gateway_problem", { problem: "descriptors" })).toBe(0);
    expect(gateway.child.exitCode).toBeNull();
    expect((await invokeJson(url, "greet", {})).status).toBe(200);
  }, 60_000);
});
