// Events to a principal, and what a page may go on hearing. Two instances on one real
// redis-server (server.bus); pages are `ws` clients authenticated with ?token= (auth.tokens, or a
// JWT). `app.emitTo({ principal })` reaches exactly that principal's pages on both instances, and
// nobody else's listeners (not even `Any` ones, not the handlers' own); a listen capability
// revoked by an edit stops deliveries to a page already listening, and so does a credential
// that expired.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { SignJWT } from "jose";
import { gatewayFor } from "./helpers/app.ts";
import { startRedis, type TestRedis } from "./helpers/redis.ts";
import { connectPage, type TestPage } from "./helpers/ws.ts";
import type { Listening } from "../gateway/transports/http.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789";
const SECRET = "a-test-secret-of-at-least-32-bytes!!";

const manifest = (url: string, prefix: string, userEvents = "[news, marker]") => `
version: 1
server:
  bus: { url: "${url}", prefix: ${prefix} }
auth:
  tokens:
    alice: { token: ${ALICE}, roles: [user] }
    bob: { token: ${BOB}, roles: [user] }
  jwt: { secret: "${SECRET}" }
capabilities:
  users:
    principals: ["*"]
    commands: { allow: ["*"] }
    events: { listen: ${userEvents} }
  guests:
    principals: [anonymous]
    events: { listen: [news, marker] }
commands:
  emit: { handler: handlers/app.ts#emit }
  emit-to: { handler: handlers/app.ts#emitTo }
  attempt-emit-to: { handler: handlers/app.ts#attemptEmitTo }
  heard: { handler: handlers/app.ts#heard }
events:
  news: { payload: { type: object, properties: { n: { type: integer } }, required: [n] } }
  marker: {}
`;

const APP = `
import type { Invoke, SetupContext } from "ipc-gateway";
const heardHere: unknown[] = [];
export function setup({ app }: SetupContext) {
  app.listen("news", (e) => heardHere.push(e.payload));
}
export const emit = ({ body, app }: Invoke<any>) => { app.emit(body.event, body.payload); return null; };
export const emitTo = ({ body, app }: Invoke<any>) => { app.emitTo(body.target, body.event, body.payload); return null; };
export function attemptEmitTo({ body, app }: Invoke<any>) {
  try { app.emitTo(body.target, body.event, body.payload); return { ok: true }; } catch (error: any) { return { ok: false, kind: error.kind, name: error.name }; }
}
export const heard = () => heardHere.splice(0);
`;

interface Instance {
  ctx: Awaited<ReturnType<typeof gatewayFor>>;
  server: Listening;
  url: string;
}

let redis: TestRedis;
let prefixes = 0;
const instances: Instance[] = [];
const pages: TestPage[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(pages.map((p) => p.close()));
  await Promise.all(instances.map((i) => i.ctx.close()));
  await redis?.stop();
});

/** Two instances of one app on one bus; `watchFirst`: the first one reloads on edits (gateway dev). */
async function cluster(watchFirst = false): Promise<[Instance, Instance]> {
  const prefix = `pe${process.pid}-${++prefixes}`;
  const group: Instance[] = [];
  for (let i = 0; i < 2; i++) {
    const ctx = await gatewayFor({ "gateway.yaml": manifest(redis.url, prefix), "handlers/app.ts": APP }, { watch: watchFirst && i === 0 });
    const server = await ctx.gw.listen({ port: 0 });
    const instance = { ctx, server, url: server.url };
    group.push(instance);
    instances.push(instance);
  }
  if (watchFirst) await group[0]!.ctx.gw.watching;
  return group as [Instance, Instance];
}

async function page(instance: Instance, token?: string, label = "main"): Promise<TestPage> {
  const p = await connectPage(instance.url, label, {}, token === undefined ? {} : { token });
  pages.push(p);
  return p;
}

