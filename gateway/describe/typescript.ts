// TypeScript from the manifest (`gateway types`): one file for the frontend (a type per schema,
// typed wrappers over the official @tauri-apps/api) and, on request, the declarations that type
// handlers (`Invoke<"greet">`, `Handler<"greet">`) by augmenting ipc-gateway's `Commands`.
//
// Why from the catalog (describe/catalog.ts) rather than json-schema-to-typescript: that tool
// converts one schema at a time and names what it meets as it goes, so across a manifest
//  - a definition reached through `$ref` from two schemas is emitted twice, the second copy as
//    `Point1` (and a third as `Point2`), with names that change when the order of files does;
//  - a `title` renames the definition it sits on everywhere, so a shared definition can get a
//    name that belongs to one of its uses, or two definitions can collide;
//  - names are chosen per schema, not for the whole manifest, so `greet`'s body and `divide`'s
//    error cannot be named for their use (`GreetBody`, `DivideError`);
//  - it knows nothing of the gateway's `{ "x-channel": ... }` fields (a `Channel<Message>` on the
//    frontend, the gateway's `Channel` in handlers) or of `binary` bodies and returns.
// The catalog already names every schema once for the whole manifest, with every `$ref` rewritten
// to `#/$defs/<Name>`; turning one definition into a TypeScript type is then a small walk.
import { dirname, relative } from "node:path";
import { ERROR_STATUS } from "../runtime/errors.ts";
import { DEF_PREFIX, type Catalog, type CatalogCommand, type JsonSchema, type Slot } from "./catalog.ts";
import { commentText, docLines, propertyKey, stringLiteral } from "./code-text.ts";

/** Where the generated code runs: the page (@tauri-apps/api) or the handlers (ipc-gateway). */
type Side = "frontend" | "handlers";

export interface GenerateOptions {
  /** The manifest's path, named in the file's header (relative to the output file's folder). */
  manifestFile: string;
  /** Where the file will be written (for the header's relative path). */
  outFile: string;
}

/**
 * Type names the generated files use themselves (imports, helpers, globals): a definition that
 * wants one gets a suffix instead (`Result` -> `ResultType`).
 */
const RESERVED = new Set([
  "Array",
  "ArrayBuffer",
  "Awaited",
  "Channel",
  "CommandError",
  "CommandName",
  "CommandTypes",
  "EventCallback",
  "EventName",
  "EventOptions",
  "EventTarget",
  "EventTypes",
  "GatewayError",
  "GatewayErrorKind",
  "HandlerCommands",
  "InvokeArgs",
  "InvokeOptions",
  "Promise",
  "Record",
  "Result",
  "Uint8Array",
  "UnlistenFn",
]);

