// Several instances joined by a real redis-server (server.bus): events reach every listener on
// every instance once, with Tauri's target rules; a page's channel streams in order from a handler
// on another instance, with back-pressure end to end; Redis killed and restarted mid-stream.
// Pages are `ws` clients on /ipc/ws (the browser case is in tests/browser/bus.test.ts).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "@jest/globals";
import { gatewayFor, tempApp } from "./helpers/app.ts";
import { startGateway } from "./helpers/cli.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { freePort } from "./helpers/ports.ts";
import { startRedis, startRedisLink, type RedisLink, type TestRedis } from "./helpers/redis.ts";
import { connectPage, type TestPage } from "./helpers/ws.ts";
import type { Listening } from "../gateway/transports/http.ts";
import { MAX_WAITING_EVENTS } from "../gateway/bus/redis-bus.ts";

const manifest = (url: string, prefix: string, extra = "") => `
version: 1
server:
  bus: { url: "${url}", prefix: ${prefix}${extra} }
commands:
  emit: { handler: handlers/app.ts#emit }
  emit-to: { handler: handlers/app.ts#emitTo }
  emit-filter: { handler: handlers/app.ts#emitFilter }
  heard: { handler: handlers/app.ts#heard }
  eval: { handler: handlers/app.ts#evalIn }
  local: { handler: handlers/app.ts#local }
  burst: { handler: handlers/app.ts#burst }
  progress: { handler: handlers/app.ts#progress }
  count:
    handler: handlers/app.ts#count
    body: { type: object, properties: { n: { type: integer }, size: { type: integer }, onItem: { x-channel: items } }, required: [n, onItem] }
  bytes:
    handler: handlers/app.ts#bytes
    body: { type: object, properties: { onChunk: { x-channel: chunks } } }
channels:
  items: { message: { type: object } }
  chunks: { message: binary }
events:
  news: { payload: { type: object, properties: { n: { type: integer } }, required: [n] } }
  marker: {}
`;

const APP = `
import type { Channel, Invoke, SetupContext } from "ipc-gateway";
const heardHere: unknown[] = [];
let sent = 0;
export function setup({ app }: SetupContext) {
  app.listen("news", (e) => heardHere.push(e.payload));
}
export const emit = ({ body, app }: Invoke<any>) => { app.emit(body.event, body.payload); return null; };
export const emitTo = ({ body, app }: Invoke<any>) => { app.emitTo(body.target, body.event, body.payload); return null; };
export const emitFilter = ({ body, app }: Invoke<any>) => {
  app.emitFilter(body.event, body.payload, (t) => "label" in t && t.label === body.label);
  return null;
};
export const heard = () => heardHere.splice(0);
export const evalIn = ({ window, body }: Invoke<string>) => { window.eval(body); return window.label; };
export const local = () => "served";
export const burst = ({ body, app }: Invoke<{ n: number }>) => { for (let n = 0; n < body.n; n++) app.emit("news", { n }); return body.n; };
export const progress = () => sent;
export async function count({ body }: Invoke<{ n: number; size?: number; onItem: Channel<object> }>) {
  sent = 0;
  const pad = "x".repeat(body.size ?? 0);
  for (let i = 0; i < body.n; i++) { await body.onItem.send({ i, pad }); sent++; }
  return body.n;
}
export async function bytes({ body }: Invoke<{ onChunk: Channel<Uint8Array> }>) {
  await body.onChunk.send(new Uint8Array([1, 2, 3]));
  await body.onChunk.send(new Uint8Array([0, 255]));
  return null;
}
`;

interface Instance {
  ctx: Awaited<ReturnType<typeof gatewayFor>>;
  server: Listening;
  url: string;
  /** The group's key prefix in Redis. */
  prefix: string;
}

let redis: TestRedis;
let prefixes = 0;
const pages: TestPage[] = [];
const instances: Instance[] = [];

/**
 * `n` instances of one app on one bus (a fresh key prefix per group). `url`: Redis's, or one per
 * instance (a proxy that a test cuts); `extra`: more of server.bus.
 */
