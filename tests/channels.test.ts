// Channels through real sockets (a `ws` client as the page): order, the end marker, validation,
// binary messages, back-pressure against a page that stops reading, and a page going away.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { gatewayFor } from "./helpers/app.ts";
import { invokeJson } from "./helpers/http.ts";
import { connectPage, type Frame, type TestPage } from "./helpers/ws.ts";
import type { Listening } from "../gateway/transports/http.ts";

const MANIFEST = `
version: 1
commands:
  count:
    handler: handlers/stream.ts#count
    body: { type: object, properties: { n: { type: integer }, onItem: { x-channel: numbers } }, required: [onItem] }
  invalid-then-valid:
    handler: handlers/stream.ts#invalidThenValid
    body: { type: object, properties: { onItem: { x-channel: numbers } } }
  bytes:
    handler: handlers/stream.ts#bytes
    body: { type: object, properties: { onChunk: { x-channel: chunks } } }
  flood:
    handler: handlers/stream.ts#flood
    body: { type: object, properties: { n: { type: integer }, onItem: { x-channel: blobs } } }
  fire-and-forget:
    handler: handlers/stream.ts#fireAndForget
    body: { type: object, properties: { onItem: { x-channel: blobs } } }
  forever:
    handler: handlers/stream.ts#forever
    body: { type: object, properties: { onItem: { x-channel: numbers } } }
  whole-body:
    handler: handlers/stream.ts#wholeBody
    body: { x-channel: numbers }
  state:
    handler: handlers/stream.ts#state
channels:
  numbers:
    message: { type: integer }
  chunks:
    message: binary
  blobs:
    message: { type: string }
`;

const STREAM = `
import type { Channel, Invoke } from "ipc-gateway";
const state: Record<string, unknown> = {};
export async function count({ body }: Invoke<{ n: number; onItem: Channel<number> }>) {
  for (let i = 0; i < body.n; i++) await body.onItem.send(i);
  return body.n;
}
export async function invalidThenValid({ body }: Invoke<{ onItem: Channel<unknown> }>) {
  await body.onItem.send(1);
  try { await body.onItem.send("not an integer"); } catch (error: any) { state.invalid = { kind: error.kind, name: error.name }; }
  await body.onItem.send(2);
  return "done";
}
export async function bytes({ body }: Invoke<{ onChunk: Channel<Uint8Array> }>) {
  await body.onChunk.send(new Uint8Array([1, 2, 3]));
  await body.onChunk.send(new Uint8Array([255]));
  return null;
}
export async function flood({ body }: Invoke<{ n: number; onItem: Channel<string> }>) {
  const blob = "x".repeat(16 * 1024);
  state.sent = 0;
  for (let i = 0; i < body.n; i++) {
    await body.onItem.send(blob);
    state.sent = i + 1;
  }
  return body.n;
}
export async function fireAndForget({ body }: Invoke<{ onItem: Channel<string> }>) {
  const blob = "y".repeat(64 * 1024);
  const sends = [];
  for (let i = 0; i < 5000; i++) sends.push(body.onItem.send(blob).then(() => "sent", (e: any) => e.kind));
  const outcomes = await Promise.all(sends);
  state.fireAndForget = { sent: outcomes.filter((o) => o === "sent").length, full: outcomes.filter((o) => o === "channel-full").length };
  return null;
}
export async function forever({ body, signal }: Invoke<{ onItem: Channel<number> }>) {
  state.forever = "running";
  let i = 0;
  try {
    while (!signal.aborted) {
      await body.onItem.send(i++);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } catch {
    // the send it awaited when the page went away is refused (after the signal is aborted)
  }
  state.forever = { aborted: signal.aborted, reason: signal.reason?.name };
  try { await body.onItem.send(-1); } catch (error: any) { state.afterClose = error.kind; }
  return null;
}
export async function wholeBody({ body }: Invoke<Channel<number>>) {
  await body.send(42);
  return body.name;
}
export const state_ = () => state;
export { state_ as state };
`;

let ctx: Awaited<ReturnType<typeof gatewayFor>>;
let server: Listening;

beforeAll(async () => {
  ctx = await gatewayFor({ "gateway.yaml": MANIFEST, "handlers/stream.ts": STREAM });
  server = await ctx.gw.listen({ port: 0 });
});
afterAll(async () => ctx.close());

/** Invoke over HTTP as the page (header Gateway-Page), with a channel id in the body. */
function invokeAsPage(p: TestPage, cmd: string, body: unknown) {
  return invokeJson(server.url, cmd, body, { "Gateway-Page": p.id });
}

const channelFrames = (p: TestPage, id: number) => p.frames.filter((f) => (f.type === "channel" || f.type === "channel-end") && f.channel === id);

