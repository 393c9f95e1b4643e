// gateway check --types, through the real bin: every TypeScript handler type-checked against its
// command's schemas with the app's own TypeScript, each mismatch reported at the handler's line.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { PROJECT_DIR, runGateway, type CliResult } from "./helpers/cli.ts";

/** Under the repo (.tmp/ is ignored by git): the app finds `typescript` and `ipc-gateway` as an installed app would. */
const TMP = join(PROJECT_DIR, ".tmp");

test("the example app's handlers match their schemas: exit 0", async () => {
  const result = await runGateway(["check", "--types"]);
  expect(result).toMatchObject({ code: 0, stderr: "" });
  expect(result.stdout).toMatch(/^gateway\.yaml: 10 commands, 1 channels, 2 events; 10 handlers match their schemas \(TypeScript 5\.\d+\.\d+\)\n$/);
}, 60_000);

const MANIFEST = `version: 1
discover:
  handlers: handlers
  schemas: schemas
commands:
  greet:
    handler: handlers/greet.ts
    body: &name { type: object, properties: { name: { type: string } }, required: [name], additionalProperties: false }
    returns: &message { type: object, properties: { message: { type: string } }, required: [message], additionalProperties: false }
  divide:
    handler: handlers/math.ts#divide
    body: { type: object, properties: { a: { type: number }, b: { type: number } }, required: [a, b] }
    returns: { type: number }
  status:
    handler: handlers/math.ts#status
    returns: { type: object, properties: { state: { enum: [up, down] } }, required: [state] }
  history:
    handler: handlers/history.ts
    returns: { type: array, items: { type: object, properties: { from: { type: string }, text: { type: string } } } }
  nothing:
    handler: handlers/nothing.ts
    returns: { type: "null" }
  typed-ok:
    handler: handlers/typed.ts#ok
    body: *name
    returns: *message
  typed-bad:
    handler: handlers/typed.ts#bad
    body: *name
    returns: *message
  wrapped:
    handler: handlers/wrapped.ts
    returns: { type: string }
  js:
    handler: handlers/plain.js
    returns: { type: string }
  safe-divide:
    handler: handlers/fail.ts#safeDivide
    body: { type: object, properties: { a: { type: number }, b: { type: number } }, required: [a, b] }
    returns: { type: number }
    errors:
      - code: division-by-zero
        schema: { type: object, properties: { message: { type: string } }, required: [message] }
  modulo:
    handler: handlers/fail.ts#modulo
    errors: { type: object, properties: { code: { enum: [odd, even] } }, required: [code], additionalProperties: false }
  anything:
    handler: handlers/fail.ts#anything
  pick-a:
    handler: handlers/pick.ts#pick
    errors: { type: string }
  pick-b:
    handler: handlers/pick.ts#pick
    errors: { enum: [x, y] }
`;