async function cluster(n: number, url: string | string[] = redis.url, extra = ""): Promise<Instance[]> {
  const prefix = `t${process.pid}-${++prefixes}`;
  const group: Instance[] = [];
  for (let i = 0; i < n; i++) {
    const ctx = await gatewayFor({ "gateway.yaml": manifest(typeof url === "string" ? url : url[i]!, prefix, extra), "handlers/app.ts": APP });
    const server = await ctx.gw.listen({ port: 0 });
    const instance = { ctx, server, url: server.url, prefix };
    group.push(instance);
    instances.push(instance);
  }
  return group;
}

async function page(instance: Instance, label = "main"): Promise<TestPage> {
  const p = await connectPage(instance.url, label);
  pages.push(p);
  return p;
}

let nextHandler = 1;
async function listen(p: TestPage, event: string, target: unknown = { kind: "Any" }): Promise<number> {
  const handler = nextHandler++;
  const reply = await p.call("plugin:event|listen", { event, target, handler });
  expect(reply.ok).toBe(true);
  return handler;
}

const eventsOf = (p: TestPage, handler: number) => p.frames.filter((f) => f.type === "event" && f.handler === handler).map((f) => f.payload);

async function invoke(instance: Instance, cmd: string, body: unknown = null, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await invokeJson(instance.url, cmd, body, headers);
  if (res.status !== 200) throw new Error(`${cmd} answered ${res.status}: ${res.text}`);
  return res.json();
}

/**
 * Emit a marker from `from` after what was emitted before, and wait until every page has it: an
 * instance's emits arrive everywhere in the order it made them, so whatever was emitted before
 * the marker has arrived by then, and counting it tells "once" from "twice".
 */
async function settle(from: Instance, listeners: [TestPage, number][]): Promise<void> {
  const token = Math.random();
  await invoke(from, "emit", { event: "marker", payload: token });
  await Promise.all(listeners.map(([p, handler]) => p.next((f) => f.type === "event" && f.handler === handler && f.payload === token, 10_000)));
}

async function health(instance: Instance): Promise<any> {
  return (await request(`${instance.url}/__gateway/health`, { method: "GET" })).json();
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  redis = await startRedis({ persist: true });
});
afterAll(async () => {
  await Promise.all(pages.map((p) => p.close()));
  await Promise.all(instances.map((i) => i.ctx.close()));
  await redis?.stop();
});

describe("events across instances", () => {
  test("emit from a handler or a page on any of three instances reaches every listener once", async () => {
    const group = await cluster(3);
    const listeners: [TestPage, number][] = [];
    const markers: [TestPage, number][] = [];
    for (const instance of group) {
      for (const label of ["main", "side"]) {
        const p = await page(instance, label);
        listeners.push([p, await listen(p, "news")]);
        markers.push([p, await listen(p, "marker")]);
      }
    }
    // From a handler on each instance, then from a page on the last one.
    for (const [i, instance] of group.entries()) await invoke(instance, "emit", { event: "news", payload: { n: i } });
    const emitter = listeners[5]![0];
    expect((await emitter.call("plugin:event|emit", { event: "news", payload: { n: 99 } })).ok).toBe(true);
    for (const instance of group) await settle(instance, markers);
    await settle(group[2]!, markers);
    for (const [p, handler] of listeners) {
      const got = eventsOf(p, handler).map((payload: any) => payload.n);
      expect(got.sort((a, b) => a - b)).toEqual([0, 1, 2, 99]);
    }
    // The handlers' own listeners (app.listen in setup) on every instance: once each.
    for (const instance of group) expect(((await invoke(instance, "heard")) as any[]).map((p) => p.n).sort((a, b) => a - b)).toEqual([0, 1, 2, 99]);
  }, 30_000);

  test("emit_to and emitFilter keep Tauri's target rules across instances", async () => {
    const [a, b] = await cluster(2);
    const pa = await page(a!, "alpha");
    const pb = await page(b!, "beta");
    const anyA = await listen(pa, "news");
    const anyB = await listen(pb, "news");
    const labelA = await listen(pa, "news", { kind: "Window", label: "alpha" });
    const labelB = await listen(pb, "news", { kind: "Window", label: "beta" });
    const markers: [TestPage, number][] = [
      [pa, await listen(pa, "marker")],
      [pb, await listen(pb, "marker")],
    ];
    // Each instance's listener targets have crossed the bus (a marker from each, sent after them,
    // has reached the other's page): b's emitFilter below considers alpha's target only once it knows it.
    await settle(a!, markers);
    await settle(b!, markers);
    await invoke(a!, "emit-to", { target: { kind: "Window", label: "beta" }, event: "news", payload: { n: 1 } });
    await invoke(b!, "emit-filter", { label: "alpha", event: "news", payload: { n: 2 } });
    await invoke(a!, "emit-to", { target: "beta", event: "news", payload: { n: 3 } }); // AnyLabel
    await settle(a!, markers);
    await settle(b!, markers);
    // Any listeners hear everything; labelled ones only what is addressed to their label.
    expect(eventsOf(pa, anyA).map((e: any) => e.n).sort()).toEqual([1, 2, 3]);
    expect(eventsOf(pb, anyB).map((e: any) => e.n).sort()).toEqual([1, 2, 3]);
    expect(eventsOf(pa, labelA)).toEqual([{ n: 2 }]);
    expect(eventsOf(pb, labelB).map((e: any) => e.n)).toEqual([1, 3]);
  }, 30_000);

  test("window.eval reaches the label's pages on another instance", async () => {
    const [a, b] = await cluster(2);
    const far = await page(b!, "far");
    const near = await page(b!, "near");
    expect(await invoke(a!, "eval", "document.title = 'x'", { "Gateway-Window": "far" })).toBe("far");
    expect((await far.next((f) => f.type === "eval")).script).toBe("document.title = 'x'");
    // Only the label's pages: a frame for "near" would have come before this second one for "far".
    await invoke(a!, "eval", "2", { "Gateway-Window": "far" });
    await far.next((f) => f.type === "eval" && f.script === "2");
    await invoke(a!, "eval", "3", { "Gateway-Window": "near" });
    await near.next((f) => f.type === "eval" && f.script === "3");
    expect(near.frames.filter((f) => f.type === "eval").map((f) => f.script)).toEqual(["3"]);
  });
});