/** The frontend file: every definition, `commands`, `results`, `events` over @tauri-apps/api. */
export function frontendTypes(catalog: Catalog, options: GenerateOptions): string {
  const types = new TypeWriter(catalog, "frontend");
  const out: string[] = [header(options, "gateway types"), ""];
  const commands = [...catalog.commands.values()];
  const events = [...catalog.events];
  const emitted = events.filter(([, e]) => e.from.includes("frontend"));

  // Imports: only what is used (a strict tsconfig may refuse unused ones).
  const definitions = types.definitions();
  const core = commands.length > 0 ? ["invoke", "type InvokeArgs", "type InvokeOptions"] : [];
  if (types.usesChannel) core.push("type Channel");
  if (core.length > 0) out.push(`import { ${core.join(", ")} } from "@tauri-apps/api/core";`);
  if (events.length > 0) {
    const event = ["listen", "once", ...(emitted.length > 0 ? ["emit", "emitTo", "type EventTarget"] : []), "type EventCallback", "type Options as EventOptions", "type UnlistenFn"];
    out.push(`import { ${event.join(", ")} } from "@tauri-apps/api/event";`);
  }
  out.push("");
  if (definitions) out.push("// The manifest's schemas, one type each.", "", definitions);

  out.push(
    "// What the gateway itself rejects with (an unknown command, a body its schema refuses, a timeout ...).",
    "",
    `export type GatewayErrorKind =\n${Object.keys(ERROR_STATUS).map((k) => `  | ${stringLiteral(k)}`).join("\n")};`,
    "",
    "/** A rejection from the gateway itself (not from a handler's `InvokeError`). */",
    "export type GatewayError = {",
    "  kind: GatewayErrorKind;",
    "  message: string;",
    "  /** rate-limited: milliseconds until a call would pass (the Retry-After header has whole seconds). */",
    "  retryAfter?: number;",
    "  [field: string]: unknown;",
    "};",
    "",
    "/** tauri-specta's Result: what `results.<command>()` resolves with instead of rejecting. */",
    'export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };',
    "",
  );

  // Commands.
  out.push(
    "/**",
    " * Every command: its body, what it resolves with, and what its handler may reject with",
    " * (`errors:` in the manifest; `unknown` when it declares none).",
    " */",
    `export interface CommandTypes {${commands.length === 0 ? "}" : ""}`,
  );
  if (commands.length > 0) {
    for (const c of commands) {
      out.push(`  ${propertyKey(c.name)}: { body: ${types.slot(c.body, "body")}; returns: ${types.slot(c.returns, "returns")}; error: ${types.slot(c.errors, "error")} };`);
    }
    out.push("}");
  }
  out.push(
    "",
    "export type CommandName = keyof CommandTypes;",
    "",
    "/** What `commands.<name>()` rejects with: the command's declared errors, or the gateway's own. */",
    'export type CommandError<C extends CommandName> = CommandTypes[C]["error"] | GatewayError;',
    "",
  );
  if (commands.length === 0) out.push("/** The manifest declares no commands. */", "export const commands = {};", "", "export const results = {};", "");
  else commandWrappers(out, commands, types);

  // Events.
  if (events.length > 0) {
    out.push("/** Every event the manifest declares, by name: its payload. */", "export interface EventTypes {");
    for (const [name, e] of events) out.push(`  ${propertyKey(name)}: ${types.slot(e.payload, "payload")};`);
    out.push("}", "");
    const eventKeys = memberKeys(events.map(([name]) => name));
    out.push("/** Each event: `listen` and `once` (from @tauri-apps/api/event); `emit` and `emitTo` where pages may emit it (`from`). */");
    out.push("export const events = {");
    for (const [name, e] of events) {
      const payload = types.slot(e.payload, "payload");
      const n = stringLiteral(name);
      const arg = e.payload.kind === "any" ? "payload?: unknown" : `payload: ${payload}`;
      out.push(
        `  /** \`${commentText(name)}\` (emitted by ${e.from.join(" and ")}). */`,
        `  ${eventKeys.get(name)}: {`,
        `    listen: (handler: EventCallback<${payload}>, options?: EventOptions): Promise<UnlistenFn> => listen<${payload}>(${n}, handler, options),`,
        `    once: (handler: EventCallback<${payload}>, options?: EventOptions): Promise<UnlistenFn> => once<${payload}>(${n}, handler, options),`,
      );
      if (e.from.includes("frontend")) {
        out.push(
          `    emit: (${arg}): Promise<void> => emit(${n}, payload),`,
          `    emitTo: (target: EventTarget | string, ${arg}): Promise<void> => emitTo(target, ${n}, payload),`,
        );
      }
      out.push("  },");
    }
    out.push("};", "");
  } else {
    out.push("/** The manifest declares no events. */", "export interface EventTypes {}", "", "export const events = {};", "");
  }
  return out.join("\n");
}

