// Every kind of manifest mistake, reported as path:line:col with the exact position.
import { describe, expect, test } from "@jest/globals";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import { formatProblem } from "../gateway/config/problems.ts";
import { tempApp } from "./helpers/app.ts";
import { devGateway } from "./helpers/dev.ts";

const OK_HANDLER = `export default () => "ok";\n`;

/** Build the app and return its mistakes as `file:line:col: message`, with paths relative to the app. */
async function mistakes(files: Record<string, string>, env: Record<string, string> = {}): Promise<string[]> {
  const app = tempApp({ "handlers/ok.ts": OK_HANDLER, ...files });
  try {
    const result = await new GenerationBuilder(app.path("gateway.yaml"), env).build();
    return result.ok ? [] : result.problems.map((p) => formatProblem(p, app.dir));
  } finally {
    app.remove();
  }
}

describe("manifest mistakes", () => {
  test("YAML syntax error", async () => {
    expect(await mistakes({ "gateway.yaml": "version: 1\ncommands:\n  a: [1, 2\n" })).toEqual([
      expect.stringMatching(/^gateway\.yaml:4:1: .*flow sequence/i),
    ]);
  });

  test("${VAR} unquoted inside { }: one line saying to quote it, not the parser's token soup", async () => {
    const found = await mistakes({ "gateway.yaml": "version: 1\nauth:\n  tokens:\n    ci-bot: { token: ${BOT_TOKEN}, roles: [bot] }\n" });
    expect(found).toEqual(['gateway.yaml:4:23: ${BOT_TOKEN} inside { } or [ ] must be quoted: "${BOT_TOKEN}" (or write the mapping as indented lines)']);
  });

  test("duplicate key", async () => {
    const found = await mistakes({ "gateway.yaml": "version: 1\nversion: 1\n" });
    expect(found).toEqual([expect.stringMatching(/^gateway\.yaml:2:1: Map keys must be unique/)]);
  });

  test("unknown key, with a suggestion", async () => {
    const yaml = "version: 1\ncommands:\n  ok:\n    hanlder: handlers/ok.ts\n";
    const found = await mistakes({ "gateway.yaml": yaml, "handlers/other.ts": OK_HANDLER });
    expect(found).toContain('gateway.yaml:4:5: unknown key "hanlder" in commands.ok (did you mean "handler"?)');
  });

  test("unknown top-level key lists what is allowed", async () => {
    const found = await mistakes({ "gateway.yaml": "version: 1\nroutes: {}\n" });
    expect(found).toEqual(['gateway.yaml:2:1: unknown key "routes" in the manifest (expected one of: version, server, discover, commands, channels, events, auth, capabilities, limits)']);
  });

  test("wrong type", async () => {
    const found = await mistakes({ "gateway.yaml": "version: 1\nserver:\n  origins: http://localhost:5173\n" });
    expect(found).toEqual(["gateway.yaml:3:12: server.origins must be array"]);
  });

  test("wrong value with a friendly message", async () => {
    const found = await mistakes({ "gateway.yaml": "version: 1\nserver:\n  port: 70000\n  timeout: soon\n  bodyLimit: lots\n" });
    expect(found).toEqual([
      "gateway.yaml:3:9: server.port must be a port number from 0 to 65535",
      "gateway.yaml:4:12: a duration is milliseconds or a string like 500ms, 30s, 2m",
      "gateway.yaml:5:14: a size is bytes or a string like 512kb, 1mb",
    ]);
  });

  test("missing version", async () => {
    expect(await mistakes({ "gateway.yaml": "commands: {}\n" })).toEqual(['gateway.yaml:1:1: the manifest is missing "version"']);
  });

  test("invalid command and event names", async () => {
    const yaml = "version: 1\ncommands:\n  bad name:\n    handler: handlers/ok.ts\nevents:\n  'no spaces!': {}\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual([
      "gateway.yaml:3:3: a command name uses letters, digits, _ . : / - and starts with a letter, digit or _",
      "gateway.yaml:6:3: a name uses letters, digits, - / : _ only",
    ]);
  });

  test("missing handler file", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/nope.ts\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual(["gateway.yaml:4:14: handler file not found: handlers/nope.ts"]);
  });

  test("missing schema file", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: schemas/nope.json\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual(['gateway.yaml:5:11: body of command "a": file not found: schemas/nope.json']);
  });

  test("a schema that is neither a file, inline nor binary", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    returns: string\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual([
      'gateway.yaml:5:14: commands.a.returns must be a schema file (.json, .yaml), an inline JSON Schema, or the word binary; got "string"',
    ]);
  });

  test("inline schema that is not valid JSON Schema", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body:\n      type: object\n      properties:\n        n: { type: integr }\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual([
      'gateway.yaml:8:20: body of command "a" is not a valid JSON Schema: /properties/n/type must be one of: array, boolean, integer, null, number, object, string',
    ]);
  });

  test("inline schema that does not compile (unknown keyword)", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: { type: object, requred: [x] }\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual([
      'gateway.yaml:5:27: body of command "a" does not compile: strict mode: unknown keyword: "requred" (did you mean "required"?)',
    ]);
  });

  test("schema file that does not compile names the file and the place in it", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: schemas/a.json\n";
    const schema = '{\n  "type": "object",\n  "propertys": {}\n}\n';
    expect(await mistakes({ "gateway.yaml": yaml, "schemas/a.json": schema })).toEqual([
      'schemas/a.json:3:3: body of command "a" does not compile: strict mode: unknown keyword: "propertys" (did you mean "properties"?)',
    ]);
  });

  test("schema file with a JSON syntax error", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: schemas/a.json\n";
    const found = await mistakes({ "gateway.yaml": yaml, "schemas/a.json": '{\n  "type": "object",\n}\n' });
    expect(found).toEqual([expect.stringMatching(/^schemas\/a\.json:3:1: invalid JSON: /)]);
  });

  test("handler module without the default export", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/named.ts\n";
    const found = await mistakes({ "gateway.yaml": yaml, "handlers/named.ts": "export const a = () => 1;\n" });
    expect(found).toEqual(["gateway.yaml:4:14: handler handlers/named.ts has no function as a default export"]);
  });

  test("handler module without the named export", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/named.ts#b\n";
    const found = await mistakes({ "gateway.yaml": yaml, "handlers/named.ts": "export const a = () => 1;\nexport const b = 2;\n" });
    expect(found).toEqual(['gateway.yaml:4:14: handler handlers/named.ts has no function as an export named "b" (found number)']);
  });

  test("handler module that throws at import", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/boom.ts\n";
    const found = await mistakes({ "gateway.yaml": yaml, "handlers/boom.ts": 'throw new RangeError("boom");\nexport default () => 1;\n' });
    // No source maps under jest, so no line: the file that threw is the place (not the manifest entry).
    expect(found).toEqual(["handlers/boom.ts: threw while loading: RangeError: boom"]);
  });

  test("handler module with a syntax error names the file, line and column", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/bad.ts\n";
    const found = await mistakes({ "gateway.yaml": yaml, "handlers/bad.ts": "export default () => {\n  return 1 +;\n};\n" });
    expect(found).toEqual(['handlers/bad.ts:2:13: Unexpected ";"']);
  });

  test("a syntax error in a helper the handler imports names the helper", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/a.ts\n";
    const found = await mistakes({
      "gateway.yaml": yaml,
      "handlers/a.ts": 'import { x } from "./_helper.ts";\nexport default () => x;\n',
      "handlers/_helper.ts": "export const x = ;\n",
    });
    expect(found).toEqual(['handlers/_helper.ts:1:18: Unexpected ";"']);
  });

  test("top-level await is refused with the reason", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/tla.ts\n";
    const found = await mistakes({ "gateway.yaml": yaml, "handlers/tla.ts": "const x = await Promise.resolve(1);\nexport default () => x;\n" });
    expect(found).toEqual([expect.stringMatching(/^handlers\/tla\.ts:1:11: top-level await is not supported in handler modules /)]);
  });

  test("x-channel naming an undeclared channel", async () => {
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: { type: object, properties: { onProgress: { x-channel: progres } } }\nchannels:\n  progress:\n    message: { type: number }\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual([
      'gateway.yaml:5:11: body of command "a" uses channel "progres", which channels: does not declare',
    ]);
  });

  test("a command with no handler and no drop-in file", async () => {
    const yaml = "version: 1\ndiscover:\n  handlers: handlers\ncommands:\n  lonely:\n    timeout: 1s\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual(['gateway.yaml:5:3: command "lonely" has no handler: give handler: or add handlers/lonely.ts']);
  });

  test("discover folder that does not exist", async () => {
    const yaml = "version: 1\ndiscover:\n  handlers: nowhere\n  schemas: nothing\n";
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual([
      "gateway.yaml:3:13: discover.handlers folder not found: nowhere",
      "gateway.yaml:4:12: discover.schemas folder not found: nothing",
    ]);
  });

  test("every mistake is found in one run", async () => {
    const yaml = [
      "version: 1",
      "server:",
      "  prot: 1430",
      "commands:",
      "  a:",
      "    handler: handlers/missing.ts",
      "  b:",
      "    handler: handlers/ok.ts",
      "    body: schemas/missing.json",
      "  c:",
      "    handler: handlers/ok.ts#nope",
      "    timeout: ${UNSET_VARIABLE}",
      "",
    ].join("\n");
    const found = await mistakes({ "gateway.yaml": yaml });
    expect(found.sort()).toEqual(
      [
        'gateway.yaml:3:3: unknown key "prot" in server (did you mean "port"?)',
        "gateway.yaml:6:14: handler file not found: handlers/missing.ts",
        'gateway.yaml:9:11: body of command "b": file not found: schemas/missing.json',
        'gateway.yaml:11:14: handler handlers/ok.ts has no function as an export named "nope"',
        "gateway.yaml:12:14: environment variable UNSET_VARIABLE is not set (write ${UNSET_VARIABLE:-default} for a default)",
      ].sort(),
    );
  });
});