/** Invoke on `instance` as page `p` (connected to another instance): Gateway-Page names it. */
function invokeAsPage(instance: Instance, p: TestPage, cmd: string, body: unknown) {
  return invokeJson(instance.url, cmd, body, { "Gateway-Page": p.id });
}

const channelFrames = (p: TestPage, id: number) => p.frames.filter((f) => (f.type === "channel" || f.type === "channel-end") && f.channel === id);

describe("channels across instances", () => {
  test("a handler on another instance streams to the page in order, then the end marker", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    const res = await invokeAsPage(b!, p, "count", { n: 2000, onItem: "__CHANNEL__:7" });
    expect(res.json()).toBe(2000);
    const end = await p.next((f) => f.type === "channel-end" && f.channel === 7, 10_000);
    expect(end.index).toBe(2000);
    const frames = channelFrames(p, 7);
    expect(frames.map((f) => f.index)).toEqual(Array.from({ length: 2001 }, (_, i) => i));
    expect(frames.slice(0, -1).map((f: any) => f.message.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  }, 30_000);

  test("binary messages cross instances intact", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    await invokeAsPage(b!, p, "bytes", { onChunk: "__CHANNEL__:8" });
    await p.next((f) => f.type === "channel-end" && f.channel === 8);
    expect(channelFrames(p, 8).slice(0, 2).map((f) => [...(f.bytes as Buffer)])).toEqual([[1, 2, 3], [0, 255]]);
  });

  test("a page that stops reading stalls the handler on the other instance; nothing is lost when it reads again", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    const total = 3000; // 16 KiB each: 48 MiB, far more than the gateways may hold between them
    p.ws.pause();
    const done = invokeAsPage(b!, p, "count", { n: total, size: 16_000, onItem: "__CHANNEL__:9" });
    await new Promise((resolve) => setTimeout(resolve, 700));
    const stalledAt = (await invoke(b!, "progress")) as number;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const stillAt = (await invoke(b!, "progress")) as number;
    expect(stalledAt).toBeLessThan(total);
    expect(stillAt).toBe(stalledAt); // waiting for the page, across the bus
    p.ws.resume();
    expect((await done).json()).toBe(total);
    await p.next((f) => f.type === "channel-end" && f.channel === 9, 30_000);
    expect(channelFrames(p, 9).map((f) => f.index)).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
  }, 60_000);

  test("the page going away aborts the handler on the other instance", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    const done = invokeAsPage(b!, p, "count", { n: 1_000_000, onItem: "__CHANNEL__:10" });
    await p.next((f) => f.type === "channel" && f.channel === 10 && f.index === 100);
    await p.close();
    // Its next send rejects (channel-closed), which the handler does not catch: a 500, not a
    // million messages into the void.
    const res = await done;
    expect(res.status).toBe(500);
    expect(res.json().kind).toBe("internal");
  }, 30_000);

  test("a Gateway-Page naming no page anywhere gets the usual answer", async () => {
    const [, b] = await cluster(2);
    const res = await invokeJson(b!.url, "count", { n: 1, onItem: "__CHANNEL__:1" }, { "Gateway-Page": "no-such-page" });
    expect(res.status).toBe(400);
    expect(res.json().kind).toBe("bad-request");
  });
});

