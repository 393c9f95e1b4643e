// JSON Schemas: $ref across files, drafts, formats, YAML schema files, and compile-once caching.
import { describe, expect, test } from "@jest/globals";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import type { Generation } from "../gateway/runtime/generation.ts";
import { formatProblem } from "../gateway/config/problems.ts";
import { gatewayFor, rejectionOf, tempApp } from "./helpers/app.ts";

const ECHO = "export default ({ body }: { body: unknown }) => body;\n";

async function built(builder: GenerationBuilder): Promise<Generation> {
  const result = await builder.build();
  if (!result.ok) throw new Error(result.problems.map((p) => formatProblem(p)).join("\n"));
  return result.generation;
}

describe("$ref between schema files", () => {
  const files = {
    "gateway.yaml": `
version: 1
commands:
  save:
    handler: handlers/user.ts
    body: schemas/save.json
    returns: { $ref: "schemas/shared/defs.yaml#/$defs/user" }
`,
    "handlers/user.ts": "export default ({ body }: { body: { user: unknown } }) => body.user;\n",
    "schemas/save.json": JSON.stringify({
      type: "object",
      properties: { user: { $ref: "shared/defs.yaml#/$defs/user" } },
      required: ["user"],
    }),
    "schemas/shared/defs.yaml": `
$defs:
  user:
    type: object
    properties:
      email: { $ref: "../email.json" }
      tags: { type: array, items: { $ref: "#/$defs/tag" } }
    required: [email]
  tag: { type: string, maxLength: 5 }
`,
    "schemas/email.json": JSON.stringify({ type: "string", format: "email" }),
  };

  test("a body schema file, a YAML file of shared definitions and a file it references", async () => {
    const { gw, close } = await gatewayFor(files);
    try {
      expect(await gw.invoke("save", { user: { email: "ada@example.com", tags: ["a"] } })).toEqual({ email: "ada@example.com", tags: ["a"] });
      expect(await rejectionOf(gw.invoke("save", { user: { email: "not an email" } }))).toMatchObject({
        kind: "invalid-body",
        errors: [{ instancePath: "/user/email", keyword: "format" }],
      });
      expect(await rejectionOf(gw.invoke("save", { user: { email: "a@b.co", tags: ["toolong"] } }))).toMatchObject({
        errors: [{ instancePath: "/user/tags/0", keyword: "maxLength" }],
      });
    } finally {
      await close();
    }
  });

  test("an inline schema's $ref resolves beside the manifest", async () => {
    const { gw, close } = await gatewayFor({ ...files, "handlers/user.ts": "export default () => ({ email: 3 });\n" });
    try {
      expect(await rejectionOf(gw.invoke("save", { user: { email: "a@b.co" } }))).toMatchObject({
        kind: "invalid-return",
        errors: [{ instancePath: "/email", keyword: "type" }],
      });
    } finally {
      await close();
    }
  });

  test("a $ref to a missing file is reported where the $ref is written", async () => {
    const broken = tempApp(Object.fromEntries(Object.entries(files).filter(([name]) => name !== "schemas/email.json")));
    try {
      const result = await new GenerationBuilder(broken.path("gateway.yaml")).build();
      expect(result.ok).toBe(false);
      const lines = result.ok ? [] : result.problems.map((p) => formatProblem(p, broken.dir));
      expect(lines).toEqual(['schemas/shared/defs.yaml:6:16: $ref "../email.json": file not found: schemas/email.json']);
    } finally {
      broken.remove();
    }
  });
});