function commandWrappers(out: string[], commands: CatalogCommand[], types: TypeWriter): void {
  const keys = memberKeys(commands.map((c) => c.name));
  // A body the command may go without is an optional parameter (`commands.listTodos()`): the call
  // then passes undefined, which invoke() turns into `{}`, exactly what the schema was asked about.
  const params = (c: CatalogCommand) => `body${c.bodyOptional ? "?" : ""}: ${types.slot(c.body, "body")}, options?: InvokeOptions`;
  out.push("/** Each command, invoked with `invoke` from @tauri-apps/api/core: resolves with its return value, rejects with `CommandError<name>`. */");
  out.push("export const commands = {");
  for (const c of commands) {
    out.push(
      `  /** Invokes \`${commentText(c.name)}\`; rejects with \`CommandError<${commentText(stringLiteral(c.name))}>\`. */`,
      `  ${keys.get(c.name)}: (${params(c)}): Promise<${types.slot(c.returns, "returns")}> => invokeCommand(${stringLiteral(c.name)}, body, options),`,
    );
  }
  out.push("};", "", "/** Each command, resolving with a `Result` (tauri-specta's shape) instead of rejecting. */");
  out.push("export const results = {");
  for (const c of commands) {
    const key = keys.get(c.name)!;
    out.push(
      `  ${key}: (${params(c)}): Promise<Result<${types.slot(c.returns, "returns")}, CommandError<${stringLiteral(c.name)}>>> =>`,
      `    settle(commands${key.startsWith('"') ? `[${key}]` : `.${key}`}(body, options)),`,
    );
  }
  out.push(
    "};",
    "",
    "function invokeCommand<T>(cmd: string, body: unknown, options: InvokeOptions | undefined): Promise<T> {",
    "  // The gateway takes any JSON value as a body (a string, an array ...), not only Tauri's InvokeArgs.",
    "  return invoke<T>(cmd, body as InvokeArgs, options);",
    "}",
    "",
    "async function settle<T, E>(promise: Promise<T>): Promise<Result<T, E>> {",
    "  try {",
    '    return { status: "ok", data: await promise };',
    "  } catch (error) {",
    '    return { status: "error", error: error as E };',
    "  }",
    "}",
    "",
  );
}

/**
 * The handlers' declarations: every definition as handlers see it (`Channel` from ipc-gateway,
 * `Uint8Array` for binary bodies) and the augmentation of ipc-gateway's `Commands`, which gives
 * `Invoke<"greet">` and `Handler<"greet">` their meaning.
 */
export function handlerDeclarations(catalog: Catalog, options: GenerateOptions): string {
  const types = new TypeWriter(catalog, "handlers");
  const definitions = types.definitions();
  const commands = [...catalog.commands.values()];
  const out: string[] = [
    header(options, "gateway types --handlers"),
    "// Include it in the handlers' TypeScript program (tsconfig \"include\"): then Invoke<\"greet\">",
    "// is the body of command greet, Handler<\"greet\"> checks what the handler returns, and",
    "// new InvokeError<\"greet\">(value) takes only what greet's errors: schema allows.",
    "",
  ];
  if (types.usesChannel) out.push('import type { Channel } from "ipc-gateway";', "");
  if (definitions) out.push(definitions);
  out.push("/** Each command's body, what its handler returns, and what its InvokeError may carry (`errors:`). */");
  out.push(`export interface HandlerCommands {${commands.length === 0 ? "}" : ""}`);
  for (const c of commands) {
    out.push(`  ${propertyKey(c.name)}: { body: ${types.slot(c.body, "body")}; returns: ${types.slot(c.returns, "returns")}; error: ${types.slot(c.errors, "error")} };`);
  }
  if (commands.length > 0) out.push("}");
  out.push("", 'declare module "ipc-gateway" {', "  interface Commands extends HandlerCommands {}", "}", "");
  return out.join("\n");
}

