// `${VAR}` from env files: `.env` beside the manifest (or the files --env-file / envFile names)
// under the environment, which wins; read by every verb that reads the manifest and by
// createGateway unless `env` is given; an edit of one is a reload under dev; broken or odd files
// (a line without =, a FIFO, a folder) are reported, never waited on, and never quoted.
import { afterEach, describe, expect, jest, test } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { buildApp } from "../gateway/build/write.ts";
import { readEnvFile } from "../gateway/config/env-file.ts";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { memoryLogger, rejectionOf, tempApp, type TempApp } from "./helpers/app.ts";
import { runGateway, startGateway, type RunningGateway } from "./helpers/cli.ts";
import { devGateway, type DevGateway } from "./helpers/dev.ts";
import { invokeJson } from "./helpers/http.ts";

/** Command `which` is answered by handlers/<WHICH>.ts: the variable's value shows in every call. */
const APP = {
  "gateway.yaml": "version: 1\ncommands:\n  which:\n    handler: handlers/${WHICH}.ts\n",
  "handlers/a.ts": 'export default () => "a";\n',
  "handlers/b.ts": 'export default () => "b";\n',
  "handlers/c.ts": 'export default () => "c";\n',
};

let app: TempApp | undefined;
let gateway: Gateway | undefined;
let running: RunningGateway | undefined;
let dev: DevGateway | undefined;

afterEach(async () => {
  running?.kill();
  await running?.exited;
  await gateway?.close();
  await dev?.close();
  app?.remove();
  [app, gateway, running, dev] = [undefined, undefined, undefined, undefined];
});

function appWith(files: Record<string, string>): TempApp {
  app = tempApp({ ...APP, ...files });
  return app;
}


describe("parsing (Node's util.parseEnv, with the lines it would garble reported)", () => {
  test("comments, export, quotes, multi-line values, CRLF and a byte order mark", () => {
    const dir = tempApp({
      ".env": '\uFEFF# a comment\r\nA=1\r\nexport B=two\r\nC="quoted # not a comment"\r\nD=plain # a comment\r\nE=\'single\'\r\nF="multi\r\nline"\r\n\r\n  G = spaced  \r\n',
    });
    try {
      expect(readEnvFile(dir.path(".env"), false)).toMatchObject({
        kind: "read",
        problems: [],
        values: { A: "1", B: "two", C: "quoted # not a comment", D: "plain", E: "single", F: "multi\nline", G: "spaced" },
      });
    } finally {
      dir.remove();
    }
  });

  test("lines Node's parser would drop or glue to the next are mistakes at their line, without their text", () => {
    const secret = "sk-live-0123456789";
    const dir = tempApp({ ".env": `A=1\n${secret}\nB="two\nlines"\n=orphan\nC D=3\n` });
    try {
      const read = readEnvFile(dir.path(".env"), false);
      expect(read).toEqual({
        kind: "read",
        text: expect.any(String),
        // The good lines still count: the manifest does not add "not set" for A, B or the rest.
        values: { A: "1", B: "two\nlines" },
        problems: [
          { file: dir.path(".env"), line: 2, col: 1, message: "expected NAME=value (or a # comment): this line has no =" },
          { file: dir.path(".env"), line: 5, col: 1, message: "expected NAME=value: nothing names the value before =" },
          { file: dir.path(".env"), line: 6, col: 1, message: "expected NAME=value: a name is letters, digits and _ (with no spaces)" },
        ],
      });
      expect(JSON.stringify(read.kind === "read" ? read.problems : read)).not.toContain(secret);
    } finally {
      dir.remove();
    }
  });

  // (How long these take is not asserted: the scan is linear, and bad lines are blanked before
  // Node 20's parser, which is quadratic in them, sees them.)
  test("a MiB of unclosed quotes reads as values; a MiB of bad lines is 20 problems and a count of the rest", () => {
    const dir = tempApp({ "quotes.env": 'A="\n'.repeat(256 * 1024 - 1), "bad.env": "x\n".repeat(512 * 1024 - 1) });
    try {
      expect(readEnvFile(dir.path("quotes.env"), true)).toMatchObject({ kind: "read", problems: [] });
      const bad = readEnvFile(dir.path("bad.env"), true);
      expect(bad.kind === "read" && bad.problems.length).toBe(21);
      expect(bad.kind === "read" && bad.problems[20]).toEqual({ file: dir.path("bad.env"), line: 21, col: 1, message: `this line and ${512 * 1024 - 22} more are not NAME=value either` });
    } finally {
      dir.remove();
    }
  });

  test("a file over 1 MiB, and a folder named as an env file, are mistakes (a folder as the default .env is none)", () => {
    const dir = tempApp({ "big.env": `A=${"x".repeat(1024 * 1024)}\n` });
    mkdirSync(dir.path(".env"));
    try {
      expect(readEnvFile(dir.path("big.env"), true)).toEqual({ kind: "unreadable", problems: [{ file: dir.path("big.env"), message: "larger than 1 MiB: not an env file of NAME=value lines" }] });
      expect(readEnvFile(dir.path(".env"), true)).toEqual({ kind: "unreadable", problems: [{ file: dir.path(".env"), message: "not a regular file (an env file holds NAME=value lines)" }] });
      expect(readEnvFile(dir.path(".env"), false)).toEqual({ kind: "absent" });
    } finally {
      dir.remove();
    }
  });
});

