// gateway types: the frontend file (types from the schemas, typed wrappers over @tauri-apps/api)
// and the handlers' declarations, through the real bin; checked by compiling code that uses them
// with the repo's TypeScript, deliberate mistakes marked @ts-expect-error (so a mistake that is
// NOT caught fails the compile). Also --check, and gateway dev --types rewriting the file.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import { GENERATED_MARKER } from "../gateway/cli/type-files.ts";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { launchBrowser } from "./helpers/browser.ts";
import { PROJECT_DIR, runGateway, startGateway } from "./helpers/cli.ts";

/** Temp folders live under the repo (.tmp/ is ignored by git) so that node_modules resolution finds @tauri-apps/api. */
const TMP = join(PROJECT_DIR, ".tmp");
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");

function tsc(dir: string, config: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, "-p", config], { cwd: dir }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, output: stdout + stderr }));
  });
}

/**
 * `files` compiled under frontendConfig's strictest flags and under plain strict (where optional
 * properties also take undefined): what tsc said of each.
 */
async function strictestAndPlain(app: TempApp, files: string[]): Promise<{ strictest: { code: number; output: string }; plain: { code: number; output: string } }> {
  app.write("tsconfig.json", frontendConfig(files));
  app.write(
    "tsconfig.plain.json",
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "Bundler", strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true, types: [] },
      files,
    }),
  );
  const [strictest, plain] = await Promise.all([tsc(app.dir, "tsconfig.json"), tsc(app.dir, "tsconfig.plain.json")]);
  return { strictest, plain };
}

/** A frontend tsconfig as strict as they come. */
function frontendConfig(files: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "Bundler",
      lib: ["ES2022", "DOM"],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      isolatedDeclarations: true,
      declaration: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      noPropertyAccessFromIndexSignature: true,
      noImplicitReturns: true,
      allowImportingTsExtensions: true,
      erasableSyntaxOnly: true,
      types: [],
    },
    files,
  });
}

const CORRECT_USE = `import { Channel } from "@tauri-apps/api/core";
import { commands, events, results, type CommandError, type GatewayError, type ProgressMessage, type User } from "./gateway-types.ts";

export async function correct(): Promise<void> {
  const greeting = await commands.greet({ name: "Ada" });
  console.log(greeting.message.toUpperCase());
  const quotient = await results.divide({ a: 1, b: 0 });
  if (quotient.status === "ok") console.log(quotient.data.toFixed(2));
  else {
    const error: CommandError<"divide"> = quotient.error;
    if ("code" in error && error.code === "division-by-zero") console.log(error.message);
    const gateway = error as GatewayError;
    if (gateway.kind === "invalid-body") console.log(gateway.message);
    // Refusals by auth:, capabilities: and limits: are kinds like the others; a 429 says when to retry.
    if (gateway.kind === "unauthorized" || gateway.kind === "forbidden") console.log(gateway.message);
    if (gateway.kind === "rate-limited") setTimeout(() => undefined, gateway.retryAfter ?? 1000);
  }
  const bytes: ArrayBuffer = await commands.reverse(new TextEncoder().encode("abc"));
  await commands.reverse([1, 2, 3]);
  console.log(bytes.byteLength, (await commands.shout("hi")).length);
  const user: User = await commands.saveUser({ email: "ada@example.com", name: "Ada" });
  console.log((await commands.getUser({ email: user.email })).name);
  const history = await commands.chatHistory();
  console.log(history.map((m) => m.from));
  const onProgress = new Channel<ProgressMessage>((p) => console.log(p.step, p.of, p.percent));
  console.log((await commands.download({ steps: 3, onProgress })).steps);
  await commands.announce({ text: "hello" }, { headers: { "x-trace": "1" } });
  const unlisten = await events.chatMessage.listen((event) => console.log(event.payload.from, event.payload.text));
  unlisten();
  await events.chatMessage.once((event) => console.log(event.id, event.payload.text));
  await events.chatMessage.emit({ from: "me", text: "hi" });
  await events.chatMessage.emitTo("main", { from: "me", text: "hi" });
  await events.chatMessage.emitTo({ kind: "WebviewWindow", label: "main" }, { from: "me", text: "hi" });
  await events.announcement.listen((event) => console.log(event.payload.text.toUpperCase()));
}
`;

const MISTAKES = `
export async function mistakes(): Promise<void> {
  // @ts-expect-error a wrong body field
  await commands.greet({ nom: "Ada" });
  // @ts-expect-error a body field of the wrong type
  await commands.divide({ a: 1, b: "2" });
  // @ts-expect-error a wrong use of a return value (message is a string)
  (await commands.greet({ name: "Ada" })).message.toFixed(2);
  // @ts-expect-error bytes come back as an ArrayBuffer, not a string
  (await commands.reverse(new Uint8Array(1))).toUpperCase();
  // @ts-expect-error a wrong event payload (text is missing)
  await events.chatMessage.emit({ from: "me" });
  // @ts-expect-error a wrong use of an event payload
  await events.announcement.listen((event) => event.payload.text.toFixed());
  // @ts-expect-error pages may not emit announcement (from: [backend])
  await events.announcement.emit({ text: "x" });
  // @ts-expect-error a wrong channel message
  await commands.download({ onProgress: new Channel<{ step: string }>() });
  // @ts-expect-error a channel is required
  await commands.download({ steps: 2 });
  // @ts-expect-error a closed object (additionalProperties: false) refuses other fields
  await commands.add({ a: 1, b: 2, c: 3 });
  // @ts-expect-error a declared error's code is a literal
  const wrong: CommandError<"divide"> = { code: "other", message: "x" };
  console.log(wrong);
  const refused = wrong as GatewayError;
  // @ts-expect-error kinds are a union of literals: a misspelt one is no kind
  if (refused.kind === "rate-limit") console.log(refused.message);
  // @ts-expect-error retryAfter is a number of milliseconds
  console.log(refused.retryAfter?.toUpperCase());
}
`;