describe("Redis going away and coming back", () => {
  test("a stream across instances survives Redis killed and restarted; invocations go on meanwhile; health says degraded, then connected", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    const news = await listen(p, "news");
    expect((await health(a!)).bus).toMatchObject({ kind: "redis", state: "connected" });
    const total = 4000;
    const done = invokeAsPage(b!, p, "count", { n: total, size: 1000, onItem: "__CHANNEL__:11" });
    await p.next((f) => f.type === "channel" && f.channel === 11 && f.index === 200, 10_000);
    await redis.kill();
    await until("both instances to see the bus go", async () => (await health(a!)).bus.state === "degraded" && (await health(b!)).bus.state === "degraded");
    // Each instance still serves its own invocations, and health is 200 with the bus degraded.
    expect(await invoke(a!, "local")).toBe("served");
    const during = await request(`${b!.url}/__gateway/health`, { method: "GET" });
    expect(during.status).toBe(200);
    expect(during.json()).toMatchObject({ ok: true, bus: { kind: "redis", state: "degraded" } });
    // An emit meanwhile waits on its instance and is delivered once Redis is back.
    await invoke(b!, "emit", { event: "news", payload: { n: 42 } });
    // A page on another instance cannot be looked up while Redis is away.
    const other = await page(b!);
    const refused = await invokeJson(a!.url, "count", { n: 1, onItem: "__CHANNEL__:1" }, { "Gateway-Page": other.id });
    expect(refused.status).toBe(503);
    expect(refused.json().kind).toBe("bus-unavailable");
    await redis.restart();
    await until("both instances to reconnect", async () => (await health(a!)).bus.state === "connected" && (await health(b!)).bus.state === "connected");
    expect((await done).json()).toBe(total);
    await p.next((f) => f.type === "channel-end" && f.channel === 11, 30_000);
    expect(channelFrames(p, 11).map((f) => f.index)).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
    const heard = await p.next((f) => f.type === "event" && f.handler === news, 10_000);
    expect(heard.payload).toEqual({ n: 42 });
    // Reading resumed where it stopped (no subscription to restore): later emits arrive too, once.
    await invoke(b!, "emit", { event: "news", payload: { n: 43 } });
    await p.next((f) => f.type === "event" && f.handler === news && (f.payload as any).n === 43, 10_000);
    expect(eventsOf(p, news)).toEqual([{ n: 42 }, { n: 43 }]);
    expect(p.frames.filter((f) => f.type === "event" && f.event === "gateway://bus-gap")).toEqual([]);
  }, 60_000);

  test("events past the outage buffer are dropped, and pages on other instances are told how many", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    const gaps = await listen(p, "gateway://bus-gap");
    await redis.kill();
    await until("the emitting instance to see the bus go", async () => (await health(b!)).bus.state === "degraded");
    expect(await invoke(b!, "burst", { n: MAX_WAITING_EVENTS + 25 })).toBe(MAX_WAITING_EVENTS + 25);
    expect((await health(b!)).bus).toMatchObject({ waiting: { events: MAX_WAITING_EVENTS }, droppedEvents: 25 });
    await redis.restart();
    const gap = await p.next((f) => f.type === "event" && f.handler === gaps, 20_000);
    expect(gap.payload).toMatchObject({ scope: "events", missed: 25, instance: (await health(b!)).bus.instance });
  }, 60_000);
});

