// The AsyncAPI 3.0 document of the page's WebSocket, `/ipc/ws` (GET /__gateway/asyncapi.json,
// `gateway docs`). It describes the gateway: a `send` operation is a frame the gateway sends to
// pages, a `receive` operation one it receives from them. The socket's own frames (hello, invoke
// and its reply, error, eval) are the channel `socket`; each declared event is a channel
// (`event.<name>`: the event frame the gateway sends to listeners; the listen and, when pages may
// emit it, the emit invocations pages send); each manifest channel is a channel (`channel.<name>`:
// its `channel` and `channel-end` frames). All of them travel on the one socket, so every
// channel's address is /ipc/ws; `x-event` / `x-channel` name the manifest's.
import type { Generation } from "../runtime/generation.ts";
import type { AuthSpec } from "../access/spec.ts";
import { type Catalog, type JsonSchema, type Slot, pascal } from "./catalog.ts";
import {
  accepts,
  type ApiDocumentOptions,
  apiTitle,
  ComponentNames,
  componentSchemas,
  gatewayErrorOf,
  gatewayErrorSchema,
  packageVersion,
  SCHEMA_ERROR_SCHEMA,
  serverAddresses,
  UniqueKeys,
} from "./api-shared.ts";

export const ASYNCAPI_VERSION = "3.0.0";
const REF = "#/components/schemas/";
const ADDRESS = "/ipc/ws";

type Json = Record<string, unknown>;

const SAFE_ID = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const RID = { description: "the page's request id, echoed in the reply", anyOf: [SAFE_ID, { type: "string", maxLength: 128 }] };
/** The call's request id (docs/protocol.md, "Request ids"): the frame's x-request-id header when valid, else made by the gateway. */
const REQUEST_ID = { type: "string", pattern: "^[\\x21-\\x7e]{1,128}$", description: "the call's request id: the frame's x-request-id header when it is 1 to 128 printable ASCII characters, else one the gateway made" };
const HEADERS = {
  type: "object",
  description: "request headers for the handler (lower-cased names)",
  maxProperties: 256,
  additionalProperties: { type: "string", maxLength: 16384 },
};

/** An `invoke` frame for `cmd` with `body`. */
function invokeFrame(cmd: JsonSchema, body: JsonSchema, bodyRequired: boolean): JsonSchema {
  return {
    type: "object",
    required: ["type", "rid", "cmd", ...(bodyRequired ? ["body"] : [])],
    additionalProperties: false,
    properties: { type: { const: "invoke" }, rid: RID, cmd, body, headers: HEADERS },
  };
}

