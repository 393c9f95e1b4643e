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
    "handlers/greet.ts:4:34",
    "handlers/math.ts:3:24",
    "handlers/math.ts:3:69",
    "handlers/shout.ts:4:9",
    "handlers/typed.ts:4:59",
    "handlers/wrapped.ts:2:1",
  ]);
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
