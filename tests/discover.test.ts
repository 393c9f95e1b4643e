// Drop-in folders: handlers/<name>.ts is command <name>, with convention schemas; the manifest wins.
import { describe, expect, test } from "@jest/globals";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import { formatProblem } from "../gateway/config/problems.ts";
import { gatewayFor, rejectionOf, tempApp } from "./helpers/app.ts";

const DISCOVER = "version: 1\ndiscover:\n  handlers: handlers\n  schemas: schemas\n";

describe("drop-in handlers", () => {
  test("a file with a default export is a command named after the file, with its convention schemas", async () => {
    const { gw, close } = await gatewayFor({
      "gateway.yaml": DISCOVER,
      "handlers/add.ts": "export default ({ body }: any) => body.a + body.b;\n",
      "handlers/get-time.js": "module.exports = () => 'noon';\n",
      "schemas/add.body.yaml": "type: object\nproperties: { a: { type: number }, b: { type: number } }\nrequired: [a, b]\n",
      "schemas/add.returns.json": '{ "type": "number" }',
    });
    try {
      expect([...gw.generation.commands.keys()].sort()).toEqual(["add", "get-time"]);
      expect(await gw.invoke("add", { a: 2, b: 3 })).toBe(5);
      expect(await rejectionOf(gw.invoke("add", { a: 2 }))).toMatchObject({ kind: "invalid-body" });
      expect(await gw.invoke("get-time")).toBe("noon");
    } finally {
      await close();
    }
  });

  test("helpers (_name), type declarations, tests and subfolders are not commands", async () => {
    const { gw, close } = await gatewayFor({
      "gateway.yaml": DISCOVER,
      "handlers/hello.ts": 'import { name } from "./_util.ts";\nexport default () => `hello ${name}`;\n',
      "handlers/_util.ts": 'export const name = "util";\n',
      "handlers/types.d.ts": "export type X = 1;\n",
      "handlers/hello.test.ts": "throw new Error('never loaded');\n",
      "handlers/lib/deep.ts": "export default () => 1;\n",
      "schemas/.keep": "",
    });
    try {
      expect([...gw.generation.commands.keys()]).toEqual(["hello"]);
      expect(await gw.invoke("hello")).toBe("hello util");
    } finally {
      await close();
    }
  });

  test("a manifest entry wins over a discovered file of the same name", async () => {
    const { gw, close } = await gatewayFor({
      "gateway.yaml": DISCOVER + "commands:\n  greet:\n    handler: other/greet.ts\n",
      "handlers/greet.ts": "export default () => 'from the drop-in';\n",
      "other/greet.ts": "export default () => 'from the manifest';\n",
      "schemas/.keep": "",
    });
    try {
      expect(await gw.invoke("greet")).toBe("from the manifest");
    } finally {
      await close();
    }
  });

  test("a manifest entry without handler: adds settings to the drop-in of its name", async () => {
    const { gw, close } = await gatewayFor({
      "gateway.yaml": DISCOVER + "commands:\n  greet:\n    body: { type: string }\n    windows: [main]\n",
      "handlers/greet.ts": "export default ({ body }: any) => `hi ${body}`;\n",
      "schemas/greet.body.json": '{ "type": "number" }',
    });
    try {
      expect(await gw.invoke("greet", "Ada")).toBe("hi Ada"); // the manifest's body schema, not the convention file
      expect(await rejectionOf(gw.invoke("greet", "Ada", { window: "other" }))).toMatchObject({ kind: "not-allowed" });
    } finally {
      await close();
    }
  });

  test("a module the manifest names is not also a drop-in command", async () => {
    const { gw, close } = await gatewayFor({
      "gateway.yaml": DISCOVER + "commands:\n  one:\n    handler: handlers/math.ts#one\n",
      "handlers/math.ts": "export const one = () => 1;\n",
      "schemas/.keep": "",
    });
    try {
      expect([...gw.generation.commands.keys()]).toEqual(["one"]);
    } finally {
      await close();
    }
  });

  test("mistakes in drop-ins are reported against their files", async () => {
    const app = tempApp({
      "gateway.yaml": DISCOVER,
      "handlers/nodefault.ts": "export const x = () => 1;\n",
      "handlers/twice.ts": "export default () => 1;\n",
      "handlers/twice.js": "module.exports = () => 2;\n",
      "handlers/boom.ts": "throw new Error('boom');\n",
      "schemas/.keep": "",
    });
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml")).build();
      const lines = result.ok ? [] : result.problems.map((p) => formatProblem(p, app.dir));
      expect(lines.sort()).toEqual([
        "handlers/boom.ts: threw while loading: Error: boom",
        "handlers/nodefault.ts: no function as a default export: export default a handler, or start the file name with _ if it is a helper",
        'handlers/twice.ts: command "twice" is also defined by handlers/twice.js; keep one of them',
      ]);
    } finally {
      app.remove();
    }
  });
});
