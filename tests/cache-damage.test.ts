// The disk cache can only make a start faster. Whatever happened to an entry (cut short, a bit
// flipped, garbage, another entry's content, a folder or a FIFO in its place, written by the
// previous version), the start succeeds and the app behaves as built from its sources; a cache
// deleted under a running gateway changes nothing; one that cannot be written is said once.
// FIFOs and devices named as the manifest or a schema are mistakes, not files to wait on.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "@jest/globals";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import { encode, type CacheKind } from "../gateway/config/disk-cache.ts";
import { createGateway, type Gateway } from "../gateway/index.ts";
import type { Generation } from "../gateway/runtime/generation.ts";
import { memoryLogger, rejectionOf, tempApp, type TempApp } from "./helpers/app.ts";

const FILES = {
  "gateway.yaml": "version: 1\ncommands:\n  greet:\n    handler: handlers/greet.ts\n    body: schemas/greet.json\n",
  "handlers/greet.ts": 'export default ({ body }: { body: { name: string } }) => "hello " + body.name;\n',
  // Named only by the forged manifest entries below.
  "handlers/evil.ts": 'export default () => "evil";\n',
  "schemas/greet.json": JSON.stringify({ type: "object", properties: { name: { type: "string", maxLength: 5 } }, required: ["name"] }),
};

/** Verified entries of the wrong content, as only a forger could write: the cache trusts them (see the first test). */
const FORGED: Record<"validators" | "manifests", string> = {
  validators: "module.exports = function validate() { return true; };\nmodule.exports.default = module.exports;\n",
  manifests: JSON.stringify({ vars: {}, raw: { version: 1, commands: { greet: { handler: "handlers/evil.ts", body: "schemas/greet.json" } } } }),
};

const feeders: ChildProcess[] = [];
afterEach(() => {
  for (const feeder of feeders.splice(0)) {
    try {
      process.kill(-feeder.pid!, "SIGKILL"); // its own process group: the shell and any cat it runs
    } catch {
      // already gone
    }
  }
});

/**
 * `path` becomes a FIFO with a writer waiting on it, which hands `content` to every reader that
 * opens it and first touches `marker`. So a reader that wrongly waits on the FIFO is not stuck
 * (the test fails on what it read, instead of hanging), and `marker` shows it was opened at all.
 */
function fifoFeeding(path: string, content: string | Buffer, marker: string): void {
  rmSync(path, { recursive: true, force: true });
  execFileSync("mkfifo", [path]);
  const source = `${marker}.content`;
  writeFileSync(source, content);
  const script = 'while [ -p "$2" ]; do { : > "$3"; cat "$1"; } > "$2"; done';
  feeders.push(spawn("sh", ["-c", script, "sh", source, path, marker], { stdio: "ignore", detached: true }));
}

/** One start, as a new process makes it: a builder of its own, built once, its writes flushed. */
async function start(app: TempApp) {
  const logs: string[] = [];
  const builder = new GenerationBuilder(app.path("gateway.yaml"), {}, app.path("cache"));
  builder.cache.logTo((level, message) => logs.push(`${level}: ${message}`));
  const result = await builder.build();
  await builder.cache.flush();
  return { builder, result, logs };
}

async function greetOf(generation: Generation) {
  const greet = generation.commands.get("greet")!;
  const validate = greet.body.kind === "json" ? greet.body.validate! : () => undefined;
  return {
    good: validate({ name: "ada" }),
    tooLong: validate({ name: "adalovelace" }),
    notAString: validate({ name: 7 }),
    answer: await greet.handler({ body: { name: "ada" } } as never),
  };
}

const AS_BUILT = { good: true, tooLong: false, notAString: false, answer: "hello ada" };