/** `promise`, or a clear failure once `ms` have passed. */
async function within<T>(what: string, promise: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const busState = async (instance: Instance) => (await health(instance)).bus as { state: string; error?: string; instance: string; waiting: { events: number } };

describe("Redis refusing writes while the connection stays up", () => {
  test("maxmemory reached: the emitting instance is degraded while Redis refuses, and back as soon as a write goes through, with what waited delivered in order", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    const news = await listen(p, "news");
    await redis.command(["CONFIG", "SET", "maxmemory", "1"]);
    try {
      await invoke(b!, "emit", { event: "news", payload: { n: 1 } });
      await invoke(b!, "emit", { event: "news", payload: { n: 2 } });
      await until("the emitting instance to report Redis's refusal", async () => {
        const bus = await busState(b!);
        return bus.state === "degraded" && /OOM/.test(bus.error ?? "");
      });
      expect((await busState(b!)).waiting.events).toBeGreaterThanOrEqual(2);
      expect(eventsOf(p, news)).toEqual([]); // nothing reached Redis
    } finally {
      await redis.command(["CONFIG", "SET", "maxmemory", "0"]);
    }
    await until("the emitting instance to be connected again once Redis accepts writes", async () => (await busState(b!)).state === "connected");
    await within("the events that waited", p.next((f) => f.type === "event" && f.handler === news && (f.payload as any).n === 2));
    expect(eventsOf(p, news)).toEqual([{ n: 1 }, { n: 2 }]);
    // A normal call after: a stream across the instances.
    expect((await invokeAsPage(b!, p, "count", { n: 20, onItem: "__CHANNEL__:31" })).json()).toBe(20);
    expect((await within("the end of the stream after the heal", p.next((f) => f.type === "channel-end" && f.channel === 31))).index).toBe(20);
    await until("both instances to be connected", async () => (await busState(a!)).state === "connected" && (await busState(b!)).state === "connected");
  }, 60_000);

  test("WRONGTYPE on the events key: both instances say so, and recover once the key is free again; the emit that waited is delivered, then later ones", async () => {
    const [a, b] = await cluster(2);
    const p = await page(a!);
    const news = await listen(p, "news");
    const marker = await listen(p, "marker");
    await settle(b!, [[p, marker]]); // a has read everything b wrote: nothing unread goes with the key
    const key = `${b!.prefix}:events`;
    await redis.command(["DEL", key]);
    await redis.command(["SET", key, "not a stream"]);
    try {
      await invoke(b!, "emit", { event: "news", payload: { n: 1 } });
      await until("the emitting instance to report the key's wrong type", async () => {
        const bus = await busState(b!);
        return bus.state === "degraded" && /WRONGTYPE/.test(bus.error ?? "");
      });
      // The reading instance too: its reads are refused.
      await until("the reading instance to report the key's wrong type", async () => {
        const bus = await busState(a!);
        return bus.state === "degraded" && /WRONGTYPE/.test(bus.error ?? "");
      });
    } finally {
      await redis.command(["DEL", key]);
    }
    await until("both instances to be connected again", async () => (await busState(a!)).state === "connected" && (await busState(b!)).state === "connected");
    await within("the emit that waited", p.next((f) => f.type === "event" && f.handler === news));
    await invoke(b!, "emit", { event: "news", payload: { n: 2 } });
    await within("an emit after the recovery", p.next((f) => f.type === "event" && f.handler === news && (f.payload as any).n === 2));
    expect(eventsOf(p, news)).toEqual([{ n: 1 }, { n: 2 }]);
  }, 60_000);
});