// A handler typed from the schemas through the declarations (Invoke<"greet">, Handler<"greet">).
const HANDLERS = `import type { CommandBody, Handler, Invoke } from "ipc-gateway";

export function greet({ body }: Invoke<"greet">): { message: string } {
  return { message: body.name.toUpperCase() };
}
export const divide: Handler<"divide"> = ({ body }) => body.a / body.b;
export const reverse: Handler<"reverse"> = ({ body }) => body.slice().reverse();
export const announce: Handler<"announce"> = () => undefined; // no returns schema: anything
export const shout: Handler<{ text: string }, string> = ({ body }) => body.text; // the old form still works
const saved: CommandBody<"save-user"> = { email: "a@b.c", name: "A" };
console.log(saved);

// @ts-expect-error a body field the schema does not have
export const wrongField = ({ body }: Invoke<"greet">) => body.nom;
// @ts-expect-error returns a number where the schema says { message: string }
export const wrongReturn: Handler<"greet"> = () => 42;
// @ts-expect-error a field of the wrong type in what it returns
export const wrongMessage: Handler<"greet"> = async () => ({ message: 1 });
export const download: Handler<"download"> = async ({ body }) => {
  // @ts-expect-error a channel message that does not match the channel's schema
  await body.onProgress.send({ step: "one" });
  return { steps: 1 };
};
`;

// Declared errors in handlers: InvokeError<"divide"> takes what divide's errors: schema allows.
const INVOKE_ERRORS = `import { InvokeError, type CommandError, type Handler } from "ipc-gateway";

export const divide: Handler<"divide"> = ({ body }) => {
  if (body.b === 0) throw new InvokeError<"divide">({ code: "division-by-zero", message: "cannot divide by zero" });
  return body.a / body.b;
};
export function declared(error: CommandError<"divide">): InvokeError<"divide"> {
  const thrown = new InvokeError<"divide">(error);
  const code: "division-by-zero" = thrown.value.code;
  console.log(code, thrown.value.message.length);
  return thrown;
}
// Plain InvokeError: any value, typed unknown, as before (a string naming a command included).
export const plain: InvokeError = new InvokeError({ anything: [1, "two"] });
export const named: InvokeError = new InvokeError("divide");
export const caught: unknown = plain.value;
// A command without errors: takes anything; a type given directly types the value.
export const free: InvokeError<"greet"> = new InvokeError<"greet">(42);
export const direct: InvokeError<{ code: number }> = new InvokeError<{ code: number }>({ code: 1 });
console.log(direct.value.code.toFixed());

export function wrongCode(): void {
  // @ts-expect-error a code the errors schema does not declare
  throw new InvokeError<"divide">({ code: "division-by-one", message: "x" });
}
export function wrongShapes(): InvokeError[] {
  return [
    // @ts-expect-error division-by-zero's schema requires message
    new InvokeError<"divide">({ code: "division-by-zero" }),
    // @ts-expect-error message is a string
    new InvokeError<"divide">({ code: "division-by-zero", message: 42 }),
    // @ts-expect-error a string is no DivideError
    new InvokeError<"divide">("cannot divide by zero"),
    // @ts-expect-error the type given directly
    new InvokeError<{ code: number }>({ code: "1" }),
  ];
}
// @ts-expect-error a plain InvokeError's value is unknown
console.log(plain.value.anything);
`;

let dir: TempApp;
beforeAll(() => {
  mkdirSync(TMP, { recursive: true });
  dir = tempApp({}, TMP);
});
afterAll(() => dir?.remove());

