// The catalog: every schema of the manifest (and every schema a $ref reaches) named once, with
// $refs rewritten to #/$defs/<Name>: what types, OpenAPI, AsyncAPI and the console are built from.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import { buildCatalog, pascal, type Catalog } from "../gateway/describe/catalog.ts";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { PROJECT_DIR } from "./helpers/cli.ts";
import { gatewayFor, memoryLogger } from "./helpers/app.ts";

let catalog: Catalog;
beforeAll(async () => {
  const built = await new GenerationBuilder(`${PROJECT_DIR}gateway.yaml`).build();
  if (!built.ok) throw new Error("the example app does not build");
  catalog = buildCatalog(built.generation);
});

test("each schema the example uses has one name: by use, by title, by $defs key", () => {
  const ref = (name: string) => ({ kind: "ref", name });
  expect(catalog.commands.get("greet")).toMatchObject({ body: ref("GreetBody"), returns: ref("GreetReturns"), errors: { kind: "any" } });
  expect(catalog.commands.get("reverse")).toMatchObject({ body: { kind: "binary" }, returns: { kind: "binary" } });
  expect(catalog.commands.get("divide")!.errors).toEqual(ref("DivideError"));
  // save-user and get-user share defs.json#/$defs/user: one definition, named by its key.
  expect(catalog.definitions.get("SaveUserReturns")).toEqual({ $ref: "#/$defs/User" });
  expect(catalog.definitions.get("GetUserReturns")).toEqual({ $ref: "#/$defs/User" });
  expect(catalog.definitions.get("User")).toMatchObject({ properties: { email: { $ref: "#/$defs/Email" } } });
  expect([...catalog.definitions.keys()].filter((n) => /User\d|Email\d/.test(n))).toEqual([]);
  expect(catalog.channels.get("progress")).toEqual(ref("ProgressMessage"));
  expect(catalog.events.get("announcement")).toEqual({ payload: ref("AnnouncementPayload"), from: ["backend"] });
  // Every $ref left points at a definition.
  const refs = JSON.stringify(Object.fromEntries(catalog.definitions)).match(/"\$ref":"[^"]+"/g) ?? [];
  for (const r of refs) expect(catalog.definitions.has(r.slice(16, -1))).toBe(true);
});

test("titles name schemas; different schemas wanting one name are told apart by their file", async () => {
  const ctx = await gatewayFor({
    "gateway.yaml": `version: 1
commands:
  a:
    handler: h.ts
    body: { $ref: "one.json#/$defs/point" }
    returns: { $ref: "two.json#/$defs/point" }
  b:
    handler: h.ts
    body: { title: "Shape of B", type: object }
`,
    "h.ts": "export default () => 1;\n",
    "one.json": JSON.stringify({ $defs: { point: { type: "object", properties: { x: { type: "number" } } } } }),
    "two.json": JSON.stringify({ $defs: { point: { type: "object", properties: { y: { type: "number" } } } } }),
  });
  try {
    const names = [...buildCatalog(ctx.gw.generation).definitions.keys()];
    expect(names).toEqual(expect.arrayContaining(["ABody", "Point", "AReturns", "TwoPoint", "ShapeOfB"]));
  } finally {
    await ctx.close();
  }
});

test("names are identifiers", () => {
  expect([pascal("chat-message"), pascal("ns/sub:cmd"), pascal("2fa"), pascal("save_user")]).toEqual(["ChatMessage", "NsSubCmd", "_2fa", "SaveUser"]);
});

let gw: Gateway | undefined;
let served: Promise<string> | undefined;
afterAll(async () => gw?.close());

/** The example app, served once for the tests that fetch from it: its URL. */
function example(): Promise<string> {
  return (served ??= (async () => {
    gw = await createGateway({ config: `${PROJECT_DIR}gateway.yaml`, logger: memoryLogger() });
    return (await gw.listen({ port: 0 })).url;
  })());
}

