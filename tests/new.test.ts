// `gateway new <command>` through the real bin: the manifest keeps every byte it had (comments,
// order, alignment) apart from the added entry, the files exist, `gateway check` passes and the
// new command answers when served; refusals write nothing.
import { afterEach, describe, expect, test } from "@jest/globals";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { runGateway, startGateway, type RunningGateway } from "./helpers/cli.ts";
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

/** Every file under `dir` with its content: a refusal must leave this unchanged. */
function snapshot(dir: string, prefix = ""): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const relative = prefix === "" ? name : `${prefix}/${name}`;
    if (statSync(join(dir, relative)).isDirectory()) Object.assign(files, snapshot(dir, relative));
    else files[relative] = readFileSync(join(dir, relative), "utf8");
  }
  return files;
}

describe("gateway new", () => {
  test("adds the entry after the last command, and every other byte of the manifest stays", async () => {
    app = tempApp(APP);
    const result = await runGateway(["new", "hello"], { cwd: app.dir });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe(
      'gateway.yaml: added command "hello"\ncreated handlers/hello.ts\ncreated schemas/hello.body.json\ncreated schemas/hello.returns.json\n',
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
    expect(app.read("handlers/hello.ts")).toMatch(/import type \{ Invoke \} from "ipc-gateway";[\s\S]*export default async function hello\(\{ body \}: Invoke<Body>\): Promise<Result>/);
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
    expect(app.read("sub/handlers/tools:count/words.ts")).toContain("export default async function toolsCountWords(");
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
    async function refused(args: string[], prepare: Record<string, string> = {}): Promise<string> {
      app = tempApp({ ...APP, ...prepare });
      const before = snapshot(app.dir);
      const result = await runGateway(args, { cwd: app.dir });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(snapshot(app.dir)).toEqual(before);
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
  });

  test("without a name: a usage error, exit 2", async () => {
    app = tempApp(APP);
    const result = await runGateway(["new"], { cwd: app.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^gateway new: missing the command's name\n\nusage: gateway new <command> \[--config gateway\.yaml\]/);
    expect(app.read("gateway.yaml")).toBe(MANIFEST);
  });
});

describe("--help", () => {
  test("gateway new --help and gateway init --help", async () => {
    const help = await runGateway(["new", "--help"]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: gateway new <command> \[--config gateway\.yaml\]\n\nadd a command/);
    expect(help.stdout).toContain("-c, --config <file>");
    const init = await runGateway(["init", "--help"]);
    expect(init).toMatchObject({ code: 0, stderr: "" });
    expect(init.stdout).toMatch(/^usage: gateway init \[dir\]\n\ncreate a new app/);
    expect(init.stdout).toContain("npm install && npm start");
  });

  test("gateway --help lists both", async () => {
    const { code, stdout } = await runGateway(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\n {2}init +create a new app/);
    expect(stdout).toMatch(/\n {2}new +add a command/);
  });
});