const FILES: Record<string, string> = {
  "gateway.yaml": MANIFEST,
  // One return is wrong: reported at that return, at the property.
  "handlers/greet.ts": `import type { Invoke } from "ipc-gateway";

export default async function greet({ body }: Invoke<{ name: string }>) {
  if (body.name === "") return { message: 42 };
  return { message: \`Hello, \${body.name}!\` };
}
`,
  // Declared types that disagree with the schemas: the parameter, and the return annotation.
  "handlers/math.ts": `import type { Invoke } from "ipc-gateway";

export function divide({ body }: Invoke<{ a: number; b: string }>): string {
  return \`\${body.a}/\${body.b}\`;
}

export const status = () => ({ state: "up" }); // a literal: fine, the schema's type is applied
`,
  // An interface for an open object: a valid return value (no index signature needed).
  "handlers/history.ts": `interface Message {
  from: string;
  text: string;
}
const log: Message[] = [];
export default function history(): Message[] {
  return log;
}
`,
  // returns: null, and the handler returns nothing (sent as null).
  "handlers/nothing.ts": "export default function nothing(): void {}\n",
  "handlers/typed.ts": `import type { Handler } from "ipc-gateway";

export const ok: Handler<"typed-ok"> = ({ body }) => ({ message: body.name });
export const bad: Handler<"typed-bad"> = ({ body }) => ({ message: body.name.length });
`,
  // Not a function the file defines: its declared return type is checked, at the export.
  "handlers/wrapped.ts": `const wrap = <T>(f: () => T) => () => f();
export default wrap(() => 42);
`,
  // A drop-in with a convention schema and a type error of its own.
  "handlers/shout.ts": `import type { Invoke } from "ipc-gateway";

export default function shout({ body }: Invoke<"shout">) {
  const count: number = "three";
  return body.toUpperCase() + count;
}
`,
  "schemas/shout.body.json": JSON.stringify({ type: "string" }),
  "schemas/shout.returns.json": JSON.stringify({ type: "string" }),
  "handlers/plain.js": "export default () => 'not checked';\n",
  // InvokeErrors against the commands' errors: schemas.
  "handlers/fail.ts": `import { InvokeError, type Invoke } from "ipc-gateway";
import * as gateway from "ipc-gateway";

// A helper, not the handler function: not checked (the gateway checks its value at run time).
function refuse(reason: string): never {
  throw new InvokeError({ reason });
}

export function safeDivide({ body }: Invoke<"safe-divide">) {
  if (body.b === 0) throw new InvokeError({ code: "division-by-zero", message: "cannot divide by zero" });
  if (body.a < 0) throw new InvokeError({ code: "negative", message: "no negatives" });
  if (body.a > 1e9) throw new gateway.InvokeError(\`too big: \${body.a}\`);
  if (body.a === 7) throw new InvokeError<"modulo">({ code: "odd" });
  if (body.a === 8) throw new InvokeError<"safe-divide">({ code: "division-by-zero", message: "typed" });
  if (body.a === 9) refuse("nine");
  if (body.a === 10) return "ten";
  return body.a / body.b;
}

export const modulo = ({ body }: Invoke<{ a: number; b: number }>) => {
  if (body.b === 0) throw new InvokeError({ code: "even", detail: String(body.a).padStart("4") });
  [body.a].forEach((a) => {
    if (a < 0) throw new InvokeError({ code: "negative" });
  });
  return body.a % body.b;
};

export const anything = () => {
  throw new InvokeError({ whatever: [1, "two"] });
};
`,
  // One function for two commands: what it throws must suit both.
  "handlers/pick.ts": `import { InvokeError as Refusal } from "ipc-gateway";

export function pick(): string {
  if (Math.random() < 0.5) throw new Refusal("x");
  throw new Refusal("z");
}
`,
};

let app: TempApp;
let result: CliResult;
beforeAll(async () => {
  mkdirSync(TMP, { recursive: true });
  app = tempApp(FILES, TMP);
  result = await runGateway(["check", "--types"], { cwd: app.dir });
}, 60_000);
afterAll(() => app?.remove());

test("a handler returning the wrong shape: exit 1, reported at its return statement (on stderr)", () => {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe("");
  expect(result.stderr).toContain(
    'handlers/greet.ts:4:34: the handler of "greet" returns a value its returns schema does not allow: Type \'number\' is not assignable to type \'string\'.\n',
  );
});

test("declared types that disagree with the schemas: at the parameter and at the return annotation", () => {
  expect(result.stderr).toContain(
    `handlers/math.ts:3:24: the body schema of "divide" allows values this handler does not accept: Type 'DivideBody' is not assignable to type '{ a: number; b: string; }'.
      Types of property 'b' are incompatible.
        Type 'number' is not assignable to type 'string'.
`,
  );
  expect(result.stderr).toContain(
    "handlers/math.ts:3:69: the return type of the handler of \"divide\" does not match its returns schema: Type 'string' is not assignable to type 'number'.\n",
  );
});

test("Handler<name>, a handler that is no function literal, and the handler files' own type errors", () => {
  expect(result.stderr).toContain(
    'handlers/typed.ts:4:59: the handler of "typed-bad" returns a value its returns schema does not allow: Type \'number\' is not assignable to type \'string\'.\n',
  );
  expect(result.stderr).toContain("handlers/wrapped.ts:2:1: the return type of the handler of \"wrapped\" does not match its returns schema: Type 'number' is not assignable to type 'string'.\n");
  expect(result.stderr).toContain("handlers/shout.ts:4:9: Type 'string' is not assignable to type 'number'.\n");
});