describe("a damaged entry is built again from the sources", () => {
  let app: TempApp;
  /** The cache as a cold start left it, copied back before each case. */
  let pristine: string;
  const entry = (kind: CacheKind) => {
    const names = readdirSync(app.path(join("cache", kind)));
    expect(names).toHaveLength(1);
    return { key: names[0]!, file: app.path(join("cache", kind, names[0]!)) };
  };
  const bodyOf = (file: string) => {
    const bytes = readFileSync(file);
    return bytes.subarray(bytes.indexOf(0x0a) + 1);
  };

  beforeAll(async () => {
    app = tempApp(FILES);
    const cold = await start(app);
    expect(cold.result.ok).toBe(true);
    pristine = app.path("pristine");
    cpSync(app.path("cache"), pristine, { recursive: true });
  });
  afterAll(() => app.remove());

  function restore(): void {
    rmSync(app.path("cache"), { recursive: true, force: true });
    cpSync(pristine, app.path("cache"), { recursive: true });
    rmSync(app.path("opened"), { force: true });
  }

  test("a verified entry is trusted as it is (so the cases below would show a forged one being read)", async () => {
    for (const kind of ["validators", "manifests"] as const) {
      restore();
      const { key, file } = entry(kind);
      writeFileSync(file, encode(kind, key, FORGED[kind]));
      const { result } = await start(app);
      expect(result.ok && (await greetOf(result.generation))).not.toEqual(AS_BUILT);
    }
  });

  type Damage = [what: string, damage: (file: string, kind: "validators" | "manifests", key: string) => void];
  const damages: Damage[] = [
    ["cut short", (file) => writeFileSync(file, readFileSync(file).subarray(0, Math.floor(readFileSync(file).length / 2)))],
    ["garbage", (file) => writeFileSync(file, Buffer.from([0xff, 0x00, 0x0a, 0xfe, 0x7b, 0x0a, 0x22]))],
    ["empty", (file) => writeFileSync(file, "")],
    ["{}", (file) => writeFileSync(file, "{}")],
    ["null", (file) => writeFileSync(file, "null")],
    ["one bit flipped in its content", (file) => flipBit(file, readFileSync(file).length - 2)],
    ["one bit flipped in its checksum", (file) => flipBit(file, 40)],
    ["written by the previous version (no checksum)", (file) => writeFileSync(file, bodyOf(file))],
    ["another entry's, checksum and all", (file, kind) => writeFileSync(file, encode(kind, "0".repeat(40), bodyOf(file).toString()))],
    ["a folder", (file) => (rmSync(file), mkdirSync(join(file, "inside"), { recursive: true }))],
    // Fed with a forged entry, which a start that waited on the FIFO would then serve.
    ["a FIFO", (file, kind, key) => fifoFeeding(file, encode(kind, key, FORGED[kind]), app.path("opened"))],
  ];
  const verifiedButWrong: Record<"validators" | "manifests", string[]> = {
    validators: [
      "module.exports.default = 42;",
      'throw new Error("no");',
      "module.exports.default = (", // does not even parse
    ],
    manifests: ["{}", "null", "[]", "not json", '{"vars":{},"raw":null}', '{"vars":null,"raw":{"version":1}}', '{"vars":{},"raw":[]}'],
  };
  for (const kind of ["validators", "manifests"] as const) {
    const cases: Damage[] = [
      ...damages,
      ...verifiedButWrong[kind].map((text): Damage => [`checksummed, but ${text}`, (file, k, key) => writeFileSync(file, encode(k, key, text))]),
    ];
    test.each(cases)(`${kind} entry: %s`, async (what, damage) => {
      restore();
      const { key, file } = entry(kind);
      damage(file, kind, key);

      const damaged = await start(app);
      expect(damaged.result.ok).toBe(true);
      expect(damaged.result.ok && (await greetOf(damaged.result.generation))).toEqual(AS_BUILT);
      if (kind === "validators") expect(damaged.builder.schemas.compiled).toBe(1);
      expect(existsSync(app.path("opened"))).toBe(false); // a FIFO is looked at, never opened
      // Said at debug level, naming the entry (an entry that verified but was wrong is not the cache's to see).
      if (!what.startsWith("checksummed")) expect(damaged.logs).toEqual([expect.stringMatching(new RegExp(`^debug: disk cache: ${kind}/${key} .*building it again$`))]);

      // Built again and saved over whatever was there: the next start takes it from the cache, silently.
      const next = await start(app);
      expect(next.result.ok && (await greetOf(next.result.generation))).toEqual(AS_BUILT);
      expect(next.logs).toEqual([]);
      if (kind === "validators") expect(next.builder.schemas.compiled).toBe(0);
      expect(readFileSync(file).subarray(0, 20).toString()).toBe("ipc-gateway cache v1");
    });
  }
});

function flipBit(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at]! ^= 0x10;
  writeFileSync(file, bytes);
}