describe("one instance cut off from Redis (a proxy between them is cut) while the others are not", () => {
  let link: RedisLink;
  beforeEach(async () => {
    link = await startRedisLink(redis.port);
  });
  afterEach(async () => link?.close());

  /** `a` reaches Redis through the proxy, `b` directly; a page's registration lasts 3 s. */
  const parted = () => cluster(2, [link.url, redis.url], ", pageTimeout: 3s");

  test("a page that connects to the cut instance: another instance answers 503 bus-unavailable for it (not 400) until the bus is back; the first call after that reaches it", async () => {
    const [a, b] = await parted();
    const instanceA = (await busState(a!)).instance;
    link.cut();
    await until("the cut instance to see the bus go", async () => (await busState(a!)).state === "degraded");
    const p = await page(a!); // its hello comes at once
    const refused = await invokeAsPage(b!, p, "count", { n: 5, onItem: "__CHANNEL__:40" });
    expect([refused.status, refused.json().kind]).toEqual([503, "bus-unavailable"]);
    // A call that does not reach the page (no channel, no listener) runs as on the page's own instance.
    const plain = await invokeAsPage(b!, p, "local", {});
    expect([plain.status, plain.json()]).toEqual([200, "served"]);
    // Still so once the cut instance's announcements in Redis have expired.
    await until("the cut instance's announcement to expire", async () => (await redis.command(["EXISTS", `${a!.prefix}:instance:${instanceA}`])) === ":0\r\n");
    const later = await invokeAsPage(b!, p, "count", { n: 5, onItem: "__CHANNEL__:41" });
    expect([later.status, later.json().kind]).toEqual([503, "bus-unavailable"]);
    link.heal();
    await until("the cut instance to be connected again", async () => (await busState(a!)).state === "connected");
    const res = await invokeAsPage(b!, p, "count", { n: 5, onItem: "__CHANNEL__:42" });
    expect([res.status, res.json()]).toEqual([200, 5]);
    expect((await within("the stream to the page", p.next((f) => f.type === "channel-end" && f.channel === 42))).index).toBe(5);
    // A page that went away from a connected instance is unknown again (400), not "away" forever.
    const gone = await page(a!);
    await gone.close();
    await until("another instance to answer 400 for a page that went away", async () => {
      const answer = await invokeAsPage(b!, gone, "count", { n: 1, onItem: "__CHANNEL__:43" });
      return answer.status === 400 && answer.json().kind === "bad-request";
    });
  }, 60_000);

  test("a stream to a page on an instance cut off longer than pageTimeout: the handler is stopped, and the page gets gateway://bus-gap and the end marker once its instance is back; a new stream then arrives whole", async () => {
    const [a, b] = await parted();
    const p = await page(a!);
    const gaps = await listen(p, "gateway://bus-gap");
    const done = invokeAsPage(b!, p, "count", { n: 1_000_000, onItem: "__CHANNEL__:44" });
    await p.next((f) => f.type === "channel" && f.channel === 44 && f.index === 100, 10_000);
    link.cut();
    // The page's registration expires: b gives up on it (its channel rejects the handler's next send).
    const res = await within("the handler streaming to the cut-off page to be stopped", done, 30_000);
    expect([res.status, res.json().kind]).toEqual([500, "internal"]);
    link.heal();
    const end = await within("the end marker of the stream cut short", p.next((f) => f.type === "channel-end" && f.channel === 44, 30_000));
    const gap = await within("gateway://bus-gap for the channel", p.next((f) => f.type === "event" && f.handler === gaps));
    expect(gap.payload).toMatchObject({ scope: "channel", channel: 44, instance: (await busState(b!)).instance });
    // The page had every message up to the end marker, in order: its Channel ends there.
    expect(channelFrames(p, 44).map((f) => f.index)).toEqual(Array.from({ length: (end.index as number) + 1 }, (_, i) => i));
    await until("the cut instance to be connected again", async () => (await busState(a!)).state === "connected");
    const again = await invokeAsPage(b!, p, "count", { n: 50, onItem: "__CHANNEL__:45" });
    expect([again.status, again.json()]).toEqual([200, 50]);
    await within("a new stream after the heal", p.next((f) => f.type === "channel-end" && f.channel === 45));
    expect(channelFrames(p, 45).map((f) => f.index)).toEqual(Array.from({ length: 51 }, (_, i) => i));
  }, 90_000);

  test("an instance that stops: its pages are unknown to the others (400), also after its announcement would have expired", async () => {
    const [a, b] = await parted();
    const p = await page(a!);
    expect((await invokeAsPage(b!, p, "count", { n: 1, onItem: "__CHANNEL__:46" })).status).toBe(200);
    await a!.ctx.close();
    instances.splice(instances.indexOf(a!), 1);
    await until("the page's socket to close", () => p.ws.readyState === p.ws.CLOSED);
    await until("the other instance to forget the stopped instance's page (400)", async () => {
      const answer = await invokeAsPage(b!, p, "count", { n: 1, onItem: "__CHANNEL__:47" });
      return answer.status === 400 && answer.json().kind === "bad-request";
    });
    await new Promise((resolve) => setTimeout(resolve, 6_500)); // twice pageTimeout
    const later = await invokeAsPage(b!, p, "count", { n: 1, onItem: "__CHANNEL__:48" });
    expect([later.status, later.json().kind]).toEqual([400, "bad-request"]);
  }, 60_000);
});