function header(options: GenerateOptions, command: string): string {
  // The path as it is, but on one line: a folder name may hold a newline (see code-text.ts).
  const manifest = commentText(relative(dirname(options.outFile), options.manifestFile).split("\\").join("/") || options.manifestFile);
  const option = command.endsWith("--handlers") ? "--handlers" : "--types";
  return [
    `// Generated by \`${command}\` from ${manifest}: do not edit. Run it again (or keep`,
    `// \`gateway dev ${option} <file>\` running) after changing the manifest or a schema.`,
    "/* eslint-disable */",
  ].join("\n");
}

/** A rendered type and how tightly it binds (for parentheses). */
interface Rendered {
  text: string;
  /** 0: a union, 1: an intersection, 2: anything that needs no parentheses. */
  prec: 0 | 1 | 2;
}

const UNKNOWN: Rendered = { text: "unknown", prec: 2 };
const NEVER: Rendered = { text: "never", prec: 2 };
const prim = (text: string): Rendered => ({ text, prec: 2 });

class TypeWriter {
  /** Catalog names -> TypeScript names (the same, but for reserved ones). */
  private readonly names = new Map<string, string>();
  usesChannel = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly side: Side,
  ) {
    const taken = new Set(catalog.definitions.keys());
    for (const name of catalog.definitions.keys()) {
      if (!RESERVED.has(name)) {
        this.names.set(name, name);
        continue;
      }
      let candidate = `${name}Type`;
      for (let i = 2; taken.has(candidate) || RESERVED.has(candidate); i++) candidate = `${name}Type${i}`;
      taken.add(candidate);
      this.names.set(name, candidate);
    }
  }

  /** Every definition as `export type Name = ...;`, with its description as JSDoc. */
  definitions(): string {
    const blocks: string[] = [];
    for (const [name, schema] of this.catalog.definitions) {
      blocks.push(`${jsDoc(schema, "")}export type ${this.names.get(name)} = ${this.type(schema, "").text};\n`);
    }
    return blocks.join("\n");
  }

  /** A command's body / returns / error, a channel's message or an event's payload. */
  slot(slot: Slot, role: "body" | "returns" | "error" | "message" | "payload"): string {
    if (slot.kind === "ref") return this.names.get(slot.name) ?? slot.name;
    if (slot.kind === "any") return "unknown";
    // Bytes, as each side sees them.
    if (this.side === "frontend") return role === "body" ? "Uint8Array | ArrayBuffer | number[]" : "ArrayBuffer";
    return role === "body" ? "Uint8Array" : "Uint8Array | ArrayBuffer";
  }

  private type(schema: JsonSchema | unknown, indent: string): Rendered {
    if (schema === true || schema === undefined) return UNKNOWN;
    if (schema === false) return NEVER;
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return UNKNOWN;
    const s = schema as Record<string, unknown>;

    const channel = s["x-channel"];
    if (typeof channel === "string") {
      this.usesChannel = true;
      const message = this.catalog.channels.get(channel);
      return prim(`Channel<${message ? this.slot(message, "message") : "unknown"}>`);
    }

    const parts: Rendered[] = [];
    if (typeof s.$ref === "string") {
      const name = s.$ref.startsWith(DEF_PREFIX) ? this.names.get(s.$ref.slice(DEF_PREFIX.length)) : undefined;
      parts.push(name ? prim(name) : UNKNOWN);
    }
    if ("const" in s) parts.push(literal(s.const, indent));
    else if (Array.isArray(s.enum)) parts.push(union(s.enum.map((v) => literal(v, indent))));
    else {
      const base = this.byType(s, indent);
      if (base) parts.push(base);
    }
    if (Array.isArray(s.allOf)) for (const sub of s.allOf) parts.push(this.type(sub, indent));
    for (const key of ["anyOf", "oneOf"] as const) {
      const list = s[key];
      if (Array.isArray(list)) parts.push(union(list.map((sub) => this.type(sub, indent))));
    }
    let result = intersection(parts);
    if (s.nullable === true) result = union([result, prim("null")]);
    return result;
  }

  /** What `type` says (or, without it, what object or array keywords imply); undefined: no constraint. */
  private byType(s: Record<string, unknown>, indent: string): Rendered | undefined {
    let types: unknown[];
    if (typeof s.type === "string") types = [s.type];
    else if (Array.isArray(s.type)) types = s.type;
    else if (["properties", "required", "additionalProperties", "patternProperties", "unevaluatedProperties"].some((k) => k in s)) types = ["object"];
    else if (["items", "prefixItems", "additionalItems"].some((k) => k in s)) types = ["array"];
    else return undefined;
    return union(
      types.map((t): Rendered => {
        switch (t) {
          case "string":
            return prim("string");
          case "number":
          case "integer":
            return prim("number");
          case "boolean":
            return prim("boolean");
          case "null":
            return prim("null");
          case "object":
            return this.object(s, indent);
          case "array":
            return this.array(s, indent);
          default:
            return UNKNOWN;
        }
      }),
    );
  }

  private object(s: Record<string, unknown>, indent: string): Rendered {
    const inner = `${indent}  `;
    const properties = isRecord(s.properties) ? s.properties : {};
    const required = new Set(Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === "string") : []);
    // What keys other than the declared properties may hold (none for a closed object).
    const additional = s.additionalProperties ?? s.unevaluatedProperties;
    const patterns = isRecord(s.patternProperties) ? Object.values(s.patternProperties) : [];
    const closed = additional === false && patterns.length === 0;
    const others = patterns.map((p) => this.type(p, inner));
    if (additional === undefined || additional === true) others.push(this.open());
    else if (additional !== false) others.push(this.type(additional, inner));

    const lines: string[] = [];
    const propertyTypes: Rendered[] = [];
    let optional = false;
    for (const [key, sub] of Object.entries(properties)) {
      const t = this.type(sub, inner);
      propertyTypes.push(t);
      optional ||= !required.has(key);
      lines.push(`${jsDoc(sub, inner)}${inner}${propertyKey(key)}${required.has(key) ? "" : "?"}: ${t.text};`);
    }
    // A required key without a property schema is one of the other keys.
    for (const key of required) {
      if (Object.hasOwn(properties, key)) continue;
      const t = closed ? UNKNOWN : union(others);
      propertyTypes.push(t);
      lines.push(`${inner}${propertyKey(key)}: ${t.text};`);
    }

    // The index signature must also admit the declared properties' types (and, for optional ones
    // without exactOptionalPropertyTypes, undefined).
    const index = closed ? undefined : union([...others, ...propertyTypes, ...(optional ? [prim("undefined")] : [])]);
    if (index === undefined && lines.length === 0) return prim("{ [key: string]: never }");
    if (lines.length === 0) return prim(`{ [key: string]: ${index!.text} }`);
    if (index) lines.push(`${inner}[key: string]: ${index.text};`);
    return prim(`{\n${lines.join("\n")}\n${indent}}`);
  }

  /**
   * What an open object's other keys hold. In handlers, `any`: a value typed by an interface
   * (which TypeScript never gives an implicit index signature) must still be a valid return value.
   */
  private open(): Rendered {
    return prim(this.side === "frontend" ? "unknown" : "any");
  }

  private array(s: Record<string, unknown>, indent: string): Rendered {
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : undefined;
    const rest = Array.isArray(s.prefixItems) ? s.items : Array.isArray(s.items) ? s.additionalItems : s.items;
    if (!prefix) {
      const item = rest === undefined ? UNKNOWN : this.type(rest, indent);
      return prim(`${item.prec < 2 ? `(${item.text})` : item.text}[]`);
    }
    const minItems = typeof s.minItems === "number" ? s.minItems : 0;
    const elements = prefix.map((sub, i) => {
      const t = this.type(sub, indent);
      return i < minItems ? t.text : `${t.prec < 2 ? `(${t.text})` : t.text}?`;
    });
    if (rest !== false) {
      const t = rest === undefined ? UNKNOWN : this.type(rest, indent);
      elements.push(`...${t.prec < 2 ? `(${t.text})` : t.text}[]`);
    }
    return prim(`[${elements.join(", ")}]`);
  }
}