let nextHandler = 1;
async function listen(p: TestPage, event: string, target: unknown = { kind: "Any" }): Promise<number> {
  const handler = nextHandler++;
  const reply = await p.call("plugin:event|listen", { event, target, handler });
  expect(reply).toMatchObject({ ok: true });
  return handler;
}

const heard = (p: TestPage, handler: number) =>
  p.frames
    .filter((f) => f.type === "event" && f.handler === handler)
    .map((f) => (f.payload as { n: number }).n)
    .sort((a, b) => a - b);

/** In-process, as a principal every capability above lets call anything. */
const invoke = (instance: Instance, cmd: string, body: unknown) => instance.ctx.gw.invoke(cmd, body, { principal: { id: "ops" } });

/**
 * A marker emitted from each instance after what it emitted before, awaited on every listed
 * listener: an instance's emits arrive everywhere in the order it made them, so whatever came
 * before has arrived by then (and counting it tells "not delivered" from "not yet").
 */
async function settle(group: Instance[], markers: [TestPage, number][]): Promise<void> {
  for (const from of group) {
    const token = Math.random();
    await invoke(from, "emit", { event: "marker", payload: token });
    await Promise.all(markers.map(([p, handler]) => p.next((f) => f.type === "event" && f.handler === handler && f.payload === token, 10_000)));
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("emitTo({ principal })", () => {
  test("reaches exactly that principal's pages, on both instances, whatever their listeners' targets", async () => {
    const [a, b] = await cluster();
    const aliceA = await page(a, ALICE);
    const aliceB = await page(b, ALICE, "side");
    const bobA = await page(a, BOB);
    const bobB = await page(b, BOB);
    const anonB = await page(b);

    const newsAliceA = await listen(aliceA, "news");
    // A listener with a label target: a principal's emit is addressed to the principal, not to windows.
    const newsAliceB = await listen(aliceB, "news", { kind: "Window", label: "elsewhere" });
    const newsBobA = await listen(bobA, "news");
    // Fields beyond Tauri's in a listener's target are dropped: they cannot ask for Alice's events.
    const newsBobB = await listen(bobB, "news", { kind: "Any", principal: "alice" });
    const newsAnonB = await listen(anonB, "news");
    const markers: [TestPage, number][] = [];
    for (const p of [aliceA, aliceB, bobA, bobB, anonB]) markers.push([p, await listen(p, "marker")]);

    await invoke(a, "emit-to", { target: { principal: "alice" }, event: "news", payload: { n: 1 } });
    await invoke(b, "emit-to", { target: { principal: "alice" }, event: "news", payload: { n: 2 } });
    await invoke(a, "emit-to", { target: { principal: "bob" }, event: "news", payload: { n: 3 } });
    await invoke(b, "emit-to", { target: { principal: "nobody" }, event: "news", payload: { n: 4 } });
    await invoke(a, "emit", { event: "news", payload: { n: 5 } }); // to everyone, for contrast
    await settle([a, b], markers);

    expect(heard(aliceA, newsAliceA)).toEqual([1, 2, 5]);
    expect(heard(aliceB, newsAliceB)).toEqual([1, 2, 5]);
    expect(heard(bobA, newsBobA)).toEqual([3, 5]);
    expect(heard(bobB, newsBobB)).toEqual([3, 5]);
    expect(heard(anonB, newsAnonB)).toEqual([5]);
    // The handlers' own listeners (app.listen) hear emits, not what was sent to a principal's pages.
    for (const instance of [a, b]) expect(((await invoke(instance, "heard", null)) as { n: number }[]).map((p) => p.n)).toEqual([5]);
  }, 30_000);

  test("a principal's emit is checked like any other: an undeclared event or a bad payload throws, and so does an empty principal", async () => {
    const [a] = await cluster();
    const attempt = (target: unknown, event: string, payload: unknown) => invoke(a, "attempt-emit-to", { target, event, payload });
    expect(await attempt({ principal: "alice" }, "nope", null)).toEqual({ ok: false, kind: "unknown-event", name: "GatewayError" });
    expect(await attempt({ principal: "alice" }, "news", { n: "x" })).toEqual({ ok: false, kind: "invalid-payload", name: "GatewayError" });
    expect(await attempt({ principal: "" }, "news", { n: 1 })).toEqual({ ok: false, name: "TypeError" });
    expect(await attempt({ principal: 42 }, "news", { n: 1 })).toEqual({ ok: false, name: "TypeError" });
    expect(await attempt({ principal: "alice" }, "news", { n: 1 })).toEqual({ ok: true });
  });
});

describe("what a page goes on hearing", () => {
  test("a listen capability revoked by an edit stops deliveries to a page already listening, and its listener is gone", async () => {
    const [a, b] = await cluster(true);
    const aliceA = await page(a, ALICE);
    const aliceB = await page(b, ALICE);
    const newsA = await listen(aliceA, "news");
    const newsB = await listen(aliceB, "news");
    const markers: [TestPage, number][] = [
      [aliceA, await listen(aliceA, "marker")],
      [aliceB, await listen(aliceB, "marker")],
    ];
    await invoke(b, "emit", { event: "news", payload: { n: 1 } });
    await settle([a, b], markers);
    expect(heard(aliceA, newsA)).toEqual([1]);

    const reloaded = async (userEvents: string) => {
      const before = a.ctx.gw.generation.id;
      a.ctx.app.write("gateway.yaml", manifest(redis.url, `pe${process.pid}-${prefixes}`, userEvents));
      await until("the reload", () => a.ctx.gw.generation.id > before);
    };
    // Instance a no longer lets users listen to news (b, not edited, still does).
    await reloaded("[marker]");
    await invoke(b, "emit", { event: "news", payload: { n: 2 } });
    await invoke(a, "emit-to", { target: { principal: "alice" }, event: "news", payload: { n: 3 } });
    await settle([a, b], markers);
    expect(heard(aliceA, newsA)).toEqual([1]);
    expect(heard(aliceB, newsB)).toEqual([1, 2, 3]);
    // A new listen is refused outright.
    expect(await aliceA.call("plugin:event|listen", { event: "news", target: { kind: "Any" }, handler: 999 })).toMatchObject({ ok: false, error: { kind: "event-not-allowed" } });

    // Allowed again: the dropped listener stays dropped (the page listens again if it wants to).
    await reloaded("[news, marker]");
    const again = await listen(aliceA, "news");
    await invoke(b, "emit", { event: "news", payload: { n: 4 } });
    await settle([a, b], markers);
    expect(heard(aliceA, newsA)).toEqual([1]);
    expect(heard(aliceA, again)).toEqual([4]);
  }, 30_000);

  test("a credential that expired stops deliveries", async () => {
    const [a, b] = await cluster();
    const exp = Math.floor(Date.now() / 1000) + 4;
    const jwt = await new SignJWT({ roles: ["user"] }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime(exp).sign(new TextEncoder().encode(SECRET));
    const alice = await page(a, jwt);
    const bob = await page(a, BOB);
    const newsAlice = await listen(alice, "news");
    const newsBob = await listen(bob, "news");
    const bobMarker: [TestPage, number] = [bob, await listen(bob, "marker")];
    await invoke(b, "emit", { event: "news", payload: { n: 1 } });
    await alice.next((f) => f.type === "event" && f.handler === newsAlice);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 50));
    await invoke(b, "emit", { event: "news", payload: { n: 2 } });
    await invoke(a, "emit-to", { target: { principal: "alice" }, event: "news", payload: { n: 3 } });
    await settle([a, b], [bobMarker]);
    // A round trip on Alice's socket: whatever was sent to it before has arrived (and her calls are refused now).
    expect(await alice.call("plugin:event|listen", { event: "news", target: { kind: "Any" }, handler: 998 })).toMatchObject({ ok: false, error: { kind: "unauthorized" } });
    expect(heard(alice, newsAlice)).toEqual([1]);
    expect(heard(bob, newsBob)).toEqual([1, 2]);
  }, 30_000);
});
