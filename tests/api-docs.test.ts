// The API documents: OpenAPI 3.1 (the commands over HTTP) and AsyncAPI 3.0 (the WebSocket),
// checked with the real parsers (@readme/openapi-parser, @asyncapi/parser), against what the
// gateway really answers, served at /__gateway/{openapi,asyncapi}.json and written by
// `gateway docs` (the real bin: run `node scripts/build.js` first, as `npm test` does).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { validate, compileErrors } from "@readme/openapi-parser";
import { Parser, type Diagnostic } from "@asyncapi/parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { GenerationBuilder } from "../gateway/reload/builder.ts";
import { buildCatalog } from "../gateway/describe/catalog.ts";
import { openApiDocument } from "../gateway/describe/openapi.ts";
import { asyncApiDocument } from "../gateway/describe/asyncapi.ts";
import { ERROR_STATUS } from "../gateway/runtime/errors.ts";
import type { Generation } from "../gateway/runtime/generation.ts";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { PROJECT_DIR, runGateway } from "./helpers/cli.ts";
import { memoryLogger, tempApp } from "./helpers/app.ts";

type Json = Record<string, any>;

async function generationOf(manifest: string, env?: NodeJS.ProcessEnv): Promise<Generation> {
  const built = await new GenerationBuilder(manifest, env).build();
  if (!built.ok) throw new Error(`${manifest} does not build: ${built.problems.map((p) => p.message).join("; ")}`);
  return built.generation;
}

function documentsOf(generation: Generation): { openapi: Json; asyncapi: Json } {
  const catalog = buildCatalog(generation);
  return { openapi: openApiDocument(generation, catalog), asyncapi: asyncApiDocument(generation, catalog) };
}

/** @readme/openapi-parser's verdict (it dereferences what it is given: a copy). */
async function openApiProblems(document: Json): Promise<string[]> {
  const result = await validate(structuredClone(document) as never);
  return result.valid ? result.warnings.map((w) => w.message) : [compileErrors(result)];
}

/** @asyncapi/parser's errors and warnings (information and hints, e.g. "3.1.0 exists", aside). */
const asyncApiParser = new Parser();
type Parsed = Awaited<ReturnType<Parser["parse"]>>["document"];
async function asyncApiProblems(document: Json): Promise<{ problems: string[]; parsed: Parsed }> {
  const { document: parsed, diagnostics } = await asyncApiParser.parse(JSON.stringify(document));
  const problems = diagnostics.filter((d: Diagnostic) => d.severity <= 1).map((d: Diagnostic) => `${d.code} at ${d.path.join("/")}: ${d.message}`);
  return { problems, parsed };
}

const EXAMPLE = `${PROJECT_DIR}gateway.yaml`;
/** The example's ${PORT} and ${GATEWAY_TOKEN} pinned, whatever the environment holds. */
const ENV = { ...process.env, PORT: "1430", GATEWAY_TOKEN: "" };
let example: Generation;
let openapi: Json;
let asyncapi: Json;
/** The example's AsyncAPI document as @asyncapi/parser reads it (parsing takes seconds: once). */
let asyncParsed: Promise<{ problems: string[]; parsed: Parsed }>;

beforeAll(async () => {
  example = await generationOf(EXAMPLE, ENV);
  ({ openapi, asyncapi } = documentsOf(example));
  asyncParsed = asyncApiProblems(asyncapi);
});

