// A Chromium page behind a load balancer in front of two instances joined by Redis: the page's
// WebSocket lands on one instance and its HTTP invocations on the other (no sticky sessions), as
// a plain round-robin balancer may place them. The real @tauri-apps/api, unchanged: events from
// either instance arrive once, a channel streams in order from the other instance, the page's own
// emits reach listeners on both, and a stream cut short while the page's instance is cut off from
// Redis ends on the page (its Channel is done) with `gateway://bus-gap` naming the channel.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import type { Browser, Page } from "playwright-core";
import { gatewayFor } from "../helpers/app.ts";
import { startBalancer, type Balancer } from "../helpers/balancer.ts";
import { launchBrowser, openPage, startPageServer, type PageServer } from "../helpers/browser.ts";
import { invokeJson, request } from "../helpers/http.ts";
import { startRedis, startRedisLink, type RedisLink, type TestRedis } from "../helpers/redis.ts";
import { connectPage, type TestPage } from "../helpers/ws.ts";
import type { Listening } from "../../gateway/index.ts";

const HANDLERS = `
import type { Channel, Invoke } from "ipc-gateway";
import { randomUUID } from "node:crypto";
const instance = randomUUID();
export async function stream({ body }: Invoke<{ n: number; onItem: Channel<number> }>) {
  for (let i = 0; i < body.n; i++) await body.onItem.send(i);
  return instance;
}
export const whoami = () => instance;
export const emit = ({ body, app }: Invoke<any>) => { app.emit(body.event, body.payload); return instance; };
`;

const manifest = (origin: string, redisUrl: string, prefix: string) => `
version: 1
server:
  origins: [${origin}]
  hosts: [127.0.0.1]   # the balancer's address, as the Host header pages send
  bus: { url: "${redisUrl}", prefix: ${prefix}, pageTimeout: 3s }
commands:
  stream: { handler: handlers/h.ts#stream, body: { type: object, properties: { n: { type: integer }, onItem: { x-channel: numbers } } } }
  whoami: { handler: handlers/h.ts#whoami }
  emit: { handler: handlers/h.ts#emit }
channels:
  numbers: { message: { type: integer } }
events:
  news: {}
`;

let redis: TestRedis;
/** Between instance 0 (the page's socket) and Redis: a test cuts it. */
let link: RedisLink;
let pages: PageServer;
let browser: Browser;
let balancer: Balancer;
const gateways: Awaited<ReturnType<typeof gatewayFor>>[] = [];
const servers: Listening[] = [];
let page: Page;
let wsPage: TestPage;

beforeAll(async () => {
  redis = await startRedis();
  link = await startRedisLink(redis.port);
  pages = await startPageServer();
  for (let i = 0; i < 2; i++) {
    const redisUrl = i === 0 ? link.url : redis.url;
    const gateway = await gatewayFor({ "gateway.yaml": manifest(pages.origin, redisUrl, `browser${process.pid}`), "handlers/h.ts": HANDLERS });
    gateways.push(gateway);
    servers.push(await gateway.gw.listen({ port: 0 }));
  }
  // Sockets to instance 0, everything else to instance 1.
  balancer = await startBalancer(
    servers.map((s) => s.port),
    (line) => (line.includes("/ipc/ws") ? 0 : 1),
  );
  pages.setGateway(balancer.url);
  browser = await launchBrowser();
  page = await openPage(browser, `${pages.origin}/?window=main&transport=http`);
  wsPage = await connectPage(servers[1]!.url, "watcher");
}, 60_000);

afterAll(async () => {
  await wsPage?.close();
  await browser?.close();
  await balancer?.close();
  await Promise.all(gateways.map((g) => g.close()));
  await pages?.close();
  await link?.close();
  await redis?.stop();
});

test("the page's socket and its invocations are on different instances", async () => {
  expect(servers[0]!.port).not.toBe(servers[1]!.port);
  const socketInstance = await gateways[0]!.gw.invoke("whoami");
  const invokedOn = await page.evaluate(() => window.api.invoke("whoami"));
  expect(invokedOn).not.toBe(socketInstance);
});

