// Hot reload with real files and the real watcher: every kind of edit, every kind of broken
// edit and its recovery, drop-in add/remove/rename, helper and $ref changes, invocations that
// finish on their old generation, dispose(), and 50 edits under continuous load.
import { afterEach, describe, expect, test } from "@jest/globals";
import { gatewayFor, rejectionOf } from "./helpers/app.ts";
import { devGateway as startDev, type DevGateway } from "./helpers/dev.ts";
import { request } from "./helpers/http.ts";
import { connectPage } from "./helpers/ws.ts";

const BASE = {
  "gateway.yaml": `
version: 1
discover:
  handlers: handlers
  schemas: schemas
commands:
  hello:
    handler: handlers/_hello.ts
  double:
    handler: handlers/_double.ts
    body: schemas/double.json
  slow:
    handler: handlers/_slow.ts
events:
  ping: {}
`,
  "handlers/_hello.ts": 'export default () => "v1";\n',
  "handlers/_double.ts": 'import { twice } from "./lib/math.ts";\nexport default ({ body }: { body: { n: number } }) => twice(body.n);\n',
  "handlers/lib/math.ts": "export const twice = (n: number) => n * 2;\n",
  "handlers/_slow.ts": 'export default async () => { await new Promise((r) => setTimeout(r, 400)); return "slow v1"; };\n',
  "schemas/double.json": JSON.stringify({ type: "object", properties: { n: { $ref: "defs.json#/$defs/number" } }, required: ["n"] }),
  "schemas/defs.json": JSON.stringify({ $defs: { number: { type: "number" } } }),
};

let dev: DevGateway | undefined;

/** A gateway in watch mode over a temp app (closed after each test). */
async function devGateway(files: Record<string, string> = BASE): Promise<DevGateway> {
  dev = await startDev(files);
  return dev;
}

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

describe("edits go live", () => {
  test("a handler edit", async () => {
    const { gw, app, next } = await devGateway();
    expect(await gw.invoke("hello")).toBe("v1");
    app.write("handlers/_hello.ts", 'export default () => "v2";\n');
    expect(await next()).toMatchObject({ kind: "reload", payload: { generation: 2, changed: ["handlers/_hello.ts"] } });
    expect(await gw.invoke("hello")).toBe("v2");
  });

  test("a second save soon after the first is not lost (format-on-save)", async () => {
    const { gw, app, next } = await devGateway();
    app.write("handlers/_hello.ts", 'export default () => "first save";\n');
    await new Promise((r) => setTimeout(r, 30));
    app.write("handlers/_hello.ts", 'export default () => "second save";\n');
    await next();
    for (let i = 0; i < 40 && (await gw.invoke("hello")) !== "second save"; i++) await next().catch(() => undefined);
    expect(await gw.invoke("hello")).toBe("second save");
  });

  test("a manifest edit adds a command", async () => {
    const { gw, app, next } = await devGateway();
    app.write("gateway.yaml", BASE["gateway.yaml"].replace("events:", "  hi-again:\n    handler: handlers/_hello.ts\nevents:"));
    expect((await next()).kind).toBe("reload");
    expect(await gw.invoke("hi-again")).toBe("v1");
  });

  test("a schema edit", async () => {
    const { gw, app, next } = await devGateway();
    expect(await gw.invoke("double", { n: 2 })).toBe(4);
    app.write("schemas/double.json", JSON.stringify({ type: "object", properties: { n: { type: "number", maximum: 1 } }, required: ["n"] }));
    expect((await next()).kind).toBe("reload");
    expect(await rejectionOf(gw.invoke("double", { n: 2 }))).toMatchObject({ kind: "invalid-body" });
  });

  test("a change in a schema that another $refs recompiles the referring one", async () => {
    const { gw, app, next } = await devGateway();
    app.write("schemas/defs.json", JSON.stringify({ $defs: { number: { type: "integer" } } }));
    expect(await next()).toMatchObject({ kind: "reload", payload: { changed: ["schemas/defs.json"] } });
    expect(await rejectionOf(gw.invoke("double", { n: 1.5 }))).toMatchObject({ kind: "invalid-body" });
    expect(await gw.invoke("double", { n: 3 })).toBe(6);
  });

  test("a change in a helper module reloads the handlers that import it", async () => {
    const { gw, app, next } = await devGateway();
    app.write("handlers/lib/math.ts", "export const twice = (n: number) => n * 2 + 1000;\n");
    expect(await next()).toMatchObject({ kind: "reload", payload: { changed: ["handlers/lib/math.ts"] } });
    expect(await gw.invoke("double", { n: 1 })).toBe(1002);
  });

  test("unchanged modules are not reloaded when another file changes", async () => {
    const { gw, app, next } = await devGateway();
    const before = [...gw.generation.modules].find((m) => m.file.endsWith("_double.ts"));
    app.write("handlers/_hello.ts", 'export default () => "v2";\n');
    await next();
    const after = [...gw.generation.modules].find((m) => m.file.endsWith("_double.ts"));
    expect(after).toBe(before); // same module instance: its state survives other files' edits
  });
});