describe("the example app's OpenAPI document", () => {
  test("is valid OpenAPI 3.1 for @readme/openapi-parser: no errors, no warnings", async () => {
    expect(openapi.openapi).toBe("3.1.0");
    expect(await openApiProblems(openapi)).toEqual([]);
    expect(openapi.info).toMatchObject({ title: basename(PROJECT_DIR), version: JSON.parse(readFileSync(`${PROJECT_DIR}package.json`, "utf8")).version });
    expect(openapi.servers).toEqual([{ url: "http://127.0.0.1:1430" }]);
    expect(openapi.security).toBeUndefined(); // no token
  });

  test("every command is POST /ipc/<percent-encoded name> with its media types", () => {
    expect(example.commands.size).toBeGreaterThan(0);
    for (const [name, def] of example.commands) {
      const operation = openapi.paths[`/ipc/${encodeURIComponent(name)}`]?.post;
      expect(operation).toBeDefined();
      expect(operation["x-command"]).toBe(name);
      const binaryBody = def.body.kind === "binary";
      expect(Object.keys(operation.requestBody.content)).toEqual([binaryBody ? "application/octet-stream" : "application/json"]);
      const okTypes = Object.keys(operation.responses["200"].content);
      if (def.returns.kind === "binary") expect(okTypes).toEqual(["application/octet-stream"]);
      else if (def.returns.schema === undefined) expect(okTypes).toEqual(["application/json", "application/octet-stream"]);
      else expect(okTypes).toEqual(["application/json"]);
      expect(operation.responses["200"].headers["Tauri-Response"]).toEqual({ $ref: "#/components/headers/TauriResponseOk" });
      expect(Object.keys(operation.responses["400"].content)).toEqual(["application/json"]);
      // 422 invalid-body only where there is a body schema; the other gateway rejections always.
      expect(operation.responses["422"] !== undefined).toBe(def.body.kind === "json" && def.body.schema !== undefined);
      for (const status of ["403", "404", "408", "413", "415", "431", "500", "503", "504"]) expect(operation.responses[status]).toBeDefined();
      expect(operation.parameters).toContainEqual({ $ref: "#/components/parameters/GatewayWindow" });
      // No auth:, capabilities: or limits: nothing about them.
      expect([operation.security, operation["x-capabilities"], operation.responses["401"], operation.responses["429"]]).toEqual([undefined, undefined, undefined, undefined]);
    }
    const reverse = openapi.paths["/ipc/reverse"].post;
    expect(reverse.requestBody.content["application/octet-stream"]).toEqual({});
    expect(openapi.paths["/ipc/greet"].post.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/GreetBody" });
    // chat-history has no body schema: any JSON, not required.
    expect(openapi.paths["/ipc/chat-history"].post.requestBody).toMatchObject({ required: false, content: { "application/json": { schema: {} } } });
    // the event plugin's emit commands, for chat-message (pages may emit it) and not announcement.
    const emit = openapi.paths[`/ipc/${encodeURIComponent("plugin:event|emit")}`].post;
    expect(JSON.stringify(emit.requestBody)).toContain('"const":"chat-message"');
    expect(JSON.stringify(emit.requestBody)).not.toContain("announcement");
  });

  test("400 is the declared errors schema (else any JSON); the gateway's rejections are GatewayErrors by kind", () => {
    const divide = openapi.paths["/ipc/divide"].post.responses;
    expect(divide["400"].content["application/json"].schema.anyOf[0]).toEqual({ $ref: "#/components/schemas/DivideError" });
    expect(JSON.stringify(divide["500"])).toContain("invalid-error");
    expect(openapi.paths["/ipc/greet"].post.responses["400"].content["application/json"].schema).toEqual({});
    expect(openapi.paths["/ipc/greet"].post.responses["422"].content["application/json"].schema).toEqual({
      allOf: [{ $ref: "#/components/schemas/GatewayError" }, { properties: { kind: { enum: ["invalid-body"] } } }],
    });
    expect(openapi.components.schemas.GatewayError).toMatchObject({ required: ["kind", "message"], properties: { kind: { enum: Object.keys(ERROR_STATUS) } } });
    expect(openapi.components.responses.Timeout.content["application/json"].schema.allOf[1].properties.kind.enum).toEqual(["timeout"]);
  });

  test("$refs point into components.schemas; x-channel fields are the wire's __CHANNEL__:<id>", () => {
    const text = JSON.stringify(openapi);
    expect(text).not.toContain("#/$defs/");
    for (const ref of text.match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? []) {
      expect(openapi.components.schemas[ref.slice("\"$ref\":\"#/components/schemas/".length, -1)]).toBeDefined();
    }
    expect(openapi.components.schemas.User.properties.email).toEqual({ $ref: "#/components/schemas/Email" });
    expect(openapi.components.schemas.DownloadBody.properties.onProgress).toMatchObject({
      type: "string",
      pattern: "^__CHANNEL__:(\\d{1,15})$",
      "x-channel": "progress",
    });
    expect(openapi.paths["/ipc/download"].post.parameters).toContainEqual({ $ref: "#/components/parameters/GatewayPage" });
  });
});

describe("the example app's AsyncAPI document", () => {
  test("is valid AsyncAPI 3.0 for @asyncapi/parser: no errors, no warnings", async () => {
    expect(asyncapi.asyncapi).toBe("3.0.0");
    const { problems, parsed } = await asyncParsed;
    expect(problems).toEqual([]);
    expect(parsed).toBeDefined();
    expect(parsed!.servers().all().map((s) => [s.protocol(), s.host()])).toEqual([["ws", "127.0.0.1:1430"]]);
  });

  test("every event and every channel is there, with its frames and operations", async () => {
    const { parsed } = await asyncParsed;
    const channels = parsed!.channels();
    for (const [name, event] of buildCatalog(example).events) {
      const channel = Object.values(asyncapi.channels as Json).find((c: Json) => c["x-event"] === name) as Json;
      expect(channel).toBeDefined();
      expect(channel.address).toBe("/ipc/ws");
      const frame = asyncapi.components.messages[channel.messages.event.$ref.split("/").pop()];
      expect(frame.payload.properties).toMatchObject({ type: { const: "event" }, event: { const: name }, payload: { $ref: `#/components/schemas/${(event.payload as { name: string }).name}` } });
      // Pages may emit only what `from` allows.
      expect(channel.messages.emit !== undefined).toBe(event.from.includes("frontend"));
      expect(channel.messages.listen).toBeDefined();
    }
    expect(Object.values(asyncapi.channels as Json).filter((c: Json) => c["x-event"]).length).toBe(example.events.size);
    for (const name of example.channels.keys()) {
      const key = Object.keys(asyncapi.channels).find((k) => asyncapi.channels[k]["x-channel"] === name)!;
      expect(Object.keys(asyncapi.channels[key].messages)).toEqual(["message", "end"]);
      const messages = channels.get(key)!.messages().all().map((m) => m.payload()?.json() as Json);
      expect(messages.map((p) => p.properties.type.const)).toEqual(["channel", "channel-end"]);
      expect(messages[0]!.properties.message).toMatchObject({ type: "object", required: ["step", "of", "percent"] }); // ProgressMessage, dereferenced
    }
    // The gateway's operations: it sends hello, events and channel frames; it receives invoke frames and replies.
    const operations = parsed!.operations();
    expect(operations.get("sendHello")!.action()).toBe("send");
    expect(operations.get("receiveInvoke")!.action()).toBe("receive");
    expect(operations.get("receiveInvoke")!.reply()!.messages().all().map((m) => m.id())).toEqual(["reply", "replyBytes"]);
    expect(operations.get("sendChatMessageEvent")!.action()).toBe("send");
    expect(operations.get("receiveChatMessageEmit")!.action()).toBe("receive");
    expect(operations.get("receiveAnnouncementEmit")).toBeUndefined();
    expect(operations.get("sendProgressChannel")!.action()).toBe("send");
    expect(JSON.stringify(asyncapi)).not.toContain("#/$defs/");
  });
});

describe("the schemas are what the gateway really answers", () => {
  let gw: Gateway;
  let url: string;
  let ajv: Ajv2020;
  beforeAll(async () => {
    gw = await createGateway({ config: EXAMPLE, env: ENV, logger: memoryLogger() });
    ({ url } = await gw.listen({ port: 0 }));
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: "urn:ipc-gateway:openapi", components: { schemas: openapi.components.schemas } });
  });
  afterAll(async () => gw?.close());

  const schemaOf = (response: Json): Json => (response.$ref ? openapi.components.responses[response.$ref.split("/").pop()] : response).content["application/json"].schema;
  /** Whether a value satisfies a schema of the document (its $refs resolved against components), or ajv's complaint. */
  const matches = (schema: Json, value: unknown): true | string => {
    const rooted = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"urn:ipc-gateway:openapi#/components/'));
    const check = ajv.compile(rooted);
    return check(value) || ajv.errorsText(check.errors);
  };
  const call = async (cmd: string, body: unknown) => {
    const res = await fetch(`${url}/ipc/${encodeURIComponent(cmd)}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, value: await res.json(), tauri: res.headers.get("tauri-response") };
  };

  test("values, InvokeError values and rejections match their responses' schemas", async () => {
    const greet = await call("greet", { name: "Ada" });
    expect(greet.tauri).toBe("ok");
    expect(matches(schemaOf(openapi.paths["/ipc/greet"].post.responses["200"]), greet.value)).toBe(true);
    const divide = await call("divide", { a: 1, b: 0 });
    expect(divide.status).toBe(400);
    expect(matches(schemaOf(openapi.paths["/ipc/divide"].post.responses["400"]), divide.value)).toBe(true);
    const invalid = await call("greet", { name: 3 });
    expect(invalid.status).toBe(422);
    expect(matches(schemaOf(openapi.paths["/ipc/greet"].post.responses["422"]), invalid.value)).toBe(true);
    expect(matches(schemaOf(openapi.paths["/ipc/greet"].post.responses["500"]), invalid.value)).not.toBe(true); // kinds are per status
    const unknown = await call("nope", {});
    expect(unknown.status).toBe(404);
    expect(matches(schemaOf(openapi.paths["/ipc/greet"].post.responses["404"]), unknown.value)).toBe(true);
    // A body with a Channel: what @tauri-apps/api sends for one is what the schema takes.
    const download = openapi.components.schemas.DownloadBody;
    expect(matches(download, { steps: 2, onProgress: "__CHANNEL__:7" })).toBe(true);
    expect(matches(download, { steps: 2, onProgress: { id: 7 } })).not.toBe(true);
  });

  test("GET /__gateway/openapi.json and /__gateway/asyncapi.json serve them, naming the address they listen on", async () => {
    const served = (await (await fetch(`${url}/__gateway/openapi.json`)).json()) as Json;
    expect(served.servers).toEqual([{ url }]);
    expect({ ...served, servers: undefined }).toEqual({ ...openapi, servers: undefined });
    const servedAsync = (await (await fetch(`${url}/__gateway/asyncapi.json`)).json()) as Json;
    expect(servedAsync.servers.gateway.host).toBe(url.slice("http://".length));
    expect({ ...servedAsync, servers: undefined }).toEqual({ ...asyncapi, servers: undefined });
    expect(await openApiProblems(served)).toEqual([]);
  });
});

test("with server.token: bearer security in both, the routes need it, and the token is in neither", async () => {
  const gw = await createGateway({ config: EXAMPLE, env: { ...ENV, GATEWAY_TOKEN: "s3cret-token" }, logger: memoryLogger() });
  try {
    const { url } = await gw.listen({ port: 0 });
    expect((await fetch(`${url}/__gateway/openapi.json`)).status).toBe(401);
    const auth = { authorization: "Bearer s3cret-token" };
    const openText = await (await fetch(`${url}/__gateway/openapi.json`, { headers: auth })).text();
    const asyncText = await (await fetch(`${url}/__gateway/asyncapi.json`, { headers: auth })).text();
    expect(openText + asyncText).not.toContain("s3cret-token");
    const open = JSON.parse(openText) as Json;
    expect(open.security).toEqual([{ bearer: [] }]);
    expect(open.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(open.paths["/ipc/greet"].post.responses["401"]).toEqual({ $ref: "#/components/responses/Unauthorized" });
    const async = JSON.parse(asyncText) as Json;
    expect(async.servers.gateway.security).toHaveLength(2);
    expect(async.channels.socket.bindings.ws.query.properties.token).toBeDefined();
    expect(await openApiProblems(open)).toEqual([]);
    expect((await asyncApiProblems(async)).problems).toEqual([]);
  } finally {
    await gw.close();
  }
});

describe("with auth:, capabilities: and limits:", () => {
  const CI = "ci-token-0123456789";
  const files = {
    "gateway.yaml": `version: 1
auth:
  tokens:
    ci: { token: ${CI}, roles: [bot] }
  jwt:
    secret: \${JWT_SECRET}
    cookie: session
capabilities:
  public:
    principals: [anonymous]
    commands: { allow: [hello] }
  users:
    principals: ["*"]
    commands: { allow: [hello, save] }
    events: { emit: [chat] }
  admins:
    principals: [role:admin]
    windows: [admin]
    origins: [http://localhost:5173]
    commands: { allow: ["*"] }
  no-purge:
    commands: { deny: [purge] }
limits:
  saves: { commands: [save], per: principal, rate: 1/m }
commands:
  hello: { handler: h.ts }
  save: { handler: h.ts }
  purge: { handler: h.ts }
events:
  chat: { from: [frontend] }
`,
    "h.ts": "export default () => 'done';\n",
  };
  const env = { JWT_SECRET: "a-secret-of-at-least-32-bytes-long!!" };
  let app: ReturnType<typeof tempApp>;
  let open: Json;
  let async: Json;
  beforeAll(async () => {
    app = tempApp(files);
    ({ openapi: open, asyncapi: async } = documentsOf(await generationOf(app.path("gateway.yaml"), env)));
  });
  afterAll(() => app?.remove());
  const operation = (cmd: string) => open.paths[`/ipc/${encodeURIComponent(cmd)}`].post;

  test("valid for both parsers; bearer (JWT) and the cookie as security schemes", async () => {
    expect(await openApiProblems(open)).toEqual([]);
    expect((await asyncApiProblems(async)).problems).toEqual([]);
    expect(open.components.securitySchemes).toEqual({
      bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: expect.stringContaining("a static token of auth.tokens or a JWT") },
      cookie: { type: "apiKey", in: "cookie", name: "session", description: expect.any(String) },
    });
    expect(open.security).toBeUndefined(); // per operation
    expect(Object.keys(async.components.securitySchemes)).toEqual(["bearer", "queryToken", "cookie"]);
    expect(async.components.securitySchemes.cookie).toMatchObject({ type: "httpApiKey", in: "cookie", name: "session" });
    expect(async.servers.gateway.security).toHaveLength(3);
    expect(async.channels.socket.bindings.ws.query.properties.token).toBeDefined();
  });

  test("per operation: security (optional where an anonymous caller may call), x-capabilities, and why in words", () => {
    const credential = [{ bearer: [] }, { cookie: [] }];
    expect(operation("hello").security).toEqual([...credential, {}]);
    expect(operation("save").security).toEqual(credential);
    expect(operation("purge").security).toEqual(credential);
    expect(operation("hello")["x-capabilities"]).toEqual(["public", "users", "admins"]);
    expect(operation("save")["x-capabilities"]).toEqual(["users", "admins"]);
    expect(operation("purge")["x-capabilities"]).toEqual(["admins"]);
    expect(operation("save").description).toContain("Allowed by capabilities `users` (*), `admins` (role:admin; windows admin; origins http://localhost:5173); other callers get 403 forbidden.");
    expect(operation("purge").description).toContain("Denied by `no-purge` (*), which wins over any allow.");
    expect(operation("save").description).toContain("Limit `saves`: 1/m per principal, bursts of 1; past it 429 rate-limited with Retry-After.");
    // The event plugin's emit: who may emit is decided per event, so a credential is optional.
    expect(operation("plugin:event|emit").security).toEqual([...credential, {}]);
    expect(JSON.stringify(operation("plugin:event|emit").responses["403"])).toContain("events.emit");
  });

  test("401 with WWW-Authenticate, 403 forbidden, 429 with Retry-After where a limit counts the command; each what the gateway answers", async () => {
    for (const cmd of ["hello", "save", "purge"]) {
      expect(operation(cmd).responses["401"]).toEqual({ $ref: "#/components/responses/Unauthorized" });
      expect(operation(cmd).responses["403"]).toEqual({ $ref: "#/components/responses/Forbidden" });
    }
    expect(operation("save").responses["429"]).toEqual({ $ref: "#/components/responses/RateLimited" });
    expect(operation("hello").responses["429"]).toBeUndefined();
    const { Unauthorized, Forbidden, RateLimited } = open.components.responses;
    expect(Unauthorized.headers["WWW-Authenticate"]).toEqual({ $ref: "#/components/headers/WWWAuthenticate" });
    expect(RateLimited.headers["Retry-After"]).toEqual({ $ref: "#/components/headers/RetryAfter" });
    expect(open.components.headers.RetryAfter.schema).toEqual({ type: "integer", minimum: 1 });
    expect(Forbidden.content["application/json"].schema.allOf[1].properties.kind.enum).toEqual(["forbidden", "forbidden-origin", "forbidden-host"]);

    const gw = await createGateway({ config: app.path("gateway.yaml"), env, logger: memoryLogger() });
    try {
      const { url } = await gw.listen({ port: 0 });
      const ajv = new Ajv2020({ strict: false });
      ajv.addSchema({ $id: "urn:ipc-gateway:access", components: { schemas: open.components.schemas } });
      const check = (response: Json, value: unknown) => {
        const schema = JSON.parse(JSON.stringify(response.content["application/json"].schema).replaceAll('"#/components/', '"urn:ipc-gateway:access#/components/'));
        const validate = ajv.compile(schema);
        return validate(value) || ajv.errorsText(validate.errors);
      };
      const post = (cmd: string, headers: Record<string, string>) => fetch(`${url}/ipc/${cmd}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
      const ci = { authorization: `Bearer ${CI}` };

      const refused = await post("hello", { authorization: "Bearer not-a-token" });
      expect([refused.status, refused.headers.get("www-authenticate")]).toEqual([401, 'Bearer realm="ipc-gateway"']);
      expect(check(Unauthorized, await refused.json())).toBe(true);
      const forbidden = await post("purge", ci);
      expect(forbidden.status).toBe(403);
      expect(check(Forbidden, await forbidden.json())).toBe(true);
      expect((await post("save", ci)).status).toBe(200);
      const limited = await post("save", ci);
      expect(limited.status).toBe(429);
      const value = (await limited.json()) as Json;
      expect(check(RateLimited, value)).toBe(true);
      expect(Number(limited.headers.get("retry-after"))).toBe(Math.max(1, Math.ceil(value.retryAfter / 1000)));
      expect(value).toMatchObject({ kind: "rate-limited", limit: "saves", retryAfter: expect.any(Number) });
      expect(check(Forbidden, value)).not.toBe(true); // kinds are per status
    } finally {
      await gw.close();
    }
  });
});

