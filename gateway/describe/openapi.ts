// The OpenAPI 3.1 document of the HTTP side (GET /__gateway/openapi.json, `gateway docs`): each
// command as `POST /ipc/<percent-encoded name>` with its body, its return value, its handler's
// InvokeError values (400) and the gateway's own rejections under their statuses; the event
// plugin's emit commands when pages may emit some event. Schemas are the catalog's, under
// `#/components/schemas/`. With `auth:`, `capabilities:` and `limits:`: the security schemes
// (bearer, the JWT cookie), each operation's security (optional where an anonymous caller may
// call), the capabilities that allow it (`x-capabilities`), and its 401, 403 forbidden and 429.
import type { AuthSpec } from "../access/spec.ts";
import type { ErrorKind } from "../runtime/errors.ts";
import type { Generation } from "../runtime/generation.ts";
import { type Catalog, type CatalogCommand, type JsonSchema, type Slot, pascal } from "./catalog.ts";
import { accessNotes, anonymousMayCall, commandAccess, limitsOn } from "./access.ts";
import {
  accepts,
  type ApiDocumentOptions,
  apiTitle,
  commandNotes,
  ComponentNames,
  componentSchemas,
  gatewayErrorOf,
  gatewayErrorSchema,
  packageVersion,
  SCHEMA_ERROR_SCHEMA,
  serverAddresses,
  UniqueKeys,
} from "./api-shared.ts";

export const OPENAPI_VERSION = "3.1.0";
const REF = "#/components/schemas/";
const JSON_TYPE = "application/json";
const BYTES_TYPE = "application/octet-stream";
const EMIT = "plugin:event|emit";
const EMIT_TO = "plugin:event|emit_to";

type Json = Record<string, unknown>;