describe("the example app's types", () => {
  let generated: string;

  beforeAll(async () => {
    const result = await runGateway(["types", "--out", dir.path("gateway-types.ts"), "--handlers", dir.path("gateway-handlers.d.ts")]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/gateway-types\.ts: written \(10 commands, 1 channels, 2 events\)/);
    generated = dir.read("gateway-types.ts");
  });

  test("a type per schema, named once; wrappers over @tauri-apps/api", () => {
    expect(generated).toMatch(/^\/\/ Generated by `gateway types` from .*gateway\.yaml: do not edit/);
    expect(generated).toContain('import { invoke, type InvokeArgs, type InvokeOptions, type Channel } from "@tauri-apps/api/core";');
    expect(generated).toContain("export type GreetBody = {\n  name: Name;\n};"); // closed: no index signature
    expect(generated).toContain("export type AnnounceBody = {\n  text: string;\n  [key: string]: unknown;\n};"); // open
    expect(generated).toContain("export type SaveUserReturns = User;"); // the shared $defs entry, once
    expect(generated).toContain("  onProgress: Channel<ProgressMessage>;"); // x-channel
    expect(generated).toContain('export type DivideError = {\n  code: "division-by-zero";');
    expect(generated).toContain("  greet: (body: GreetBody, options?: InvokeOptions): Promise<GreetReturns> => invokeCommand(\"greet\", body, options),");
    expect(generated).toContain("  chatHistory: (body?: unknown, options?: InvokeOptions): Promise<ChatHistoryReturns> =>");
    expect(generated).toContain("  reverse: (body: Uint8Array | ArrayBuffer | number[], options?: InvokeOptions): Promise<ArrayBuffer> =>");
    expect(generated).toContain('export type CommandError<C extends CommandName> = CommandTypes[C]["error"] | GatewayError;');
    // What auth:, capabilities: and limits: refuse with is in the union (it is ERROR_STATUS's), retryAfter typed.
    for (const kind of ["unauthorized", "forbidden", "rate-limited", "event-not-allowed"]) expect(generated).toMatch(new RegExp(`^  \\| "${kind}"$`, "m"));
    expect(generated).toContain("  retryAfter?: number;\n  [field: string]: unknown;\n};");
    expect(generated).toContain("  divide: { body: DivideBody; returns: DivideReturns; error: DivideError };");
    expect(generated).toContain('    settle(commands.divide(body, options)),');
    // announcement is from: [backend]: pages listen, never emit.
    expect(generated).toMatch(/announcement: \{\n {4}listen: [^\n]+\n {4}once: [^\n]+\n {2}\},/);
    expect(generated).toContain('    emitTo: (target: EventTarget | string, payload: ChatMessagePayload): Promise<void> => emitTo(target, "chat-message", payload),');
    expect([...generated.matchAll(/^export type User = /gm)]).toHaveLength(1);
  });

  test("the handlers' declarations augment ipc-gateway's Commands", () => {
    const declarations = dir.read("gateway-handlers.d.ts");
    expect(declarations).toContain('import type { Channel } from "ipc-gateway";');
    expect(declarations).toContain("  reverse: { body: Uint8Array; returns: Uint8Array | ArrayBuffer; error: unknown };");
    expect(declarations).toContain('declare module "ipc-gateway" {\n  interface Commands extends HandlerCommands {}\n}');
    // Open objects take any other key as `any`: a value typed by an interface is a valid return value.
    expect(declarations).toContain("export type DownloadReturns = {\n  steps: number;\n  [key: string]: any;\n};");
  });

  test("tsc: correct use compiles, and every deliberate mistake is caught (frontend and handlers)", async () => {
    dir.write("app.ts", CORRECT_USE + MISTAKES);
    dir.write("correct.ts", CORRECT_USE);
    dir.write("unused-expectation.ts", `import { commands } from "./gateway-types.ts";\n// @ts-expect-error (nothing is wrong here)\nawait commands.greet({ name: "Ada" });\n`);
    dir.write("handlers.ts", HANDLERS);
    dir.write("tsconfig.mistakes.json", frontendConfig(["gateway-types.ts", "app.ts"]));
    dir.write("tsconfig.correct.json", frontendConfig(["gateway-types.ts", "correct.ts"]));
    dir.write("tsconfig.control.json", frontendConfig(["gateway-types.ts", "unused-expectation.ts"]));
    dir.write(
      "tsconfig.handlers.json",
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ["gateway-handlers.d.ts", "handlers.ts"],
      }),
    );
    const [mistakes, correct, control, handlers] = await Promise.all(
      ["tsconfig.mistakes.json", "tsconfig.correct.json", "tsconfig.control.json", "tsconfig.handlers.json"].map((c) => tsc(dir.dir, c)),
    );
    expect(mistakes).toEqual({ code: 0, output: "" });
    expect(correct).toEqual({ code: 0, output: "" });
    expect(handlers).toEqual({ code: 0, output: "" });
    // The control: an expectation that nothing violates fails the compile, so the runs above prove each mistake is caught.
    expect(control.code).toBe(1);
    expect(control.output).toContain("error TS2578: Unused '@ts-expect-error' directive.");
  }, 120_000);

  test("InvokeError<\"divide\">: a value divide's errors schema does not allow does not compile; plain InvokeError takes anything (strictest and plain strict)", async () => {
    dir.write("invoke-errors.ts", INVOKE_ERRORS);
    expect(await strictestAndPlain(dir, ["gateway-handlers.d.ts", "invoke-errors.ts"])).toEqual({ strictest: { code: 0, output: "" }, plain: { code: 0, output: "" } });
  }, 120_000);
});

