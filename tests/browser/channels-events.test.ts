// Channels and events with the real @tauri-apps/api in headless Chromium: 10,000 messages in
// order, bytes, the end marker, validation, once/unlisten, emitTo between two labelled pages,
// emitFilter, a page's emit reaching the backend, eval, and a page closed mid-stream.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Browser, Page } from "playwright-core";
import { openPage, startBrowserApp, type BrowserApp, type PageServer } from "../helpers/browser.ts";

const HANDLERS = `
import type { Channel, Invoke, SetupContext } from "ipc-gateway";
const state: Record<string, unknown> = { received: [] };
export function setup({ app }: SetupContext) {
  app.listen("chat", (e) => (state.received as unknown[]).push(e.payload));
}
export async function stream({ body }: Invoke<{ n: number; onItem: Channel<number> }>) {
  for (let i = 0; i < body.n; i++) await body.onItem.send(i);
  return body.n;
}
export async function bytes({ body }: Invoke<{ onChunk: Channel<Uint8Array> }>) {
  await body.onChunk.send(new Uint8Array([9, 8, 7]));
  return null;
}
export async function invalid({ body }: Invoke<{ onItem: Channel<unknown> }>) {
  try { await body.onItem.send("not a number"); state.invalid = "sent"; } catch (e: any) { state.invalid = e.kind; }
  await body.onItem.send(1);
  return null;
}
export async function endless({ body, signal }: Invoke<{ onItem: Channel<number> }>) {
  state.endless = "running";
  let i = 0;
  try {
    while (!signal.aborted) {
      await body.onItem.send(i++);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    // A send() after the page went away rejects (channel-closed): the signal says why either way.
    state.endless = signal.aborted ? signal.reason?.name : "not aborted";
  }
  return null;
}
export const emit = ({ body, app }: Invoke<any>) => { app.emit(body.event, body.payload); return null; };
export const emitTo = ({ body, app }: Invoke<any>) => { app.emitTo(body.target, body.event, body.payload); return null; };
export const emitFilter = ({ body, app }: Invoke<any>) => {
  app.emitFilter(body.event, body.payload, (t) => "label" in t && t.label === body.label);
  return null;
};
export const evalHere = ({ body, window }: Invoke<string>) => { window.eval(body); return null; };
export const getState = () => state;
`;

function manifest(origin: string) {
  return `
version: 1
server:
  origins: [${origin}]
commands:
  stream: { handler: handlers/h.ts#stream, body: { type: object, properties: { n: { type: integer }, onItem: { x-channel: numbers } } } }
  bytes: { handler: handlers/h.ts#bytes, body: { type: object, properties: { onChunk: { x-channel: chunks } } } }
  invalid: { handler: handlers/h.ts#invalid, body: { type: object, properties: { onItem: { x-channel: numbers } } } }
  endless: { handler: handlers/h.ts#endless, body: { type: object, properties: { onItem: { x-channel: numbers } } } }
  emit: { handler: handlers/h.ts#emit }
  emit-to: { handler: handlers/h.ts#emitTo }
  emit-filter: { handler: handlers/h.ts#emitFilter }
  eval: { handler: handlers/h.ts#evalHere }
  state: { handler: handlers/h.ts#getState }
channels:
  numbers: { message: { type: integer } }
  chunks: { message: binary }
events:
  news: {}
  chat: { payload: { type: object, properties: { text: { type: string } }, required: [text] } }
`;
}

let app: BrowserApp;
let browser: Browser;
let pages: PageServer;
let main: Page;
/** The same page over HTTP (`?transport=http`): channels work the same whichever way invoke travels. */
let overHttp: Page;

beforeAll(async () => {
  app = await startBrowserApp(manifest, { "handlers/h.ts": HANDLERS });
  ({ browser, pages, main } = app);
  overHttp = await openPage(browser, `${pages.origin}/?window=main&transport=http`);
}, 60_000);

afterAll(async () => app?.close());

const state = () => app.gateway.gw.invoke<Record<string, any>>("state");
const mainPage = () => main;
/** A round trip on each page's socket: afterwards the page has every event queued for it before. */
const flush = (...targets: Page[]) =>
  Promise.all(targets.map((p) => p.evaluate(() => window.api.invoke("plugin:event|unlisten", { event: "flush", eventId: 0 }))));
const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
};

