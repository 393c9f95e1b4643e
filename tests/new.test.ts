// `gateway new <command>` through the real bin: the manifest keeps every byte it had (comments,
// order, alignment) apart from the added entry, the files exist, `gateway check` passes and the
// new command answers when served; refusals write nothing.
import { afterEach, describe, expect, test } from "@jest/globals";
import { execFile } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { GATEWAY_BIN, PROJECT_DIR, runGateway, startGateway, type CliResult, type RunningGateway } from "./helpers/cli.ts";
import { invokeJson } from "./helpers/http.ts";

const MANIFEST = `# The app's manifest: a header comment,
# on two lines.
version: 1

server:
  timeout: 5s                    # an aligned inline comment

commands:
  # Before the first command.
  first:                         # inline, after a key with a nested map
    handler: handlers/first.ts
    body: { type: object, properties: { n: { type: number } }, required: [n] }

  # Between the commands.
  second:
    handler: handlers/second.ts   # inline, after a value
    returns: { type: string }

# Before the events, at the top level.
events:
  ping: {}                       # last line, inline
`;

const APP = {
  "gateway.yaml": MANIFEST,
  "handlers/first.ts": 'import type { Invoke } from "ipc-gateway";\n\nexport default ({ body }: Invoke<{ n: number }>) => body.n * 2;\n',
  "handlers/second.ts": 'export default () => "second";\n',
};

const HELLO_ENTRY = `
  hello:
    handler: handlers/hello.ts
    body: schemas/hello.body.json
    returns: schemas/hello.returns.json
`;

let app: TempApp | undefined;
let running: RunningGateway | undefined;

afterEach(() => {
  running?.kill();
  app?.remove();
  app = running = undefined;
});

/** Every file and folder under `dir` with its content (a link: where it points): a refusal must leave this unchanged. */
function snapshot(dir: string, prefix = ""): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const relative = prefix === "" ? name : `${prefix}/${name}`;
    const stats = lstatSync(join(dir, relative));
    if (stats.isDirectory()) {
      files[`${relative}/`] = "";
      Object.assign(files, snapshot(dir, relative));
    } else files[relative] = stats.isSymbolicLink() ? `-> ${readlinkSync(join(dir, relative))}` : readFileSync(join(dir, relative), "utf8");
  }
  return files;
}

/**
 * The bin in a mount namespace of its own where `mount` (a shell command, in `cwd`) has run first;
 * `after` runs there too once the bin is done (what it prints follows the bin's stdout).
 */
