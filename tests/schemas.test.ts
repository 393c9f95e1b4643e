// JSON Schemas: $ref across files, drafts, formats, YAML schema files, and compile-once caching.
import { describe, expect, test } from "@jest/globals";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import type { Generation } from "../gateway/runtime/generation.ts";
import { formatProblem } from "../gateway/config/problems.ts";
import { readFileSync } from "node:fs";
import { SCHEMA_DEPTH_LIMIT, SCHEMA_FILE_LIMIT } from "../gateway/config/schemas.ts";
import { TOO_LARGE, readRegularFile } from "../gateway/config/regular-file.ts";
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

describe("$ref loops", () => {
  const loops = {
    "gateway.yaml": `version: 1
commands:
  self: { handler: handlers/echo.ts, body: schemas/self.json }
  pair: { handler: handlers/echo.ts, body: schemas/a.json }
  inline:
    handler: handlers/echo.ts
    body: { anyOf: [{ type: string }, { $ref: "#" }] }
  list: { handler: handlers/echo.ts, body: schemas/list.json }
`,
    "handlers/echo.ts": ECHO,
    "schemas/self.json": '{ "$ref": "#" }',
    "schemas/a.json": '{\n  "$ref": "b.json"\n}',
    "schemas/b.json": '{ "allOf": [{ "$ref": "a.json" }] }',
    "schemas/list.json": JSON.stringify({ type: "object", properties: { value: { type: "number" }, next: { $ref: "#" } }, required: ["value"] }),
  };

  test("a loop that reads no data is a mistake at its first $ref, naming the others; one that goes into the data is not", async () => {
    const app = tempApp(loops);
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml")).build();
      const lines = result.ok ? [] : result.problems.map((p) => formatProblem(p, app.dir));
      expect(lines.sort()).toEqual([
        'gateway.yaml:7:41: body of command "inline": $ref "#" leads back to itself without going into a property or an item: validation would never end',
        'schemas/a.json:2:3: body of command "pair": $ref "b.json" leads back here (through schemas/b.json#/allOf/0 $ref "a.json") without going into a property or an item: validation would never end',
        'schemas/self.json:1:3: body of command "self": $ref "#" leads back to itself without going into a property or an item: validation would never end',
      ]);
    } finally {
      app.remove();
    }
  });

  test("a recursive schema that goes into the data (a linked list) validates as deep as the data goes", async () => {
    const { gw, close } = await gatewayFor({ ...loops, "gateway.yaml": "version: 1\ncommands:\n  list: { handler: handlers/echo.ts, body: schemas/list.json }\n" });
    try {
      let list: unknown = { value: 0 };
      for (let i = 1; i < 50; i++) list = { value: i, next: list };
      expect(await gw.invoke("list", list)).toEqual(list);
      expect(await rejectionOf(gw.invoke("list", { value: 1, next: { value: 2, next: { value: "three" } } }))).toMatchObject({
        kind: "invalid-body",
        errors: [{ instancePath: "/next/next/value", keyword: "type" }],
      });
    } finally {
      await close();
    }
  });
});

describe("schema keyword typos", () => {
  test("an unknown keyword is reported with the keyword it most likely meant, as manifest keys are", async () => {
    const app = tempApp({
      "gateway.yaml": "version: 1\ncommands:\n  a:\n    handler: handlers/echo.ts\n    body: schemas/a.json\n  b:\n    handler: handlers/echo.ts\n    body: { type: string, maxLenght: 3 }\n  c:\n    handler: handlers/echo.ts\n    body: { type: string, colour: red }\n",
      "handlers/echo.ts": ECHO,
      "schemas/a.json": '{\n  "type": "object",\n  "requred": ["name"]\n}',
    });
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml")).build();
      expect(result.ok ? [] : result.problems.map((p) => formatProblem(p, app.dir)).sort()).toEqual([
        'gateway.yaml:11:27: body of command "c" does not compile: strict mode: unknown keyword: "colour"',
        'gateway.yaml:8:27: body of command "b" does not compile: strict mode: unknown keyword: "maxLenght" (did you mean "maxLength"?)',
        'schemas/a.json:3:3: body of command "a" does not compile: strict mode: unknown keyword: "requred" (did you mean "required"?)',
      ]);
    } finally {
      app.remove();
    }
  });
});