describe("environment interpolation", () => {
  const yaml = [
    "version: 1",
    "server:",
    "  port: ${PORT}",
    "  token: ${TOKEN:-}",
    "  host: ${HOST:-127.0.0.1}",
    "commands:",
    "  a:",
    "    handler: handlers/ok.ts",
    "    body: { const: '${literal}' }",
    "  b:",
    "    handler: handlers/ok.ts",
    "    timeout: $${NOT_A_VARIABLE}s",
    "",
  ].join("\n");

  async function settings(env: Record<string, string>) {
    const app = tempApp({ "gateway.yaml": yaml.replace("    timeout: $${NOT_A_VARIABLE}s\n", ""), "handlers/ok.ts": OK_HANDLER });
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml"), env).build();
      if (!result.ok) throw new Error(result.problems.map((p) => formatProblem(p)).join("\n"));
      return result.generation;
    } finally {
      app.remove();
    }
  }

  test("variables are read from the environment, with defaults", async () => {
    const generation = await settings({ PORT: "8123", TOKEN: "s3cret" });
    expect(generation.settings).toMatchObject({ port: 8123, token: "s3cret", host: "127.0.0.1" });
  });

  test("an empty default means no token", async () => {
    const generation = await settings({ PORT: "0" });
    expect(generation.settings.token).toBeUndefined();
    expect(generation.settings.port).toBe(0);
  });

  test("inline schemas are left as written", async () => {
    const generation = await settings({ PORT: "1" });
    const validate = (generation.commands.get("a")!.body as { validate: (v: unknown) => boolean }).validate;
    expect(validate("${literal}")).toBe(true);
  });

  test("a missing variable is an error at its position; $${ escapes", async () => {
    const found = await mistakes({ "gateway.yaml": yaml, "handlers/ok.ts": OK_HANDLER });
    expect(found).toEqual([
      "gateway.yaml:3:9: environment variable PORT is not set (write ${PORT:-default} for a default)",
      // "$${NOT_A_VARIABLE}s" became the literal "${NOT_A_VARIABLE}s", which is no duration.
      "gateway.yaml:12:14: a duration is milliseconds or a string like 500ms, 30s, 2m",
    ]);
  });
});