test("every schema keyword the generator maps, type-checked", async () => {
  const app = tempApp(
    {
      "gateway.yaml": `version: 1
commands:
  make-shape:
    handler: h.ts
    body: { $ref: "shapes.json#/$defs/shape" }
    returns:
      type: object
      description: "The shape's area.\\nA */ in it."
      properties:
        area: { type: number, description: "square units" }
        x-y: { type: [string, "null"] }
        tags: { type: array, items: { enum: [a, b] } }
        pair: { type: array, prefixItems: [{ type: string }, { type: integer }], items: false, minItems: 2 }
        maybe: { type: string, nullable: true }
        kind: { const: shape }
        old: { type: boolean, deprecated: true }
        both: { allOf: [{ type: object, properties: { a: { type: string } }, required: [a] }, { type: object, properties: { b: { type: number } }, required: [b] }] }
      required: [area, kind]
      additionalProperties: { type: number }
  result:
    handler: h.ts
    body: { title: Result, type: object, properties: { ok: { type: boolean } }, additionalProperties: false }
    returns: { anyOf: [{ type: string }, { type: array, items: { type: [integer, string] } }] }
  2fa:
    handler: h.ts
    returns: { type: object, additionalProperties: false }
  save_user:
    handler: h.ts
    body: { type: object, properties: { when: { type: string, format: date-time } }, required: [when] }
  saveUser:
    handler: h.ts
  ns/sub:cmd:
    handler: h.ts
    body: { x-channel: ticks }
channels:
  ticks:
    message: binary
events:
  ping: {}
  status/changed:
    payload: { type: object, properties: { up: { type: boolean } }, required: [up], additionalProperties: false }
    from: [frontend]
`,
      "shapes.json": JSON.stringify({
        $defs: {
          shape: { description: "A shape.", oneOf: [{ $ref: "#/$defs/circle" }, { $ref: "#/$defs/square" }] },
          circle: { type: "object", properties: { kind: { const: "circle" }, r: { type: "number" } }, required: ["kind", "r"], additionalProperties: false },
          square: { type: "object", properties: { kind: { const: "square" }, side: { type: "number" } }, required: ["kind", "side"], additionalProperties: false },
        },
      }),
      "h.ts": "export default () => null;\n",
      "use.ts": `import { Channel } from "@tauri-apps/api/core";
import { commands, events, results, type Shape } from "./gateway-types.ts";
export async function use(): Promise<void> {
  const r = await commands.makeShape({ kind: "circle", r: 1 });
  console.log(r.area.toFixed(), r.pair?.[1].toFixed(), r.both?.a.length, r.both?.b.toFixed());
  const s: Shape = { kind: "square", side: 2 };
  if (s.kind === "square") console.log(s.side.toFixed());
  // @ts-expect-error a circle has no side (oneOf of closed objects: a union)
  await commands.makeShape({ kind: "circle", side: 1 });
  await commands.nsSubCmd(new Channel<ArrayBuffer>((bytes) => console.log(bytes.byteLength)));
  // @ts-expect-error binary channel messages are ArrayBuffers
  await commands.nsSubCmd(new Channel<string>());
  await commands["2fa"]();
  await results.save_user({ when: "2025-01-01T00:00:00Z" });
  await commands.saveUser(42);
  await events.statusChanged.emit({ up: true });
  // @ts-expect-error a closed payload
  await events.statusChanged.emit({ up: true, down: false });
  await events.ping.emit();
  const res = await commands.result({ ok: true });
  if (typeof res !== "string") console.log(res.map((x) => x));
}
`,
    },
    TMP,
  );
  try {
    const result = await runGateway(["types", "--config", app.path("gateway.yaml")]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const text = app.read("gateway-types.ts"); // the default: beside the manifest
    expect(text).toContain("/** A shape. */\nexport type Shape = Circle | Square;");
    expect(text).toContain('export type Circle = {\n  kind: "circle";\n  r: number;\n};');
    expect(text).toContain("/**\n * The shape's area.\n * A *\\/ in it.\n */\nexport type MakeShapeReturns = {\n  /** square units */\n  area: number;");
    expect(text).toContain('  "x-y"?: string | null;\n  tags?: ("a" | "b")[];\n  pair?: [string, number];\n  maybe?: string | null;\n  kind: "shape";\n  /** @deprecated */\n  old?: boolean;');
    expect(text).toContain("export type ResultType = {\n  ok?: boolean;\n};"); // "Result" is the wrappers' own type
    expect(text).toContain("export type ResultReturns = string | (number | string)[];");
    expect(text).toContain("export type _2faReturns = { [key: string]: never };");
    expect(text).toContain("export type NsSubCmdBody = Channel<ArrayBuffer>;");
    // Member names: camelCased, quoted when no identifier; a clash keeps the name as written.
    expect(text).toMatch(/\n {2}"2fa": \(body\?: unknown/);
    expect(text).toMatch(/\n {2}makeShape: \(/);
    expect(text).toMatch(/\n {2}saveUser: \(body\?: unknown[^\n]+invokeCommand\("saveUser"/);
    expect(text).toMatch(/\n {2}save_user: \(body: SaveUserBody[^\n]+invokeCommand\("save_user"/);
    expect(text).toContain("    emit: (payload?: unknown): Promise<void> => emit(\"ping\", payload),");
    expect(text).toContain("  [key: string]: number | string | null | (\"a\" | \"b\")[] | [string, number] | \"shape\" | boolean | {"); // additionalProperties: { type: number }, and the properties
    // Under the strictest flags, and under plain strict (optional properties then include undefined).
    expect(await strictestAndPlain(app, ["gateway-types.ts", "use.ts"])).toEqual({ strictest: { code: 0, output: "" }, plain: { code: 0, output: "" } });
  } finally {
    app.remove();
  }
}, 60_000);

test("a command whose body the schema lets be {} is callable without it; any required field keeps it required", async () => {
  const app = tempApp(
    {
      "gateway.yaml": `version: 1
commands:
  list-todos:
    handler: h.ts
    body: { type: object, properties: { done: { type: boolean } } }
  search:
    handler: h.ts
    body: { type: object, properties: { q: { type: string } }, additionalProperties: false }
  by-ref:
    handler: h.ts
    body: { $ref: "#/$defs/filter", $defs: { filter: { type: object, properties: { tag: { type: string } } } } }
  find:
    handler: h.ts
    body: { type: object, properties: { q: { type: string } }, required: [q] }
  find-through-all-of:
    handler: h.ts
    body: { allOf: [{ $ref: "#/$defs/id" }], $defs: { id: { type: object, properties: { id: { type: string } }, required: [id] } } }
  at-least-one:
    handler: h.ts
    body: { type: object, properties: { a: { type: string } }, minProperties: 1 }
  shout:
    handler: h.ts
    body: { type: string }
  upload:
    handler: h.ts
    body: binary
`,
      "h.ts": "export default () => null;\n",
      "use.ts": `import { commands, results } from "./gateway-types.ts";
export async function use(): Promise<void> {
  await commands.listTodos();
  await commands.search();
  await commands.search({ q: "milk" });
  await commands.search(undefined, { headers: { "x-trace": "1" } });
  await results.search();
  await commands.byRef();
  // @ts-expect-error still typed when given: q is a string
  await commands.search({ q: 1 });
  // @ts-expect-error q is required
  await commands.find();
  // @ts-expect-error id is required (behind allOf and $ref)
  await commands.findThroughAllOf();
  // @ts-expect-error {} has no property, minProperties wants one
  await commands.atLeastOne();
  // @ts-expect-error a string body is no object
  await commands.shout();
  // @ts-expect-error bytes are no object
  await commands.upload();
  // @ts-expect-error results are typed alike
  await results.find();
}
`,
    },
    TMP,
  );
  try {
    const result = await runGateway(["types", "--config", app.path("gateway.yaml")]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const text = app.read("gateway-types.ts");
    expect(text).toContain("  search: (body?: SearchBody, options?: InvokeOptions): Promise<unknown> =>");
    expect(text).toContain("  find: (body: FindBody, options?: InvokeOptions): Promise<unknown> =>");
    expect(await strictestAndPlain(app, ["gateway-types.ts", "use.ts"])).toEqual({ strictest: { code: 0, output: "" }, plain: { code: 0, output: "" } });
  } finally {
    app.remove();
  }
}, 60_000);

test("gateway types reads the manifest and schemas only: handler modules are not run", async () => {
  const app = tempApp(
    {
      "gateway.yaml": "version: 1\ncommands:\n  boom:\n    handler: boom.ts\n    returns: { type: string }\n",
      "boom.ts": 'import { writeFileSync } from "node:fs";\nwriteFileSync(new URL("./ran", import.meta.url), "yes");\nthrow new Error("boom at import");\nexport default () => "x";\n',
    },
    TMP,
  );
  try {
    const result = await runGateway(["types", "--config", app.path("gateway.yaml"), "--out", app.path("web/types.ts")]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(app.read("web/types.ts")).toContain("export type BoomReturns = string;");
    expect(existsSync(app.path("ran"))).toBe(false);
    // A missing handler file is still a mistake.
    app.write("gateway.yaml", "version: 1\ncommands:\n  boom:\n    handler: nope.ts\n");
    const missing = await runGateway(["types", "--config", app.path("gateway.yaml")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/gateway\.yaml:4:14: handler file not found: nope\.ts/);
  } finally {
    app.remove();
  }
});

function copyOfExample(): TempApp {
  const app = tempApp({}, TMP);
  for (const part of ["gateway.yaml", "handlers", "schemas"]) cpSync(join(PROJECT_DIR, part), app.path(part), { recursive: true });
  return app;
}

test("--check: 0 while the file is current, 1 (saying how to regenerate) once the manifest or a schema changes", async () => {
  const app = copyOfExample();
  try {
    const args = ["types", "--config", app.path("gateway.yaml"), "--out", app.path("web/gateway-types.ts")];
    const missing = await runGateway([...args, "--check"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/gateway-types\.ts is missing; regenerate it with: gateway types --config \S+gateway\.yaml --out \S+gateway-types\.ts\n/);
    expect((await runGateway(args)).code).toBe(0);
    const fresh = await runGateway([...args, "--check"]);
    expect(fresh).toMatchObject({ code: 0, stderr: "" });
    expect(fresh.stdout).toMatch(/gateway-types\.ts is up to date/);
    const written = readFileSync(app.path("web/gateway-types.ts"), "utf8");

    app.write("gateway.yaml", app.read("gateway.yaml").replace("returns: { type: string }", "returns: { type: string, description: Shouted. }"));
    const stale = await runGateway([...args, "--check"]);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toBe("");
    expect(stale.stderr).toMatch(/gateway-types\.ts is stale: the manifest or its schemas changed since it was written; regenerate it with: gateway types --config/);
    expect(readFileSync(app.path("web/gateway-types.ts"), "utf8")).toBe(written); // --check writes nothing

    expect((await runGateway(args)).stdout).toMatch(/written/);
    expect(app.read("web/gateway-types.ts")).toContain("/** Shouted. */\nexport type ShoutReturns = string;");
    expect((await runGateway([...args, "--check"])).code).toBe(0);
    expect((await runGateway(args)).stdout).toMatch(/up to date/); // unchanged: not rewritten
  } finally {
    app.remove();
  }
}, 60_000);

test("gateway dev --types: written at start, rewritten on a reload that changes it", async () => {
  const app = copyOfExample();
  const gateway = await startGateway("dev", app.dir, ["--types", "web/gateway-types.ts", "--log-format", "json"]);
  try {
    const file = app.path("web/gateway-types.ts");
    const waitFor = async (predicate: (text: string) => boolean) => {
      for (let waited = 0; ; waited += 50) {
        const text = existsSync(file) ? readFileSync(file, "utf8") : "";
        if (predicate(text)) return text;
        if (waited > 10_000) throw new Error(`the types never changed; stderr:\n${gateway.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const first = await waitFor((t) => t.includes("export type GreetReturns"));
    expect(first).not.toContain("shoutedAt");
    // What dev writes is what `gateway types` writes.
    expect((await runGateway(["types", "--config", app.path("gateway.yaml"), "--out", file, "--check"])).code).toBe(0);

    writeFileSync(
      app.path("schemas/greet.returns.json"),
      JSON.stringify({ type: "object", properties: { message: { type: "string" }, shoutedAt: { type: "integer" } }, required: ["message"], additionalProperties: false }),
    );
    const second = await waitFor((t) => t.includes("shoutedAt"));
    expect(second).toContain("export type GreetReturns = {\n  message: string;\n  shoutedAt?: number;\n};");
    await gateway.waitForLog(/gateway: wrote web\/gateway-types\.ts/);
  } finally {
    gateway.kill();
    await gateway.exited;
    app.remove();
  }
}, 60_000);

test("the wrappers run unchanged over the real @tauri-apps/api (headless Chromium, the gateway's tauri.js)", async () => {
  const app = copyOfExample();
  // The example's manifest serves web/ (server.static): a page that loads the gateway's script, then the bundle.
  expect((await runGateway(["types", "--config", app.path("gateway.yaml"), "--out", app.path("src/gateway-types.ts")])).code).toBe(0);
  app.write(
    "src/entry.ts",
    `import { Channel } from "@tauri-apps/api/core";
import { commands, events, results, type ProgressMessage } from "./gateway-types.ts";
(window as any).typed = { commands, events, results, Channel: Channel as new (cb: (m: ProgressMessage) => void) => Channel<ProgressMessage> };
`,
  );
  const bundled = await build({ entryPoints: [app.path("src/entry.ts")], bundle: true, format: "iife", platform: "browser", target: "chrome120", write: false, logLevel: "silent" });
  app.write("web/app.js", bundled.outputFiles[0]!.text);
  app.write("web/index.html", '<!doctype html><html><head><script src="/__gateway/tauri.js?window=main"></script><script src="/app.js"></script></head><body></body></html>');
  const gateway = await startGateway("serve", app.dir);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(gateway.url);
    await page.waitForFunction(() => (window as any).typed !== undefined);
    await page.evaluate(() => (window as any).__TAURI_INTERNALS__.gateway.ready());
    const outcome = await page.evaluate(async () => {
      const { commands, events, results, Channel } = (window as any).typed;
      const progress: number[] = [];
      const heard: unknown[] = [];
      const unlisten = await events.chatMessage.listen((event: { payload: unknown }) => heard.push(event.payload));
      await events.chatMessage.emit({ from: "page", text: "hi" });
      await new Promise((r) => setTimeout(r, 200));
      unlisten();
      return {
        greet: await commands.greet({ name: "Ada" }),
        shout: await commands.shout("hi"),
        reversed: new TextDecoder().decode(await commands.reverse(new TextEncoder().encode("abc"))),
        divided: await results.divide({ a: 6, b: 3 }),
        byZero: await results.divide({ a: 1, b: 0 }),
        invalid: await results.greet({ name: "" }),
        download: await commands.download({ steps: 3, onProgress: new Channel((m: { percent: number }) => progress.push(m.percent)) }),
        progress,
        history: await commands.chatHistory(),
        heard,
      };
    });
    expect(outcome.greet).toEqual({ message: "Hello, Ada!" });
    expect(outcome.shout).toBe("HI");
    expect(outcome.reversed).toBe("cba");
    expect(outcome.divided).toEqual({ status: "ok", data: 2 });
    expect(outcome.byZero).toEqual({ status: "error", error: { code: "division-by-zero", message: "cannot divide by zero" } });
    expect(outcome.invalid).toMatchObject({ status: "error", error: { kind: "invalid-body" } });
    expect(outcome.download).toEqual({ steps: 3 });
    expect(outcome.progress).toEqual([33, 67, 100]);
    expect(outcome.heard).toEqual([{ from: "page", text: "hi" }]);
    expect(outcome.history).toEqual([{ from: "page", text: "hi" }]);
  } finally {
    await browser.close();
    gateway.kill();
    await gateway.exited;
    app.remove();
  }
}, 60_000);

describe("where gateway types writes: never over the manifest, its files, or a file it did not generate", () => {
  const SMALL_APP = {
    "gateway.yaml": "version: 1\ncommands:\n  greet:\n    handler: handlers/greet.ts\n    body: schemas/greet.body.json\n    returns: schemas/greet.returns.json\n",
    "handlers/greet.ts": "export default ({ body }: { body: { name: string } }) => ({ message: `Hello, ${body.name}!` });\n",
    "schemas/greet.body.json": JSON.stringify({ type: "object", properties: { name: { type: "string" } }, required: ["name"] }),
    "schemas/greet.returns.json": JSON.stringify({ type: "object", properties: { message: { type: "string" } }, required: ["message"] }),
    "mine.ts": "// my own code\nexport const mine = 1;\n",
    "empty.ts": "",
  };
  let app: TempApp;
  let before: Record<string, string>;
  beforeAll(() => {
    app = tempApp(SMALL_APP);
    symlinkSync("gateway.yaml", app.path("manifest-link.ts"));
    before = Object.fromEntries(Object.keys(SMALL_APP).map((file) => [file, app.read(file)]));
  });
  afterAll(() => app?.remove());

  /** A refusal: exit 1, this one line on stderr, nothing on stdout, every file as it was and nothing new. */
  async function refused(args: string[], line: string): Promise<void> {
    const entries = readdirSync(app.dir).sort();
    const result = await runGateway(args, { cwd: app.dir });
    expect(result).toEqual({ code: 1, stdout: "", stderr: `${line}\n` });
    for (const [file, text] of Object.entries(before)) expect(app.read(file)).toBe(text);
    expect(readdirSync(app.dir).sort()).toEqual(entries);
  }

  /** The normal run after a refusal: `gateway types` writes its file beside the manifest. */
  async function typesSucceeds(): Promise<void> {
    const result = await runGateway(["types", "--out", "gateway-types.ts"], { cwd: app.dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^gateway-types\.ts: (written|up to date) \(1 commands, 0 channels, 0 events\)\n$/);
    expect(app.read("gateway-types.ts").startsWith(GENERATED_MARKER)).toBe(true);
  }

  test("the manifest, with --out, --handlers, --check, or through a symbolic link", async () => {
    const manifest = (option: string) => `gateway.yaml: is the manifest, not a file to generate (${option} names where the types go); nothing was written`;
    await refused(["types", "--out", "gateway.yaml"], `gateway types: ${manifest("--out")}`);
    await typesSucceeds();
    await refused(["types", "--handlers", "gateway.yaml"], `gateway types: ${manifest("--handlers")}`);
    await typesSucceeds();
    await refused(["types", "--out", "gateway.yaml", "--check"], `gateway types: ${manifest("--out")}`);
    await refused(["types", "--out", "manifest-link.ts"], "gateway types: manifest-link.ts: is the manifest, not a file to generate (--out names where the types go); nothing was written");
    await typesSucceeds();
  }, 60_000);

  test("a handler or a schema the manifest names", async () => {
    await refused(["types", "--out", "handlers/greet.ts"], 'gateway types: handlers/greet.ts: is the handler of command "greet", not a file to generate (--out names where the types go); nothing was written');
    await refused(["types", "--handlers", "schemas/greet.body.json"], "gateway types: schemas/greet.body.json: is a schema the manifest names, not a file to generate (--handlers names where the types go); nothing was written");
    await typesSucceeds();
  });

  test("a file of the user's; an empty file, and its own files again, are written", async () => {
    await refused(
      ["types", "--out", "mine.ts"],
      'gateway types: mine.ts: not generated by gateway types (its first line is not "// Generated by `gateway types..."), so not written over (--out names where the types go); nothing was written',
    );
    await typesSucceeds();
    const written = await runGateway(["types", "--out", "empty.ts", "--handlers", "handlers.d.ts"], { cwd: app.dir });
    expect(written).toMatchObject({ code: 0, stdout: expect.stringMatching(/^empty\.ts: written .*\nhandlers\.d\.ts: written /) });
    // What it generates begins with the marker it looks for, so it writes over its own files.
    expect(app.read("empty.ts").startsWith(GENERATED_MARKER)).toBe(true);
    expect(app.read("handlers.d.ts").startsWith(GENERATED_MARKER)).toBe(true);
    writeFileSync(app.path("empty.ts"), app.read("empty.ts").replace("GreetBody", "Stale"));
    const again = await runGateway(["types", "--out", "empty.ts", "--handlers", "handlers.d.ts"], { cwd: app.dir });
    expect(again).toMatchObject({ code: 0, stdout: expect.stringMatching(/^empty\.ts: written .*\nhandlers\.d\.ts: up to date /) });
    rmSync(app.path("empty.ts"));
    rmSync(app.path("handlers.d.ts"));
    writeFileSync(app.path("empty.ts"), "");
  }, 60_000);

  test("a folder, a path under a file, a name too long: one line each, no stack", async () => {
    await refused(["types", "--out", "handlers"], "gateway types: handlers: is a folder; --out names the file to write (e.g. handlers/gateway-types.ts); nothing was written");
    await refused(["types", "--out", "gateway.yaml/types.ts"], "gateway types: gateway.yaml: is a file, not a folder (gateway.yaml/types.ts would be inside it); nothing was written");
    await refused(["types", "--out", `${"n".repeat(300)}.ts`], `gateway types: ${"n".repeat(32)}…: the name is too long (303 bytes; file systems take at most 255); nothing was written`);
    await typesSucceeds();
  }, 60_000);

  test("--out and --handlers naming one file: a usage mistake, exit 2", async () => {
    const result = await runGateway(["types", "--out", "same.ts", "--handlers", "./same.ts"], { cwd: app.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^gateway types: --out and --handlers name the same file \(same\.ts\); give each its own\n/);
    expect(existsSync(app.path("same.ts"))).toBe(false);
    await typesSucceeds();
  });

  test("gateway dev --types naming the manifest or a user's file: exit 1 before serving; then dev writes its own", async () => {
    await refused(["dev", "--port", "0", "--types", "gateway.yaml"], "gateway dev: gateway.yaml: is the manifest, not a file to generate (--types names where the types go); nothing was written");
    await refused(
      ["dev", "--port", "0", "--handlers", "mine.ts"],
      'gateway dev: mine.ts: not generated by gateway types (its first line is not "// Generated by `gateway types..."), so not written over (--handlers names where the types go); nothing was written',
    );
    const running = await startGateway("dev", app.dir, ["--types", "web/dev-types.ts", "--log-format", "json"]);
    try {
      await running.waitForLog(/gateway: wrote web\/dev-types\.ts/, 10_000);
      expect(app.read("web/dev-types.ts").startsWith(GENERATED_MARKER)).toBe(true);
    } finally {
      running.kill();
      await running.exited;
    }
  }, 60_000);
});

describe("text from the app in the generated code", () => {
  // A folder name may hold a newline and U+2028 (git allows both); each ends a `//` comment.
  const FOLDER = "app\nglobalThis.pwned = 1;\u2028globalThis.pwned = 2;";
  const files = {
    [`${FOLDER}/gateway.yaml`]: `version: 1
commands:
  odd:
    handler: h.ts
    body: body.json
    returns: { $ref: "body.json#/properties/list" }
events:
  note:
    payload: { description: "ends */ globalThis.pwned = 3; /* here", type: string, enum: ["a\\u2028b", "c*/d"] }
    from: [frontend]
`,
    [`${FOLDER}/h.ts`]: "export default () => null;\n",
    [`${FOLDER}/body.json`]: JSON.stringify({
      type: "object",
      description: "Ends */ globalThis.pwned = 4;\u2028globalThis.pwned = 5; /*\rand \u2029 more",
      properties: {
        "a\u2028b": { const: "x\u2028y\u2029z" },
        "*/": { type: "string", description: "*/ globalThis.pwned = 6;" },
        // Spread from JSON.parse: an own key named __proto__, as a schema file holds it.
        ...JSON.parse('{ "__proto__": { "type": "number" } }'),
        list: { title: "Cell", type: "object", properties: { value: { type: "number" }, next: { $ref: "#/properties/list" } }, required: ["value"], additionalProperties: false },
      },
      required: ["a\u2028b", "__proto__"],
      additionalProperties: false,
    }),
    "use.ts": `import { commands, events, type OddBody, type Cell } from "./out/types.ts";
export async function use(): Promise<void> {
  const body: OddBody = JSON.parse("{}") as OddBody;
  const proto: OddBody["__proto__"] = 1;
  const weird: OddBody["a\\u2028b"] = "x\\u2028y\\u2029z";
  // @ts-expect-error the constant is the one the schema says
  const wrong: OddBody["a\\u2028b"] = "x y z";
  const list: Cell = { value: 1, next: { value: 2, next: { value: 3 } } };
  // @ts-expect-error each cell is a Cell, however deep
  const bad: Cell = { value: 1, next: { value: 2, next: { value: "three" } } };
  const last: Cell = await commands.odd(body);
  await events.note.emit("a\\u2028b");
  // @ts-expect-error the enum's values only
  await events.note.emit("a b");
  console.log(proto, weird, wrong, list, bad, last.next?.next?.value);
}
`,
  };

  test("a manifest path with a newline and U+2028, names, descriptions and constants: escaped, the files compile, and nothing runs", async () => {
    const app = tempApp(files, TMP);
    try {
      const manifest = app.path(`${FOLDER}/gateway.yaml`);
      const result = await runGateway(["types", "--config", manifest, "--out", app.path("out/types.ts"), "--handlers", app.path("out/handlers.d.ts")]);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      const frontend = app.read("out/types.ts");
      const handlers = app.read("out/handlers.d.ts");
      for (const text of [frontend, handlers]) {
        // The path, on the header's line, its line ends written as escapes.
        expect(text.split("\n")[0]).toMatch(/^\/\/ Generated by `gateway types( --handlers)?` from \.\.\/app\\nglobalThis\.pwned = 1;\\u2028globalThis\.pwned = 2;\/gateway\.yaml: do not edit/);
        // No line terminator but \n, none in a comment or a string, and no comment closed early.
        expect(text).not.toMatch(/[\r\u2028\u2029]/);
        expect(text).not.toMatch(/\*\/ globalThis/);
      }
      expect(frontend).toContain('  "a\\u2028b": "x\\u2028y\\u2029z";');
      expect(frontend).toContain("  __proto__: number;");
      expect(frontend).toContain('  /** *\\/ globalThis.pwned = 6; */\n  "*/"?: string;');
      expect(frontend).toContain("export type Cell = {\n  value: number;\n  next?: Cell;\n};");
      expect(frontend).toContain('export type NotePayload = "a\\u2028b" | "c*/d";');

      // The files compile (strictest flags), and deliberate mistakes against them are caught.
      app.write("tsconfig.json", frontendConfig(["out/types.ts", "use.ts"]));
      app.write(
        "tsconfig.handlers.json",
        JSON.stringify({
          compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [] },
          files: ["out/handlers.d.ts"],
        }),
      );
      const [frontendCompile, handlersCompile] = await Promise.all([tsc(app.dir, "tsconfig.json"), tsc(app.dir, "tsconfig.handlers.json")]);
      expect(frontendCompile).toEqual({ code: 0, output: "" });
      expect(handlersCompile).toEqual({ code: 0, output: "" });

      // Imported, the frontend file runs nothing of what the app wrote.
      const bundled = await build({ entryPoints: [app.path("out/types.ts")], bundle: true, format: "esm", platform: "neutral", write: false, logLevel: "silent" });
      app.write("out/types.mjs", bundled.outputFiles[0]!.text);
      await import(`${app.path("out/types.mjs")}?${Date.now()}`);
      expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
    } finally {
      app.remove();
    }
  }, 60_000);

  test("a $ref loop that reads no data: gateway types writes nothing and says where (no `type SelfBody = SelfBody`)", async () => {
    const app = tempApp(
      {
        "gateway.yaml": "version: 1\ncommands:\n  self:\n    handler: h.ts\n    body: self.json\n",
        "h.ts": "export default () => null;\n",
        "self.json": '{ "$ref": "#" }',
      },
      TMP,
    );
    try {
      const result = await runGateway(["types", "--config", app.path("gateway.yaml")]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/self\.json:1:3: body of command "self": \$ref "#" leads back to itself without going into a property or an item/);
      expect(existsSync(app.path("gateway-types.ts"))).toBe(false);
    } finally {
      app.remove();
    }
  });
});
