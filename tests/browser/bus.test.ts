// A Chromium page behind a load balancer in front of two instances joined by Redis: the page's
// WebSocket lands on one instance and its HTTP invocations on the other (no sticky sessions), as
// a plain round-robin balancer may place them. The real @tauri-apps/api, unchanged: events from
// either instance arrive once, a channel streams in order from the other instance, and the
// page's own emits reach listeners on both.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import type { Browser, Page } from "playwright-core";
import { gatewayFor } from "../helpers/app.ts";
import { startBalancer, type Balancer } from "../helpers/balancer.ts";
import { launchBrowser, openPage, startPageServer, type PageServer } from "../helpers/browser.ts";
import { invokeJson } from "../helpers/http.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
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
  bus: { url: "${redisUrl}", prefix: ${prefix} }
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
let pages: PageServer;
let browser: Browser;
let balancer: Balancer;
const gateways: Awaited<ReturnType<typeof gatewayFor>>[] = [];
const servers: Listening[] = [];
let page: Page;
let wsPage: TestPage;

beforeAll(async () => {
  redis = await startRedis();
  pages = await startPageServer();
  for (let i = 0; i < 2; i++) {
    const gateway = await gatewayFor({ "gateway.yaml": manifest(pages.origin, redis.url, `browser${process.pid}`), "handlers/h.ts": HANDLERS });
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