describe("server.bus and server.hosts", () => {
  async function built(yaml: string, env: Record<string, string> = {}) {
    const app = tempApp({ "gateway.yaml": yaml, "handlers/ok.ts": OK_HANDLER });
    try {
      return await new GenerationBuilder(app.path("gateway.yaml"), env).build();
    } finally {
      app.remove();
    }
  }

  test("a Redis URL from the environment, or { url, prefix, history }", async () => {
    const short = await built("version: 1\nserver:\n  bus: ${REDIS_URL}\n", { REDIS_URL: "redis://10.0.0.5:6379/2" });
    expect(short.ok && short.generation.settings.bus).toEqual({ url: "redis://10.0.0.5:6379/2", prefix: "ipc-gateway", history: 10_000 });
    const long = await built("version: 1\nserver:\n  bus: { url: 'rediss://u:p@cache:6380', prefix: shop.v2, history: 500 }\n  hosts: [App.Example.com]\n");
    expect(long.ok && long.generation.settings.bus).toEqual({ url: "rediss://u:p@cache:6380", prefix: "shop.v2", history: 500 });
    expect(long.ok && long.generation.settings.hosts).toEqual(["app.example.com"]);
    const none = await built("version: 1\n");
    expect(none.ok && none.generation.settings.bus).toBeUndefined();
  });

  test("${REDIS_URL:-} with REDIS_URL unset (or empty) means no bus; set, it is the bus", async () => {
    for (const yaml of ["version: 1\nserver:\n  bus: ${REDIS_URL:-}\n", "version: 1\nserver:\n  bus: { url: '${REDIS_URL:-}', prefix: shop }\n"]) {
      const unset = await built(yaml);
      if (!unset.ok) throw new Error(unset.problems.map((p) => formatProblem(p)).join("\n"));
      expect(unset.generation.settings.bus).toBeUndefined();
      const empty = await built(yaml, { REDIS_URL: "" });
      expect(empty.ok && empty.generation.settings.bus).toBeUndefined();
      const set = await built(yaml, { REDIS_URL: "redis://cache:6379" });
      expect(set.ok && set.generation.settings.bus).toMatchObject({ url: "redis://cache:6379" });
    }
  });

  test("mistakes point at the value", async () => {
    expect(await mistakes({ "gateway.yaml": "version: 1\nserver:\n  bus: http://cache:6379\n" })).toEqual([
      "gateway.yaml:3:8: server.bus is a Redis URL (redis://host:port), or { url, prefix, history }",
    ]);
    expect(await mistakes({ "gateway.yaml": "version: 1\nserver:\n  bus: { url: 'redis://c:1', history: 5 }\n" })).toEqual([
      "gateway.yaml:3:39: server.bus.history is a number of events (at least 100)",
    ]);
    expect(await mistakes({ "gateway.yaml": "version: 1\nserver:\n  hosts: ['evil example']\n" })).toEqual([
      expect.stringMatching(/^gateway\.yaml:3:11: a host is a name the gateway is reached by/),
    ]);
    expect(await mistakes({ "gateway.yaml": "version: 1\nserver:\n  bus: ${REDIS_URL}\n" })).toEqual([
      expect.stringMatching(/^gateway\.yaml:3:8: environment variable REDIS_URL is not set/),
    ]);
  });
});