describe("drafts", () => {
  test("a $schema naming draft-07 is honoured (tuple items)", async () => {
    const { gw, close } = await gatewayFor({
      "gateway.yaml": "version: 1\ncommands:\n  pair:\n    handler: handlers/echo.ts\n    body: schemas/pair.json\n",
      "handlers/echo.ts": ECHO,
      "schemas/pair.json": JSON.stringify({
        $schema: "http://json-schema.org/draft-07/schema#",
        type: "array",
        items: [{ type: "string" }, { type: "number" }],
        additionalItems: false,
      }),
    });
    try {
      expect(await gw.invoke("pair", ["a", 1])).toEqual(["a", 1]);
      expect(await rejectionOf(gw.invoke("pair", [1, "a"]))).toMatchObject({ kind: "invalid-body", errors: [{ instancePath: "/0" }] });
      expect(await rejectionOf(gw.invoke("pair", ["a", 1, 2]))).toMatchObject({ kind: "invalid-body", errors: [{ keyword: "additionalItems" }] });
    } finally {
      await close();
    }
  });

  test("2020-12 is the default (prefixItems)", async () => {
    const { gw, close } = await gatewayFor({
      "gateway.yaml": "version: 1\ncommands:\n  pair:\n    handler: handlers/echo.ts\n    body: { type: array, prefixItems: [{ type: string }], items: false }\n",
      "handlers/echo.ts": ECHO,
    });
    try {
      expect(await gw.invoke("pair", ["a"])).toEqual(["a"]);
      expect(await rejectionOf(gw.invoke("pair", ["a", "b"]))).toMatchObject({ kind: "invalid-body" });
    } finally {
      await close();
    }
  });

  test("an unsupported $schema is a mistake", async () => {
    const app = tempApp({
      "gateway.yaml": "version: 1\ncommands:\n  a:\n    handler: handlers/echo.ts\n    body: { $schema: 'http://json-schema.org/draft-04/schema#', type: object }\n",
      "handlers/echo.ts": ECHO,
    });
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml")).build();
      expect(result.ok ? [] : result.problems.map((p) => formatProblem(p, app.dir))).toEqual([
        'gateway.yaml:5:13: body of command "a": unsupported $schema "http://json-schema.org/draft-04/schema#" (use JSON Schema 2020-12 or draft-07)',
      ]);
    } finally {
      app.remove();
    }
  });
});

describe("compile once, cache by content", () => {
  const files = {
    "gateway.yaml": `
version: 1
commands:
  a: { handler: handlers/echo.ts, body: schemas/a.json }
  b: { handler: handlers/echo.ts, body: schemas/b.json }
  c: { handler: handlers/echo.ts, body: { type: string } }
`,
    "handlers/echo.ts": ECHO,
    "schemas/a.json": JSON.stringify({ $ref: "common.json" }),
    "schemas/b.json": JSON.stringify({ type: "object", properties: { x: { type: "integer" } } }),
    "schemas/common.json": JSON.stringify({ type: "object", required: ["id"] }),
  };

  test("an unchanged rebuild compiles nothing; a changed file recompiles only what depends on it", async () => {
    const app = tempApp(files);
    try {
      const builder = new GenerationBuilder(app.path("gateway.yaml"));
      const first = await built(builder);
      const afterFirst = builder.schemas.compiled;
      expect(afterFirst).toBe(3);

      const second = await built(builder);
      expect(builder.schemas.compiled).toBe(afterFirst);
      expect(second.id).toBe(first.id + 1);
      expect((second.commands.get("a")!.body as { validate: unknown }).validate).toBe((first.commands.get("a")!.body as { validate: unknown }).validate);

      // common.json changes: a (which $refs it) is recompiled, b and c are not.
      app.write("schemas/common.json", JSON.stringify({ type: "object", required: ["key"] }));
      const third = await built(builder);
      expect(builder.schemas.compiled).toBe(afterFirst + 1);
      const validateA = (third.commands.get("a")!.body as { validate: (v: unknown) => boolean }).validate;
      expect(validateA({ key: 1 })).toBe(true);
      expect(validateA({ id: 1 })).toBe(false);
      // The older generation's validator still works as before (in-flight invocations use it).
      const oldA = (first.commands.get("a")!.body as { validate: (v: unknown) => boolean }).validate;
      expect(oldA({ id: 1 })).toBe(true);
    } finally {
      app.remove();
    }
  });
});
