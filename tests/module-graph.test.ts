// One module graph per process: a helper imported by several handlers is one instance; an edit
// re-evaluates the edited file and its importers only (unchanged modules keep their state, the
// replaced instance is disposed); top-level code that never ends, FIFOs and missing imports are
// broken edits with their place, never a stuck gateway. Real files, the real watcher.
import { afterEach, describe, expect, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createGateway } from "../gateway/index.ts";
import { defaultCacheDir } from "../gateway/config/disk-cache.ts";
import { memoryLogger, tempApp, type TempApp } from "./helpers/app.ts";
import { devGateway, type DevGateway } from "./helpers/dev.ts";
import { TODO_APP } from "./helpers/todo-app.ts";
import { childrenOf, stopProcess } from "./helpers/processes.ts";

let dev: DevGateway | undefined;
let app: TempApp | undefined;
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  app?.remove();
  app = undefined;
  (globalThis as any).__storesDisposed = undefined;
});

describe("one instance per module", () => {
  test("under dev: two handlers importing one helper share its state", async () => {
    dev = await devGateway(TODO_APP);
    expect(await dev.gw.invoke("add-todo", { text: "one" })).toBe(1);
    expect(await dev.gw.invoke("add-todo", { text: "two" })).toBe(2);
    expect(await dev.gw.invoke("list-todos")).toEqual([
      { id: 1, text: "one" },
      { id: 2, text: "two" },
    ]);
    const stores = [...dev.gw.generation.modules].filter((m) => m.file.endsWith("_store.ts"));
    expect(stores).toHaveLength(1);
  });

  test("under serve, from a cold and from a warm cache (modules evaluated at their first call)", async () => {
    app = tempApp(TODO_APP);
    writeFileSync(app.path("package.json"), "{}");
    execFileSync("mkdir", [app.path("node_modules")]);
    for (const start of ["cold", "warm"]) {
      const gw = await createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger() });
      try {
        expect(await gw.invoke("add-todo", { text: start })).toBe(1);
        expect(await gw.invoke("list-todos")).toEqual([{ id: 1, text: start }]);
      } finally {
        await gw.close();
      }
    }
  });

  test("a cycle between two modules works as in Node (each sees the other's exports once loaded)", async () => {
    dev = await devGateway({
      "gateway.yaml": "version: 1\ndiscover:\n  handlers: handlers\n",
      "handlers/_a.ts": 'import { b } from "./_b.ts";\nexport const a = () => "a" + b();\n',
      "handlers/_b.ts": 'import { a } from "./_a.ts";\nexport const b = () => "b";\nexport const viaA = () => a();\n',
      "handlers/cycle.ts": 'import { a } from "./_a.ts";\nimport { viaA } from "./_b.ts";\nexport default () => [a(), viaA()];\n',
    });
    expect(await dev.gw.invoke("cycle")).toEqual(["ab", "ab"]);
  });

  test("imports resolve as TypeScript does: .js naming a .ts file, folder index, tsconfig paths; import.meta names each file", async () => {
    dev = await devGateway({
      "gateway.yaml": "version: 1\ndiscover:\n  handlers: handlers\n",
      "tsconfig.json": JSON.stringify({ compilerOptions: { baseUrl: ".", paths: { "@lib/*": ["lib/*"] } } }),
      "lib/where.ts": "export const where = import.meta.url;\nexport const dir = __dirname;\n",
      "lib/count/index.ts": "export let count = 0;\nexport const bump = () => ++count;\n",
      "handlers/paths.ts": [
        'import { where, dir } from "@lib/where";',
        'import { bump } from "../lib/count/index.js";',
        'import * as again from "@lib/count";',
        "export default () => ({ where, dir, first: bump(), second: again.bump(), seen: again.count, mine: import.meta.url });",
        "",
      ].join("\n"),
    });
    const answer = await dev.gw.invoke<Record<string, unknown>>("paths");
    expect(answer).toEqual({
      where: `file://${dev.app.path("lib/where.ts")}`,
      dir: dev.app.path("lib"),
      first: 1,
      second: 2, // the same instance through two specifiers
      seen: 2,
      mine: `file://${dev.app.path("handlers/paths.ts")}`,
    });
  });
});