/** A "billion laughs" document: nine levels of anchors, each naming the one before nine times (10^9 values expanded). */
function aliasBomb(indent: string): string {
  const lines = [`${indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]`];
  for (let i = 1; i < 9; i++) lines.push(`${indent}l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(", ")}]`);
  return lines.join("\n") + "\n";
}

/** Where `needle` is first written in `text`, as line:col. */
function placeOf(text: string, needle: string): string {
  const lines = text.split("\n");
  const line = lines.findIndex((l) => l.includes(needle));
  return `${line + 1}:${lines[line]!.indexOf(needle) + 1}`;
}

describe("YAML aliases", () => {
  const TOO_MANY = "too many values through aliases: this one takes the document past 1,000,000 values (an alias bomb?)";

  test("an alias bomb in the manifest is one mistake, at the alias that takes it past the limit", async () => {
    const yaml = `version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\nlaughs:\n${aliasBomb("  ")}`;
    // l5 stands for 597,871 values: its first alias passes 1,000,000 with what came before.
    expect(await mistakes({ "gateway.yaml": yaml })).toEqual([`gateway.yaml:${placeOf(yaml, "*l5")}: ${TOO_MANY}`]);
  });

  test("an alias bomb in a .yaml schema file is one mistake, in that file", async () => {
    const schema = `type: object\n$defs:\n${aliasBomb("  ")}`;
    const yaml = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: schemas/a.yaml\n";
    expect(await mistakes({ "gateway.yaml": yaml, "schemas/a.yaml": schema })).toEqual([`schemas/a.yaml:${placeOf(schema, "*l5")}: ${TOO_MANY}`]);
  });

  test("an alias that names no anchor, and one inside the value it names", async () => {
    const nowhere = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: *schema\n";
    expect(await mistakes({ "gateway.yaml": nowhere })).toEqual(["gateway.yaml:5:11: alias *schema names no anchor before it (write &schema on a value above it)"]);
    const itself = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: &b { type: object, properties: { again: *b } }\n";
    expect(await mistakes({ "gateway.yaml": itself })).toEqual([
      "gateway.yaml:5:51: alias *b is inside the value it names: a value cannot contain itself",
    ]);
    const schema = "type: array\nitems: &i { type: array, items: *i }\n";
    const fromFile = "version: 1\ncommands:\n  a:\n    handler: handlers/ok.ts\n    body: schemas/a.yaml\n";
    expect(await mistakes({ "gateway.yaml": fromFile, "schemas/a.yaml": schema })).toEqual([
      "schemas/a.yaml:2:33: alias *i is inside the value it names: a value cannot contain itself",
    ]);
  });

  test("one anchor named by 300 commands (yaml's own guard refuses a hundred) builds, in the manifest and in a schema file", async () => {
    const commands = Array.from({ length: 300 }, (_, i) => `  c${i}:\n    handler: handlers/ok.ts\n    body: ${i === 0 ? "&name { type: string, minLength: 1 }" : "*name"}\n    returns: schemas/r.yaml\n`);
    const schema = `$defs:\n  s: &s { const: ok }\nallOf: [${Array(150).fill("*s").join(", ")}]\n`;
    const app = tempApp({ "gateway.yaml": `version: 1\ncommands:\n${commands.join("")}`, "handlers/ok.ts": OK_HANDLER, "schemas/r.yaml": schema });
    try {
      const result = await new GenerationBuilder(app.path("gateway.yaml"), {}).build();
      if (!result.ok) throw new Error(result.problems.map((p) => formatProblem(p, app.dir)).join("\n"));
      const body = result.generation.commands.get("c299")!.body as { validate: (v: unknown) => boolean };
      expect([body.validate("Ada"), body.validate("")]).toEqual([true, false]);
    } finally {
      app.remove();
    }
  });
});