test("odd apps stay valid: encoded names, a clashing GatewayError, draft-07 tuples, binary channels, port 0, windows", async () => {
  const app = tempApp({
    "gateway.yaml": `version: 1
server: { port: 0 }
commands:
  "ns/sub:cmd":
    handler: h.ts
    body: { $schema: "http://json-schema.org/draft-07/schema#", type: array, items: [{ type: string }, { type: number }], additionalItems: false }
    returns: { title: GatewayError, type: object, properties: { code: { type: string } } }
    windows: [main]
  stream:
    handler: h.ts
    body: { x-channel: bytes }
    errors:
      - code: gone
channels:
  bytes:
    message: binary
events:
  "a/b":
    from: [frontend]
  "a:b": {}
`,
    "h.ts": "export default () => null;\n",
  });
  try {
    const generation = await generationOf(app.path("gateway.yaml"));
    const { openapi: open, asyncapi: async } = documentsOf(generation);
    expect(await openApiProblems(open)).toEqual([]);
    expect((await asyncApiProblems(async)).problems).toEqual([]);
    const odd = open.paths["/ipc/ns%2Fsub%3Acmd"].post;
    expect(odd.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/GatewayError" });
    expect(odd.responses["422"].content["application/json"].schema.allOf[0]).toEqual({ $ref: "#/components/schemas/IpcGatewayError" });
    expect(JSON.stringify(odd.responses["403"])).toContain("not-allowed");
    expect(odd["x-windows"]).toEqual(["main"]);
    expect(open.components.schemas.NsSubCmdBody).toMatchObject({ prefixItems: [{ type: "string" }, { type: "number" }], items: false });
    expect(async.components.schemas.NsSubCmdBody).toMatchObject({ items: [{ type: "string" }, { type: "number" }], additionalItems: false });
    expect(open.components.schemas.StreamBody).toMatchObject({ type: "string", "x-channel": "bytes" });
    expect(open.servers).toEqual([{ url: "http://127.0.0.1:{port}", variables: { port: expect.objectContaining({ default: "1430" }) } }]);
    const bytes = Object.values(async.channels as Json).find((c: Json) => c["x-channel"] === "bytes") as Json;
    expect(async.components.messages[bytes.messages.message.$ref.split("/").pop()].contentType).toBe("application/octet-stream");
    // Two events whose names make one key are two channels.
    expect(Object.values(async.channels as Json).filter((c: Json) => c["x-event"]).map((c: Json) => c["x-event"]).sort()).toEqual(["a/b", "a:b"]);
  } finally {
    app.remove();
  }
});

describe("gateway docs (the real bin)", () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "gw-docs-"));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test("--out writes both documents from the manifest alone", async () => {
    const result = await runGateway(["docs", "--out", out, "--config", EXAMPLE], { env: { PORT: "1430", GATEWAY_TOKEN: "" } });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `wrote ${join(out, "openapi.json")} (OpenAPI 3.1, ${example.commands.size} commands)\nwrote ${join(out, "asyncapi.json")} (AsyncAPI 3.0, 2 events, 1 channel)\n`,
    );
    expect(JSON.parse(readFileSync(join(out, "openapi.json"), "utf8"))).toEqual(openapi);
    expect(JSON.parse(readFileSync(join(out, "asyncapi.json"), "utf8"))).toEqual(asyncapi);
  });

  test("without --out: docs/api beside the manifest, without running handlers; a broken manifest exits 1 with its mistakes", async () => {
    // The handler is never run: describing the API runs none of the app's code.
    const app = tempApp({ "gateway.yaml": "version: 1\ncommands:\n  hi:\n    handler: h.ts\n", "h.ts": "throw new Error('ran the handler module');\nexport default () => 'hi';\n" });
    try {
      const result = await runGateway(["docs"], { cwd: app.dir });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("wrote docs/api/openapi.json (OpenAPI 3.1, 1 command)");
      expect(JSON.parse(app.read("docs/api/openapi.json")).paths["/ipc/hi"]).toBeDefined();
      expect(JSON.parse(app.read("docs/api/asyncapi.json")).asyncapi).toBe("3.0.0");
      app.write("gateway.yaml", "version: 1\ncommands:\n  hi:\n    handler: nope.ts\n");
      const broken = await runGateway(["docs"], { cwd: app.dir });
      expect(broken.code).toBe(1);
      expect(broken.stderr).toContain("gateway.yaml:4:14: handler file not found: nope.ts");
      expect((await runGateway(["--help"])).stdout).toMatch(/^ {2}docs +write the API's OpenAPI and AsyncAPI documents/m);
    } finally {
      app.remove();
    }
  });
});

