// The configurable limits: server.maxInFlight (503 overloaded on every transport), server.maxDepth
// (in and out), and what the manifest accepts for them; in-process callers passing values no
// wire could carry.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { gatewayFor, rejectionOf } from "./helpers/app.ts";
import { invokeJson } from "./helpers/http.ts";
import { connectPage } from "./helpers/ws.ts";
import type { Listening } from "../gateway/transports/http.ts";

const HANDLERS = `
import type { Invoke } from "ipc-gateway";
export async function hold({ signal }: Invoke) {
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
  return "released";
}
export const echo = ({ body }: Invoke) => body;
export const quick = () => "quick";
export function deep({ body }: Invoke<{ levels: number }>) {
  let value: unknown = 0;
  for (let i = 0; i < body.levels; i++) value = [value];
  return value;
}
`;

describe("server.maxInFlight", () => {
  let ctx: Awaited<ReturnType<typeof gatewayFor>>;
  let server: Listening;
  beforeAll(async () => {
    ctx = await gatewayFor({
      "gateway.yaml": "version: 1\nserver:\n  maxInFlight: 3\ncommands:\n  hold:\n    handler: h.ts#hold\n    timeout: 60s\n  quick:\n    handler: h.ts#quick\n",
      "h.ts": HANDLERS,
    });
    server = await ctx.gw.listen({ port: 0 });
  });
  afterAll(async () => ctx.close());

  test("past the limit every transport answers 503 overloaded; once work finishes, calls are taken again", async () => {
    const callers = [0, 1, 2].map(() => new AbortController());
    const held = callers.map((c) => ctx.gw.invoke("hold", {}, { signal: c.signal }));

    const http = await invokeJson(server.url, "quick", {});
    expect({ status: http.status, body: http.json() }).toEqual({
      status: 503,
      body: { kind: "overloaded", message: expect.stringContaining("server.maxInFlight"), limit: 3 },
    });
    const page = await connectPage(server.url);
    const reply = await page.call("hold", {});
    expect({ status: reply.status, kind: (reply.error as { kind: string }).kind }).toEqual({ status: 503, kind: "overloaded" });
    expect(await rejectionOf(ctx.gw.invoke("quick"))).toMatchObject({ kind: "overloaded" });

    for (const caller of callers) caller.abort();
    expect(await Promise.all(held)).toEqual(["released", "released", "released"]);
    expect((await invokeJson(server.url, "quick", {})).json()).toBe("quick");
    expect((await page.call("quick", {})).value).toBe("quick");
    await page.close();
  });
});

describe("server.maxDepth", () => {
  let ctx: Awaited<ReturnType<typeof gatewayFor>>;
  let server: Listening;
  beforeAll(async () => {
    ctx = await gatewayFor({
      "gateway.yaml":
        "version: 1\nserver:\n  maxDepth: 5\ncommands:\n  echo:\n    handler: h.ts#echo\n  deep:\n    handler: h.ts#deep\n  tree:\n    handler: h.ts#echo\n    body: { $ref: '#/$defs/n', $defs: { n: { type: array, items: { $ref: '#/$defs/n' } } } }\n",
      "h.ts": HANDLERS,
    });
    server = await ctx.gw.listen({ port: 0 });
  });
  afterAll(async () => ctx.close());

  const nested = (levels: number): unknown => (levels === 0 ? [] : [nested(levels - 1)]);

  test("a body as deep as the limit is taken; one level more is 400, over HTTP and the WebSocket alike", async () => {
    expect((await invokeJson(server.url, "echo", nested(4))).status).toBe(200); // [] at the bottom is the 5th level
    const refused = await invokeJson(server.url, "echo", nested(5));
    expect({ status: refused.status, body: refused.json() }).toEqual({
      status: 400,
      body: { kind: "bad-request", message: "body is nested deeper than 5 levels (server.maxDepth)" },
    });
    const page = await connectPage(server.url);
    expect((await page.call("echo", nested(4))).ok).toBe(true);
    // The frame cannot be read, but it begins as tauri.js writes one: its rid gets the refusal.
    const frame = await (async () => {
      page.ws.send(JSON.stringify({ type: "invoke", rid: 99, cmd: "echo", body: nested(5) }));
      return page.next((f) => f.type === "reply" && f.rid === 99);
    })();
    expect(frame).toMatchObject({ ok: false, status: 400, error: { kind: "bad-request", message: "body is nested deeper than 5 levels (server.maxDepth)" } });
    await page.close();
  });

  test("a return value deeper than the limit is invalid-return, naming the limit", async () => {
    expect((await invokeJson(server.url, "deep", { levels: 4 })).json()).toEqual([[[[0]]]]);
    const res = await invokeJson(server.url, "deep", { levels: 6 });
    expect(res.status).toBe(500);
    expect(res.json()).toMatchObject({ kind: "invalid-return", message: expect.stringContaining("nested deeper than 5 levels") });
  });

  test("in-process, values are passed as they are; a body too deep for its validator is a bad-request, not a throw", async () => {
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const rejection = await rejectionOf(ctx.gw.invoke("tree", deep));
    expect(rejection).toMatchObject({ kind: "bad-request", message: expect.stringContaining("could not be validated") });
    expect(await ctx.gw.invoke("echo", nested(50))).toEqual(nested(50)); // no wire, no depth limit
  });
});

describe("the manifest's limits", () => {
  test.each([
    ["maxDepth: 0", "server.maxDepth is a number of nesting levels from 1 to 10000"],
    ["maxDepth: deep", "server.maxDepth is a number of nesting levels from 1 to 10000"],
    ["maxInFlight: -1", "server.maxInFlight is a positive number of invocations"],
    ["requestTimeout: soon", "a duration is milliseconds or a string like 500ms, 30s, 2m"],
    ["static: 5", "server.static is a folder, or { dir, dotfiles: true|false, fallback: index.html, cacheControl: no-cache, immutable: true|false }"],
    ["static: { dotfiles: true }", "server.static is a folder, or { dir, dotfiles: true|false, fallback: index.html, cacheControl: no-cache, immutable: true|false }"],
    ["static: { dir: web, dotfile: true }", 'unknown key "dotfile" in server.static (did you mean "dotfiles"?)'],
    ["static: { dir: web, fallback: ../secret.html }", "server.static.fallback is a file in the static folder, e.g. index.html"],
  ])("%s is refused with its line and column", async (line, message) => {
    const error = await rejectionOf(gatewayFor({ "gateway.yaml": `version: 1\nserver:\n  ${line}\n` }));
    expect(error.problems).toEqual([expect.objectContaining({ line: 3, message })]);
  });
});
