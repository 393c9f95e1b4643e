// The command line through the real bin: `gateway check` on the example app and on a broken copy
// with every mistake; what every verb says about a path it cannot use (one line, never a stack);
// the messages for a port in use and a mistyped command; YAML alias bombs and server.bus.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFile, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { GATEWAY_BIN, PROJECT_DIR, runGateway, startGateway, type CliResult } from "./helpers/cli.ts";
import { invokeJson } from "./helpers/http.ts";

function copyOfExample() {
  const app = tempApp({});
  for (const part of ["gateway.yaml", "handlers", "schemas"]) cpSync(join(PROJECT_DIR, part), app.path(part), { recursive: true });
  return app;
}

describe("gateway check", () => {
  test("the example app: exit 0 with the summary", async () => {
    const result = await runGateway(["check"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe("gateway.yaml: 10 commands, 1 channels, 2 events\n");
  });

  test("--config names another manifest", async () => {
    const app = copyOfExample();
    try {
      const result = await runGateway(["check", "--config", app.path("gateway.yaml")]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/10 commands, 1 channels, 2 events/);
    } finally {
      app.remove();
    }
  });

  test("a broken copy: exit 1 and one line per mistake on stderr, all of them in one run", async () => {
    const app = copyOfExample();
    try {
      const manifest = app
        .read("gateway.yaml")
        .replace("    handler: handlers/greet.ts\n", "    hanlder: handlers/greet.ts\n") // unknown key (greet then borrows handlers/greet.ts)
        .replace("handlers/shout.ts", "handlers/shuot.ts") // missing file
        .replace("handlers/math.ts#divide", "handlers/math.ts#divid") // missing export
        .replace("body: { type: string, maxLength: 1000 }", "body: { type: string, maxLenght: 1000 }") // schema that does not compile
        .replace("timeout: 2s", "timeout: two seconds"); // wrong value
      app.write("gateway.yaml", manifest);
      app.write("handlers/add.ts", "export default () => {\n  return 1 +;\n};\n"); // syntax error in a drop-in
      app.write("schemas/greet.returns.json", "{ \"type\": \"object\", }"); // invalid JSON
      app.write("handlers/explode.ts", "throw new Error('no config');\nexport default () => 1;\n"); // throws at import

      const result = await runGateway(["check"], { cwd: app.dir });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      const at = (needle: string, offset = 0) => {
        const lines = manifest.split("\n");
        const line = lines.findIndex((l) => l.includes(needle));
        return `${line + 1}:${lines[line]!.indexOf(needle) + 1 + offset}`;
      };
      expect(result.stderr.trimEnd().split("\n")).toEqual([
        `gateway.yaml:${at("hanlder")}: unknown key "hanlder" in commands.greet (did you mean "handler"?)`,
        `gateway.yaml:${at("handlers/shuot.ts")}: handler file not found: handlers/shuot.ts`,
        `gateway.yaml:${at("maxLenght")}: body of command "shout" does not compile: strict mode: unknown keyword: "maxLenght" (did you mean "maxLength"?)`,
        `gateway.yaml:${at("handlers/math.ts#divid")}: handler handlers/math.ts has no function as an export named "divid"`,
        `gateway.yaml:${at("two seconds")}: a duration is milliseconds or a string like 500ms, 30s, 2m`,
        'handlers/add.ts:2:13: Unexpected ";"',
        "handlers/explode.ts:1:7: threw while loading: Error: no config", // the bin source-maps the handler
        expect.stringMatching(/^schemas\/greet\.returns\.json:1:\d+: invalid JSON: /),
      ]);
    } finally {
      app.remove();
    }
  });

  test("a manifest that does not exist", async () => {
    const result = await runGateway(["check", "--config", "nope.yaml"]);
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toBe("nope.yaml: cannot read the manifest: ENOENT\n");
  });

  test("usage mistakes exit 2", async () => {
    expect((await runGateway(["frobnicate"])).code).toBe(2);
    expect((await runGateway(["check", "--colour"])).code).toBe(2);
  });
});

describe("handler loading under the real bin", () => {
  test("handlers import npm packages, local helpers and ipc-gateway itself", async () => {
    // Inside the project, so the handler resolves npm packages from its node_modules.
    const app = tempApp(
      {
        "gateway.yaml": "version: 1\ncommands:\n  parse:\n    handler: handlers/parse.ts\n",
        "handlers/parse.ts": [
          'import { parse } from "yaml";',
          'import { InvokeError } from "ipc-gateway";',
          'import { twice } from "./_twice.ts";',
          "export default ({ body }: { body: string }) => {",
          "  if (typeof InvokeError !== 'function') throw new Error('no InvokeError');",
          "  return twice(parse(body).n);",
          "};",
          "",
        ].join("\n"),
        "handlers/_twice.ts": "export const twice = (n: number) => n * 2;\n",
      },
      PROJECT_DIR,
    );
    try {
      const result = await runGateway(["check", "--config", app.path("gateway.yaml")]);
      expect(result.stdout).toMatch(/1 commands, 0 channels, 0 events/);
      expect(result.code).toBe(0);
    } finally {
      app.remove();
    }
  });
});

/** A "billion laughs" document: nine levels of anchors, each naming the one before nine times (10^9 values expanded). */
function aliasBomb(indent: string): string {
  const lines = [`${indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]`];
  for (let i = 1; i < 9; i++) lines.push(`${indent}l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(", ")}]`);
  return lines.join("\n") + "\n";
}

describe("gateway check: one line per mistake", () => {
  const TOO_MANY = "too many values through aliases: this one takes the document past 1,000,000 values (an alias bomb?)";

  test("an alias bomb in the manifest, and in a .yaml schema file", async () => {
    // l5 stands for 597,871 values: its first alias (line 12, on l6's line, in both files) passes 1,000,000.
    const app = tempApp({
      "gateway.yaml": `version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\nlaughs:\n${aliasBomb("  ")}`,
      "handlers/ok.ts": 'export default () => "ok";\n',
      "schemas/laughs.yaml": `type: object\n$defs:\n  laughs:\n    type: array\n    examples:\n${aliasBomb("      ")}`,
      "schemas.yaml": "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: schemas/laughs.yaml\n",
    });
    try {
      expect(await runGateway(["check"], { cwd: app.dir })).toEqual({ code: 1, stdout: "", stderr: `gateway.yaml:12:12: ${TOO_MANY}\n` });
      expect(await runGateway(["check", "--config", "schemas.yaml"], { cwd: app.dir })).toEqual({ code: 1, stdout: "", stderr: `schemas/laughs.yaml:12:16: ${TOO_MANY}\n` });
    } finally {
      app.remove();
    }
  });

  test("a handler file five commands load is one line whether it does not build or throws while loading", async () => {
    const five = (handler: string, prefix: string) => Array.from({ length: 5 }, (_, i) => `  ${prefix}${i}:\n    handler: ${handler}\n`).join("");
    const app = tempApp({
      "gateway.yaml": `version: 1\ncommands:\n${five("handlers/bad.ts", "b")}${five("handlers/boom.ts", "t")}${five("handlers/string.ts", "s")}`,
      "handlers/bad.ts": "export default () => {\n  return 1 +;\n};\n",
      "handlers/boom.ts": 'const config: any = undefined;\nconfig.port;\nexport default () => 1;\n',
      "handlers/string.ts": 'throw "not yet";\nexport default () => 1;\n',
    });
    try {
      expect(await runGateway(["check"], { cwd: app.dir })).toEqual({
        code: 1,
        stdout: "",
        stderr: [
          'handlers/bad.ts:2:13: Unexpected ";"',
          "handlers/boom.ts:2:8: threw while loading: TypeError: Cannot read properties of undefined (reading 'port')",
          "handlers/string.ts: threw while loading: not yet",
          "",
        ].join("\n"),
      });
    } finally {
      app.remove();
    }
  });
});

describe("server.bus without the redis package", () => {
  // A copy of the package (bin, dist, package.json) whose node_modules links everything of the
  // project's but redis and @redis/*: from it, the gateway's `import("redis")` really fails.
  let root: TempApp;
  let bin: string;
  const MANIFEST = "version: 1\nserver:\n  bus: ${REDIS_URL:-}\ncommands:\n  hello:\n    handler: handlers/hello.ts\n";
  const MISSING = "gateway.yaml:3:8: server.bus needs the redis package, which is not installed: npm install redis\n";

  beforeAll(() => {
    root = tempApp({ "app/gateway.yaml": MANIFEST, "app/handlers/hello.ts": 'export default () => "hello";\n' });
    const pkg = root.path("pkg");
    mkdirSync(join(pkg, "node_modules"), { recursive: true });
    for (const part of ["package.json", "bin", "dist"]) cpSync(join(PROJECT_DIR, part), join(pkg, part), { recursive: true });
    for (const name of readdirSync(join(PROJECT_DIR, "node_modules"))) {
      if (name === "redis" || name === "@redis" || name.startsWith(".")) continue;
      symlinkSync(join(PROJECT_DIR, "node_modules", name), join(pkg, "node_modules", name));
    }
    bin = join(pkg, "bin", "gateway.js");
  });
  afterAll(() => root.remove());

  /** The copy's bin run to its end in the app, with REDIS_URL set or not, and no NODE_PATH. */
  function run(args: string[], redisUrl: string | undefined): Promise<CliResult> {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: "" };
    delete env.NODE_PATH;
    delete env.REDIS_URL;
    if (redisUrl !== undefined) env.REDIS_URL = redisUrl;
    return new Promise((resolve) => {
      execFile(process.execPath, [bin, ...args], { cwd: root.path("app"), env, timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      });
    });
  }

  test("redis cannot be loaded from the copy (the ground the next tests stand on)", () => {
    const probe = spawnSync(process.execPath, ["--input-type=module", "-e", 'await import("redis")'], { cwd: root.path("pkg/dist") });
    expect(probe.stderr.toString()).toMatch(/ERR_MODULE_NOT_FOUND/);
  });

  test("gateway serve and gateway dev exit 1 with one line at server.bus naming npm install redis", async () => {
    for (const verb of ["serve", "dev"]) {
      expect(await run([verb, "--port", "0"], "redis://127.0.0.1:6379")).toEqual({ code: 1, stdout: "", stderr: MISSING });
    }
  });

  test("the same manifest with REDIS_URL empty needs no bus (nor the redis package) and serves", async () => {
    // Empty is what ${REDIS_URL:-} makes of an unset one (tests/manifest.test.ts covers unset).
    const gw = await startGateway("serve", root.path("app"), [], { bin, env: { REDIS_URL: "" } });
    try {
      const res = await invokeJson(gw.url, "hello", {});
      expect({ status: res.status, body: res.json() }).toEqual({ status: 200, body: "hello" });
      expect((await (await fetch(`${gw.url}/__gateway/health`)).json()).bus).toBeUndefined();
    } finally {
      gw.kill();
    }
  });
});

describe("messages", () => {
  test("a mistyped command: the nearest one is suggested", async () => {
    const suggest = (typed: string, verb: string) => `gateway: unknown command "${typed}": did you mean ${verb}? (gateway --help lists every command)\n`;
    expect(await runGateway(["deve"])).toEqual({ code: 2, stdout: "", stderr: suggest("deve", "dev") });
    expect(await runGateway(["chekc"])).toEqual({ code: 2, stdout: "", stderr: suggest("chekc", "check") });
    expect(await runGateway(["Serve"])).toEqual({ code: 2, stdout: "", stderr: suggest("Serve", "serve") });
    expect(await runGateway(["typs"])).toEqual({ code: 2, stdout: "", stderr: suggest("typs", "types") });
    // Nothing near: the list of commands, no guess.
    const far = await runGateway(["frobnicate"]);
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/^gateway: unknown command "frobnicate"\n\nusage: gateway <command> \[options\]\n/);
    expect(far.stderr).not.toContain("did you mean");
    // A mistyped option of a verb, too.
    const option = await runGateway(["check", "--type"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^gateway check: unknown option --type: did you mean --types\?\n/);
    expect(await runGateway(["check"])).toMatchObject({ code: 0, stdout: "gateway.yaml: 10 commands, 1 channels, 2 events\n", stderr: "" });
  }, 60_000);

  describe("a port in use: the port and the host are named", () => {
    let app: TempApp;
    let taken: Server;
    let port: number;
    beforeAll(async () => {
      app = tempApp({ "gateway.yaml": "version: 1\ncommands:\n  hi:\n    handler: hi.ts\n", "hi.ts": 'export default () => "hi";\n' });
      taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      port = (taken.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => taken.close(resolve));
      app.remove();
    });

    test.each(["serve", "dev"])("gateway %s", async (verb) => {
      const refused = await runGateway([verb, "--port", String(port), "--log-level", "silent"], { cwd: app.dir });
      expect(refused).toEqual({ code: 1, stdout: "", stderr: `gateway: port ${port} on 127.0.0.1 is in use (--port picks another, 0 any free one)\n` });
      const running = await startGateway(verb as "serve" | "dev", app.dir, ["--log-level", "silent"]);
      try {
        expect((await invokeJson(running.url, "hi", {})).json()).toBe("hi");
      } finally {
        running.kill();
        await running.exited;
      }
    });
  });
});

describe("a path a verb cannot use: one line naming it, exit 1, never a stack; then the verb works", () => {
  const LONG = "n".repeat(300);
  const SHOWN_LONG = `${"n".repeat(32)}…`;
  let app: TempApp;
  beforeAll(() => {
    app = tempApp({
      "gateway.yaml": "version: 1\ncommands:\n  hi:\n    handler: hi.ts\n",
      "hi.ts": 'export default () => "hi";\n',
      "a-file": "a file\n",
      "a-folder/.keep": "",
    });
  });
  afterAll(() => app?.remove());

  /** Exit 1, nothing on stdout, one line on stderr that names `shown`; nothing new in the folder. */
  async function oneLine(args: string[], shown: string): Promise<string> {
    const entries = readdirSync(app.dir).sort();
    const result = await runGateway(args, { cwd: app.dir });
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toMatch(/^[^\n]+\n$/);
    expect(result.stderr).not.toMatch(/^\s+at |node:\w|Error\b/m);
    expect(result.stderr).toContain(shown);
    expect(readdirSync(app.dir).sort()).toEqual(entries);
    expect(readFileSync(app.path("a-file"), "utf8")).toBe("a file\n");
    return result.stderr;
  }

  test("check", async () => {
    await oneLine(["check", "--config", "a-folder"], "a-folder");
    await oneLine(["check", "--config", "a-file/gateway.yaml"], "a-file/gateway.yaml");
    await oneLine(["check", "--config", `${LONG}.yaml`], "nnnnnnnn");
    expect(await runGateway(["check"], { cwd: app.dir })).toMatchObject({ code: 0, stdout: "gateway.yaml: 1 commands, 0 channels, 0 events\n" });
  }, 60_000);

  test("build", async () => {
    expect(await oneLine(["build", "--out", "a-file/build"], "a-file")).toBe("gateway build: a-file: is a file, not a folder (a-file/build would be inside it); nothing was written\n");
    expect(await oneLine(["build", "--out", LONG], SHOWN_LONG)).toMatch(/the name is too long/);
    await oneLine(["build", "--out", "a-file"], "a-file");
    await oneLine(["build", "--config", "a-file/gateway.yaml"], "a-file/gateway.yaml");
    const built = await runGateway(["build", "--out", "build-out"], { cwd: app.dir });
    expect(built).toMatchObject({ code: 0, stderr: "" });
    expect(existsSync(app.path("build-out/build.json"))).toBe(true);
  }, 60_000);

  test("docs: --out naming a file, a path under a file, a name too long, an openapi.json of the user's", async () => {
    expect(await oneLine(["docs", "--out", "a-file"], "a-file")).toBe("gateway docs: a-file: is a file; --out names the folder to write openapi.json and asyncapi.json in; nothing was written\n");
    expect(await oneLine(["docs", "--out", "a-file/api"], "a-file")).toBe("gateway docs: a-file: is a file, not a folder (a-file/api would be inside it); nothing was written\n");
    expect(await oneLine(["docs", "--out", LONG], SHOWN_LONG)).toMatch(/the name is too long/);
    await oneLine(["docs", "--config", `${LONG}.yaml`], "nnnnnnnn");
    writeFileSync(app.path("a-folder/openapi.json"), '{ "openapi": "3.1.0", "info": { "title": "mine" } }\n');
    expect(await oneLine(["docs", "--out", "a-folder"], "a-folder/openapi.json")).toBe(
      'gateway docs: a-folder/openapi.json: not generated by gateway docs (its info has no "x-generator": "ipc-gateway ..."), so not written over (--out names another folder); nothing was written\n',
    );
    expect(readFileSync(app.path("a-folder/openapi.json"), "utf8")).toBe('{ "openapi": "3.1.0", "info": { "title": "mine" } }\n');
    expect(existsSync(app.path("a-folder/asyncapi.json"))).toBe(false);
    // Its own documents are written, and written over.
    for (let run = 0; run < 2; run++) {
      const written = await runGateway(["docs", "--out", "api"], { cwd: app.dir });
      expect(written).toEqual({ code: 0, stdout: "wrote api/openapi.json (OpenAPI 3.1, 1 command)\nwrote api/asyncapi.json (AsyncAPI 3.0, 0 events, 0 channels)\n", stderr: "" });
    }
  }, 60_000);

  test("types", async () => {
    await oneLine(["types", "--out", "a-folder"], "a-folder");
    await oneLine(["types", "--out", "a-file/types.ts"], "a-file");
    await oneLine(["types", "--out", `${LONG}.ts`], SHOWN_LONG);
    await oneLine(["types", "--config", "a-folder"], "a-folder");
    expect(await runGateway(["types", "--out", "types.ts"], { cwd: app.dir })).toMatchObject({ code: 0, stdout: "types.ts: written (1 commands, 0 channels, 0 events)\n" });
  }, 60_000);

  test("init and new", async () => {
    await oneLine(["init", "a-file/app"], "a-file");
    await oneLine(["init", LONG], SHOWN_LONG);
    await oneLine(["new", "x", "--config", "a-file/gateway.yaml"], "a-file/gateway.yaml");
    await oneLine(["new", "x", "--config", `${LONG}.yaml`], SHOWN_LONG);
    await oneLine(["new", "x", "--config", "a-folder"], "a-folder");
    expect((await runGateway(["init", "new-app"], { cwd: app.dir })).code).toBe(0);
    expect((await runGateway(["new", "x"], { cwd: app.path("new-app") })).code).toBe(0);
  }, 60_000);

  test("serve and dev", async () => {
    await oneLine(["serve", "--config", `${LONG}.yaml`], "nnnnnnnn");
    await oneLine(["serve", "--config", "a-folder"], "a-folder");
    await oneLine(["serve", "--from", LONG], "nnnnnnnn");
    await oneLine(["serve", "--from", "a-file/build"], "a-file/build");
    await oneLine(["dev", "--types", "a-folder"], "a-folder");
    await oneLine(["dev", "--types", "a-file/types.ts"], "a-file");
    await oneLine(["dev", "--handlers", `${LONG}.d.ts`], SHOWN_LONG);
    for (const verb of ["serve", "dev"] as const) {
      const running = await startGateway(verb, app.dir, ["--log-level", "silent"]);
      try {
        expect((await invokeJson(running.url, "hi", {})).json()).toBe("hi");
      } finally {
        running.kill();
        await running.exited;
      }
    }
  }, 60_000);

  test("a read-only file system: named, before anything is written", async () => {
    mkdirSync(app.path("read-only"), { recursive: true });
    const readOnly = (args: string[]) =>
      new Promise<CliResult>((resolve) => {
        const script = 'mount --bind -o ro read-only read-only && exec "$@"';
        execFile("unshare", ["--mount", "sh", "-c", script, "sh", process.execPath, GATEWAY_BIN, ...args], { cwd: app.dir, env: { ...process.env, NODE_OPTIONS: "" } }, (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
        );
      });
    const line = (verb: string) => `gateway ${verb}: read-only: cannot be written in: the file system is read-only; nothing was written\n`;
    expect(await readOnly(["types", "--out", "read-only/types.ts"])).toEqual({ code: 1, stdout: "", stderr: line("types") });
    expect(await readOnly(["docs", "--out", "read-only/api"])).toEqual({ code: 1, stdout: "", stderr: line("docs") });
    expect(await readOnly(["init", "read-only/app"])).toEqual({ code: 1, stdout: "", stderr: line("init") });
    expect(readdirSync(app.path("read-only"))).toEqual([]);
    expect((await runGateway(["types", "--out", "read-only/types.ts"], { cwd: app.dir })).code).toBe(0);
  }, 60_000);
});