describe("one mistake, one line", () => {
  const FIVE = (handler: string, prefix = "c") => Array.from({ length: 5 }, (_, i) => `  ${prefix}${i}:\n    handler: ${handler}\n`).join("");

  test("a handler file five commands load, broken or throwing while loading, is one line each", async () => {
    const yaml = `version: 1\ncommands:\n${FIVE("handlers/bad.ts")}${FIVE("handlers/boom.ts#run", "t")}`;
    const found = await mistakes({
      "gateway.yaml": yaml,
      "handlers/bad.ts": "export default () => {\n  return 1 +;\n};\n",
      "handlers/boom.ts": 'throw new RangeError("boom");\nexport const run = () => 1;\n',
    });
    expect(found).toEqual(['handlers/bad.ts:2:13: Unexpected ";"', "handlers/boom.ts: threw while loading: RangeError: boom"]);
  });

  test("under dev, a broken edit of a handler five commands share is one line in lastError, gateway://error and the log; fixed, it serves", async () => {
    const dev = await devGateway({ "gateway.yaml": `version: 1\ncommands:\n${FIVE("handlers/shared.ts")}`, "handlers/shared.ts": 'export default () => "v1";\n' });
    try {
      dev.app.write("handlers/shared.ts", "export default () => {\n  return 1 +;\n};\n");
      const outcome = await dev.next();
      expect(outcome.kind).toBe("error");
      const line = 'handlers/shared.ts:2:13: Unexpected ";"';
      expect(outcome.payload.message).toBe(line);
      expect(outcome.payload.problems).toEqual([{ file: "handlers/shared.ts", line: 2, column: 13, message: 'Unexpected ";"' }]);
      expect(dev.gw.lastError).toBe(line);
      expect(dev.logger.lines.filter((l) => l.includes("Unexpected"))).toEqual([`gateway: the edit is broken; still serving generation 1:\n${line}`]);
      expect(await dev.gw.invoke("c4")).toBe("v1");
      dev.app.write("handlers/shared.ts", 'export default () => "v2";\n');
      expect((await dev.next()).kind).toBe("reload");
      expect(dev.gw.lastError).toBeNull();
      expect(await dev.gw.invoke("c0")).toBe("v2");
    } finally {
      await dev.close();
    }
  });
});