/** The OpenAPI 3.1 document of `generation` (whose schemas `catalog` names). */
export function openApiDocument(generation: Generation, catalog: Catalog, options: ApiDocumentOptions = {}): Json {
  const names = new ComponentNames(catalog);
  const gatewayError = names.take("GatewayError");
  const schemaError = names.take("SchemaError");
  const eventTarget = names.take("EventTarget");
  const errorRef = REF + gatewayError;
  const tokened = generation.settings.token !== undefined;
  const auth = generation.access?.spec.auth;
  const capabilities = generation.access?.capabilities;
  const operationIds = new UniqueKeys();
  const schemes = securitySchemes(tokened, auth);
  /** Each scheme as a requirement (any one of them), for `security`. */
  const credentials = Object.keys(schemes).map((name) => ({ [name]: [] }));

  /** A response whose body is a GatewayError of `kinds`. */
  const rejection = (description: string, kinds: ErrorKind[], tauriHeader = true): Json => ({
    description,
    ...(tauriHeader ? { headers: { "Tauri-Response": { $ref: "#/components/headers/TauriResponseError" } } } : {}),
    content: { [JSON_TYPE]: { schema: gatewayErrorOf(errorRef, kinds) } },
  });
  const responses: Record<string, Json> = {
    Forbidden: rejection("forbidden-origin (an Origin not allowed) or forbidden-host (a Host not this gateway's)", ["forbidden-origin", "forbidden-host"]),
    UnknownCommand: rejection("unknown-command: no command of that name", ["unknown-command"]),
    RequestTimeout: rejection("request-timeout: the request did not arrive within server.requestTimeout; the connection is closed", ["request-timeout"], false),
    PayloadTooLarge: rejection("payload-too-large: the body is over server.bodyLimit; the connection is closed", ["payload-too-large"]),
    UnsupportedMediaType: rejection("unsupported-media-type: a Content-Type other than application/json or application/octet-stream", ["unsupported-media-type"]),
    HeadersTooLarge: rejection("headers-too-large: the headers or the URL are over 16 KiB; the connection is closed", ["headers-too-large"], false),
    Unavailable: rejection(
      "overloaded (server.maxInFlight invocations are running), not-ready (gateway dev waits for broken files to be fixed) or bus-unavailable (Gateway-Page names a page on another instance and Redis is away)",
      ["overloaded", "not-ready", "bus-unavailable"],
    ),
    Timeout: rejection("timeout: the handler did not finish within its time limit", ["timeout"]),
  };
  if (tokened) responses.Unauthorized = unauthorized(rejection("unauthorized: the bearer token is missing or wrong", ["unauthorized"]));
  else if (auth !== undefined) {
    const refused = rejection(
      "unauthorized: a credential was sent and is not valid (an unknown token; a JWT that is expired, not yet valid, badly signed, for another issuer or audience, or that does not allow the calling window); a missing credential is anonymous, never 401" +
        (auth.handler ? ". An auth handler's InvokeError answers 401 with its value as the body." : ""),
      ["unauthorized"],
    );
    if (auth.handler) (refused.content as Json)[JSON_TYPE] = { schema: { anyOf: [gatewayErrorOf(errorRef, ["unauthorized"]), { description: "the auth handler's InvokeError value" }] } };
    responses.Unauthorized = unauthorized(refused);
  }
  if (capabilities !== undefined) {
    responses.Forbidden = rejection(
      "forbidden (no capability allows this caller, in this window, from this origin, to call it; or one denies it), forbidden-origin (an Origin not allowed) or forbidden-host (a Host not this gateway's)",
      ["forbidden", "forbidden-origin", "forbidden-host"],
    );
  }
  if (generation.access?.spec.limits.length) {
    const limited = rejection("rate-limited: past a `limits:` budget; `retryAfter` (ms) and the Retry-After header (s) say when the next call would pass", ["rate-limited"]);
    limited.headers = { ...(limited.headers as Json), "Retry-After": { $ref: "#/components/headers/RetryAfter" } };
    responses.RateLimited = limited;
  }

  /** The responses every invocation may get besides its own. */
  const common = (): Json => ({
    ...(responses.Unauthorized ? { "401": { $ref: "#/components/responses/Unauthorized" } } : {}),
    "404": { $ref: "#/components/responses/UnknownCommand" },
    "408": { $ref: "#/components/responses/RequestTimeout" },
    "413": { $ref: "#/components/responses/PayloadTooLarge" },
    "415": { $ref: "#/components/responses/UnsupportedMediaType" },
    "431": { $ref: "#/components/responses/HeadersTooLarge" },
    "503": { $ref: "#/components/responses/Unavailable" },
    "504": { $ref: "#/components/responses/Timeout" },
  });
  const ok = (description: string, content: Json): Json => ({
    description,
    headers: { "Tauri-Response": { $ref: "#/components/headers/TauriResponseOk" } },
    content,
  });

  const paths: Record<string, Json> = {};
  for (const command of catalog.commands.values()) {
    const def = generation.commands.get(command.name);
    const windows = def?.windows !== undefined;
    const access = commandAccess(generation, command.name);
    const limited = limitsOn(generation, command.name).length > 0;
    const forbidden: ErrorKind[] = [...(windows ? (["not-allowed"] as const) : []), ...(capabilities ? (["forbidden"] as const) : []), "forbidden-origin", "forbidden-host"];
    const bodyRequired = def?.body.kind === "binary" || (def?.body.kind === "json" && !accepts(def.body.validate, {}));
    const operation: Json = {
      operationId: operationIds.take(camel(command.name)),
      summary: `Invoke ${command.name}`,
      description: [
        "Tauri's `invoke` over HTTP. A handler's `throw new InvokeError(value)` answers 400 with `value` as the body.",
        ...commandNotes(generation, command.name),
        ...accessNotes(generation, command.name),
      ].join("\n\n"),
      tags: ["commands"],
      parameters: [
        { $ref: "#/components/parameters/GatewayWindow" },
        ...(command.channelFields.size ? [{ $ref: "#/components/parameters/GatewayPage" }] : []),
      ],
      requestBody: requestBody(command.body, bodyRequired),
      responses: {
        "200": ok(command.returns.kind === "binary" ? "the bytes the handler returned" : "the handler's return value (`undefined` is `null`)", returnsContent(command.returns)),
        "400": {
          description:
            command.errors.kind === "ref"
              ? `the handler's InvokeError value (${command.errors.name}), or the gateway's bad-request (a body that cannot be read)`
              : "the handler's InvokeError value (any JSON: the command declares no `errors:`), or the gateway's bad-request",
          headers: { "Tauri-Response": { $ref: "#/components/headers/TauriResponseError" } },
          content: { [JSON_TYPE]: { schema: invokeErrorSchema(command, errorRef) } },
        },
        "403": windows
          ? rejection(`not-allowed (the calling window may not call it), ${capabilities ? "forbidden (no capability allows this caller to call it, or one denies it), " : ""}forbidden-origin or forbidden-host`, forbidden)
          : { $ref: "#/components/responses/Forbidden" },
        ...(command.body.kind === "ref" ? { "422": rejection("invalid-body: the body does not match its schema (`errors` holds the first mismatch)", ["invalid-body"]) } : {}),
        "500": rejection(
          command.errors.kind === "ref"
            ? "internal (the handler threw), invalid-return (its value does not match `returns` or cannot be sent as JSON) or invalid-error (its InvokeError value does not match `errors`)"
            : "internal (the handler threw) or invalid-return (its value does not match `returns` or cannot be sent as JSON)",
          command.errors.kind === "ref" ? ["internal", "invalid-return", "invalid-error"] : ["internal", "invalid-return"],
        ),
        ...(limited ? { "429": { $ref: "#/components/responses/RateLimited" } } : {}),
        ...common(),
      },
      ...(credentials.length > 0 && !tokened ? { security: anonymousMayCall(generation, command.name) ? [...credentials, {}] : credentials } : {}),
      "x-command": command.name,
      ...(access ? { "x-capabilities": access.allowedBy.map((c) => c.name) } : {}),
      ...(def ? { "x-timeout": def.timeoutMs } : {}),
      ...(def?.windows ? { "x-windows": [...def.windows] } : {}),
    };
    paths[`/ipc/${encodeURIComponent(command.name)}`] = { post: operation };
  }

  // The event plugin's emit commands, for the events pages may emit.
  const emittable = [...catalog.events].filter(([, event]) => event.from.includes("frontend"));
  if (emittable.length) {
    for (const [cmd, targeted] of [
      [EMIT, false],
      [EMIT_TO, true],
    ] as const) {
      const variants = emittable.map(([name, event]) => {
        const def = generation.events.get(name);
        const payloadRequired = def !== undefined && !accepts(def.validate, null);
        const properties: Json = { event: { const: name }, payload: slotSchema(event.payload) };
        if (targeted) properties.target = { anyOf: [{ type: "string", description: "a window label (AnyLabel)" }, { $ref: REF + eventTarget }] };
        return {
          type: "object",
          title: `${name}`,
          required: [...(targeted ? ["target"] : []), "event", ...(payloadRequired ? ["payload"] : [])],
          properties,
        };
      });
      paths[`/ipc/${encodeURIComponent(cmd)}`] = {
        post: {
          operationId: operationIds.take(camel(cmd)),
          summary: targeted ? "Emit an event to some listeners" : "Emit an event to every listener",
          description: `The event plugin's \`${cmd}\`, as \`@tauri-apps/api\`'s \`${targeted ? "emitTo" : "emit"}\` sends it, for the events pages may emit (\`from\` includes frontend). Listeners get it on their WebSocket (the AsyncAPI document); \`listen\` and \`unlisten\` need a page's WebSocket too.`,
          tags: ["events"],
          parameters: [{ $ref: "#/components/parameters/GatewayWindow" }],
          requestBody: { required: true, content: { [JSON_TYPE]: { schema: variants.length === 1 ? variants[0] : { oneOf: variants } } } },
          responses: {
            "200": ok("emitted", { [JSON_TYPE]: { schema: { type: "null" } } }),
            "400": rejection("bad-request: the arguments are not the event plugin's (`field` names the offending one)", ["bad-request"]),
            "403": rejection(
              `event-not-allowed (pages may not emit it${capabilities ? ", or no capability's events.emit lets this caller emit it" : ""}), forbidden-origin or forbidden-host`,
              ["event-not-allowed", "forbidden-origin", "forbidden-host"],
            ),
            "404": rejection("unknown-event: the manifest declares no such event", ["unknown-event"]),
            "422": rejection("invalid-payload: the payload does not match the event's schema", ["invalid-payload"]),
            "500": rejection("internal", ["internal"]),
            ...Object.fromEntries(Object.entries(common()).filter(([status]) => status !== "404")),
          },
          // Who may emit is decided per event (events.emit), not per operation: a credential is optional here.
          ...(credentials.length > 0 && !tokened ? { security: [...credentials, {}] } : {}),
          "x-command": cmd,
        },
      };
    }
  }

  const own: Record<string, JsonSchema> = {
    [gatewayError]: gatewayErrorSchema(REF + schemaError),
    [schemaError]: SCHEMA_ERROR_SCHEMA,
  };
  if (emittable.length) {
    own[eventTarget] = {
      description: "Which listeners an event is for (Tauri's EventTarget).",
      oneOf: [
        { type: "object", required: ["kind"], properties: { kind: { enum: ["Any", "App"] } } },
        { type: "object", required: ["kind", "label"], properties: { kind: { enum: ["AnyLabel", "Window", "Webview", "WebviewWindow"] }, label: { type: "string" } } },
      ],
    };
  }

  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: apiTitle(generation),
      version: packageVersion(),
      description: [
        "The commands of this app's gateway.yaml, as ipc-gateway serves them: Tauri's IPC protocol over HTTP (docs/protocol.md).",
        "A command is `POST /ipc/<percent-encoded name>` with a JSON body (an empty body means `{}`) or bytes, answered with `Tauri-Response: ok` and its value, or `Tauri-Response: error` and a rejection: the handler's InvokeError value (400) or a GatewayError `{ kind, message, ... }` under its status.",
        "Events, channels and the WebSocket's frames are in the AsyncAPI document (/__gateway/asyncapi.json).",
        ...(auth !== undefined || capabilities !== undefined
          ? ["Who may call what (`auth:`, `capabilities:`, `limits:`): each operation's `security`, its `x-capabilities` (the capabilities that allow it) and its description; the model is in ipc-gateway's docs/security.md."]
          : []),
      ].join("\n\n"),
      "x-generator": `ipc-gateway ${packageVersion()}`,
    },
    servers: serverAddresses(generation, options).map((address) => ({
      url: `http://${address.authority}`,
      ...(address.variables ? { variables: address.variables } : {}),
    })),
    ...(tokened ? { security: [{ bearer: [] }] } : {}),
    tags: [
      { name: "commands", description: "The manifest's commands" },
      ...(emittable.length ? [{ name: "events", description: "The event plugin's commands" }] : []),
    ],
    paths,
    components: {
      schemas: componentSchemas(catalog, REF, "2020-12", own),
      responses,
      parameters: {
        GatewayWindow: {
          name: "Gateway-Window",
          in: "header",
          required: false,
          description: "The calling window's label (what `windows:` restrictions and event targets see).",
          schema: { type: "string", default: "main" },
        },
        GatewayPage: {
          name: "Gateway-Page",
          in: "header",
          required: true,
          description: "The page id from the WebSocket's hello frame: the page whose Channel the body carries. Honoured only from the Origin the page connected from.",
          schema: { type: "string" },
        },
      },
      headers: {
        TauriResponseOk: { description: "`ok`: the body is the command's value", schema: { type: "string", const: "ok" } },
        TauriResponseError: { description: "`error`: the body is the rejection value", schema: { type: "string", const: "error" } },
        ...(responses.Unauthorized ? { WWWAuthenticate: { description: "the scheme the gateway wants: `Bearer`", schema: { type: "string" } } } : {}),
        ...(responses.RateLimited ? { RetryAfter: { description: "whole seconds (at least 1) until a call would pass; the body's `retryAfter` has the milliseconds", schema: { type: "integer", minimum: 1 } } } : {}),
      },
      ...(credentials.length > 0 ? { securitySchemes: schemes } : {}),
    },
  };
}

