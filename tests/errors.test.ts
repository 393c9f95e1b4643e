// Declared errors (`errors:`): an InvokeError's value is checked against the command's errors
// schema; a value it does not allow becomes `invalid-error` (500), as a wrong return becomes
// `invalid-return`.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { gatewayFor, rejectionOf } from "./helpers/app.ts";
import { invokeJson } from "./helpers/http.ts";
import type { Listening } from "../gateway/transports/http.ts";

const MANIFEST = `
version: 1
discover:
  handlers: drop
  schemas: drop
commands:
  one:
    handler: h.ts#reject
    errors: { type: object, properties: { reason: { type: string } }, required: [reason], additionalProperties: false }
  coded:
    handler: h.ts#reject
    errors:
      - code: not-found
        schema: schemas/not-found.json
      - code: forbidden
  free:
    handler: h.ts#reject
`;

const HANDLERS = `
import { InvokeError, type Invoke } from "ipc-gateway";
export function reject({ body }: Invoke<{ value: unknown }>) {
  throw new InvokeError(body.value);
}
`;

let ctx: Awaited<ReturnType<typeof gatewayFor>>;
let server: Listening;

beforeAll(async () => {
  ctx = await gatewayFor({
    "gateway.yaml": MANIFEST,
    "h.ts": HANDLERS,
    "schemas/not-found.json": JSON.stringify({ type: "object", properties: { code: {}, id: { type: "integer" } }, required: ["id"] }),
    "drop/dropped.ts": 'import { InvokeError } from "ipc-gateway";\nexport default () => { throw new InvokeError("nope"); };\n',
    "drop/dropped.errors.json": JSON.stringify({ enum: ["nope"] }),
    "drop/wrong.ts": 'import { InvokeError } from "ipc-gateway";\nexport default () => { throw new InvokeError("other"); };\n',
    "drop/wrong.errors.json": JSON.stringify({ enum: ["nope"] }),
  });
  server = await ctx.gw.listen({ port: 0 });
});
afterAll(async () => ctx.close());

const invoke = (cmd: string, value?: unknown) => rejectionOf(ctx.gw.invoke(cmd, { value }));

describe("errors: one schema", () => {
  test("a value it allows rejects the caller with exactly that value", async () => {
    expect(await invoke("one", { reason: "busy" })).toEqual({ reason: "busy" });
  });

  test("a value it does not allow is invalid-error (500), naming the command and the mismatch, and is logged", async () => {
    const res = await invokeJson(server.url, "one", { value: { reason: 5 } });
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({
      kind: "invalid-error",
      message: '"one" rejected with an InvokeError value that its errors schema does not allow: /reason must be string',
      command: "one",
      errors: [expect.objectContaining({ instancePath: "/reason", keyword: "type" })],
    });
    expect(ctx.logger.lines.some((l) => l.includes('command "one" rejected with an InvokeError value that its errors schema does not allow'))).toBe(true);
  });
});

describe("errors: a list of codes", () => {
  test("a code with its schema", async () => {
    expect(await invoke("coded", { code: "not-found", id: 7 })).toEqual({ code: "not-found", id: 7 });
  });

  test("a code without a schema takes any object with that code", async () => {
    expect(await invoke("coded", { code: "forbidden", who: "x" })).toEqual({ code: "forbidden", who: "x" });
  });

  test.each([
    ["an unknown code", { code: "teapot" }],
    ["a listed code whose schema fails", { code: "not-found", id: "seven" }],
    ["no code", { id: 7 }],
    ["a string", "not-found"],
  ])("%s is invalid-error", async (_name, value) => {
    expect(await invoke("coded", value)).toMatchObject({ kind: "invalid-error", command: "coded" });
  });
});

describe("errors: by convention and undeclared", () => {
  test("a drop-in's <name>.errors.json is its errors schema", async () => {
    expect(await rejectionOf(ctx.gw.invoke("dropped"))).toBe("nope");
    expect(await rejectionOf(ctx.gw.invoke("wrong"))).toMatchObject({ kind: "invalid-error", command: "wrong" });
  });

  test("without errors: any value goes, as before", async () => {
    expect(await invoke("free", ["anything", 1])).toEqual(["anything", 1]);
  });

  test("manifest.json shows each command's errors schema", async () => {
    const manifest = (await (await fetch(`${server.url}/__gateway/manifest.json`)).json()) as { commands: Record<string, { errors: unknown }> };
    expect(manifest.commands.one!.errors).toMatchObject({ type: "object", required: ["reason"] });
    expect(manifest.commands.free!.errors).toBeNull();
    expect(manifest.commands.coded!.errors).toMatchObject({ oneOf: [expect.anything(), expect.anything()] });
  });
});

describe("errors: mistakes in the manifest", () => {
  test.each([
    ["errors: binary", "only bodies, returns and channel messages can"],
    ["errors: [{ schema: { type: string } }]", "errors is a schema (a file, an inline JSON Schema), or a list of { code, schema }"],
    ["errors: [{ code: x, schema: nope.json }]", "gateway.yaml:5:13: $ref \"nope.json\": file not found: nope.json"],
  ])("%s", async (line, message) => {
    const error = await rejectionOf(gatewayFor({ "gateway.yaml": `version: 1\ncommands:\n  a:\n    handler: h.ts\n    ${line}\n`, "h.ts": "export default () => 1;\n" }));
    expect(error.message).toContain(message);
  });
});
