// The manifest's schemas as one catalog of named definitions, for what describes the API from the
// manifest alone (frontend types, OpenAPI, AsyncAPI, the dev console). Each schema the manifest
// uses, and each schema a `$ref` reaches (in any file), becomes one definition with one name;
// inside definitions every `$ref` is rewritten to `#/$defs/<Name>`, so a consumer only has to map
// that prefix (to `#/components/schemas/`, to a TypeScript type name ...).
//
// Names: a schema's `title`; else, for a `$defs` (or draft-07 `definitions`) entry, its key; else
// for a whole file, its file name; else what it is for (`GreetBody`, `GreetReturns`,
// `DivideError`, `ProgressMessage`, `ChatMessagePayload`). The same schema reached twice is one
// definition; two different schemas wanting one name are told apart by their file
// (`DefsUser`, `OtherUser`), and only then by a number.
import { basename, extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Generation, ValueSpec } from "../runtime/generation.ts";

export type JsonSchema = boolean | { [keyword: string]: unknown };

/** Where a value's type comes from. */
export type Slot =
  | { kind: "binary" }
  /** No schema: any JSON value. */
  | { kind: "any" }
  | { kind: "ref"; name: string };

export interface CatalogCommand {
  name: string;
  body: Slot;
  returns: Slot;
  errors: Slot;
  /** Body properties carrying a Channel ("" for the whole body), by channel name. */
  channelFields: ReadonlyMap<string, string>;
  /**
   * Whether a call may leave the body out: a call without one carries `{}` (Tauri's `invoke`
   * defaults its args to it, and an empty HTTP body means it), so this is whether the body's
   * schema accepts `{}` (no schema: yes; binary: no).
   */
  bodyOptional: boolean;
}

export interface Catalog {
  /** Every named schema, in a stable order (first use); `$ref`s inside are `#/$defs/<Name>`. */
  definitions: Map<string, JsonSchema>;
  commands: Map<string, CatalogCommand>;
  /** Channel name -> its message. */
  channels: Map<string, Slot>;
  /** Event name -> its payload, and who may emit it. */
  events: Map<string, { payload: Slot; from: ("frontend" | "backend")[] }>;
}

/** The prefix every rewritten `$ref` starts with. */
export const DEF_PREFIX = "#/$defs/";