/** The AsyncAPI 3.0 document of `generation`'s WebSocket (whose schemas `catalog` names). */
export function asyncApiDocument(generation: Generation, catalog: Catalog, options: ApiDocumentOptions = {}): Json {
  const names = new ComponentNames(catalog);
  const gatewayError = names.take("GatewayError");
  const schemaError = names.take("SchemaError");
  const eventTarget = names.take("EventTarget");
  const errorRef = REF + gatewayError;
  const tokened = generation.settings.token !== undefined;
  const auth = generation.access?.spec.auth;
  const schemes = securitySchemes(tokened, auth);
  const slotSchema = (slot: Slot): JsonSchema => (slot.kind === "ref" ? { $ref: REF + slot.name } : {});

  const messages: Record<string, Json> = {};
  const channels: Record<string, Json> = {};
  const operations: Record<string, Json> = {};
  const messageKeys = new UniqueKeys();
  const channelKeys = new UniqueKeys();
  const operationKeys = new UniqueKeys();
  /** Adds a message to components.messages; returns its key. */
  const message = (wanted: string, body: Json): string => {
    const key = messageKeys.take(wanted);
    messages[key] = { name: key, ...body };
    return key;
  };
  const refs = (keys: Record<string, string>) => Object.fromEntries(Object.entries(keys).map(([k, m]) => [k, { $ref: `#/components/messages/${m}` }]));
  const channelMessage = (channel: string, key: string) => ({ $ref: `#/channels/${channel}/messages/${key}` });
  const operation = (wanted: string, body: Json) => (operations[operationKeys.take(wanted)] = body);
  const rid = { location: "$message.payload#/rid", description: "an invoke frame's rid, echoed by its reply" };

  // The socket itself.
  const socketMessages = {
    hello: message("Hello", {
      title: "hello",
      summary: "The first frame: the page's id (sent as Gateway-Page with HTTP invocations that carry a Channel).",
      payload: {
        type: "object",
        required: ["type", "page", "window", "generation"],
        properties: { type: { const: "hello" }, page: { type: "string" }, window: { type: "string" }, generation: { type: "integer" } },
      },
    }),
    invoke: message("Invoke", {
      title: "invoke",
      summary: "An invocation through the same pipeline as HTTP, as this page and window.",
      description: "Checked against this schema before any field is used; a refused frame with a sound `rid` is answered with a failed reply (400 bad-request, `field` naming the offending field), otherwise with an error frame.",
      correlationId: rid,
      payload: invokeFrame({ type: "string", minLength: 1, maxLength: 1024, description: "the command" }, { description: "any JSON (absent means {})" }, false),
    }),
    reply: message("Reply", {
      title: "reply",
      summary: "The answer to an invoke frame: its value, or the rejection with its HTTP status.",
      correlationId: rid,
      payload: {
        oneOf: [
          {
            type: "object",
            required: ["type", "rid", "ok", "value"],
            properties: { type: { const: "reply" }, rid: RID, requestId: REQUEST_ID, ok: { const: true }, value: { description: "the command's value" } },
          },
          {
            type: "object",
            required: ["type", "rid", "ok", "status", "error"],
            properties: {
              type: { const: "reply" },
              rid: RID,
              requestId: REQUEST_ID,
              ok: { const: false },
              status: { type: "integer", description: "the HTTP status the rejection has" },
              error: { description: "the handler's InvokeError value (status 400) or a GatewayError" },
            },
          },
        ],
      },
    }),
    replyBytes: message("ReplyBytes", {
      title: "reply (bytes)",
      summary: "A binary value answering an invoke frame.",
      description: "A binary WebSocket frame: [u32 big-endian header length][header JSON][bytes]. The header is `headers`; the bytes are the value.",
      contentType: "application/octet-stream",
      correlationId: { location: "$message.header#/rid", description: "the invoke frame's rid" },
      headers: { type: "object", required: ["type", "rid", "ok"], properties: { type: { const: "reply" }, rid: RID, requestId: REQUEST_ID, ok: { const: true } } },
      payload: { type: "string", format: "binary" },
    }),
    error: message("Error", {
      title: "error",
      summary: "The page sent a frame the gateway cannot use and whose rid it cannot trust.",
      payload: { type: "object", required: ["type", "error"], properties: { type: { const: "error" }, error: gatewayErrorOf(errorRef, ["bad-request"]) } },
    }),
    eval: message("Eval", {
      title: "eval",
      summary: "window.eval(script), from a handler's window.eval().",
      payload: { type: "object", required: ["type", "script"], properties: { type: { const: "eval" }, script: { type: "string" } } },
    }),
  };
  channels.socket = {
    address: ADDRESS,
    title: "The page's WebSocket",
    description:
      "One connection per page (`?window=<label>`, and `?token=` when the gateway has a token or `auth:`). Text frames are JSON objects with a `type`; binary frames are `[u32 big-endian header length][header JSON][bytes]`.",
    messages: refs(socketMessages),
    bindings: {
      ws: {
        method: "GET",
        query: {
          type: "object",
          properties: {
            window: { type: "string", default: "main", description: "the page's window label" },
            ...(tokened ? { token: { type: "string", description: "server.token (browsers cannot set Authorization on a WebSocket)" } } : {}),
            ...(!tokened && schemes.queryToken ? { token: { type: "string", description: "a static token or JWT of auth: (browsers cannot set Authorization on a WebSocket); checked once, at the upgrade" } } : {}),
          },
        },
        bindingVersion: "0.1.0",
      },
    },
  };
  const replyTo = { channel: { $ref: "#/channels/socket" }, messages: [channelMessage("socket", "reply")] };
  operation("sendHello", { action: "send", channel: { $ref: "#/channels/socket" }, summary: "Greet a page that connected", messages: [channelMessage("socket", "hello")] });
  operation("receiveInvoke", {
    action: "receive",
    channel: { $ref: "#/channels/socket" },
    summary: "Invoke a command (any command of the OpenAPI document, and the event plugin's)",
    messages: [channelMessage("socket", "invoke")],
    reply: { channel: { $ref: "#/channels/socket" }, messages: [channelMessage("socket", "reply"), channelMessage("socket", "replyBytes")] },
  });
  operation("sendError", { action: "send", channel: { $ref: "#/channels/socket" }, summary: "Refuse a frame that has no sound rid", messages: [channelMessage("socket", "error")] });
  operation("sendEval", { action: "send", channel: { $ref: "#/channels/socket" }, summary: "Run a script in the page", messages: [channelMessage("socket", "eval")] });

  // Each declared event.
  const target = { $ref: REF + eventTarget };
  for (const [name, event] of catalog.events) {
    const base = pascal(name);
    const key = channelKeys.take(`event.${safeKey(name)}`);
    const payload = slotSchema(event.payload);
    const fromFrontend = event.from.includes("frontend");
    const def = generation.events.get(name);
    const payloadRequired = def !== undefined && !accepts(def.validate, null);
    const own: Record<string, string> = {
      event: message(`${base}Event`, {
        title: `event ${name}`,
        summary: `The event "${name}" delivered to a listener the page registered (who may emit it: ${event.from.join(", ")}).`,
        description: "tauri.js calls runCallback(handler, { event, id, payload }), what @tauri-apps/api's listen expects.",
        payload: {
          type: "object",
          required: ["type", "handler", "event", "id", "payload"],
          properties: {
            type: { const: "event" },
            handler: { ...SAFE_ID, description: "the page's callback id (listen's handler)" },
            event: { const: name },
            id: { ...SAFE_ID, description: "the listener id listen answered" },
            payload,
          },
        },
      }),
      listen: message(`${base}Listen`, {
        title: `listen ${name}`,
        summary: `Register a listener for "${name}" (@tauri-apps/api's listen); the reply's value is the listener id. unlisten takes { event, eventId }.`,
        correlationId: rid,
        payload: invokeFrame(
          { const: "plugin:event|listen" },
          { type: "object", required: ["event", "handler"], properties: { event: { const: name }, target, handler: SAFE_ID } },
          true,
        ),
      }),
    };
    if (fromFrontend) {
      own.emit = message(`${base}Emit`, {
        title: `emit ${name}`,
        summary: `Emit "${name}" from the page (@tauri-apps/api's emit, or emitTo with a target); the reply's value is null, or unknown-event / invalid-payload / event-not-allowed.`,
        correlationId: rid,
        payload: {
          oneOf: [
            invokeFrame(
              { const: "plugin:event|emit" },
              { type: "object", required: ["event", ...(payloadRequired ? ["payload"] : [])], properties: { event: { const: name }, payload } },
              true,
            ),
            invokeFrame(
              { const: "plugin:event|emit_to" },
              {
                type: "object",
                required: ["target", "event", ...(payloadRequired ? ["payload"] : [])],
                properties: { target: { anyOf: [{ type: "string", description: "a window label (AnyLabel)" }, target] }, event: { const: name }, payload },
              },
              true,
            ),
          ],
        },
      });
    }
    channels[key] = {
      address: ADDRESS,
      title: `event ${name}`,
      description: `The event "${name}" on the page's WebSocket. Who may emit it: ${event.from.map((f) => (f === "frontend" ? "pages (emit / emit_to)" : "handlers (app.emit)")).join(" and ")}; any page may listen.`,
      messages: refs(own),
      "x-event": name,
    };
    operation(`send${base}Event`, {
      action: "send",
      channel: { $ref: `#/channels/${key}` },
      summary: `Deliver "${name}" to its listeners`,
      messages: [channelMessage(key, "event")],
    });
    operation(`receive${base}Listen`, {
      action: "receive",
      channel: { $ref: `#/channels/${key}` },
      summary: `A page listens to "${name}"`,
      messages: [channelMessage(key, "listen")],
      reply: replyTo,
    });
    if (fromFrontend) {
      operation(`receive${base}Emit`, {
        action: "receive",
        channel: { $ref: `#/channels/${key}` },
        summary: `A page emits "${name}"`,
        messages: [channelMessage(key, "emit")],
        reply: replyTo,
      });
    }
  }

  // Each manifest channel.
  for (const [name, slot] of catalog.channels) {
    const base = pascal(name);
    const key = channelKeys.take(`channel.${safeKey(name)}`);
    const users = [...catalog.commands.values()].filter((c) => [...c.channelFields.values()].includes(name)).map((c) => c.name);
    const id = { ...SAFE_ID, description: "the Channel's id (its __CHANNEL__:<id> in the body)" };
    const index = { ...SAFE_ID, description: "counts from 0 without gaps" };
    const own: Record<string, string> = {
      message:
        slot.kind === "binary"
          ? message(`${base}ChannelMessage`, {
              title: `channel ${name}`,
              summary: `A message on a "${name}" Channel: bytes the handler sent.`,
              description: "A binary WebSocket frame: [u32 big-endian header length][header JSON][bytes]. The header is `headers`; tauri.js hands the page { message: <bytes>, index }.",
              contentType: "application/octet-stream",
              headers: { type: "object", required: ["type", "channel", "index"], properties: { type: { const: "channel" }, channel: id, index } },
              payload: { type: "string", format: "binary" },
            })
          : message(`${base}ChannelMessage`, {
              title: `channel ${name}`,
              summary: `A message on a "${name}" Channel (tauri.js calls runCallback(channel, { message, index }), what a Channel's onmessage gets).`,
              payload: {
                type: "object",
                required: ["type", "channel", "index", "message"],
                properties: { type: { const: "channel" }, channel: id, index, message: slotSchema(slot) },
              },
            }),
      end: message(`${base}ChannelEnd`, {
        title: `channel-end ${name}`,
        summary: `A "${name}" Channel is closed (the handler returned or called close()); index is the number of messages sent.`,
        payload: { type: "object", required: ["type", "channel", "index"], properties: { type: { const: "channel-end" }, channel: id, index } },
      }),
    };
    channels[key] = {
      address: ADDRESS,
      title: `channel ${name}`,
      description: `Messages of the manifest's channel "${name}" to the page whose Channel a body carried${users.length ? ` (commands: ${users.join(", ")})` : ""}.`,
      messages: refs(own),
      "x-channel": name,
    };
    operation(`send${base}Channel`, {
      action: "send",
      channel: { $ref: `#/channels/${key}` },
      summary: `Stream "${name}" messages to the page's Channel, then its end`,
      messages: [channelMessage(key, "message"), channelMessage(key, "end")],
    });
  }

  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: apiTitle(generation),
      version: packageVersion(),
      description: [
        `The page's WebSocket (${ADDRESS}) of this app's ipc-gateway (docs/protocol.md): its events, its channels and the invoke / reply frames.`,
        "This document describes the gateway: `send` operations are frames it sends to pages, `receive` operations frames pages send it.",
        "The commands themselves are in the OpenAPI document (/__gateway/openapi.json).",
      ].join("\n\n"),
      "x-generator": `ipc-gateway ${packageVersion()}`,
    },
    defaultContentType: "application/json",
    servers: Object.fromEntries(
      serverAddresses(generation, options).map((address, i) => [
        i === 0 ? "gateway" : `gateway${i + 1}`,
        {
          host: address.authority,
          protocol: "ws",
          ...(address.variables ? { variables: Object.fromEntries(Object.entries(address.variables).map(([k, v]) => [k, { default: v.default, description: v.description }])) } : {}),
          ...(Object.keys(schemes).length > 0 ? { security: Object.keys(schemes).map((name) => ({ $ref: `#/components/securitySchemes/${name}` })) } : {}),
        },
      ]),
    ),
    channels,
    operations,
    components: {
      schemas: componentSchemas(catalog, REF, "draft-07", {
        [gatewayError]: gatewayErrorSchema(REF + schemaError),
        [schemaError]: SCHEMA_ERROR_SCHEMA,
        [eventTarget]: {
          description: "Which listeners an event is for (Tauri's EventTarget).",
          oneOf: [
            { type: "object", required: ["kind"], properties: { kind: { enum: ["Any", "App"] } } },
            { type: "object", required: ["kind", "label"], properties: { kind: { enum: ["AnyLabel", "Window", "Webview", "WebviewWindow"] }, label: { type: "string" } } },
          ],
        },
      }),
      messages,
      ...(Object.keys(schemes).length > 0 ? { securitySchemes: schemes } : {}),
    },
  };
}