describe("drop-in folder", () => {
  test("a new file is a command; deleting it removes the command; renaming moves it", async () => {
    const { gw, app, next } = await devGateway();
    app.write("handlers/fresh.ts", 'export default () => "fresh";\n');
    app.write("schemas/fresh.body.json", '{ "type": "object", "required": ["x"] }');
    expect((await next()).kind).toBe("reload");
    expect(await rejectionOf(gw.invoke("fresh", {}))).toMatchObject({ kind: "invalid-body" }); // with its convention schema
    expect(await gw.invoke("fresh", { x: 1 })).toBe("fresh");

    const { renameSync, rmSync } = await import("node:fs");
    renameSync(app.path("handlers/fresh.ts"), app.path("handlers/renamed.ts"));
    expect((await next()).kind).toBe("reload");
    expect(await gw.invoke("renamed")).toBe("fresh");
    expect(await rejectionOf(gw.invoke("fresh", { x: 1 }))).toMatchObject({ kind: "unknown-command" });

    rmSync(app.path("handlers/renamed.ts"));
    expect((await next()).kind).toBe("reload");
    expect(await rejectionOf(gw.invoke("renamed"))).toMatchObject({ kind: "unknown-command" });
  });
});

describe("broken edits keep the old generation serving, and fixing them clears the error", () => {
  const cases: [string, string, string, RegExp][] = [
    ["YAML syntax", "gateway.yaml", "version: 1\ncommands: [\n", /^gateway\.yaml:\d+:\d+: /],
    ["a bad schema", "schemas/double.json", '{ "type": "nonsense" }', /^schemas\/double\.json:1:11: .*not a valid JSON Schema/],
    ["a handler syntax error", "handlers/_hello.ts", "export default () => {\n", /^handlers\/_hello\.ts:2:1: Unexpected end of file$/],
    ["a handler that throws at import", "handlers/_hello.ts", 'throw new Error("boom");\nexport default () => 1;\n', /^handlers\/_hello\.ts: threw while loading: Error: boom$/],
  ];

  test.each(cases)("%s", async (_name, file, broken, shown) => {
    const { gw, app, next } = await devGateway();
    const listening = await gw.listen({ port: 0 });
    const page = await connectPage(listening.url);
    await page.call("plugin:event|listen", { event: "gateway://error", target: { kind: "Any" }, handler: 1 });
    await page.call("plugin:event|listen", { event: "gateway://reload", target: { kind: "Any" }, handler: 2 });
    try {
      const good = app.read(file);
      app.write(file, broken);
      const outcome = await next();
      expect(outcome.kind).toBe("error");
      expect(outcome.payload.message).toMatch(shown);
      expect(gw.lastError).toMatch(shown);
      expect(gw.generation.id).toBe(1);
      expect(await gw.invoke("hello")).toBe("v1"); // still serving
      const health = (await request(`${listening.url}/__gateway/health`, { method: "GET" })).json();
      expect(health).toMatchObject({ ok: true, generation: 1, lastError: expect.stringMatching(shown) });
      const pushed = await page.next((f) => f.type === "event" && f.event === "gateway://error");
      expect((pushed.payload as { message: string }).message).toMatch(shown);
      // Each mistake also comes as fields, for tools that jump to it.
      const [, where, line, column] = /^(.*?)(?::(\d+):(\d+))?: /.exec(outcome.payload.message)!;
      expect((pushed.payload as { problems: unknown[] }).problems[0]).toEqual({ file: where, line: line ? Number(line) : null, column: column ? Number(column) : null, message: expect.any(String) });

      app.write(file, good);
      expect((await next()).kind).toBe("reload");
      expect(gw.lastError).toBeNull();
      expect((await request(`${listening.url}/__gateway/health`, { method: "GET" })).json()).toMatchObject({ generation: 2, lastError: null });
      await page.next((f) => f.type === "event" && f.event === "gateway://reload");
    } finally {
      await page.close();
    }
  });
});

