// The catalog: every schema of the manifest (and every schema a $ref reaches) named once, with
// $refs rewritten to #/$defs/<Name>: what types, OpenAPI, AsyncAPI and the console are built from.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
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

let gw: Gateway;
afterAll(async () => gw?.close());

test("GET /__gateway/catalog.json serves it", async () => {
  gw = await createGateway({ config: `${PROJECT_DIR}gateway.yaml`, logger: memoryLogger() });
  const { url } = await gw.listen({ port: 0 });
  const json = (await (await fetch(`${url}/__gateway/catalog.json`)).json()) as { commands: Record<string, unknown>; definitions: Record<string, unknown> };
  expect(json.commands.download).toEqual({ body: { $ref: "#/$defs/DownloadBody" }, returns: { $ref: "#/$defs/DownloadReturns" }, errors: null, channels: { onProgress: "progress" } });
  expect(json.commands.reverse).toMatchObject({ body: "binary", returns: "binary" });
  expect(Object.keys(json.definitions)).toContain("User");
});
