// GET /metrics over a real server on 127.0.0.1: the text is parsed by a Prometheus text parser
// and its figures match the calls made (per command, transport and outcome); unknown commands are
// one label; the gauges and the process defaults are there; server.metrics false and { token }.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { createRequire } from "node:module";
import { gatewayFor } from "./helpers/app.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { connectPage, type TestPage } from "./helpers/ws.ts";
import type { Listening } from "../gateway/transports/http.ts";

interface Sample {
  labels?: Record<string, string>;
  value?: string;
}
interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

/**
 * The scrape as families, plus each histogram's series. parse-prometheus-text-format 1.1 folds a
 * histogram's labelled series into one (it keeps only an unlabelled _count and _sum), so the
 * histograms are parsed a second time with their TYPE line left out: their _bucket, _count and
 * _sum lines are then families of their own (one per run of lines: merged here by name), each
 * series with its labels.
 */
function scrape(text: string): { families: Map<string, Family>; series: Map<string, Family> } {
  const families = new Map(parsePrometheus(text).map((f) => [f.name, f]));
  const untyped = text.replace(/^# TYPE \S+ histogram$/gm, "");
  const series = new Map<string, Family>();
  for (const family of parsePrometheus(untyped)) {
    const seen = series.get(family.name);
    if (seen === undefined) series.set(family.name, family);
    else seen.metrics.push(...family.metrics);
  }
  return { families, series };
}

/** The value of the series of `family` whose labels are exactly `labels` (undefined: no such series). */
function valueOf(family: Family | undefined, labels: Record<string, string>): number | undefined {
  const sample = family?.metrics.find((s) => JSON.stringify(sortKeys(s.labels ?? {})) === JSON.stringify(sortKeys(labels)));
  return sample === undefined ? undefined : Number(sample.value);
}

function sortKeys(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

const MANIFEST = (metrics: string) => `
version: 1
server:
  metrics: ${metrics}
commands:
  greet:
    handler: handlers/misc.ts#greet
    body: { type: object, properties: { name: { type: string } }, required: [name] }
  hold:
    handler: handlers/misc.ts#hold
  held:
    handler: handlers/misc.ts#held
  release:
    handler: handlers/misc.ts#release
  announce:
    handler: handlers/misc.ts#announce
events:
  news: {}
`;

const MISC = `
import type { Invoke } from "ipc-gateway";
export const greet = ({ body }: Invoke<{ name: string }>) => "Hello, " + body.name + "!";
// hold runs until release is called: a call in flight for as long as the test needs.
let released: () => void = () => {};
const gate = new Promise<void>((resolve) => (released = resolve));
let started: () => void = () => {};
const running = new Promise<void>((resolve) => (started = resolve));
export async function hold() {
  started();
  await gate;
  return "held";
}
/** Answers once hold's handler runs. */
export async function held() {
  await running;
  return "running";
}
export function announce({ app }: Invoke) {
  app.emit("news", { text: "hi" });
  return null;
}
export function release() {
  released();
  return "released";
}
`;

const CALL = "rpc_server_call_duration_seconds";

describe("server.metrics on (the default)", () => {
  let ctx: Awaited<ReturnType<typeof gatewayFor>>;
  let server: Listening;
  let page: TestPage;

  beforeAll(async () => {
    ctx = await gatewayFor({ "gateway.yaml": MANIFEST("true"), "handlers/misc.ts": MISC });
    server = await ctx.gw.listen({ port: 0 });
    page = await connectPage(server.url);
  });
  afterAll(async () => {
    await page?.close();
    await ctx?.close();
  });

  test("the call histogram counts each call by command, transport and outcome; unknown commands are _OTHER", async () => {
    for (let i = 0; i < 3; i++) expect((await invokeJson(server.url, "greet", { name: "Ada" })).status).toBe(200);
    expect((await invokeJson(server.url, "greet", { name: 7 })).status).toBe(422);
    for (const name of ["nope-1", "nope-2", "nope-3"]) expect((await invokeJson(server.url, name, {})).status).toBe(404);
    for (let i = 0; i < 2; i++) expect((await page.call("greet", { name: "Ada" })).ok).toBe(true);
    expect((await page.call("greet", {})).ok).toBe(false);
    for (const name of ["gone-a", "gone-b"]) expect((await page.call(name, {})).ok).toBe(false);

    const res = await request(`${server.url}/metrics`, { method: "GET" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    const { families, series } = scrape(res.text);
    expect(families.get(CALL)?.type).toBe("HISTOGRAM");
    const count = series.get(`${CALL}_count`);
    const expected: [Record<string, string>, number][] = [
      [{ rpc_method: "greet", transport: "http", outcome: "ok" }, 3],
      [{ rpc_method: "greet", transport: "http", outcome: "invalid-body" }, 1],
      [{ rpc_method: "_OTHER", transport: "http", outcome: "unknown-command" }, 3],
      [{ rpc_method: "greet", transport: "ws", outcome: "ok" }, 2],
      [{ rpc_method: "greet", transport: "ws", outcome: "invalid-body" }, 1],
      [{ rpc_method: "_OTHER", transport: "ws", outcome: "unknown-command" }, 2],
    ];
    for (const [labels, n] of expected) expect([labels, valueOf(count, labels)]).toEqual([labels, n]);
    // Nothing else was counted (the page's own connection is no call), and no name of an unknown command is a label.
    expect(count!.metrics.reduce((sum, s) => sum + Number(s.value), 0)).toBe(12);
    expect(res.text).not.toMatch(/nope-|gone-/);
    // Each series' +Inf bucket holds all of its calls.
    const inf = series.get(`${CALL}_bucket`)!;
    expect(valueOf(inf, { rpc_method: "greet", transport: "http", outcome: "ok", le: "+Inf" })).toBe(3);
    expect(valueOf(series.get(`${CALL}_sum`), { rpc_method: "greet", transport: "http", outcome: "ok" })).toBeGreaterThan(0);
  });

  test("gauges for connected pages and calls in flight, and the process defaults", async () => {
    const { families } = scrape((await request(`${server.url}/metrics`, { method: "GET" })).text);
    expect(families.get("gateway_pages_connected")).toMatchObject({ type: "GAUGE", metrics: [{ value: "1" }] });
    // The scrape itself is no invocation: nothing is running.
    expect(families.get("gateway_calls_in_flight")).toMatchObject({ type: "GAUGE", metrics: [{ value: "0" }] });
    for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      expect([name, families.has(name)]).toEqual([name, true]);
    }
    expect(families.get("gateway_reloads_total")?.type).toBe("COUNTER");
    // No bus configured: no bus gauges.
    expect(families.has("gateway_bus_state")).toBe(false);
  });

  test("a call whose handler runs is in flight until it is answered", async () => {
    const held = invokeJson(server.url, "hold", {});
    expect((await invokeJson(server.url, "held", {})).status).toBe(200); // hold's handler runs now
    const during = scrape((await request(`${server.url}/metrics`, { method: "GET" })).text).families;
    expect((await invokeJson(server.url, "release", {})).status).toBe(200);
    expect((await held).status).toBe(200);
    const after = scrape((await request(`${server.url}/metrics`, { method: "GET" })).text).families;
    expect(during.get("gateway_calls_in_flight")?.metrics[0]?.value).toBe("1");
    expect(after.get("gateway_calls_in_flight")?.metrics[0]?.value).toBe("0");
  });

  test("events handled and the listeners they reached", async () => {
    const before = scrape((await request(`${server.url}/metrics`, { method: "GET" })).text).families;
    const listening = await connectPage(server.url, "news-reader");
    try {
      expect((await listening.call("plugin:event|listen", { event: "news", handler: 1 })).ok).toBe(true);
      expect((await page.call("plugin:event|listen", { event: "news", handler: 2 })).ok).toBe(true);
      expect((await invokeJson(server.url, "announce", {})).status).toBe(200); // to both pages
      expect((await listening.call("plugin:event|emit", { event: "news", payload: null })).ok).toBe(true); // and again
      await listening.next((f) => f.type === "event" && f.payload === null);
      const after = scrape((await request(`${server.url}/metrics`, { method: "GET" })).text).families;
      const figure = (families: typeof after, name: string) => Number(families.get(name)?.metrics[0]?.value);
      expect(figure(after, "gateway_events_total") - figure(before, "gateway_events_total")).toBe(2);
      expect(figure(after, "gateway_event_deliveries_total") - figure(before, "gateway_event_deliveries_total")).toBe(4);
    } finally {
      await listening.close();
    }
  });

  test("a second page is counted while connected", async () => {
    const second = await connectPage(server.url, "settings");
    try {
      const { families } = scrape((await request(`${server.url}/metrics`, { method: "GET" })).text);
      expect(families.get("gateway_pages_connected")?.metrics[0]?.value).toBe("2");
    } finally {
      await second.close();
    }
  });
});

describe("server.metrics: false", () => {
  test("GET /metrics is 404 and nothing else changes", async () => {
    const ctx = await gatewayFor({ "gateway.yaml": MANIFEST("false"), "handlers/misc.ts": MISC });
    try {
      const server = await ctx.gw.listen({ port: 0 });
      expect((await invokeJson(server.url, "greet", { name: "Ada" })).status).toBe(200);
      const res = await request(`${server.url}/metrics`, { method: "GET" });
      expect(res.status).toBe(404);
      expect(res.json()).toMatchObject({ kind: "not-found" });
    } finally {
      await ctx.close();
    }
  });
});

describe("server.metrics: { token }", () => {
  let ctx: Awaited<ReturnType<typeof gatewayFor>>;
  let server: Listening;
  beforeAll(async () => {
    ctx = await gatewayFor({ "gateway.yaml": MANIFEST("{ token: scrape-secret }"), "handlers/misc.ts": MISC });
    server = await ctx.gw.listen({ port: 0 });
  });
  afterAll(async () => ctx?.close());

  test("401 without the token or with another one, 200 with it", async () => {
    expect((await request(`${server.url}/metrics`, { method: "GET" })).status).toBe(401);
    expect((await request(`${server.url}/metrics`, { method: "GET", headers: { authorization: "Bearer scrape-secre" } })).status).toBe(401);
    expect((await request(`${server.url}/metrics`, { method: "GET", headers: { authorization: "scrape-secret" } })).status).toBe(401);
    const res = await request(`${server.url}/metrics`, { method: "GET", headers: { authorization: "Bearer scrape-secret" } });
    expect(res.status).toBe(200);
    expect(parsePrometheus(res.text).some((f) => f.name === CALL)).toBe(true);
  });
});
