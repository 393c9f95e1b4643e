// The disk cache: a start with the cache warm compiles no schema and bundles no handler; a change
// to a file invalidates exactly what depends on it (a $ref target included), never more, never less.
import { afterEach, expect, test } from "@jest/globals";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import { defaultCacheDir } from "../gateway/config/disk-cache.ts";
import { createGateway } from "../gateway/index.ts";
import { memoryLogger, rejectionOf, tempApp, type TempApp } from "./helpers/app.ts";
import { runGateway } from "./helpers/cli.ts";

let app: TempApp | undefined;
afterEach(() => app?.remove());

function cachedApp(): TempApp {
  app = tempApp({
    "gateway.yaml": `version: 1
commands:
  hello:
    handler: handlers/hello.ts
    body: schemas/hello.json
  other:
    handler: handlers/other.ts
    body: { type: object, properties: { n: { type: integer } } }
`,
    "handlers/hello.ts": 'import { greeting } from "./_words.ts";\nexport default ({ body }: { body: { name: string } }) => greeting + body.name;\n',
    "handlers/_words.ts": 'export const greeting = "hello ";\n',
    "handlers/other.ts": "export default () => 1;\n",
    "schemas/hello.json": JSON.stringify({ type: "object", properties: { name: { $ref: "defs.json#/$defs/name" } }, required: ["name"] }),
    "schemas/defs.json": JSON.stringify({ $defs: { name: { type: "string", maxLength: 5 } } }),
  });
  mkdirSync(app.path("node_modules")); // the cache lives beside the app's dependencies
  return app;
}

/** One start: a builder of its own (as a new process would have), built once, cache flushed. */
async function start(dir: string) {
  const builder = new GenerationBuilder(join(dir, "gateway.yaml"));
  const result = await builder.build();
  await builder.cache.flush();
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return { builder, generation: result.generation };
}

test("the cache sits in the app's node_modules/.cache/ipc-gateway, and none is made without node_modules", () => {
  const a = cachedApp();
  expect(defaultCacheDir(a.path("gateway.yaml"))).toMatch(new RegExp(`^${a.dir}/node_modules/\\.cache/ipc-gateway/[^/]+/[0-9a-f]{16}$`));
  const bare = tempApp({});
  try {
    expect(defaultCacheDir(bare.path("gateway.yaml"))).toBeUndefined();
  } finally {
    bare.remove();
  }
});

test("a warm start compiles no schema and no module, and behaves the same", async () => {
  const a = cachedApp();
  const cold = await start(a.dir);
  expect(cold.builder.schemas.compiled).toBe(2);
  expect(cold.builder.store.compiled).toBe(3); // hello.ts, the _words.ts it imports, other.ts
  const dir = defaultCacheDir(a.path("gateway.yaml"))!;
  expect(readdirSync(join(dir, "validators"))).toHaveLength(2);
  expect(readdirSync(join(dir, "modules"))).toHaveLength(6); // each module's description and code

  const warm = await start(a.dir);
  expect(warm.builder.schemas.compiled).toBe(0);
  expect(warm.builder.store.compiled).toBe(0);
  const body = warm.generation.commands.get("hello")!.body;
  expect(body.kind === "json" && body.validate!({ name: "ada" })).toBe(true);
  expect(body.kind === "json" && body.validate!({ name: "adalovelace" })).toBe(false); // maxLength from defs.json
  expect(await warm.generation.commands.get("hello")!.handler({ body: { name: "ada" } } as never)).toBe("hello ada");
});

test("changing a $ref target recompiles the schemas that reach it, and only those", async () => {
  const a = cachedApp();
  await start(a.dir);
  a.write("schemas/defs.json", JSON.stringify({ $defs: { name: { type: "string", maxLength: 20 } } }));
  const next = await start(a.dir);
  expect(next.builder.schemas.compiled).toBe(1); // hello's body; other's inline body comes from the cache
  const body = next.generation.commands.get("hello")!.body;
  expect(body.kind === "json" && body.validate!({ name: "adalovelace" })).toBe(true);
});

test("changing a helper a handler imports compiles that helper only", async () => {
  const a = cachedApp();
  await start(a.dir);
  a.write("handlers/_words.ts", 'export const greeting = "hi ";\n');
  const next = await start(a.dir);
  expect(next.builder.store.compiled).toBe(1);
  expect(await next.generation.commands.get("hello")!.handler({ body: { name: "ada" } } as never)).toBe("hi ada");
});

test("entries the app no longer uses are removed at the next start; a damaged entry is rebuilt", async () => {
  const a = cachedApp();
  await start(a.dir);
  const dir = defaultCacheDir(a.path("gateway.yaml"))!;
  a.write("gateway.yaml", "version: 1\ncommands:\n  other:\n    handler: handlers/other.ts\n");
  await start(a.dir);
  expect(readdirSync(join(dir, "validators"))).toHaveLength(0);
  expect(readdirSync(join(dir, "modules"))).toHaveLength(2);
  const entry = readdirSync(join(dir, "modules")).find((name) => name.endsWith(".json"));
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(dir, "modules", entry!), "{ not json");
  const next = await start(a.dir);
  expect(next.builder.store.compiled).toBe(1);
  expect(await next.generation.commands.get("other")!.handler({} as never)).toBe(1);
});