describe("createGateway", () => {
  test("without env: process.env over the .env beside the manifest; a missing .env is fine", async () => {
    const dir = appWith({ ".env": "WHICH=b\n" });
    delete process.env.WHICH;
    gateway = await createGateway({ config: dir.path("gateway.yaml"), logger: memoryLogger() });
    expect(await gateway.invoke("which")).toBe("b");
    await gateway.close();
    process.env.WHICH = "c";
    try {
      gateway = await createGateway({ config: dir.path("gateway.yaml"), logger: memoryLogger() });
      expect(await gateway.invoke("which")).toBe("c"); // the environment wins
    } finally {
      delete process.env.WHICH;
    }
  });

  test("with env: only that object (no .env), unless envFile names files too (under it)", async () => {
    const dir = appWith({ ".env": "WHICH=b\n", "other.env": "WHICH=a\nX=1\n" });
    expect((await rejectionOf(createGateway({ config: dir.path("gateway.yaml"), env: {}, logger: memoryLogger() }))).problems[0]).toMatchObject({
      message: expect.stringContaining("environment variable WHICH is not set"),
    });
    gateway = await createGateway({ config: dir.path("gateway.yaml"), env: {}, envFile: dir.path("other.env"), logger: memoryLogger() });
    expect(await gateway.invoke("which")).toBe("a");
    await gateway.close();
    gateway = await createGateway({ config: dir.path("gateway.yaml"), env: { WHICH: "c" }, envFile: [dir.path("other.env"), dir.path(".env")], logger: memoryLogger() });
    expect(await gateway.invoke("which")).toBe("c");
    await gateway.close();
    gateway = await createGateway({ config: dir.path("gateway.yaml"), env: {}, envFile: [dir.path("other.env"), dir.path(".env")], logger: memoryLogger() });
    expect(await gateway.invoke("which")).toBe("b"); // the later file wins
  });

  test("a named file that is missing is a mistake naming it; a .env folder (a Python venv) is no .env", async () => {
    const dir = appWith({});
    expect(await rejectionOf(createGateway({ config: dir.path("gateway.yaml"), env: { WHICH: "a" }, envFile: dir.path("nope.env"), logger: memoryLogger() }))).toMatchObject({
      problems: [{ file: dir.path("nope.env"), message: "env file not found" }],
    });
    mkdirSync(dir.path(".env/bin"), { recursive: true });
    process.env.WHICH = "a";
    try {
      gateway = await createGateway({ config: dir.path("gateway.yaml"), logger: memoryLogger() });
      expect(await gateway.invoke("which")).toBe("a");
    } finally {
      delete process.env.WHICH;
    }
  });

  test("the disk cache of manifests follows the .env's values", async () => {
    const dir = appWith({ ".env": "WHICH=a\n" });
    delete process.env.WHICH;
    const options = { config: dir.path("gateway.yaml"), cacheDir: dir.path("cache"), logger: memoryLogger() };
    gateway = await createGateway(options);
    expect(await gateway.invoke("which")).toBe("a");
    await gateway.close();
    dir.write(".env", "WHICH=b\n");
    gateway = await createGateway(options);
    expect(await gateway.invoke("which")).toBe("b");
  });

  test("serve --from's .env is the app's (beside the manifest the build was made from), read at start", async () => {
    const dir = appWith({ "gateway.yaml": "version: 1\nserver:\n  token: ${TOKEN}\ncommands:\n  which:\n    handler: handlers/a.ts\n" });
    expect((await buildApp(dir.path("gateway.yaml"), dir.path(".gateway"), { TOKEN: "at-build" })).ok).toBe(true);
    dir.write(".env", "TOKEN=from-the-app-folder\n");
    delete process.env.TOKEN;
    gateway = await createGateway({ from: dir.path(".gateway"), logger: memoryLogger() });
    expect(gateway.generation.settings.token).toBe("from-the-app-folder");
  });
});