describe.each(["ws", "http"] as const)("channels, invoking over %s", (transport) => {
  const main = () => (transport === "ws" ? mainPage() : overHttp);
  test("10,000 messages arrive complete and in order, then the end marker closes the channel", async () => {
    const result = await main().evaluate(async () => {
      const received: number[] = [];
      const channel = new window.api.Channel<number>((m) => received.push(m));
      const returned = await window.api.invoke("stream", { n: 10_000, onItem: channel });
      // The end marker: @tauri-apps/api's Channel unregisters its callback when it arrives.
      for (let i = 0; i < 1000 && window.__TAURI_INTERNALS__.callbacks.has(channel.id); i++) await new Promise((r) => setTimeout(r, 10));
      return { returned, received, ended: !window.__TAURI_INTERNALS__.callbacks.has(channel.id) };
    });
    expect(result.returned).toBe(10_000);
    expect(result.received).toHaveLength(10_000);
    expect(result.received.every((value, i) => value === i)).toBe(true);
    expect(result.ended).toBe(true);
  });

  test("a binary message arrives as an ArrayBuffer", async () => {
    const result = await main().evaluate(async () => {
      const received: unknown[] = [];
      const channel = new window.api.Channel<ArrayBuffer>((m) => received.push(m instanceof ArrayBuffer ? Array.from(new Uint8Array(m)) : m));
      await window.api.invoke("bytes", { onChunk: channel });
      for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      return received;
    });
    expect(result).toEqual([[9, 8, 7]]);
  });

  test("an invalid channel message is rejected in the handler, and the page never sees it", async () => {
    const received = await main().evaluate(async () => {
      const got: unknown[] = [];
      const channel = new window.api.Channel<unknown>((m) => got.push(m));
      await window.api.invoke("invalid", { onItem: channel });
      for (let i = 0; i < 500 && window.__TAURI_INTERNALS__.callbacks.has(channel.id); i++) await new Promise((r) => setTimeout(r, 10));
      return got;
    });
    expect(received).toEqual([1]);
    expect((await state()).invalid).toBe("invalid-message");
  });

  test("closing a page mid-stream aborts the handler's signal", async () => {
    const doomed = await openPage(browser, `${pages.origin}/?window=doomed${transport === "http" ? "&transport=http" : ""}`);
    await doomed.evaluate(() => {
      const channel = new window.api.Channel<number>(() => {});
      void window.api.invoke("endless", { onItem: channel }).catch(() => {});
    });
    await until(async () => (await state()).endless === "running");
    await doomed.close();
    await until(async () => (await state()).endless !== "running");
    expect((await state()).endless).toBe("AbortError");
  });
});

describe("events", () => {
  test("listen gets backend emits; once fires once; unlisten stops delivery", async () => {
    const result = await main.evaluate(async () => {
      const seen: string[] = [];
      const unlisten = await window.api.listen<string>("news", (e) => seen.push(`listen:${e.payload}`));
      await window.api.once<string>("news", (e) => seen.push(`once:${e.payload}`));
      // A round trip on the page's socket: its reply comes after every event queued before it.
      const flush = () => window.api.invoke("plugin:event|unlisten", { event: "flush", eventId: 0 });
      await window.api.invoke("emit", { event: "news", payload: "1" });
      await window.api.invoke("emit", { event: "news", payload: "2" });
      await flush();
      await unlisten();
      await window.api.invoke("emit", { event: "news", payload: "3" });
      await flush();
      return seen;
    });
    expect(result).toEqual(["listen:1", "once:1", "listen:2"]);
  });

  test("emitTo reaches only its target among two pages with different labels", async () => {
    const settings = await openPage(browser, `${pages.origin}/?window=settings`);
    try {
      const arm = (p: Page) =>
        p.evaluate(async () => {
          (window as any).seen = [];
          await window.api.getCurrentWebviewWindow().listen<string>("news", (e: { payload: string }) => (window as any).seen.push(e.payload));
        });
      await arm(main);
      await arm(settings);
      await app.gateway.gw.invoke("emit-to", { target: "settings", event: "news", payload: "for settings" });
      await app.gateway.gw.invoke("emit-to", { target: { kind: "WebviewWindow", label: "main" }, event: "news", payload: "for main" });
      await flush(main, settings);
      expect(await main.evaluate(() => (window as any).seen)).toEqual(["for main"]);
      expect(await settings.evaluate(() => (window as any).seen)).toEqual(["for settings"]);

      // emitTo from a page, with @tauri-apps/api's emitTo.
      await main.evaluate(() => window.api.emitTo("settings", "news", "page to settings"));
      await flush(main, settings);
      expect(await settings.evaluate(() => (window as any).seen)).toEqual(["for settings", "page to settings"]);
      expect(await main.evaluate(() => (window as any).seen)).toEqual(["for main"]);

      // emitFilter: the backend picks targets with a predicate.
      await app.gateway.gw.invoke("emit-filter", { event: "news", payload: "filtered", label: "main" });
      await flush(main, settings);
      expect(await main.evaluate(() => (window as any).seen)).toEqual(["for main", "filtered"]);
      expect(await settings.evaluate(() => (window as any).seen)).toEqual(["for settings", "page to settings"]);
    } finally {
      await settings.close();
    }
  });

  test("a page's emit reaches a backend listener", async () => {
    await main.evaluate(() => window.api.emit("chat", { text: "hello backend" }));
    await until(async () => (await state()).received.length > 0);
    expect((await state()).received).toEqual([{ text: "hello backend" }]);
    const refused = await main.evaluate(() => window.api.emit("chat", { text: 5 }).then(() => "emitted", (e: unknown) => e));
    expect(refused).toMatchObject({ kind: "invalid-payload" });
  });

  test("eval changes the page", async () => {
    await main.evaluate(() => window.api.invoke("eval", "document.getElementById('out').textContent = 'changed by eval'" as never));
    await main.waitForFunction(() => document.getElementById("out")!.textContent === "changed by eval");
  });
});