/**
 * How a page's connection says who it is: server.token, or auth:'s bearer credential (a static
 * token or a JWT) as a header, `?token=` or the JWT cookie; checked once, at the upgrade.
 */
function securitySchemes(tokened: boolean, auth: AuthSpec | undefined): Record<string, Json> {
  if (tokened) {
    return {
      bearer: { type: "http", scheme: "bearer", description: "server.token as `Authorization: Bearer <token>` (clients that can set headers)" },
      queryToken: { type: "httpApiKey", name: "token", in: "query", description: "server.token as `?token=` (browsers)" },
    };
  }
  if (auth === undefined || (auth.tokens.length === 0 && auth.jwt === undefined)) return {};
  const anonymous = " Without a credential the page is anonymous: its capabilities decide what it may call, hear and emit.";
  const schemes: Record<string, Json> = {
    bearer: { type: "http", scheme: "bearer", ...(auth.jwt ? { bearerFormat: "JWT" } : {}), description: `auth: a static token or JWT as \`Authorization: Bearer <credential>\` (clients that can set headers).${anonymous}` },
    queryToken: { type: "httpApiKey", name: "token", in: "query", description: `auth: a static token or JWT as \`?token=\` (browsers).${anonymous}` },
  };
  if (auth.jwt?.cookie !== undefined) schemes.cookie = { type: "httpApiKey", name: auth.jwt.cookie, in: "cookie", description: "auth: the JWT in a cookie (a header or ?token= wins over it)" };
  return schemes;
}

/** A name as a key ($ref-safe: letters, digits, . _ -). */
function safeKey(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}