describe("the cache folder", () => {
  let app: TempApp | undefined;
  let gw: Gateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    app?.remove();
  });

  function nextReload(gateway: Gateway): Promise<unknown> {
    return new Promise((resolve, reject) => {
      gateway.app.listen("gateway://reload", (event) => resolve(event.payload));
      gateway.app.listen("gateway://error", (event) => reject(new Error(JSON.stringify(event.payload))));
    });
  }

  test("deleted while a gateway serves: calls go on, and later writes make it again", async () => {
    app = tempApp(FILES);
    const cacheDir = app.path("cache");
    // A cold start: it has written every folder once before they go.
    gw = await createGateway({ config: app.path("gateway.yaml"), cacheDir, watch: true, logger: memoryLogger() });
    await gw.watching;
    expect(readdirSync(join(cacheDir, "validators"))).toHaveLength(1);

    rmSync(cacheDir, { recursive: true });
    expect(await gw.invoke("greet", { name: "ada" })).toBe("hello ada");
    expect(await rejectionOf(gw.invoke("greet", { name: 7 }))).toMatchObject({ kind: "invalid-body" });

    const reloaded = nextReload(gw);
    app.write("schemas/greet.json", JSON.stringify({ type: "object", properties: { name: { type: "string", maxLength: 3 } }, required: ["name"] }));
    await reloaded;
    expect(await gw.invoke("greet", { name: "ada" })).toBe("hello ada");
    expect(await rejectionOf(gw.invoke("greet", { name: "adam" }))).toMatchObject({ kind: "invalid-body" });
    await gw.close(); // its writes are on disk
    gw = undefined;

    expect(readdirSync(join(cacheDir, "validators"))).toHaveLength(1);
    const next = await start(app);
    expect(next.builder.schemas.compiled).toBe(0);
    expect(next.logs).toEqual([]);
  });

  test("that cannot be written costs only speed: one warning naming it, every write given up quietly", async () => {
    app = tempApp(FILES);
    // Under a regular file, so that making it fails whoever runs the test (root ignores a chmod).
    app.write("not-a-folder", "");
    const cacheDir = app.path("not-a-folder/cache");
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => void rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
      const logger = memoryLogger();
      gw = await createGateway({ config: app.path("gateway.yaml"), cacheDir, watch: true, logger });
      await gw.watching;
      expect(await gw.invoke("greet", { name: "ada" })).toBe("hello ada");

      // A reload writes again (a new validator), and fails again.
      const reloaded = nextReload(gw);
      app.write("schemas/greet.json", JSON.stringify({ type: "object", properties: { name: { type: "string", maxLength: 3 } }, required: ["name"] }));
      await reloaded;
      expect(await rejectionOf(gw.invoke("greet", { name: "adam" }))).toMatchObject({ kind: "invalid-body" });
      await gw.close();
      gw = undefined;

      const warnings = logger.lines.filter((line) => line.includes("disk cache"));
      expect(warnings).toEqual([expect.stringContaining(`cannot write the disk cache in ${cacheDir} (ENOTDIR)`)]);
      expect(warnings[0]).toMatch(/writable.*cacheDir/);
      expect(rejections).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  });
});

describe("a FIFO or device named as a user file is a mistake, not a file to wait on", () => {
  let app: TempApp | undefined;
  afterEach(() => app?.remove());

  test("the manifest", async () => {
    app = tempApp(FILES);
    fifoFeeding(app.path("gateway.yaml"), FILES["gateway.yaml"], app.path("opened"));
    await expect(createGateway({ config: app.path("gateway.yaml"), cacheDir: false, logger: memoryLogger() })).rejects.toThrow(
      /gateway\.yaml: not a regular file$/,
    );
    expect(existsSync(app.path("opened"))).toBe(false);

    const device = await new GenerationBuilder("/dev/null", {}, false).build();
    expect(device.ok || device.problems).toEqual([{ file: "/dev/null", message: "not a regular file" }]);
  });

  test("a schema", async () => {
    app = tempApp({ ...FILES, "gateway.yaml": `${FILES["gateway.yaml"]}  other:\n    handler: handlers/evil.ts\n    body: schemas/device.json\n` });
    fifoFeeding(app.path("schemas/greet.json"), FILES["schemas/greet.json"], app.path("opened"));
    symlinkSync("/dev/null", app.path("schemas/device.json"));
    const result = await new GenerationBuilder(app.path("gateway.yaml"), {}, false).build();
    expect(existsSync(app.path("opened"))).toBe(false);
    expect(result.ok || result.problems.map((p) => `${p.line}:${p.col}: ${p.message}`)).toEqual([
      '5:11: body of command "greet": not a regular file: schemas/greet.json',
      '8:11: body of command "other": not a regular file: schemas/device.json',
    ]);
  });
});