describe("Redis restarted without its data", () => {
  let volatile: TestRedis;
  beforeAll(async () => {
    volatile = await startRedis({ persist: false });
  });
  afterAll(async () => volatile?.stop());

  test("a channel stream still completes in order (frames not acknowledged are sent again); pages are told events may be lost", async () => {
    const [a, b] = await cluster(2, volatile.url);
    const p = await page(a!);
    const gaps = await listen(p, "gateway://bus-gap");
    const total = 4000;
    const done = invokeAsPage(b!, p, "count", { n: total, size: 1000, onItem: "__CHANNEL__:12" });
    await p.next((f) => f.type === "channel" && f.channel === 12 && f.index === 200, 10_000);
    await volatile.kill();
    await until("the instances to see the bus go", async () => (await health(b!)).bus.state === "degraded");
    await volatile.restart();
    expect((await done).json()).toBe(total);
    await p.next((f) => f.type === "channel-end" && f.channel === 12, 30_000);
    expect(channelFrames(p, 12).map((f) => f.index)).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
    const gap = await p.next((f) => f.type === "event" && f.handler === gaps, 10_000);
    expect(gap.payload).toMatchObject({ scope: "events" });
  }, 60_000);
});

describe("an instance that starts while Redis is away", () => {
  test("serves at once, reports the bus connecting, and joins the others when Redis answers", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const [a, b] = await cluster(2, url);
    expect((await health(a!)).bus).toMatchObject({ state: "connecting", error: expect.stringMatching(/ECONNREFUSED/) });
    expect(a!.ctx.logger.lines.some((l) => /not reachable yet/.test(l) && !l.includes("password"))).toBe(true);
    expect(await invoke(a!, "local")).toBe("served");
    const p = await page(a!);
    const news = await listen(p, "news");
    await invoke(b!, "emit", { event: "news", payload: { n: 7 } }); // waits on b
    const late = await startRedis({ port });
    try {
      await until("both instances to connect", async () => (await health(a!)).bus.state === "connected" && (await health(b!)).bus.state === "connected");
      expect((await p.next((f) => f.type === "event" && f.handler === news, 10_000)).payload).toEqual({ n: 7 });
      const res = await invokeAsPage(b!, p, "count", { n: 10, onItem: "__CHANNEL__:30" });
      expect(res.json()).toBe(10);
      await p.next((f) => f.type === "channel-end" && f.channel === 30);
    } finally {
      await Promise.all(instances.splice(-2).map((i) => i.ctx.close()));
      await late.stop();
    }
  }, 60_000);
});

describe("an instance that crashes", () => {
  test("the page's instance killed: the handler streaming to it from another instance is stopped (its registration expires)", async () => {
    const prefix = `crash${process.pid}`;
    const files = { "gateway.yaml": manifest(redis.url, prefix), "handlers/app.ts": APP };
    const app = tempApp(files);
    const doomed = await startGateway("serve", app.dir);
    try {
      const ctx = await gatewayFor(files);
      const server = await ctx.gw.listen({ port: 0 });
      const b: Instance = { ctx, server, url: server.url, prefix };
      instances.push(b);
      const p = await connectPage(doomed.url);
      const done = invokeAsPage(b, p, "count", { n: 100_000_000, onItem: "__CHANNEL__:20" });
      await p.next((f) => f.type === "channel" && f.channel === 20 && f.index === 100);
      doomed.child.kill("SIGKILL"); // no goodbye: its pages stay registered until they expire
      const res = await done;
      expect(res.status).toBe(500);
      expect(res.json().kind).toBe("internal");
      expect((await invoke(b, "progress")) as number).toBeLessThan(100_000_000);
    } finally {
      doomed.kill();
      app.remove();
    }
  }, 60_000);
});

describe("one instance with a bus", () => {
  test("without other instances it behaves like the in-process bus, and health names the bus", async () => {
    const [a] = await cluster(1);
    const p = await page(a!);
    const news = await listen(p, "news");
    await invoke(a!, "emit", { event: "news", payload: { n: 1 } });
    await p.next((f) => f.type === "event" && f.handler === news);
    await until("the emit to be written to Redis", async () => (await health(a!)).bus.waiting.events === 0);
    expect((await health(a!)).bus).toMatchObject({ kind: "redis", state: "connected", waiting: { events: 0, frames: 0 }, droppedEvents: 0 });
  });
});