/** A 401 response with the WWW-Authenticate header the gateway sends on every 401. */
function unauthorized(response: Json): Json {
  return { ...response, headers: { ...(response.headers as Json), "WWW-Authenticate": { $ref: "#/components/headers/WWWAuthenticate" } } };
}

/**
 * How a caller proves who it is: server.token, or auth:'s bearer credential (static tokens and
 * JWTs) and the JWT cookie. An auth handler reads what it likes: described in words only.
 */
function securitySchemes(tokened: boolean, auth: AuthSpec | undefined): Record<string, Json> {
  if (tokened) {
    return {
      bearer: {
        type: "http",
        scheme: "bearer",
        description: "server.token: `Authorization: Bearer <token>` on /ipc/* and /__gateway/*.json (the WebSocket also takes `?token=`).",
      },
    };
  }
  if (auth === undefined) return {};
  const schemes: Record<string, Json> = {};
  const kinds = [...(auth.tokens.length > 0 ? ["a static token of auth.tokens"] : []), ...(auth.jwt ? ["a JWT signed with auth.jwt's key"] : [])];
  if (kinds.length > 0) {
    schemes.bearer = {
      type: "http",
      scheme: "bearer",
      // A hint to clients (OpenAPI: "primarily for documentation"); static tokens, when listed too, are opaque.
      ...(auth.jwt ? { bearerFormat: "JWT" } : {}),
      description: `\`Authorization: Bearer <credential>\`: ${kinds.join(" or ")} (the WebSocket also takes \`?token=\`). Without a credential the caller is anonymous.${auth.handler ? " auth.handler is asked when no token or JWT matches." : ""}`,
    };
  }
  if (auth.jwt?.cookie !== undefined) {
    schemes.cookie = { type: "apiKey", in: "cookie", name: auth.jwt.cookie, description: "the JWT in a cookie (Authorization wins over it)" };
  }
  return schemes;
}