test("only those: literals, interfaces for open objects, undefined for null and Handler<name> done right pass", () => {
  const reported = result.stderr.split("\n").filter((line) => /^\S+:\d+:\d+: /.test(line));
  expect(reported.map((line) => line.replace(/: .*/, ""))).toEqual([
    "handlers/fail.ts:11:43",
    "handlers/fail.ts:12:51",
    "handlers/fail.ts:13:43",
    "handlers/fail.ts:16:22",
    "handlers/fail.ts:21:59",
    "handlers/fail.ts:21:91",
    "handlers/fail.ts:23:40",
    "handlers/greet.ts:4:34",
    "handlers/math.ts:3:24",
    "handlers/math.ts:3:69",
    "handlers/pick.ts:5:21",
    "handlers/shout.ts:4:9",
    "handlers/typed.ts:4:59",
    "handlers/wrapped.ts:2:1",
  ]);
});

test("an InvokeError value its command's errors schema does not allow: reported where it stands, naming the command", () => {
  const at = (position: string, message: string) => expect(result.stderr).toContain(`handlers/fail.ts:${position}: ${message}\n`);
  // Untyped: at the property that is wrong (as for returns), or at the value.
  at("11:43", `the handler of "safe-divide" rejects with an InvokeError value its errors schema does not allow: Type '"negative"' is not assignable to type '"division-by-zero"'.`);
  at(
    "12:51",
    `the handler of "safe-divide" rejects with an InvokeError value its errors schema does not allow: Argument of type 'string' is not assignable to parameter of type 'SafeDivideError'.
      Type 'string' is not assignable to type '{ [key: string]: any; code: "division-by-zero"; }'.`,
  );
  // Typed for another command: at its type argument, with where the values differ.
  at(
    "13:43",
    `the handler of "safe-divide" rejects with an InvokeError<"modulo"> whose value its errors schema does not allow: Type 'ModuloError' is not assignable to type 'SafeDivideError'.
      Type 'ModuloError' is not assignable to type '{ [key: string]: any; code: "division-by-zero"; }'.
        Types of property 'code' are incompatible.`,
  );
  // A closed errors object; inside a callback of the handler too. A mistake inside the value that is not about it keeps its own message.
  at("21:59", `the handler of "modulo" rejects with an InvokeError value its errors schema does not allow: Object literal may only specify known properties, and 'detail' does not exist in type 'ModuloError'.`);
  at("21:91", "Argument of type 'string' is not assignable to parameter of type 'number'.");
  at("23:40", `the handler of "modulo" rejects with an InvokeError value its errors schema does not allow: Type '"negative"' is not assignable to type '"odd" | "even"'.`);
  // The return annotation injected in the same function still reports at its place.
  at("16:22", `the handler of "safe-divide" returns a value its returns schema does not allow: Type 'string' is not assignable to type 'number | Promise<number>'.`);
  // A function serving two commands (InvokeError imported under another name).
  expect(result.stderr).toContain(
    `handlers/pick.ts:5:21: the handler of "pick-a" and "pick-b" rejects with an InvokeError value their errors schemas do not allow: Argument of type '"z"' is not assignable to parameter of type '"x" | "y"'.\n`,
  );
  // Matching values, the helper outside the handler and a command without errors: are not reported (the list above has only these).
});

test("without --types, the same app passes gateway check", async () => {
  const plain = await runGateway(["check"], { cwd: app.dir });
  expect(plain.code).toBe(0);
});

test("no typescript where the app is: a clear message, exit 1", async () => {
  const outside = tempApp({ "gateway.yaml": "version: 1\ncommands:\n  a:\n    handler: a.ts\n", "a.ts": "export default () => 1;\n" });
  try {
    const missing = await runGateway(["check", "--types"], { cwd: outside.dir });
    expect(missing.code).toBe(1);
    expect(missing).toMatchObject({ stdout: "" });
    expect(missing.stderr).toMatch(/^gateway\.yaml: TypeScript is not installed where \S+ can find it; --types uses the app's own \(npm install --save-dev typescript\)\n$/);
  } finally {
    outside.remove();
  }
});