describe("gateway dev", () => {
  test("an edit of .env reloads, and later calls see the new value", async () => {
    delete process.env.WHICH;
    dev = await devGateway({ ...APP, ".env": "WHICH=a\n" });
    expect(await dev.gw.invoke("which")).toBe("a");
    dev.app.write(".env", "WHICH=b\n");
    expect(await dev.next()).toMatchObject({ kind: "reload", payload: { changed: [".env"] } });
    expect(await dev.gw.invoke("which")).toBe("b");
    // A broken .env is a broken edit: the last good generation keeps serving.
    dev.app.write(".env", "WHICH=c\noops\n");
    expect(await dev.next()).toMatchObject({ kind: "error", payload: { problems: [{ file: ".env", line: 2, column: 1 }] } });
    expect(await dev.gw.invoke("which")).toBe("b");
    dev.app.write(".env", "WHICH=c\n");
    expect((await dev.next()).kind).toBe("reload");
    expect(await dev.gw.invoke("which")).toBe("c");
  });

  test("an env file named outside the app's folder is watched too", async () => {
    const outside = tempApp({ "app.env": "WHICH=a\n" });
    try {
      dev = await devGateway(APP, { env: {}, envFile: outside.path("app.env") });
      expect(await dev.gw.invoke("which")).toBe("a");
      outside.write("app.env", "WHICH=c\n");
      expect((await dev.next()).kind).toBe("reload");
      expect(await dev.gw.invoke("which")).toBe("c");
    } finally {
      await dev?.close();
      dev = undefined;
      outside.remove();
    }
  });

  test("the real bin: a .env created and edited while it runs", async () => {
    const dir = appWith({ "gateway.yaml": "version: 1\ncommands:\n  which:\n    handler: handlers/${WHICH:-a}.ts\n" });
    running = await startGateway("dev", dir.dir, []);
    expect((await invokeJson(running.url, "which", {})).json()).toBe("a");
    dir.write(".env", "WHICH=b\n");
    await running.waitForLog(/reloaded .*generation 2/, 10_000);
    expect((await invokeJson(running.url, "which", {})).json()).toBe("b");
  });
});

describe("the command line", () => {
  test("serve and check read .env beside the manifest; the environment wins", async () => {
    const dir = appWith({ ".env": "WHICH=b\n" });
    expect(await runGateway(["check"], { cwd: dir.dir })).toMatchObject({ code: 0, stdout: "gateway.yaml: 1 commands, 0 channels, 0 events\n" });
    running = await startGateway("serve", dir.dir, []);
    expect((await invokeJson(running.url, "which", {})).json()).toBe("b");
    running.kill();
    await running.exited;
    running = await startGateway("serve", dir.dir, [], { env: { WHICH: "c" } });
    expect((await invokeJson(running.url, "which", {})).json()).toBe("c");
  });

  test("--env-file names other files instead of .env (later ones win), relative to the working directory", async () => {
    const dir = appWith({ ".env": "WHICH=nope\n", "config/one.env": "WHICH=a\n", "config/two.env": "WHICH=c\n" });
    for (const args of [["check"], ["explain", "which"], ["types"], ["docs"], ["build"]]) {
      const result = await runGateway([...args, "--env-file", "config/one.env"], { cwd: dir.dir });
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: "" });
    }
    // Without it, .env's value names no handler file.
    expect((await runGateway(["check"], { cwd: dir.dir })).stderr).toMatch(/handler file not found: handlers\/nope\.ts/);
    running = await startGateway("serve", dir.dir, ["--env-file", "config/one.env", "--env-file", "config/two.env"]);
    expect((await invokeJson(running.url, "which", {})).json()).toBe("c");
  });

  test("a missing --env-file is one clear line, and nothing starts", async () => {
    const dir = appWith({ ".env": "WHICH=a\n" });
    for (const args of [["check"], ["serve", "--port", "0"], ["dev", "--port", "0"]]) {
      const result = await runGateway([...args, "--env-file", "nope.env"], { cwd: dir.dir });
      // Node itself looks at --env-file anywhere on its command line (nodejs/node#54232), and so
      // far is the one to say so (exit 9) before the gateway can (exit 1).
      expect([1, 9]).toContain(result.code);
      expect(result.stderr).toMatch(/^(gateway \w+|\S*node): nope\.env: not found\n$/);
      expect(result.stdout).toBe("");
    }
  });

  test("the gateway's own check of --env-file, where Node does not make it first (the verb in-process)", async () => {
    const dir = appWith({});
    const { main } = await import("../gateway/cli/index.ts");
    const said: string[] = [];
    const error = jest.spyOn(console, "error").mockImplementation((line: unknown) => void said.push(String(line)));
    try {
      expect(await main(["check", "--config", dir.path("gateway.yaml"), "--env-file", dir.path("nope.env")])).toBe(1);
    } finally {
      error.mockRestore();
    }
    expect(said).toEqual([`gateway check: ${dir.path("nope.env")}: not found`]);
  });

  test("mistakes in .env are path:line:col lines that never quote the file", async () => {
    const dir = appWith({ ".env": "# settings\nWHICH=a\nhunter2-secret\n" });
    const result = await runGateway(["check"], { cwd: dir.dir });
    expect(result).toMatchObject({ code: 1, stdout: "", stderr: ".env:3:1: expected NAME=value (or a # comment): this line has no =\n" });
  });

  test("a FIFO named .env is refused, not waited on", async () => {
    const dir = appWith({});
    execFileSync("mkfifo", [dir.path(".env")]);
    const result = await runGateway(["check"], { cwd: dir.dir, env: { WHICH: "a" } });
    expect(result).toMatchObject({ code: 1, stderr: ".env: not a regular file (an env file holds NAME=value lines)\n" });
  });

  test("--help tells of --env-file for every verb that reads the manifest", async () => {
    for (const verb of ["dev", "serve", "check", "build", "types", "docs", "explain"]) {
      expect((await runGateway([verb, "--help"])).stdout).toMatch(/--env-file <file> read \$\{VAR\}s from this file instead of \.env/);
    }
  });
});