function union(members: Rendered[]): Rendered {
  const texts: string[] = [];
  for (const m of members) {
    if (m.text === "unknown" || m.text === "any") return m;
    if (m.text === "never") continue;
    // A member that is itself a union needs no parentheses; flatten by text.
    if (!texts.includes(m.text)) texts.push(m.text);
  }
  if (texts.length === 0) return NEVER;
  if (texts.length === 1) return members.find((m) => m.text === texts[0])!;
  return { text: texts.join(" | "), prec: 0 };
}

function intersection(members: Rendered[]): Rendered {
  const kept: Rendered[] = [];
  for (const m of members) {
    if (m.text === "never") return NEVER;
    if (m.text === "unknown" || kept.some((k) => k.text === m.text)) continue;
    kept.push(m);
  }
  if (kept.length === 0) return UNKNOWN;
  if (kept.length === 1) return kept[0]!;
  return { text: kept.map((m) => (m.prec === 0 ? `(${m.text})` : m.text)).join(" & "), prec: 1 };
}

/** A JSON value as a literal type. */
function literal(value: unknown, indent: string): Rendered {
  if (typeof value === "string") return prim(stringLiteral(value));
  // A YAML .inf or .nan is a number no literal type spells.
  if (typeof value === "number") return prim(Number.isFinite(value) ? JSON.stringify(value) : "number");
  if (value === null || typeof value === "boolean") return prim(JSON.stringify(value));
  if (Array.isArray(value)) return prim(`[${value.map((v) => literal(v, indent).text).join(", ")}]`);
  if (isRecord(value)) {
    const entries = Object.entries(value).map(([k, v]) => `${propertyKey(k)}: ${literal(v, indent).text}`);
    return prim(entries.length === 0 ? "{ [key: string]: never }" : `{ ${entries.join("; ")} }`);
  }
  return UNKNOWN;
}