test("events emitted on either instance reach the page once", async () => {
  await page.evaluate(async () => {
    (window as any).heard = [];
    await window.api.listen<number>("news", (e) => (window as any).heard.push(e.payload));
  });
  for (const [i, server] of servers.entries()) await invokeJson(server.url, "emit", { event: "news", payload: i });
  // A last one from each: once it is in, the ones before it are (each instance's emits keep their order).
  for (const server of servers) await invokeJson(server.url, "emit", { event: "news", payload: `last ${server.port}` });
  await page.waitForFunction((ports) => ports.every((p) => (window as any).heard.includes(`last ${p}`)), servers.map((s) => s.port));
  const heard = await page.evaluate(() => (window as any).heard as unknown[]);
  expect(heard.filter((h) => typeof h === "number").sort()).toEqual([0, 1]);
  expect(heard).toHaveLength(4);
});

test("a channel streams 5,000 messages in order from the instance that runs the handler to the page's instance", async () => {
  const result = await page.evaluate(async () => {
    const received: number[] = [];
    const channel = new window.api.Channel<number>((m) => received.push(m));
    const ranOn = await window.api.invoke("stream", { n: 5000, onItem: channel });
    for (let i = 0; i < 1000 && window.__TAURI_INTERNALS__.callbacks.has(channel.id); i++) await new Promise((r) => setTimeout(r, 10));
    return { ranOn, received, ended: !window.__TAURI_INTERNALS__.callbacks.has(channel.id) };
  });
  expect(result.ranOn).toBe(await gateways[1]!.gw.invoke("whoami"));
  expect(result.received).toHaveLength(5000);
  expect(result.received.every((value, i) => value === i)).toBe(true);
  expect(result.ended).toBe(true);
});

test("the page's emit (invoked on the other instance) reaches a page on each instance", async () => {
  const handler = 1;
  expect((await wsPage.call("plugin:event|listen", { event: "news", target: { kind: "Any" }, handler })).ok).toBe(true);
  await page.evaluate(() => window.api.emit("news", "from the page"));
  await wsPage.next((f) => f.type === "event" && f.handler === handler && f.payload === "from the page");
  await page.waitForFunction(() => (window as any).heard.includes("from the page"));
});

/** `check` until it holds, or a clear failure. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("a stream cut short while the page's instance is cut off from Redis (past pageTimeout) ends on the page once it is back, and gateway://bus-gap names the channel", async () => {
  const busState = async (server: Listening) => ((await request(`${server.url}/__gateway/health`, { method: "GET" })).json() as any).bus.state as string;
  const outcome = page.evaluate(async () => {
    const gaps: any[] = [];
    await window.api.listen("gateway://bus-gap", (e) => gaps.push(e.payload));
    const received: number[] = [];
    const channel = new window.api.Channel<number>((m) => received.push(m));
    (window as any).cutShort = { received, settled: false };
    const answer = await window.api.invoke("stream", { n: 100_000_000, onItem: channel }).then(
      () => "resolved",
      (error) => error,
    );
    (window as any).cutShort.settled = true;
    for (let i = 0; i < 3000 && window.__TAURI_INTERNALS__.callbacks.has(channel.id); i++) await new Promise((r) => setTimeout(r, 10));
    return { answer, ended: !window.__TAURI_INTERNALS__.callbacks.has(channel.id), gaps, received, id: channel.id };
  });
  await page.waitForFunction(() => (window as any).cutShort?.received.length > 100);
  link.cut();
  // The handler's instance gives up on the page (its registration expired): the invocation answers.
  await page.waitForFunction(() => (window as any).cutShort.settled === true, undefined, { timeout: 30_000 });
  link.heal();
  const result = await outcome;
  expect(result.answer).toMatchObject({ kind: "internal" });
  expect(result.ended).toBe(true);
  expect(result.received.every((value, i) => value === i)).toBe(true);
  expect(result.gaps).toContainEqual(expect.objectContaining({ scope: "channel", channel: result.id }));
  // A normal stream after the heal.
  await until("the page's instance to be connected again", async () => (await busState(servers[0]!)) === "connected");
  const again = await page.evaluate(async () => {
    const received: number[] = [];
    const channel = new window.api.Channel<number>((m) => received.push(m));
    await window.api.invoke("stream", { n: 500, onItem: channel });
    for (let i = 0; i < 1000 && window.__TAURI_INTERNALS__.callbacks.has(channel.id); i++) await new Promise((r) => setTimeout(r, 10));
    return { received, ended: !window.__TAURI_INTERNALS__.callbacks.has(channel.id) };
  });
  expect(again.ended).toBe(true);
  expect(again.received).toEqual(Array.from({ length: 500 }, (_, i) => i));
}, 90_000);