describe("edits re-evaluate the edited module and its importers, nothing else", () => {
  test("editing a handler keeps the helper's state; editing the helper resets it and disposes the old instance", async () => {
    dev = await devGateway(TODO_APP);
    await dev.gw.invoke("add-todo", { text: "one" });
    await dev.gw.invoke("add-todo", { text: "two" });

    dev.app.write("handlers/add-todo.ts", TODO_APP["handlers/add-todo.ts"].replace("body.text", "body.text.toUpperCase()"));
    expect(await dev.next()).toMatchObject({ kind: "reload", payload: { changed: ["handlers/add-todo.ts"], evaluated: ["handlers/add-todo.ts"] } });
    expect(await dev.gw.invoke("add-todo", { text: "three" })).toBe(3);
    expect(await dev.gw.invoke("list-todos")).toEqual([
      { id: 1, text: "one" },
      { id: 2, text: "two" },
      { id: 3, text: "THREE" },
    ]);
    expect((globalThis as any).__storesDisposed).toBeUndefined();

    dev.app.write("handlers/_store.ts", TODO_APP["handlers/_store.ts"] + "// edited\n");
    const reload = await dev.next();
    expect(reload).toMatchObject({ kind: "reload", payload: { changed: ["handlers/_store.ts"] } });
    // The helper and the two handlers that import it; ping imports nothing of it.
    expect([...reload.payload.evaluated].sort()).toEqual(["handlers/_store.ts", "handlers/add-todo.ts", "handlers/list-todos.ts"]);
    expect(dev.logger.lines).toContainEqual(expect.stringMatching(/reloaded in \d+ ms \(generation 3: handlers\/_store\.ts; re-evaluated handlers\/_store\.ts, /));
    expect(await dev.gw.invoke("list-todos")).toEqual([]);
    expect(await dev.gw.invoke("add-todo", { text: "four" })).toBe(1);
    expect((globalThis as any).__storesDisposed).toEqual([3]); // the old instance, with its three todos
    expect(await dev.gw.invoke("ping")).toBe("pong");
  });

  test("a save that leaves the helper's content as it was re-evaluates nothing", async () => {
    dev = await devGateway(TODO_APP);
    await dev.gw.invoke("add-todo", { text: "kept" });
    const now = new Date();
    utimesSync(dev.app.path("handlers/_store.ts"), now, now);
    dev.app.write("handlers/ping.ts", TODO_APP["handlers/ping.ts"]);
    expect(await dev.next()).toMatchObject({ kind: "reload", payload: { evaluated: [] } });
    expect(await dev.gw.invoke("list-todos")).toEqual([{ id: 1, text: "kept" }]);
    expect((globalThis as any).__storesDisposed).toBeUndefined();
  });

  test("a broken edit of the helper keeps the old instances serving, with their state", async () => {
    dev = await devGateway(TODO_APP);
    await dev.gw.invoke("add-todo", { text: "one" });
    dev.app.write("handlers/_store.ts", 'throw new Error("store is broken");\nexport const todos = [];\n');
    const outcome = await dev.next();
    expect(outcome.kind).toBe("error");
    // Placed in the helper that threw, not in the handlers that import it.
    expect(outcome.payload.problems).toContainEqual(expect.objectContaining({ file: "handlers/_store.ts", message: "threw while loading: Error: store is broken" }));
    expect(await dev.gw.invoke("list-todos")).toEqual([{ id: 1, text: "one" }]);
    expect((globalThis as any).__storesDisposed).toBeUndefined();

    dev.app.write("handlers/_store.ts", TODO_APP["handlers/_store.ts"]);
    expect((await dev.next()).kind).toBe("reload");
    expect(await dev.gw.invoke("list-todos")).toEqual([]);
  });
});

describe("evaluation cannot wedge the gateway", () => {
  const LOOPING = { ...TODO_APP, "gateway.yaml": "version: 1\nserver:\n  loadTimeout: 300ms\ndiscover:\n  handlers: handlers\n" };

  test("a handler whose top-level code never ends is a broken edit with its place; the old version serves", async () => {
    dev = await devGateway(LOOPING);
    await dev.gw.invoke("add-todo", { text: "kept" });
    dev.app.write("handlers/ping.ts", 'let n = 0;\nwhile (true) { n++; }\nexport default () => "never";\n');
    const outcome = await dev.next();
    expect(outcome.kind).toBe("error");
    expect(outcome.payload.problems).toEqual([
      expect.objectContaining({ file: "handlers/ping.ts", message: expect.stringContaining("did not finish loading: its top-level code was stopped after 300 ms") }),
    ]);
    expect(await dev.gw.invoke("ping")).toBe("pong");
    expect(await dev.gw.invoke("list-todos")).toEqual([{ id: 1, text: "kept" }]);

    dev.app.write("handlers/ping.ts", 'export default () => "pong again";\n');
    expect((await dev.next()).kind).toBe("reload");
    expect(await dev.gw.invoke("ping")).toBe("pong again");
  });

  test("a loop in a helper names the helper", async () => {
    dev = await devGateway(LOOPING);
    dev.app.write("handlers/_store.ts", "export const todos: unknown[] = [];\nfor (;;) {}\n");
    const outcome = await dev.next();
    expect(outcome.kind).toBe("error");
    expect(outcome.payload.problems).toContainEqual(expect.objectContaining({ file: "handlers/_store.ts", message: expect.stringContaining("did not finish loading") }));
    expect(await dev.gw.invoke("list-todos")).toEqual([]);
    dev.app.write("handlers/_store.ts", TODO_APP["handlers/_store.ts"]);
    expect((await dev.next()).kind).toBe("reload");
    expect(await dev.gw.invoke("add-todo", { text: "after" })).toBe(1);
  });

  test("a rebuild stuck in the compiler is given up in its time limit, and the next edit reloads", async () => {
    // Earlier test files in this jest worker may have left compilers of their own (each file has its own esbuild module).
    const others = new Set(childrenOf(process.pid, "esbuild"));
    dev = await devGateway(TODO_APP, { reloadTimeout: 1000 });
    dev.app.write("handlers/ping.ts", 'export default () => "compiled once";\n');
    expect((await dev.next()).kind).toBe("reload");
    const compiler = childrenOf(process.pid, "esbuild").filter((pid) => !others.has(pid));
    expect(compiler).toHaveLength(1);
    await stopProcess(compiler[0]!); // a compiler that never answers
    try {
      dev.app.write("handlers/ping.ts", 'export default () => "never compiled";\n');
      const outcome = await dev.next();
      expect(outcome).toMatchObject({ kind: "error", payload: { message: expect.stringContaining("the rebuild did not finish within 1 s and was given up; the next edit builds again") } });
      expect(await dev.gw.invoke("ping")).toBe("compiled once");
      dev.app.write("handlers/ping.ts", 'export default () => "compiled again";\n');
      expect((await dev.next()).kind).toBe("reload");
      expect(await dev.gw.invoke("ping")).toBe("compiled again");
      expect(await dev.gw.invoke("add-todo", { text: "x" })).toBe(1);
    } finally {
      process.kill(compiler[0]!, "SIGKILL");
    }
  });

  test("a module that is a FIFO is never opened: a clear mistake, and later edits reload", async () => {
    dev = await devGateway(TODO_APP);
    execFileSync("mkfifo", [dev.app.path("handlers/_pipe.ts")]);
    dev.app.write("handlers/ping.ts", 'import { x } from "./_pipe.ts";\nexport default () => x;\n');
    const outcome = await dev.next();
    expect(outcome.kind).toBe("error");
    expect(outcome.payload.message).toMatch(/handlers\/ping\.ts:1:19: cannot find module "\.\/_pipe\.ts" \(.*_pipe\.ts is not a regular file\)/);
    expect(await dev.gw.invoke("ping")).toBe("pong");

    rmSync(dev.app.path("handlers/_pipe.ts"));
    dev.app.write("handlers/_pipe.ts", 'export const x = "from a file";\n');
    let outcomeAfter = await dev.next();
    // Removing the FIFO and writing the file may be seen as one change or two.
    while (outcomeAfter.kind !== "reload") outcomeAfter = await dev.next();
    expect(await dev.gw.invoke("ping")).toBe("from a file");
  });

  test("a missing import is reported where it is written; creating the file brings the app back", async () => {
    dev = await devGateway(TODO_APP);
    dev.app.write("handlers/ping.ts", 'import { helper } from "./_not-yet";\nexport default () => helper();\n');
    const outcome = await dev.next();
    expect(outcome.kind).toBe("error");
    expect(outcome.payload.message).toMatch(/^handlers\/ping\.ts:1:24: cannot find module "\.\/_not-yet"/);
    dev.app.write("handlers/_not-yet.ts", 'export const helper = () => "here now";\n');
    expect((await dev.next()).kind).toBe("reload");
    expect(await dev.gw.invoke("ping")).toBe("here now");
  });
});

describe("the disk cache only speeds things up", () => {
  const damages: [string, (file: string) => void][] = [
    ["cut short", (file) => writeFileSync(file, readFileSync(file).subarray(0, Math.floor(readFileSync(file).length / 2)))],
    ["a bit flipped", (file) => {
      const bytes = readFileSync(file);
      bytes[bytes.length - 3] ^= 0x04;
      writeFileSync(file, bytes);
    }],
    ["garbage", (file) => writeFileSync(file, "ipc-gateway cache v1 sha256:00\n{]")],
    ["a folder", (file) => {
      rmSync(file);
      mkdirSync(file);
    }],
    ["a FIFO", (file) => {
      rmSync(file);
      execFileSync("mkfifo", [file]);
    }],
  ];

  const cases = damages.flatMap(([what, damage]) => (["code", "description"] as const).map((part) => [part, what, damage] as const));
  // The code of a module deferred to its first call is read only then: damage there is found at that call.
  test.each(cases)("a module's %s entry %s: the next start compiles it again and answers", async (part, _what, damage) => {
    app = tempApp(TODO_APP);
    mkdirSync(app.path("node_modules"));
    const cold = await createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger() });
    await cold.close();
    const folder = join(defaultCacheDir(app.path("gateway.yaml"))!, "modules");
    const entries = readdirSync(folder).sort();
    expect(entries).toHaveLength(8); // four modules, each its description and its code
    for (const name of entries) if (name.endsWith(part === "code" ? ".js" : ".json")) damage(join(folder, name));
    const gw = await createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger() });
    try {
      expect(await gw.invoke("add-todo", { text: "still" })).toBe(1);
      expect(await gw.invoke("list-todos")).toEqual([{ id: 1, text: "still" }]);
      expect(await gw.invoke("ping")).toBe("pong");
    } finally {
      await gw.close();
    }
  });

  test("deleting the cache while serving changes nothing for callers (a deferred module is compiled again)", async () => {
    app = tempApp(TODO_APP);
    execFileSync("mkdir", [app.path("node_modules")]);
    const first = await createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger() });
    await first.close();
    const cacheDir = defaultCacheDir(app.path("gateway.yaml"))!;
    expect(readdirSync(join(cacheDir, "modules")).length).toBeGreaterThan(0);
    const gw = await createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger() });
    try {
      rmSync(cacheDir, { recursive: true, force: true });
      // None of these modules ran yet (a warm start defers them): their code is gone from disk.
      expect(await gw.invoke("add-todo", { text: "still" })).toBe(1);
      expect(await gw.invoke("list-todos")).toEqual([{ id: 1, text: "still" }]);
      expect(await gw.invoke("ping")).toBe("pong");
    } finally {
      await gw.close();
    }
    expect(existsSync(cacheDir)).toBe(true); // written again
  });
});