export function buildCatalog(generation: Generation): Catalog {
  const builder = new CatalogBuilder(generation.schemaFiles);
  const commands = new Map<string, CatalogCommand>();
  for (const command of [...generation.commands.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const base = pascal(command.name);
    commands.set(command.name, {
      name: command.name,
      body: builder.slot(command.body, `${base}Body`),
      returns: builder.slot(command.returns, `${base}Returns`),
      errors: builder.slot(command.errors, `${base}Error`),
      channelFields: command.channelFields,
      bodyOptional: acceptsEmptyObject(command.body),
    });
  }
  const channels = new Map<string, Slot>();
  for (const channel of [...generation.channels.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    channels.set(channel.name, builder.slot(channel.message, `${pascal(channel.name)}Message`));
  }
  const events = new Map<string, { payload: Slot; from: ("frontend" | "backend")[] }>();
  for (const event of [...generation.events.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const spec: ValueSpec = event.validate ? { kind: "json", schema: event.schema, ...(event.url ? { url: event.url } : {}) } : { kind: "json" };
    events.set(event.name, { payload: builder.slot(spec, `${pascal(event.name)}Payload`), from: [...event.from].sort() });
  }
  return { definitions: builder.definitions, commands, channels, events };
}

/**
 * Asked of the compiled validator rather than read from the schema: `required` may sit behind a
 * `$ref`, an `allOf` or a `dependentRequired`, and `minProperties` or a `type` refuses `{}` too.
 */
function acceptsEmptyObject(spec: ValueSpec): boolean {
  if (spec.kind === "binary") return false;
  if (spec.schema === undefined) return true;
  // An async schema answers with a promise: not known here, so the body stays required.
  return spec.validate !== undefined && spec.validate({}) === true;
}

/** "chat-message" -> "ChatMessage", "ns/sub:cmd" -> "NsSubCmd", "2fa" -> "_2fa". */
export function pascal(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const joined = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return /^[0-9]/.test(joined) ? `_${joined}` : joined || "Value";
}

class CatalogBuilder {
  readonly definitions = new Map<string, JsonSchema>();
  /** Schema key (document URL + "#" + pointer) -> its definition's name. */
  private readonly names = new Map<string, string>();
  /** Documents by URL: the schema files, and each inline root under its own URL. */
  private readonly documents: Map<string, unknown>;

  constructor(files: ReadonlyMap<string, unknown>) {
    this.documents = new Map(files);
  }

  slot(spec: ValueSpec, fallbackName: string): Slot {
    if (spec.kind === "binary") return { kind: "binary" };
    if (spec.schema === undefined) return { kind: "any" };
    const url = spec.url ?? `urn:ipc-gateway:inline:${fallbackName}`;
    // A file root is its document; an inline one becomes a document of its own.
    const documentUrl = stripHash(url);
    if (!this.documents.has(documentUrl)) this.documents.set(documentUrl, spec.schema);
    return { kind: "ref", name: this.define(documentUrl, "", fallbackName, true) };
  }

  /** The name of the schema at `pointer` in the document at `url`, defining it on first use. */
  private define(url: string, pointer: string, fallbackName: string, isRoot = false): string {
    const key = `${url}#${pointer}`;
    const known = this.names.get(key);
    if (known !== undefined) return known;
    const schema = resolvePointer(this.documents.get(url), pointer);
    const name = this.uniqueName(preferredName(schema, url, pointer, fallbackName, isRoot), url);
    this.names.set(key, name);
    this.definitions.set(name, true); // reserves the name and the order before nested refs are named
    this.definitions.set(name, this.rewrite(schema, url));
    return name;
  }

  /** A copy of `schema` with each `$ref` replaced by `#/$defs/<Name>` of what it points at. */
  private rewrite(schema: unknown, baseUrl: string): JsonSchema {
    const walk = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(walk);
      if (typeof value !== "object" || value === null) return value;
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        // Definitions reached through `$ref` become definitions of their own; the containers go.
        if ((key === "$defs" || key === "definitions") && typeof child === "object") continue;
        if (key === "$id" || key === "$schema") continue;
        setOwn(out, key, key === "$ref" && typeof child === "string" ? this.refTo(child, baseUrl) : walk(child));
      }
      return out;
    };
    if (typeof schema === "boolean") return schema;
    return walk(schema) as JsonSchema;
  }

  private refTo(ref: string, baseUrl: string): string {
    let target: URL;
    try {
      target = new URL(ref, baseUrl.startsWith("urn:") ? `${baseUrl}#` : baseUrl);
    } catch {
      return ref;
    }
    const pointer = decodeURIComponent(target.hash.replace(/^#/, ""));
    target.hash = "";
    // An inline root's own `#/...` refs point into it; it is stored under its URL with the query.
    const documentUrl = baseUrl.startsWith("urn:") && ref.startsWith("#") ? baseUrl : ref.startsWith("#") ? stripHash(baseUrl) : stripQuery(target.href);
    if (!this.documents.has(documentUrl)) return ref; // not a schema we read (an absolute URL, say): left alone
    const fallback = pointer === "" ? pascal(fileStem(documentUrl)) : pascal(pointer.split("/").pop()!);
    return DEF_PREFIX + this.define(documentUrl, pointer, fallback);
  }

  private uniqueName(wanted: string, url: string): string {
    if (!this.definitions.has(wanted)) return wanted;
    const qualified = `${pascal(fileStem(url))}${wanted}`;
    if (!this.definitions.has(qualified)) return qualified;
    for (let i = 2; ; i++) if (!this.definitions.has(`${qualified}${i}`)) return `${qualified}${i}`;
  }
}

/**
 * A schema the manifest names directly (a root) is named for its use unless it has a title; one
 * reached through `$ref` by its title, its `$defs` key, or its file's name.
 */
function preferredName(schema: unknown, url: string, pointer: string, fallback: string, isRoot: boolean): string {
  const title = typeof schema === "object" && schema !== null ? (schema as { title?: unknown }).title : undefined;
  if (typeof title === "string" && title.trim() !== "") return pascal(title);
  if (isRoot) return fallback;
  const segments = pointer.split("/");
  if (segments.length >= 3 && (segments[segments.length - 2] === "$defs" || segments[segments.length - 2] === "definitions")) {
    return pascal(segments[segments.length - 1]!);
  }
  if (pointer === "" && url.startsWith("file:") && !url.includes("?")) return pascal(fileStem(url).replace(/\.(body|returns|errors)$/, ""));
  return fallback;
}

function resolvePointer(document: unknown, pointer: string): unknown {
  if (pointer === "" || pointer === "/") return document;
  let value = document;
  for (const raw of pointer.replace(/^\//, "").split("/")) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    // Own keys only: `#/properties/__proto__` is the property of that name, never Object.prototype.
    value = typeof value === "object" && value !== null && Object.hasOwn(value, segment) ? (value as Record<string, unknown>)[segment] : undefined;
  }
  return value ?? true; // a pointer to nothing: any value (the compiler already refused real mistakes)
}

/**
 * `object[key] = value` that also works for a key named `__proto__` (which assignment would take
 * as the object's prototype, and lose).
 */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

function fileStem(url: string): string {
  if (!url.startsWith("file:")) return "Inline";
  const file = basename(fileURLToPath(stripQuery(url)));
  return file.slice(0, file.length - extname(file).length);
}

function stripHash(url: string): string {
  const hash = url.indexOf("#");
  return hash === -1 ? url : url.slice(0, hash);
}

function stripQuery(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/** The dialect of the catalog's schemas, which catalog.json declares. */
export const CATALOG_SCHEMA = "https://json-schema.org/draft/2020-12/schema";

/**
 * GET /__gateway/catalog.json: the catalog as JSON (what the dev console builds its forms from),
 * a JSON Schema 2020-12 document whose `$defs` hold every definition, so that each
 * `#/$defs/<Name>` resolves in it: `{ $schema, $defs, commands: { <name>: { body, returns,
 * errors, channels } }, channels, events }`, each slot `"binary"`, `null` (any JSON) or
 * `{ "$ref": "#/$defs/<Name>" }`. `commands`, `channels`, `events` and `x-channel` are its own
 * keywords (a strict validator is told of them, as ajv's addVocabulary does).
 */
export function catalogJson(catalog: Catalog): unknown {
  const slot = (s: Slot) => (s.kind === "binary" ? "binary" : s.kind === "any" ? null : { $ref: DEF_PREFIX + s.name });
  return {
    $schema: CATALOG_SCHEMA,
    $defs: Object.fromEntries(catalog.definitions),
    commands: Object.fromEntries(
      [...catalog.commands.values()].map((c) => [
        c.name,
        { body: slot(c.body), returns: slot(c.returns), errors: slot(c.errors), channels: Object.fromEntries(c.channelFields) },
      ]),
    ),
    channels: Object.fromEntries([...catalog.channels].map(([name, s]) => [name, { message: slot(s) }])),
    events: Object.fromEntries([...catalog.events].map(([name, e]) => [name, { payload: slot(e.payload), from: e.from }])),
  };
}
