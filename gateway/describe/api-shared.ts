// What the OpenAPI and AsyncAPI documents share: their info (title, version), where the gateway
// is reached, the GatewayError schema, and the catalog's schemas turned into each format's
// dialect (`$ref`s to the format's components, `x-channel` fields described as the strings the
// wire carries).
import { basename, dirname } from "node:path";
import { isIP } from "node:net";
import { CHANNEL_WIRE } from "../config/schemas.ts";
import { ERROR_STATUS, type ErrorKind } from "../runtime/errors.ts";
import type { Generation } from "../runtime/generation.ts";
import { DEF_PREFIX, setOwn, type Catalog, type JsonSchema } from "./catalog.ts";

/** Where a served document says the gateway is: the addresses it listens on. */
export interface ApiDocumentOptions {
  /**
   * The addresses the gateway listens on (a running gateway's). Without them: the manifest's
   * `server.host` and `server.port` (a port of 0 becomes a `{port}` variable).
   */
  addresses?: readonly { host: string; port: number }[];
}

export { packageVersion } from "../config/package-info.ts";

/** The app's name: the manifest's folder. */
export function apiTitle(generation: Generation): string {
  return basename(dirname(generation.manifestFile)) || "ipc-gateway app";
}

type Variables = Record<string, { default: string; description: string }>;

/** One address of the gateway, as URL parts; unknown parts are `{host}` / `{port}` variables. */
export interface ServerAddress {
  /** host:port, IPv6 in brackets, possibly with `{host}` / `{port}`. */
  authority: string;
  variables?: Variables;
}

export function serverAddresses(generation: Generation, options: ApiDocumentOptions): ServerAddress[] {
  const listed = options.addresses?.length ? options.addresses : [{ host: generation.settings.host, port: generation.settings.port }];
  const seen = new Set<string>();
  const out: ServerAddress[] = [];
  for (const { host, port } of listed) {
    const variables: Variables = {};
    let shownHost = isIP(host) === 6 ? `[${host}]` : host;
    if (host === "0.0.0.0" || host === "::" || host === "[::]") {
      shownHost = "{host}";
      variables.host = { default: "localhost", description: `the gateway binds ${host}: any name of its machine` };
    }
    let shownPort = String(port);
    if (port === 0) {
      shownPort = "{port}";
      variables.port = { default: "1430", description: "server.port is 0: the port is picked when the gateway starts" };
    }
    const authority = `${shownHost}:${shownPort}`;
    if (seen.has(authority)) continue;
    seen.add(authority);
    out.push(Object.keys(variables).length ? { authority, variables } : { authority });
  }
  return out;
}

/** Names of components the documents add, kept apart from the catalog's names. */
export class ComponentNames {
  private readonly taken: Set<string>;
  constructor(catalog: Catalog) {
    this.taken = new Set(catalog.definitions.keys());
  }
  take(wanted: string): string {
    let name = this.taken.has(wanted) ? `Ipc${wanted}` : wanted;
    for (let i = 2; this.taken.has(name); i++) name = `Ipc${wanted}${i}`;
    this.taken.add(name);
    return name;
  }
}

/** Identifiers unique within one document (operation ids, message keys). */
export class UniqueKeys {
  private readonly taken = new Set<string>();
  take(wanted: string): string {
    let key = wanted;
    for (let i = 2; this.taken.has(key); i++) key = `${wanted}${i}`;
    this.taken.add(key);
    return key;
  }
}

export const ERROR_KINDS = Object.keys(ERROR_STATUS) as ErrorKind[];