function runMounted(mount: string, args: string[], cwd: string, after = "true"): Promise<CliResult> {
  const script = `${mount} && { "$@"; code=$?; ${after}; exit $code; }`;
  return new Promise((resolve) => {
    execFile("unshare", ["--mount", "sh", "-c", script, "sh", process.execPath, GATEWAY_BIN, ...args], { cwd, env: { ...process.env, NODE_OPTIONS: "" } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A normal run after a refusal: `gateway new fine` in the same folder adds its command. */
async function newSucceeds(dir: string): Promise<void> {
  const result = await runGateway(["new", "fine"], { cwd: dir });
  expect(result).toMatchObject({ code: 0, stderr: "" });
  expect(result.stdout).toContain('added command "fine"');
  for (const file of ["handlers/fine.ts", "schemas/fine.body.json", "schemas/fine.returns.json"]) expect(existsSync(join(dir, file))).toBe(true);
}

describe("gateway new", () => {
  test("adds the entry after the last command, and every other byte of the manifest stays", async () => {
    app = tempApp(APP);
    const result = await runGateway(["new", "hello"], { cwd: app.dir });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe(
      'gateway.yaml: added command "hello"\ncreated handlers/hello.ts\ncreated schemas/hello.body.json\ncreated schemas/hello.returns.json\n' +
        'wrote handlers/gateway.d.ts (the handlers\' declarations, for Handler<"...">)\n',
    );

    const after = app.read("gateway.yaml");
    // Exactly one insertion: after the last command's last line, spaced like the others.
    const anchor = "    returns: { type: string }\n";
    expect(after).toBe(MANIFEST.replace(anchor, anchor + HELLO_ENTRY));
    // Said differently: taking the added lines out gives back the original, byte for byte ...
    expect(after.replace(HELLO_ENTRY, "")).toBe(MANIFEST);
    // ... so every comment line survives, in its place and order.
    const comments = (text: string) => text.split("\n").filter((line) => line.includes("#"));
    expect(comments(after)).toEqual(comments(MANIFEST));
    expect(comments(MANIFEST)).toHaveLength(9);

    for (const file of ["handlers/hello.ts", "schemas/hello.body.json", "schemas/hello.returns.json"]) expect(existsSync(app.path(file))).toBe(true);
    expect(app.read("handlers/hello.ts")).toMatch(/import type \{ Handler \} from "ipc-gateway";[\s\S]*const hello: Handler<"hello"> = async \(\{ body \}\) =>[\s\S]*export default hello;/);
    expect(app.read("handlers/gateway.d.ts")).toContain("  hello: { body: HelloBody; returns: HelloReturns; error: unknown };");
    expect(JSON.parse(app.read("schemas/hello.body.json"))).toMatchObject({ type: "object", required: ["text"] });

    const check = await runGateway(["check"], { cwd: app.dir });
    expect(check).toEqual({ code: 0, stdout: "gateway.yaml: 3 commands, 0 channels, 1 events\n", stderr: "" });

    running = await startGateway("serve", app.dir);
    const answer = await invokeJson(running.url, "hello", { text: "hi" });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ command: "hello", received: "hi" });
    const refused = await invokeJson(running.url, "hello", { text: 3 });
    expect(refused.status).toBe(422);
    expect(refused.json()).toMatchObject({ kind: "invalid-body" });
    expect((await invokeJson(running.url, "first", { n: 21 })).json()).toBe(42);
  });

  test("--config names the manifest; paths are relative to its folder; a missing commands: section is created", async () => {
    app = tempApp({ "sub/gateway.yaml": "# no commands yet\nversion: 1\n" });
    const result = await runGateway(["new", "tools:count/words", "--config", "sub/gateway.yaml"], { cwd: app.dir });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(app.read("sub/gateway.yaml")).toBe(
      "# no commands yet\nversion: 1\n\ncommands:\n  tools:count/words:\n    handler: handlers/tools:count/words.ts\n    body: schemas/tools:count/words.body.json\n    returns: schemas/tools:count/words.returns.json\n",
    );
    for (const file of ["sub/handlers/tools:count/words.ts", "sub/schemas/tools:count/words.body.json", "sub/schemas/tools:count/words.returns.json"])
      expect(existsSync(app.path(file))).toBe(true);
    expect(app.read("sub/handlers/tools:count/words.ts")).toContain('const toolsCountWords: Handler<"tools:count/words"> = async ({ body }) => {');
    // The declarations go into the handlers' folder beside the manifest, and name the command.
    expect(app.read("sub/handlers/gateway.d.ts")).toContain('  "tools:count/words": { body: ToolsCountWordsBody;');
    const check = await runGateway(["check", "--config", "sub/gateway.yaml"], { cwd: app.dir });
    expect(check).toMatchObject({ code: 0, stdout: "sub/gateway.yaml: 1 commands, 0 channels, 0 events\n" });
  });

  test("an empty commands: gets the entry under it; discover: folders are used", async () => {
    app = tempApp({
      "gateway.yaml": "version: 1\ndiscover:\n  handlers: src\n  schemas: types\ncommands:   # none yet\nevents:\n  ping: {}\n",
      "src/.keep": "",
      "types/.keep": "",
    });
    const result = await runGateway(["new", "hello"], { cwd: app.dir });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(app.read("gateway.yaml")).toBe(
      "version: 1\ndiscover:\n  handlers: src\n  schemas: types\ncommands:   # none yet\n  hello:\n    handler: src/hello.ts\n    body: types/hello.body.json\n    returns: types/hello.returns.json\nevents:\n  ping: {}\n",
    );
    expect((await runGateway(["check"], { cwd: app.dir })).stdout).toBe("gateway.yaml: 1 commands, 0 channels, 1 events\n");
  });

  describe("refusals: exit 1, a clear message, nothing written", () => {
    /** Runs the refused command (one line on stderr, nothing written), then a normal `gateway new`. */
    async function refused(args: string[], prepare: Record<string, string> = {}, setUp?: (dir: string) => void, run = (dir: string) => runGateway(args, { cwd: dir })): Promise<string> {
      app = tempApp({ ...APP, ...prepare });
      setUp?.(app.dir);
      const before = snapshot(app.dir);
      const result = await run(app.dir);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/^gateway new: [^\n]+\n$/); // one line, no stack
      expect(snapshot(app.dir)).toEqual(before);
      await newSucceeds(app.dir);
      return result.stderr;
    }

    test("a name the manifest already has", async () => {
      expect(await refused(["new", "second"])).toBe('gateway new: command "second" already exists in gateway.yaml\n');
    });

    test("a handler or schema file that already exists", async () => {
      expect(await refused(["new", "hello"], { "schemas/hello.returns.json": "{}\n" })).toBe(
        "gateway new: schemas/hello.returns.json already exists; nothing was written\n",
      );
      app!.remove();
      expect(await refused(["new", "hello"], { "handlers/hello.ts": "export default () => 1;\n", "schemas/hello.body.json": "{}\n" })).toBe(
        "gateway new: handlers/hello.ts, schemas/hello.body.json already exist; nothing was written\n",
      );
    });

    test("an invalid name", async () => {
      expect(await refused(["new", "hello world"])).toBe(
        'gateway new: invalid command name "hello world": a command name uses letters, digits, _ . : / - and starts with a letter, digit or _\n',
      );
      app!.remove();
      expect(await refused(["new", "--", "-dash"])).toMatch(/^gateway new: invalid command name "-dash": a command name uses letters/);
      app!.remove();
      expect(await refused(["new", "a/../../escape"])).toMatch(/^gateway new: invalid command name "a\/\.\.\/\.\.\/escape": .*makes no file name\n$/);
    });

    test("a manifest that does not exist", async () => {
      expect(await refused(["new", "hello", "--config", "nope.yaml"])).toMatch(/^gateway new: nope\.yaml not found/);
    });

    test("a name too long for a file name (250 to 300 characters): refused before anything is written", async () => {
      for (const length of [243, 250, 300]) {
        const name = "n".repeat(length);
        expect(await refused(["new", name])).toBe(
          `gateway new: invalid command name "${"n".repeat(24)}…${"n".repeat(16)}" (${length} characters): its file names would be too long (${length + 13} bytes; file systems take at most 255); nothing was written\n`,
        );
        app!.remove();
      }
      // The longest name that fits: <name>.returns.json is 255 bytes.
      app = tempApp(APP);
      expect((await runGateway(["new", "n".repeat(242)], { cwd: app.dir })).code).toBe(0);
    }, 60_000);

    test("a folder on the way that is a file: no empty folder is left behind", async () => {
      expect(await refused(["new", "blocker/x"], { "schemas/blocker": "a file\n" })).toBe(
        "gateway new: schemas/blocker: is a file, not a folder (schemas/blocker/x.body.json would be inside it); nothing was written\n",
      );
      app!.remove();
      expect(await refused(["new", "blocker/x"], { "handlers/blocker": "a file\n" })).toBe(
        "gateway new: handlers/blocker: is a file, not a folder (handlers/blocker/x.ts would be inside it); nothing was written\n",
      );
    }, 60_000);

    test("a symbolic link to nothing where a file would go", async () => {
      const link = (dir: string) => symlinkSync("nowhere.json", join(dir, "schemas/hello.body.json"));
      expect(await refused(["new", "hello"], { "schemas/.keep": "" }, link)).toBe("gateway new: schemas/hello.body.json: is a symbolic link to nothing; nothing was written\n");
    });

    test("a manifest on a read-only file system: refused before any file is written", async () => {
      const readOnly = (args: string[]) => (dir: string) => runMounted('mount --bind -o ro gateway.yaml gateway.yaml', args, dir);
      expect(await refused([], {}, undefined, readOnly(["new", "hello"]))).toBe(
        "gateway new: gateway.yaml: cannot be written: the file system is read-only; nothing was written\n",
      );
    });

    test("a write that fails midway (the disk fills up): what the run created is removed, the manifest is as it was", async () => {
      app = tempApp(APP);
      const before = snapshot(app.dir);
      // schemas/ is a tmpfs of one page: the body schema fits, the returns schema does not; what is
      // left on it is listed before the namespace (and the tmpfs) goes.
      const result = await runMounted("mkdir schemas && mount -t tmpfs -o size=4k tmpfs schemas", ["new", "deep/hello"], app.dir, "find schemas");
      expect(result).toEqual({
        code: 1,
        stdout: "schemas\n",
        stderr: "gateway new: schemas/deep/hello.returns.json: no space left on the device; the files this run had created were removed\n",
      });
      rmSync(app.path("schemas"), { recursive: true }); // the folder the tmpfs was mounted on
      expect(snapshot(app.dir)).toEqual(before);
      await newSucceeds(app.dir);
    }, 60_000);
  });

  test("a manifest holding an alias bomb: one line, nothing written; anchors used plainly are fine", async () => {
    const bomb = ["laughs:", "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (let i = 1; i < 9; i++) bomb.push(`  l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(", ")}]`);
    app = tempApp({ ...APP, "gateway.yaml": `${MANIFEST}${bomb.join("\n")}\n` });
    const refused = await runGateway(["new", "hello"], { cwd: app.dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^gateway new: gateway\.yaml:\d+:\d+: too many values through aliases: .*; gateway check tells more\n$/);
    expect(readdirSync(app.dir).sort()).toEqual(Object.keys(APP).map((f) => f.split("/")[0]!).filter((f, i, all) => all.indexOf(f) === i).sort());
    // An anchor named many times is not a bomb.
    app.write("gateway.yaml", `${MANIFEST}shared: &shared { a: 1 }\nuses: [${Array(150).fill("*shared").join(", ")}]\n`);
    expect((await runGateway(["new", "hello"], { cwd: app.dir })).code).toBe(0);
  });

  test("a handlers/gateway.d.ts of the user's is not written over: said on stderr, the command is still added", async () => {
    app = tempApp({ ...APP, "handlers/gateway.d.ts": "// mine\nexport {};\n" });
    const result = await runGateway(["new", "hello"], { cwd: app.dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("created handlers/hello.ts");
    expect(result.stderr).toBe(
      'gateway new: handlers/gateway.d.ts: not generated by gateway types (its first line is not "// Generated by `gateway types..."), so not written over (--handlers names where the types go); not written; Handler<"hello"> has its types once `gateway types --handlers handlers/gateway.d.ts` runs\n',
    );
    expect(app.read("handlers/gateway.d.ts")).toBe("// mine\nexport {};\n");
    // --handlers names another place.
    const other = await runGateway(["new", "other", "--handlers", "types/handlers.d.ts"], { cwd: app.dir });
    expect(other).toMatchObject({ code: 0, stderr: "" });
    expect(app.read("types/handlers.d.ts")).toContain("  other: { body: OtherBody; returns: OtherReturns; error: unknown };");
    expect(app.read("handlers/other.ts")).toContain("through types/handlers.d.ts:");
  });

  test("a discover: folder holding a newline stays inside the handler's comments", async () => {
    app = tempApp({ "gateway.yaml": 'version: 1\ndiscover:\n  handlers: "h\\nprocess.exit(7)//"\n  schemas: "s\\u2028x"\n' });
    const result = await runGateway(["new", "hello"], { cwd: app.dir });
    expect(result.code).toBe(0);
    const handler = app.read("h\nprocess.exit(7)/" + "/hello.ts");
    // Every line but the code's own is a comment.
    const code = handler.split(/\r?\n|\u2028|\u2029/).filter((line) => line !== "" && !line.startsWith("//"));
    expect(code).toEqual([
      'import type { Handler } from "ipc-gateway";',
      'const hello: Handler<"hello"> = async ({ body }) => {',
      '  return { command: "hello", received: body.text };',
      "};",
      "export default hello;",
    ]);
    expect(handler).toContain("against s\\u2028x/hello.body.json");
  });

  test("without a name: a usage error, exit 2", async () => {
    app = tempApp(APP);
    const result = await runGateway(["new"], { cwd: app.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^gateway new: missing the command's name\n\nusage: gateway new <command> \[--config gateway\.yaml\]/);
    expect(app.read("gateway.yaml")).toBe(MANIFEST);
  });
});

const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");

function tsc(dir: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, "--noEmit", "-p", "tsconfig.json"], { cwd: dir }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, output: stdout + stderr }));
  });
}

describe("the scaffolded handler's types", () => {
  let parent: TempApp | undefined;
  afterEach(() => parent?.remove());

  test("gateway init, gateway new x, tsc --noEmit: Handler<\"x\"> types it from the schemas, through the declarations new writes", async () => {
    // Under the repo (.tmp/ is ignored by git), so that `gateway check --types` finds its typescript.
    mkdirSync(join(PROJECT_DIR, ".tmp"), { recursive: true });
    parent = tempApp({}, join(PROJECT_DIR, ".tmp"));
    expect((await runGateway(["init", "app"], { cwd: parent.dir })).code).toBe(0);
    const dir = parent.path("app");
    // What `npm install` would put there: this package, and the app's other dependencies from the repo's.
    mkdirSync(join(dir, "node_modules/@types"), { recursive: true });
    mkdirSync(join(dir, "node_modules/@tauri-apps"), { recursive: true });
    symlinkSync(PROJECT_DIR, join(dir, "node_modules/ipc-gateway"));
    symlinkSync(join(PROJECT_DIR, "node_modules/@types/node"), join(dir, "node_modules/@types/node"));
    symlinkSync(join(PROJECT_DIR, "node_modules/@tauri-apps/api"), join(dir, "node_modules/@tauri-apps/api"));

    const result = await runGateway(["new", "x"], { cwd: dir });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain("wrote handlers/gateway.d.ts");
    const handler = readFileSync(join(dir, "handlers/x.ts"), "utf8");
    expect(handler).toContain('const x: Handler<"x"> = async ({ body }) => {');
    expect(handler).not.toMatch(/interface|type \w+ =/); // no handwritten body or result types
    // The app's own tsconfig: strict, NodeNext, verbatimModuleSyntax.
    expect(await tsc(dir)).toEqual({ code: 0, output: "" });
    expect(await runGateway(["check", "--types"], { cwd: dir })).toMatchObject({ code: 0, stderr: "" });

    // It is the declarations that type it: without them the body is the command's name.
    renameSync(join(dir, "handlers/gateway.d.ts"), join(dir, "gateway.d.ts.away"));
    const without = await tsc(dir);
    expect(without.code).toBe(1);
    expect(without.output).toContain(`handlers/x.ts(${handler.split("\n").findIndex((line) => line.includes("body.text")) + 1},`);
    renameSync(join(dir, "gateway.d.ts.away"), join(dir, "handlers/gateway.d.ts"));

    // And Handler<"x"> checks: each mistake below must be an error (an unused expectation would fail tsc).
    parent.write(
      "app/handlers/lib/mistakes.ts",
      `import type { Handler } from "ipc-gateway";
// @ts-expect-error received is a string in schemas/x.returns.json
export const wrongReturn: Handler<"x"> = async () => ({ command: "x", received: 1 });
// @ts-expect-error schemas/x.body.json has no field nope
export const wrongField: Handler<"x"> = async ({ body }) => ({ command: "x", received: body.nope });
`,
    );
    expect(await tsc(dir)).toEqual({ code: 0, output: "" });
  }, 60_000);
});

describe("--help", () => {
  test("gateway new --help and gateway init --help", async () => {
    const help = await runGateway(["new", "--help"]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: gateway new <command> \[--config gateway\.yaml\] \[--handlers file\.d\.ts\]\n\nadd a command/);
    expect(help.stdout).toContain("-c, --config <file>");
    const init = await runGateway(["init", "--help"]);
    expect(init).toMatchObject({ code: 0, stderr: "" });
    expect(init.stdout).toMatch(/^usage: gateway init \[--vite\] \[dir\]\n\ncreate a new app/);
    expect(init.stdout).toContain("npm install && npm run dev");
    expect(init.stdout).toContain("npm install && npm start");
  });

  test("gateway --help lists both", async () => {
    const { code, stdout } = await runGateway(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\n {2}init +create a new app/);
    expect(stdout).toMatch(/\n {2}new +add a command/);
  });
});