test("what builds from the manifest alone (gateway types, docs, the background type check) leaves the compiled modules in the cache", async () => {
  const a = cachedApp();
  await start(a.dir);
  const dir = defaultCacheDir(a.path("gateway.yaml"))!;
  const before = readdirSync(join(dir, "modules")).sort();
  expect(before).toHaveLength(6);
  const { buildFromManifest, manifestOnlyBuilder } = await import("../gateway/describe/manifest-only.ts");
  expect((await buildFromManifest(a.path("gateway.yaml"))).ok).toBe(true);
  expect(readdirSync(join(dir, "modules")).sort()).toEqual(before);
  // A kept builder (the type check's) prunes nothing at all: not even a validator the app no longer uses.
  a.write("gateway.yaml", "version: 1\ncommands:\n  other:\n    handler: handlers/other.ts\n");
  expect((await manifestOnlyBuilder(a.path("gateway.yaml")).build()).ok).toBe(true);
  expect(readdirSync(join(dir, "validators"))).toHaveLength(2);
  const next = await start(a.dir);
  expect(next.builder.store.compiled).toBe(0);
});

test("gateway check fills the cache on its first run and reads it on the next, also after gateway types", async () => {
  const a = cachedApp();
  const dir = defaultCacheDir(a.path("gateway.yaml"))!;
  /** Every entry with its modification time: a rewritten entry has a new one. */
  const entries = () =>
    ["validators", "modules"].flatMap((kind) => readdirSync(join(dir, kind)).map((name) => `${kind}/${name} ${statSync(join(dir, kind, name)).mtimeMs}`)).sort();
  expect(await runGateway(["check"], { cwd: a.dir })).toMatchObject({ code: 0, stderr: "" });
  const first = entries();
  expect(first.filter((e) => e.startsWith("validators/"))).toHaveLength(2);
  expect(first.filter((e) => e.startsWith("modules/"))).toHaveLength(6);
  expect(await runGateway(["check"], { cwd: a.dir })).toMatchObject({ code: 0, stderr: "" });
  expect(entries()).toEqual(first);
  // gateway types builds from the manifest alone: it leaves the modules it never loaded to check.
  expect(await runGateway(["types", "--out", "types.ts"], { cwd: a.dir })).toMatchObject({ code: 0, stderr: "" });
  expect(await runGateway(["check"], { cwd: a.dir })).toMatchObject({ code: 0, stderr: "" });
  expect(entries()).toEqual(first);
}, 60_000);

test("createGateway({ cacheDir: false }) keeps nothing on disk; validation errors read the same from a cached validator", async () => {
  const a = cachedApp();
  const off = await createGateway({ config: a.path("gateway.yaml"), cacheDir: false, logger: memoryLogger() });
  const fresh = await rejectionOf(off.invoke("hello", { name: 7 }));
  await off.close();
  expect(existsSync(join(a.dir, "node_modules", ".cache"))).toBe(false);
  const on = await createGateway({ config: a.path("gateway.yaml"), logger: memoryLogger() });
  await on.close();
  const warm = await createGateway({ config: a.path("gateway.yaml"), logger: memoryLogger() });
  expect(await rejectionOf(warm.invoke("hello", { name: 7 }))).toEqual(fresh);
  await warm.close();
});

test("a manifest read from the cache still places mistakes at their line and column, and follows ${VAR} changes", async () => {
  const a = cachedApp();
  a.write("gateway.yaml", a.read("gateway.yaml").replace("  other:\n", "  other:\n    timeout: ${T:-2s}\n"));
  await start(a.dir); // caches the manifest
  const dir = defaultCacheDir(a.path("gateway.yaml"))!;
  expect(readdirSync(join(dir, "manifests"))).toHaveLength(1);

  const withVar = new GenerationBuilder(a.path("gateway.yaml"), { T: "5s" });
  const built = await withVar.build();
  expect(built.ok && built.generation.commands.get("other")!.timeoutMs).toBe(5000);

  const { rmSync } = await import("node:fs");
  rmSync(a.path("handlers/other.ts"));
  const broken = await new GenerationBuilder(a.path("gateway.yaml")).build();
  expect(broken.ok).toBe(false);
  expect(!broken.ok && broken.problems).toEqual([expect.objectContaining({ line: 8, col: 14, message: "handler file not found: handlers/other.ts" })]);
});

test("a saved handler module without setup/dispose is evaluated at its first call; one with setup at once", async () => {
  const a = cachedApp();
  a.write("handlers/other.ts", 'export function setup() {}\nexport default () => 1;\n');
  await start(a.dir);
  const warm = await start(a.dir);
  expect(warm.builder.graph.evaluationCount).toBe(1); // other.ts (it has setup); hello.ts waits for its first call
  const hello = warm.generation.commands.get("hello")!;
  const standIn = hello.handler;
  expect(await hello.handler({ body: { name: "ada" } } as never)).toBe("hello ada");
  expect(warm.builder.graph.evaluationCount).toBe(3); // hello.ts and the _words.ts it imports
  // The real function took the stand-in's place: later calls go straight to it.
  expect(hello.handler).not.toBe(standIn);
  expect(await hello.handler({ body: { name: "bob" } } as never)).toBe("hello bob");
  expect(warm.builder.graph.evaluationCount).toBe(3);
});
