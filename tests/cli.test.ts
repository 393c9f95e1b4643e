// `gateway check` through the real bin: the example app, and a broken copy with every mistake.
import { describe, expect, test } from "@jest/globals";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { tempApp } from "./helpers/app.ts";
import { PROJECT_DIR, runGateway } from "./helpers/cli.ts";

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

  test("a broken copy: exit 1 and one line per mistake, all of them in one run", async () => {
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
      const at = (needle: string, offset = 0) => {
        const lines = manifest.split("\n");
        const line = lines.findIndex((l) => l.includes(needle));
        return `${line + 1}:${lines[line]!.indexOf(needle) + 1 + offset}`;
      };
      expect(result.stdout.trimEnd().split("\n")).toEqual([
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
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("nope.yaml: cannot read the manifest: ENOENT\n");
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