/** A value's JSON schema: a component, or any JSON. */
function slotSchema(slot: Slot): JsonSchema {
  return slot.kind === "ref" ? { $ref: REF + slot.name } : {};
}

function requestBody(body: Slot, required: boolean): Json {
  if (body.kind === "binary") {
    return { description: "raw bytes (the handler receives a Uint8Array)", required: true, content: { [BYTES_TYPE]: {} } };
  }
  return {
    description: body.kind === "ref" ? "the body (an empty body means `{}`)" : "any JSON (the command declares no body schema; an empty body means `{}`)",
    required,
    content: { [JSON_TYPE]: { schema: slotSchema(body) } },
  };
}

function returnsContent(returns: Slot): Json {
  if (returns.kind === "binary") return { [BYTES_TYPE]: {} };
  // Without a schema, a handler may return bytes as well as any JSON.
  if (returns.kind === "any") return { [JSON_TYPE]: { schema: {} }, [BYTES_TYPE]: {} };
  return { [JSON_TYPE]: { schema: slotSchema(returns) } };
}

/** 400: the handler's InvokeError value (its declared schema, or any JSON) or the gateway's bad-request. */
function invokeErrorSchema(command: CatalogCommand, errorRef: string): JsonSchema {
  if (command.errors.kind !== "ref") return {};
  return { anyOf: [{ $ref: REF + command.errors.name }, gatewayErrorOf(errorRef, ["bad-request"])] };
}

/** "save-user" -> "saveUser", "plugin:event|emit" -> "pluginEventEmit". */
function camel(name: string): string {
  const p = pascal(name);
  return p.startsWith("_") ? p : p[0]!.toLowerCase() + p.slice(1);
}