/** The gateway's own rejection, `{ kind, message, ...fields }` (docs/protocol.md, the error table). */
export function gatewayErrorSchema(schemaErrorRef: string): JsonSchema {
  const text = { type: "string" };
  return {
    type: "object",
    description:
      "A rejection by the gateway itself (not a handler's InvokeError): `kind` names it, `message` explains it; the other fields depend on the kind (docs/protocol.md, the error table).",
    required: ["kind", "message"],
    properties: {
      kind: { type: "string", enum: ERROR_KINDS },
      message: text,
      command: { ...text, description: "the command invoked" },
      errors: { type: "array", items: { $ref: schemaErrorRef }, description: "the schema mismatch (invalid-body, invalid-return, invalid-error, invalid-payload)" },
      field: { ...text, description: "bad-request: the offending field, as a JSON pointer" },
      limit: { type: ["number", "string"], description: "the limit exceeded (bytes, milliseconds or invocations); rate-limited: the name of the `limits:` entry" },
      retryAfter: { type: "integer", minimum: 0, description: "rate-limited: milliseconds until a call would pass (the Retry-After header has whole seconds)" },
      window: { ...text, description: "not-allowed: the calling window's label" },
      origin: { ...text, description: "forbidden-origin: the refused Origin" },
      host: { ...text, description: "forbidden-host: the refused Host" },
      event: { ...text, description: "the event emitted" },
      from: { ...text, description: "event-not-allowed: the side that may not emit it" },
      action: { enum: ["listen", "emit"], description: "event-not-allowed by a capability: what the caller may not do with the event" },
      channel: { ...text, description: "the channel a message was for" },
      mistakes: { type: "array", items: text, description: "not-ready: path:line:col: message, one per mistake" },
    },
  };
}

/** One schema mismatch, as much of ajv's error as the gateway sends. */
export const SCHEMA_ERROR_SCHEMA: JsonSchema = {
  type: "object",
  description: "One schema mismatch (ajv's error object).",
  required: ["instancePath", "keyword", "message", "params"],
  properties: {
    instancePath: { type: "string", description: "JSON pointer of the offending value" },
    keyword: { type: "string" },
    message: { type: "string" },
    params: { type: "object" },
  },
};

/** A GatewayError whose kind is one of `kinds`. */
export function gatewayErrorOf(ref: string, kinds: readonly ErrorKind[]): JsonSchema {
  return { allOf: [{ $ref: ref }, { properties: { kind: { enum: [...kinds] } } }] };
}

/** The wire form of a page's Channel in a body. */
export const CHANNEL_PATTERN = CHANNEL_WIRE.source;

export function channelFieldSchema(channel: string, rest: Record<string, unknown>): Record<string, unknown> {
  return {
    ...rest,
    type: "string",
    pattern: CHANNEL_PATTERN,
    description:
      typeof rest.description === "string"
        ? rest.description
        : `A Channel of channel "${channel}": the page's Channel as Tauri sends it ("__CHANNEL__:<id>"). Its messages come on the page's WebSocket (the AsyncAPI document).`,
    "x-channel": channel,
  };
}

type Dialect = "2020-12" | "draft-07";

const SCHEMA_MAPS = new Set(["properties", "patternProperties", "dependentSchemas", "$defs", "definitions"]);
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const SCHEMA_SINGLES = new Set([
  "additionalProperties",
  "additionalItems",
  "unevaluatedItems",
  "unevaluatedProperties",
  "not",
  "if",
  "then",
  "else",
  "contains",
  "propertyNames",
  "contentSchema",
]);

/**
 * A catalog schema for a document: `#/$defs/<Name>` becomes `refPrefix + Name`, an
 * `{ "x-channel": "<name>" }` becomes the string the wire carries (with the extension kept), and
 * the keywords that differ between JSON Schema 2020-12 (OpenAPI 3.1) and draft-07 (AsyncAPI 3.0's
 * schema format) are written in the dialect's spelling (tuples, dependencies, `$ref` siblings).
 * Values (`const`, `enum`, `default`, `examples`) are left as they are.
 */
export function convertSchema(schema: JsonSchema, refPrefix: string, dialect: Dialect): JsonSchema {
  const walk = (value: unknown): unknown => {
    if (typeof value === "boolean") return value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return value; // not a schema: left alone
    const source = value as Record<string, unknown>;
    let out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(source)) {
      // Object.fromEntries and setOwn: a property named __proto__ stays a property.
      let converted: unknown = child;
      if (key === "$ref" && typeof child === "string") converted = child.startsWith(DEF_PREFIX) ? refPrefix + child.slice(DEF_PREFIX.length) : child;
      else if (SCHEMA_MAPS.has(key) && isRecord(child)) converted = Object.fromEntries(Object.entries(child).map(([k, v]) => [k, walk(v)]));
      else if (SCHEMA_LISTS.has(key) && Array.isArray(child)) converted = child.map(walk);
      else if (SCHEMA_SINGLES.has(key) || (key === "items" && !Array.isArray(child))) converted = walk(child);
      else if (key === "items") converted = (child as unknown[]).map(walk);
      else if (key === "dependencies" && isRecord(child)) converted = Object.fromEntries(Object.entries(child).map(([k, v]) => [k, Array.isArray(v) ? v : walk(v)]));
      setOwn(out, key, converted);
    }
    out = dialect === "2020-12" ? to2020(out) : toDraft07(out);
    const channel = out["x-channel"];
    if (typeof channel === "string") {
      const { "x-channel": _, ...rest } = out;
      return channelFieldSchema(channel, rest);
    }
    return out;
  };
  // A components entry is an object: `true` is any value, `false` none.
  if (schema === true) return {};
  if (schema === false) return { not: {} };
  return walk(schema) as JsonSchema;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** draft-07 spellings in 2020-12's. */