describe("hostile text, __proto__ and recursion in the documents", () => {
  // The folder names the documents (info.title); a newline and U+2028 in it are only text.
  const FOLDER = "api\nglobalThis.pwned = 1;\u2028x";
  const files = {
    [`${FOLDER}/gateway.yaml`]: `version: 1
commands:
  odd:
    handler: h.ts
    body: body.json
    returns: { $ref: "body.json#/properties/list" }
events:
  note:
    payload: { description: "ends */ here\\u2028and \\u2029 there", type: string, enum: ["a\\u2028b"] }
    from: [frontend]
`,
    [`${FOLDER}/h.ts`]: "export default () => ({ value: 1 });\n",
    [`${FOLDER}/body.json`]: JSON.stringify({
      type: "object",
      description: "line\u2028break */ and \u2029",
      properties: {
        // Spread from JSON.parse: an own key named __proto__, as a schema file holds it.
        ...JSON.parse('{ "__proto__": { "type": "number" } }'),
        "a\u2028b": { const: "x\u2028y" },
        list: { title: "Cell", type: "object", properties: { value: { type: "number" }, next: { $ref: "#/properties/list" } }, required: ["value"] },
      },
    }),
  };

  test("OpenAPI and AsyncAPI keep a __proto__ property and a recursive schema, stay valid, and carry the text as it is", async () => {
    const app = tempApp(files);
    try {
      const generation = await generationOf(app.path(`${FOLDER}/gateway.yaml`));
      const { openapi: open, asyncapi: async } = documentsOf(generation);
      expect(await openApiProblems(open)).toEqual([]);
      // @asyncapi/parser itself copies objects by assignment, which takes a __proto__ key for the
      // prototype (it then sees OddBody.properties.type = "number"): it checks the rest.
      const { __proto__: _, ...others } = async.components.schemas.OddBody.properties;
      const forParser = structuredClone(async);
      forParser.components.schemas.OddBody.properties = others;
      expect((await asyncApiProblems(forParser)).problems).toEqual([]);
      for (const document of [open, async]) {
        const body = document.components.schemas.OddBody;
        expect(Object.keys(body.properties)).toEqual(["__proto__", "a\u2028b", "list"]);
        expect(body.properties.__proto__).toEqual({ type: "number" });
        expect(body.description).toBe("line\u2028break */ and \u2029");
        expect(document.components.schemas.Cell.properties.next).toEqual({ $ref: "#/components/schemas/Cell" });
        expect(document.info.title).toBe(FOLDER);
      }
      // The recursive schema validates as the gateway does: ajv compiles it from the document.
      const ajv = new Ajv2020({ strict: false });
      ajv.addSchema({ $id: "urn:ipc-gateway:odd", components: { schemas: open.components.schemas } });
      const cell = ajv.compile({ $ref: "urn:ipc-gateway:odd#/components/schemas/Cell" });
      expect([cell({ value: 1, next: { value: 2, next: { value: 3 } } }), cell({ value: 1, next: { value: "two" } })]).toEqual([true, false]);
    } finally {
      app.remove();
    }
  });

  test("served and written: U+2028 and U+2029 escaped in the files, the documents equal; a normal call after", async () => {
    const app = tempApp(files);
    const gw = await createGateway({ config: app.path(`${FOLDER}/gateway.yaml`), logger: memoryLogger() });
    try {
      const { url } = await gw.listen({ port: 0 });
      const served = await fetch(`${url}/__gateway/openapi.json`);
      expect(served.status).toBe(200);
      const servedJson = (await served.json()) as Json;
      const result = await runGateway(["docs", "--config", app.path(`${FOLDER}/gateway.yaml`), "--out", app.path("out")]);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      const written = app.read("out/openapi.json");
      expect(written).not.toMatch(/[\u2028\u2029]/);
      expect(written).toContain("line\\u2028break */ and \\u2029");
      expect({ ...JSON.parse(written), servers: undefined }).toEqual({ ...servedJson, servers: undefined });
      expect(JSON.parse(app.read("out/asyncapi.json")).components.schemas.OddBody.properties.__proto__).toEqual({ type: "number" });
      expect(await gw.invoke("odd", { list: { value: 1, next: { value: 2 } } })).toEqual({ value: 1 });
    } finally {
      await gw.close();
      app.remove();
    }
  });
});

test("a $ref loop that reads no data: gateway docs exits 1 naming it, without a stack", async () => {
  const app = tempApp({ "gateway.yaml": "version: 1\ncommands:\n  pair:\n    handler: h.ts\n    body: a.json\n", "h.ts": "export default () => null;\n", "a.json": '{ "$ref": "b.json" }', "b.json": '{ "$ref": "a.json" }' });
  try {
    const result = await runGateway(["docs"], { cwd: app.dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('a.json:1:3: body of command "pair": $ref "b.json" leads back here (through b.json $ref "a.json") without going into a property or an item: validation would never end\n');
    expect(existsSync(app.path("docs/api/openapi.json"))).toBe(false);
  } finally {
    app.remove();
  }
});