test("GET /__gateway/catalog.json serves it", async () => {
  const url = await example();
  const json = (await (await fetch(`${url}/__gateway/catalog.json`)).json()) as { commands: Record<string, unknown>; $defs: Record<string, unknown> };
  expect(json.commands.download).toEqual({ body: { $ref: "#/$defs/DownloadBody" }, returns: { $ref: "#/$defs/DownloadReturns" }, errors: null, channels: { onProgress: "progress" } });
  expect(json.commands.reverse).toMatchObject({ body: "binary", returns: "binary" });
  expect(Object.keys(json.$defs)).toContain("User");
});

test("catalog.json is a JSON Schema document: ajv (2020-12) compiles against it, and its $refs resolve", async () => {
  const url = await example();
  const response = await fetch(`${url}/__gateway/catalog.json`);
  expect(response.status).toBe(200);
  const document = (await response.json()) as { $schema: string; commands: Record<string, { body: { $ref: string }; returns: { $ref: string } }> };
  expect(document.$schema).toBe("https://json-schema.org/draft/2020-12/schema");

  const ajv = new Ajv2020({ strict: true });
  addFormats.default(ajv);
  // The document's own keywords, as docs/manifest.md says.
  ajv.addVocabulary(["commands", "channels", "events", "x-channel"]);
  ajv.addSchema(document, "catalog.json");
  const slot = (ref: string) => ajv.compile({ $ref: `catalog.json${ref}` });
  const greetBody = slot(document.commands.greet!.body.$ref);
  expect([greetBody({ name: "Ada" }), greetBody({ name: 3 }), greetBody({})]).toEqual([true, false, false]);
  const user = slot(document.commands["save-user"]!.returns.$ref); // through User and Email, each a $ref
  expect(user({ email: "ada@example.com", name: "Ada" })).toBe(true);
  expect(user({ email: "not an email", name: "Ada" })).toBe(false);
  // Every definition compiles.
  for (const name of Object.keys((document as unknown as { $defs: object }).$defs)) expect(typeof slot(`#/$defs/${name}`)).toBe("function");

  // The gateway serves on: a normal call.
  const greeting = await fetch(`${url}/ipc/greet`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"Ada"}' });
  expect(greeting.status).toBe(200);
});

describe("hostile property names and recursion", () => {
  const files = {
    "gateway.yaml": `version: 1
commands:
  proto:
    handler: h.ts
    body: proto.json
  list:
    handler: h.ts
    body: list.json
`,
    "h.ts": "export default () => null;\n",
    // JSON.parse keeps __proto__ as an own key, as the schema file means it.
    "proto.json": '{ "type": "object", "properties": { "__proto__": { "type": "string" }, "constructor": { "type": "number" } }, "required": ["__proto__"], "examples": [{ "__proto__": "x" }] }',
    "list.json": JSON.stringify({ title: "Node", type: "object", properties: { value: { type: "number" }, next: { $ref: "#" } } }),
  };

  test("a property named __proto__ stays a property: in the catalog and in catalog.json", async () => {
    const ctx = await gatewayFor(files);
    try {
      const definition = buildCatalog(ctx.gw.generation).definitions.get("ProtoBody") as { properties: object; examples: object[] };
      expect(Object.keys(definition.properties)).toEqual(["__proto__", "constructor"]);
      expect(Object.getPrototypeOf(definition.properties)).toBe(Object.prototype);
      expect(Object.keys(definition.examples[0]!)).toEqual(["__proto__"]);
      const { url } = await ctx.gw.listen({ port: 0 });
      const text = await (await fetch(`${url}/__gateway/catalog.json`)).text();
      expect(text).toContain('"properties":{"__proto__":{"type":"string"},"constructor":{"type":"number"}}');
      expect(await ctx.gw.invoke("list", { value: 1 })).toBeNull(); // a normal call
    } finally {
      await ctx.close();
    }
  });

  test("a recursive schema is one definition that refers to itself", async () => {
    const ctx = await gatewayFor(files);
    try {
      const catalog = buildCatalog(ctx.gw.generation);
      expect(catalog.commands.get("list")!.body).toEqual({ kind: "ref", name: "Node" });
      expect(catalog.definitions.get("Node")).toEqual({ title: "Node", type: "object", properties: { value: { type: "number" }, next: { $ref: "#/$defs/Node" } } });
    } finally {
      await ctx.close();
    }
  });
});