function to2020(schema: Record<string, unknown>): Record<string, unknown> {
  const out = { ...schema };
  if (Array.isArray(out.items)) {
    out.prefixItems = out.items;
    delete out.items;
    if (out.additionalItems !== undefined) out.items = out.additionalItems;
    delete out.additionalItems;
  }
  if (isRecord(out.dependencies)) {
    const required: Record<string, unknown> = {};
    const schemas: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(out.dependencies)) setOwn(Array.isArray(v) ? required : schemas, k, v);
    delete out.dependencies;
    if (Object.keys(required).length) out.dependentRequired = { ...required, ...(isRecord(out.dependentRequired) ? out.dependentRequired : {}) };
    if (Object.keys(schemas).length) out.dependentSchemas = { ...schemas, ...(isRecord(out.dependentSchemas) ? out.dependentSchemas : {}) };
  }
  return out;
}

/** 2020-12 spellings in draft-07's (what draft-07 cannot say, e.g. unevaluatedProperties, stays as an annotation). */
function toDraft07(schema: Record<string, unknown>): Record<string, unknown> {
  let out = { ...schema };
  if (Array.isArray(out.prefixItems)) {
    if (out.items !== undefined) out.additionalItems = out.items;
    out.items = out.prefixItems;
    delete out.prefixItems;
  }
  if (isRecord(out.dependentRequired) || isRecord(out.dependentSchemas)) {
    out.dependencies = {
      ...(isRecord(out.dependencies) ? out.dependencies : {}),
      ...(isRecord(out.dependentRequired) ? out.dependentRequired : {}),
      ...(isRecord(out.dependentSchemas) ? out.dependentSchemas : {}),
    };
    delete out.dependentRequired;
    delete out.dependentSchemas;
  }
  // draft-07 ignores a $ref's siblings; allOf keeps them in force.
  if (typeof out.$ref === "string" && Object.keys(out).some((k) => k !== "$ref" && !k.startsWith("x-") && k !== "description" && k !== "title")) {
    const { $ref, ...rest } = out;
    out = { ...rest, allOf: [{ $ref }, ...(Array.isArray(rest.allOf) ? (rest.allOf as unknown[]) : [])] };
  }
  return out;
}

/** The catalog's definitions converted, plus the documents' own (GatewayError, SchemaError). */
export function componentSchemas(catalog: Catalog, refPrefix: string, dialect: Dialect, own: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, schema] of catalog.definitions) schemas[name] = convertSchema(schema, refPrefix, dialect);
  return { ...schemas, ...own };
}

/**
 * Whether a validator accepts `value` (is a body or payload required?). A validator that throws
 * accepts nothing: describing the API must not fail because of one schema.
 */
export function accepts(validate: ((value: unknown) => unknown) | undefined, value: unknown): boolean {
  if (validate === undefined) return true;
  try {
    return validate(value) === true;
  } catch {
    return false;
  }
}

/** What a command's timeout, windows and channels add to its description. */
export function commandNotes(generation: Generation, name: string): string[] {
  const def = generation.commands.get(name);
  if (!def) return [];
  const notes = [`Time limit: ${def.timeoutMs} ms (then 504 timeout).`];
  if (def.windows) notes.push(`Only windows ${[...def.windows].map((w) => `\`${w}\``).join(", ")} may call it (Gateway-Window); others get 403 not-allowed.`);
  if (def.channelFields.size) {
    const fields = [...def.channelFields].map(([field, channel]) => `${field === "" ? "the body" : `\`${field}\``} (channel \`${channel}\`)`);
    notes.push(`Carries a Channel in ${fields.join(", ")}: send Gateway-Page, the page id of the WebSocket's hello frame.`);
  }
  return notes;
}