/** `/** description *\/` (and `@deprecated`) before a definition or a property; "" without either. */
function jsDoc(schema: unknown, indent: string): string {
  if (!isRecord(schema)) return "";
  const safe: string[] = [];
  if (typeof schema.description === "string" && schema.description.trim() !== "") safe.push(...docLines(schema.description.trim()));
  if (schema.deprecated === true) safe.push("@deprecated");
  if (safe.length === 0) return "";
  if (safe.length === 1) return `${indent}/** ${safe[0]} */\n`;
  return `${indent}/**\n${safe.map((l) => `${indent} *${l ? ` ${l}` : ""}`).join("\n")}\n${indent} */\n`;
}

/** "save-user" -> "saveUser", "ns/sub:cmd" -> "nsSubCmd". */
export function camel(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  if (words.length === 0) return name;
  return words.map((w, i) => (i === 0 ? w[0]!.toLowerCase() + w.slice(1) : w[0]!.toUpperCase() + w.slice(1))).join("");
}

/**
 * Member names for `commands.<name>` and `events.<name>`: camelCased, quoted when that is no
 * identifier; two names that camelCase alike keep the later one as written (then numbered).
 */
function memberKeys(names: string[]): Map<string, string> {
  const keys = new Map<string, string>();
  const used = new Set<string>();
  const take = (name: string, key: string) => {
    used.add(key);
    keys.set(name, propertyKey(key));
  };
  // Names already camelCase keep themselves first.
  for (const name of names) if (camel(name) === name) take(name, name);
  for (const name of names) {
    if (keys.has(name)) continue;
    const wanted = [camel(name), name].find((k) => !used.has(k));
    if (wanted !== undefined) take(name, wanted);
    else {
      let i = 2;
      while (used.has(`${camel(name)}${i}`)) i++;
      take(name, `${camel(name)}${i}`);
    }
  }
  return keys;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