describe("channels", () => {
  test("messages arrive in order with a contiguous index, then the end marker with the count", async () => {
    const p = await connectPage(server.url);
    try {
      const res = await invokeAsPage(p, "count", { n: 1000, onItem: "__CHANNEL__:7" });
      expect(res.json()).toBe(1000);
      const end = await p.next((f) => f.type === "channel-end" && f.channel === 7);
      expect(end).toEqual({ type: "channel-end", channel: 7, index: 1000 });
      const frames = channelFrames(p, 7);
      expect(frames).toHaveLength(1001);
      frames.slice(0, 1000).forEach((f, i) => expect(f).toEqual({ type: "channel", channel: 7, index: i, message: i }));
      expect(frames[1000]).toBe(end);
    } finally {
      await p.close();
    }
  });

  test("an invalid message is rejected in the handler and nothing is sent", async () => {
    const p = await connectPage(server.url);
    try {
      await invokeAsPage(p, "invalid-then-valid", { onItem: "__CHANNEL__:8" });
      await p.next((f) => f.type === "channel-end" && f.channel === 8);
      expect(channelFrames(p, 8).map((f) => [f.type, f.index, f.message])).toEqual([
        ["channel", 0, 1],
        ["channel", 1, 2],
        ["channel-end", 2, undefined],
      ]);
      expect((await ctx.gw.invoke<any>("state")).invalid).toEqual({ kind: "invalid-message", name: "GatewayError" });
    } finally {
      await p.close();
    }
  });

  test("binary messages travel as binary frames", async () => {
    const p = await connectPage(server.url);
    try {
      await invokeAsPage(p, "bytes", { onChunk: "__CHANNEL__:9" });
      await p.next((f) => f.type === "channel-end" && f.channel === 9);
      const frames = channelFrames(p, 9);
      expect(frames.map((f) => [f.index, f.bytes ? [...f.bytes] : undefined])).toEqual([
        [0, [1, 2, 3]],
        [1, [255]],
        [2, undefined],
      ]);
    } finally {
      await p.close();
    }
  });

  test("the whole body may be a channel", async () => {
    const p = await connectPage(server.url);
    try {
      expect((await invokeAsPage(p, "whole-body", "__CHANNEL__:10")).json()).toBe("numbers");
      await p.next((f) => f.type === "channel-end" && f.channel === 10);
      expect(channelFrames(p, 10).map((f) => f.message)).toEqual([42, undefined]);
    } finally {
      await p.close();
    }
  });

  test("a channel needs the page's socket", async () => {
    const res = await invokeJson(server.url, "count", { n: 1, onItem: "__CHANNEL__:1" });
    expect(res.status).toBe(400);
    expect(res.json().kind).toBe("bad-request");
    expect((await invokeJson(server.url, "count", { n: 1, onItem: "not a channel" }, {})).json().kind).toBe("invalid-body");
  });

  test("a page id is only good from the page's own origin", async () => {
    const p = await connectPage(server.url, "main", { Origin: server.url });
    try {
      // Same page id, presented by a request without the page's Origin: the gateway does not treat it as that page.
      const res = await invokeJson(server.url, "count", { n: 1, onItem: "__CHANNEL__:11" }, { "Gateway-Page": p.id });
      expect(res.status).toBe(400);
      const own = await invokeJson(server.url, "count", { n: 1, onItem: "__CHANNEL__:11" }, { "Gateway-Page": p.id, Origin: server.url });
      expect(own.status).toBe(200);
    } finally {
      await p.close();
    }
  });
});

describe("back-pressure", () => {
  test("a page that stops reading stalls the handler's await send(); nothing is lost when it reads again", async () => {
    const p = await connectPage(server.url);
    try {
      const total = 3000; // 16 KiB each: 48 MiB, far more than the gateway may buffer
      p.ws.pause();
      const done = invokeAsPage(p, "flood", { n: total, onItem: "__CHANNEL__:12" });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const stalledAt = (await ctx.gw.invoke<any>("state")).sent as number;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stillAt = (await ctx.gw.invoke<any>("state")).sent as number;
      expect(stalledAt).toBeLessThan(total);
      expect(stillAt).toBe(stalledAt); // not creeping on: it waits for the page
      p.ws.resume();
      expect((await done).json()).toBe(total);
      const end = await p.next((f) => f.type === "channel-end" && f.channel === 12, 20_000);
      expect(end.index).toBe(total);
      const indexes = channelFrames(p, 12).map((f: Frame) => f.index);
      expect(indexes).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
    } finally {
      await p.close();
    }
  }, 30_000);

  test("sends that are not awaited are refused past the bound (channel-full), never buffered without limit", async () => {
    const p = await connectPage(server.url);
    try {
      p.ws.pause();
      const done = invokeAsPage(p, "fire-and-forget", { onItem: "__CHANNEL__:13" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      p.ws.resume();
      await done;
      const outcome = (await ctx.gw.invoke<any>("state")).fireAndForget;
      expect(outcome.full).toBeGreaterThan(0);
      expect(outcome.sent + outcome.full).toBe(5000);
      await p.next((f) => f.type === "channel-end" && f.channel === 13, 20_000);
      const frames = channelFrames(p, 13);
      expect(frames).toHaveLength(outcome.sent + 1); // what was accepted arrived, in order
      frames.forEach((f, i) => expect(f.index).toBe(i));
    } finally {
      await p.close();
    }
  }, 30_000);
});

describe("a page that goes away", () => {
  test("aborts the handler's signal and makes further sends reject", async () => {
    const p = await connectPage(server.url);
    const pending = invokeAsPage(p, "forever", { onItem: "__CHANNEL__:14" }).catch(() => undefined);
    await p.next((f) => f.type === "channel" && f.channel === 14 && f.index === 3);
    await p.close();
    // Up to 10 s for the close to reach the handler (a bound, not a timing: a busy machine may take a while).
    for (let i = 0; i < 500 && (await ctx.gw.invoke<any>("state")).forever === "running"; i++) await new Promise((r) => setTimeout(r, 20));
    const state = await ctx.gw.invoke<any>("state");
    expect(state.forever).toEqual({ aborted: true, reason: "AbortError" });
    expect(state.afterClose).toBe("channel-closed");
    await pending;
  });
});