describe("schema files are read up to 4 MiB", () => {
  /** A schema file of exactly `bytes` bytes. */
  const schemaOf = (bytes: number) => {
    const shell = JSON.stringify({ type: "string", description: "" });
    return JSON.stringify({ type: "string", description: "d".repeat(bytes - shell.length) });
  };

  test("a schema file over the limit, named or reached by $ref, is a mistake; one at the limit is read", async () => {
    const app = tempApp({
      "gateway.yaml": "version: 1\ncommands:\n  big:\n    handler: handlers/echo.ts\n    body: schemas/big.json\n  via:\n    handler: handlers/echo.ts\n    body: { $ref: schemas/big.json }\n",
      "via.yaml": "version: 1\ncommands:\n  via:\n    handler: handlers/echo.ts\n    body: { $ref: schemas/big.json }\n",
      "handlers/echo.ts": ECHO,
      "schemas/big.json": schemaOf(SCHEMA_FILE_LIMIT + 1),
    });
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml"), {}, false).build();
      expect(result.ok ? [] : result.problems.map((p) => formatProblem(p, app.dir))).toEqual([
        'gateway.yaml:5:11: body of command "big": larger than 4 MiB, the most a schema file may hold: schemas/big.json',
      ]);
      const via = await new GenerationBuilder(app.path("via.yaml"), {}, false).build();
      expect(via.ok ? [] : via.problems.map((p) => formatProblem(p, app.dir))).toEqual([
        'via.yaml:5:13: $ref "schemas/big.json": larger than 4 MiB, the most a schema file may hold: schemas/big.json',
      ]);
      // The same file, one byte shorter: read, and its schema works.
      app.write("schemas/big.json", schemaOf(SCHEMA_FILE_LIMIT));
      const fixed = await new GenerationBuilder(app.path("gateway.yaml"), {}, false).build();
      expect(fixed.ok || fixed.problems).toBe(true);
      const validate = fixed.ok && fixed.generation.commands.get("via")!.body.kind === "json" ? (fixed.generation.commands.get("via")!.body as { validate: (v: unknown) => boolean }).validate : undefined;
      expect([validate?.("text"), validate?.(1)]).toEqual([true, false]);
    } finally {
      app.remove();
    }
  });

  test("readRegularFile's maxBytes: a file that grows past it while read is cut off and refused", () => {
    // A file of /proc says it is empty, then reads as more: it "grows" between the look and the read.
    const whole = readFileSync("/proc/self/status", "utf8");
    expect(whole.length).toBeGreaterThan(64);
    expect(() => readRegularFile("/proc/self/status", "utf8", { maxBytes: 64 })).toThrow(expect.objectContaining({ code: TOO_LARGE }));
    // Within the limit it is read whole, past the size it said it had.
    expect(readRegularFile("/proc/self/status", "utf8", { maxBytes: 1 << 20 }).split("\n")[0]).toBe(whole.split("\n")[0]);
  });
});

describe("schemas nested too deeply", () => {
  const nested = (levels: number) => '{"not":'.repeat(levels) + "{}" + "}".repeat(levels);

  test("past 256 levels: a mistake at the place it goes too deep (a file, or inline), not a crash; at 256 levels it compiles", async () => {
    expect(SCHEMA_DEPTH_LIMIT).toBe(256);
    const app = tempApp({
      "gateway.yaml": `version: 1\ncommands:\n  file:\n    handler: handlers/echo.ts\n    body: schemas/deep.json\n  inline:\n    handler: handlers/echo.ts\n    body: ${nested(300)}\n  ok:\n    handler: handlers/echo.ts\n    body: schemas/ok.json\n`,
      "handlers/echo.ts": ECHO,
      "schemas/deep.json": nested(500_000),
      "schemas/ok.json": nested(SCHEMA_DEPTH_LIMIT),
    });
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml"), {}, false).build();
      expect(result.ok ? [] : result.problems.map((p) => formatProblem(p, app.dir))).toEqual([
        // Each level is 7 characters: the 258th object is the one past the limit.
        `gateway.yaml:8:${"    body: ".length + 7 * 257 + 1}: body of command "inline": nested deeper than 256 levels (write recursion with $ref)`,
        `schemas/deep.json:1:${7 * 257 + 1}: nested deeper than 256 levels (write recursion with $ref)`,
      ]);
      app.write("gateway.yaml", "version: 1\ncommands:\n  ok:\n    handler: handlers/echo.ts\n    body: schemas/ok.json\n");
      const fixed = await new GenerationBuilder(app.path("gateway.yaml"), {}, false).build();
      const ok = fixed.ok ? fixed.generation.commands.get("ok")!.body : undefined;
      // 256 `not`s of {}: any value.
      expect(ok?.kind === "json" && ok.validate!(1)).toBe(true);
    } finally {
      app.remove();
    }
  });
});
