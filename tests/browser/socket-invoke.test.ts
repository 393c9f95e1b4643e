// Invoke over the page's WebSocket, where it differs from HTTP: a socket that drops with calls in
// flight rejects them (never retried) and reconnects; a large body goes over HTTP beside the small
// calls; the body limit is the same on both paths.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import type { Page } from "playwright-core";
import { WebSocket } from "ws";
import { openPage, startBrowserApp, type BrowserApp } from "../helpers/browser.ts";

const HANDLERS = `
import type { Invoke } from "ipc-gateway";
let runs = 0;
export const echo = ({ body, headers }: Invoke<{ text: string }>) => ({ length: body.text.length, overHttp: headers["user-agent"] !== undefined });
export const size = ({ body }: Invoke<Uint8Array>) => body.byteLength;
export async function slow() {
  runs++;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return "slow done";
}
export const runsSoFar = () => runs;
`;

const manifest = (origin: string) => `
version: 1
server:
  origins: [${origin}]
  bodyLimit: 300kb
commands:
  echo: { handler: handlers/h.ts#echo, body: { type: object, properties: { text: { type: string } }, required: [text] } }
  size: { handler: handlers/h.ts#size, body: binary }
  slow: { handler: handlers/h.ts#slow }
  runs: { handler: handlers/h.ts#runsSoFar }
`;

let app: BrowserApp;
let page: Page;

beforeAll(async () => {
  app = await startBrowserApp(manifest, { "handlers/h.ts": HANDLERS });
  page = app.main;
}, 60_000);

afterAll(async () => app?.close());

test("a large body goes over HTTP beside the small calls on the socket, and all answer", async () => {
  const result = await page.evaluate(async () => {
    const large = window.api.invoke<{ length: number; overHttp: boolean }>("echo", { text: "x".repeat(200_000) });
    const small = Array.from({ length: 20 }, (_, i) => window.api.invoke<{ length: number; overHttp: boolean }>("echo", { text: "s".repeat(i) }));
    return { large: await large, small: await Promise.all(small) };
  });
  expect(result.large).toEqual({ length: 200_000, overHttp: true });
  expect(result.small.every((r, i) => r.length === i && r.overHttp === false)).toBe(true);
});

test("the body limit is the same on both paths", async () => {
  const result = await page.evaluate(async () => {
    const outcome = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: { kind: string; limit: number }) => ({ kind: e.kind, limit: e.limit }));
    return {
      http: await outcome(window.api.invoke("echo", { text: "x".repeat(400_000) })), // over 64 KiB: HTTP
      socketBytes: await outcome(window.api.invoke("size", new Uint8Array(40_000))), // under: the socket
    };
  });
  expect(result.http).toEqual({ kind: "payload-too-large", limit: 307_200 });
  expect(result.socketBytes).toEqual({ ok: 40_000 });

  // A client of its own sending over the limit on the socket gets the same answer, text or binary.
  const ws = new WebSocket(`${app.url.replace("http", "ws")}/ipc/ws`);
  const replies: Record<string, unknown>[] = [];
  ws.on("message", (data: Buffer, binary: boolean) => {
    if (!binary) replies.push(JSON.parse(data.toString()));
  });
  await new Promise((resolve) => ws.once("open", resolve));
  ws.send(JSON.stringify({ type: "invoke", rid: 1, cmd: "echo", body: { text: "y".repeat(400_000) } }));
  const header = Buffer.from(JSON.stringify({ type: "invoke", rid: 2, cmd: "size" }));
  const frame = Buffer.alloc(4 + header.length + 400_000);
  frame.writeUInt32BE(header.length, 0);
  header.copy(frame, 4);
  ws.send(frame);
  ws.send(JSON.stringify({ type: "invoke", rid: 3, cmd: "size", body: 1 })); // a JSON body for a binary command
  for (let i = 0; i < 200 && replies.filter((r) => r.type === "reply").length < 3; i++) await new Promise((r) => setTimeout(r, 20));
  ws.close();
  const byRid = Object.fromEntries(replies.filter((r) => r.type === "reply").map((r) => [r.rid, r]));
  expect(byRid[1]).toMatchObject({ ok: false, status: 413, error: { kind: "payload-too-large", limit: 307_200 } });
  expect(byRid[2]).toMatchObject({ ok: false, status: 413, error: { kind: "payload-too-large" } });
  expect(byRid[3]).toMatchObject({ ok: false, status: 400, error: { kind: "bad-request" } });
});

test("a frame the gateway cannot take as JSON still gets its reply: the page's promise rejects, and the next call answers", async () => {
  const outcome = await page.evaluate(async () => {
    // JSON.parse makes "__proto__" an own key, which JSON.stringify then writes: the gateway
    // refuses such text as a whole, and answers the rid tauri.js wrote first.
    const body = JSON.parse('{"text": "x", "__proto__": {"admin": true}}');
    const refused = await window.api.invoke("echo", body).then(
      (value) => ({ resolved: value }),
      (error: { kind: string; message: string }) => ({ rejected: error }),
    );
    return { refused, next: await window.api.invoke("echo", { text: "after" }) };
  });
  expect(outcome.refused).toEqual({ rejected: { kind: "bad-request", message: expect.stringMatching(/forbidden prototype property/) } });
  expect(outcome.next).toEqual({ length: 5, overHttp: false });
});

test("a socket that drops rejects the calls in flight (no retry), then reconnects and serves again", async () => {
  const runsBefore = await app.gateway.gw.invoke<number>("runs");
  const pending = page.evaluate(() =>
    window.api.invoke("slow").then(
      (value) => ({ resolved: value }),
      (error: { kind: string; message: string }) => ({ rejected: error }),
    ),
  );
  // The call is running in the gateway when its server goes away (a restart, say).
  for (let i = 0; i < 100 && (await app.gateway.gw.invoke<number>("runs")) === runsBefore; i++) await new Promise((r) => setTimeout(r, 10));
  const { port } = new URL(app.url);
  await app.listening.close();
  const outcome = await pending;
  expect(outcome).toEqual({
    rejected: { kind: "connection-lost", message: 'the connection to the gateway was lost before "slow" answered; it may or may not have run' },
  });

  // The gateway comes back on the same address: the page reconnects by itself.
  app.listening = await app.gateway.gw.listen({ port: Number(port) });
  await page.waitForFunction(() => window.__TAURI_INTERNALS__.gateway.page !== null, undefined, { timeout: 10_000 });
  expect(await page.evaluate(() => window.api.invoke("echo", { text: "back" }))).toEqual({ length: 4, overHttp: false });
  // Nothing ran twice: the dropped call was not sent again.
  await new Promise((r) => setTimeout(r, 1600));
  expect(await app.gateway.gw.invoke<number>("runs")).toBe(runsBefore + 1);
});

test("a page opened with ?transport=http never uses its socket for invoke", async () => {
  const http = await openPage(app.browser, `${app.pages.origin}/?window=main&transport=http`);
  try {
    expect(await http.evaluate(() => window.api.invoke("echo", { text: "abc" }))).toEqual({ length: 3, overHttp: true });
  } finally {
    await http.close();
  }
});