describe("generations", () => {
  test("an invocation in flight finishes on the generation it started on", async () => {
    const { gw, app, next } = await devGateway();
    const inFlight = gw.invoke("slow");
    await new Promise((r) => setTimeout(r, 50));
    app.write("handlers/_slow.ts", 'export default async () => "slow v2";\n');
    expect((await next()).kind).toBe("reload");
    expect(await gw.invoke("slow")).toBe("slow v2");
    expect(await inFlight).toBe("slow v1");
  });

  test("dispose() runs when a module retires, after its invocations in flight", async () => {
    const files = {
      ...BASE,
      "handlers/_slow.ts": [
        "export let disposed = false;",
        "export default async () => { await new Promise((r) => setTimeout(r, 300)); return disposed ? 'disposed early' : 'slow v1'; };",
        "export function dispose() { disposed = true; (globalThis as any).__disposedAt = Date.now(); }",
        "",
      ].join("\n"),
    };
    const { gw, app, next } = await devGateway(files);
    (globalThis as any).__disposedAt = undefined;
    const inFlight = gw.invoke("slow");
    await new Promise((r) => setTimeout(r, 50));
    app.write("handlers/_slow.ts", 'export default async () => "slow v2";\n');
    await next();
    expect((globalThis as any).__disposedAt).toBeUndefined(); // the old invocation still needs it
    expect(await inFlight).toBe("slow v1");
    await new Promise((r) => setTimeout(r, 20));
    expect((globalThis as any).__disposedAt).toEqual(expect.any(Number));
  });

  test("50 edits under continuous invocations: no failed request, each answer from old or new code", async () => {
    const files = { ...BASE, "handlers/_hello.ts": "export default () => 0;\n" };
    const { gw, app, next } = await devGateway(files);
    let running = true;
    const failures: unknown[] = [];
    const answers: number[][] = [[], [], []];
    const loops = answers.map(async (seen) => {
      while (running) {
        try {
          seen.push(await gw.invoke<number>("hello"));
        } catch (error) {
          failures.push(error);
        }
        await new Promise((r) => setImmediate(r));
      }
    });
    try {
      for (let version = 1; version <= 50; version++) {
        app.write("handlers/_hello.ts", `export default () => ${version};\n`);
        // Normally one reload per edit; should the watcher report an edit twice, the spare
        // reload event is consumed on the next round (bounded).
        let answer: number | undefined;
        for (let attempt = 0; attempt < 3 && answer !== version; attempt++) {
          expect((await next()).kind).toBe("reload");
          answer = await gw.invoke<number>("hello");
        }
        expect(answer).toBe(version);
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    for (const seen of answers) {
      expect(seen.length).toBeGreaterThan(50);
      // Every answer is a version that was written, and versions never go backwards.
      expect(seen.every((v, i) => Number.isInteger(v) && v >= 0 && v <= 50 && (i === 0 || v >= seen[i - 1]!))).toBe(true);
    }
    expect(await gw.invoke("hello")).toBe(50);
  }, 60_000);
});

test("an edit saved before the watcher is ready is not lost (files modified since the build began are rebuilt)", async () => {
  const ctx = await gatewayFor(BASE, { watch: true });
  try {
    const reloaded = new Promise((resolve, reject) => {
      ctx.gw.app.listen("gateway://reload", resolve);
      setTimeout(() => reject(new Error("the early edit was never picked up")), 5000);
    });
    ctx.app.write("handlers/_hello.ts", 'export default () => "v-early";\n'); // before `watching` resolves
    await ctx.gw.watching;
    await reloaded;
    expect(await ctx.gw.invoke("hello")).toBe("v-early");
  } finally {
    await ctx.close();
  }
});
