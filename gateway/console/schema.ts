// JSON Schema as far as the console's forms need it: following the catalog's `$ref`s, telling
// which field a schema gets, what a new form starts with, and a one-line summary of constraints.

export type JsonSchema = boolean | { [keyword: string]: unknown };
export type SchemaObject = { [keyword: string]: unknown };
export type Definitions = Record<string, JsonSchema>;

const DEF_PREFIX = "#/$defs/";

/** "#/$defs/User" -> "User". */
export function refName(ref: unknown): string | undefined {
  return typeof ref === "string" && ref.startsWith(DEF_PREFIX) ? ref.slice(DEF_PREFIX.length) : undefined;
}

/** The schema with its `$ref`s followed; keywords beside a `$ref` (a description ...) win. */
export function resolve(schema: JsonSchema | undefined, defs: Definitions): SchemaObject {
  let current: JsonSchema | undefined = schema;
  let beside: SchemaObject = {};
  const seen = new Set<string>();
  while (typeof current === "object" && current.$ref !== undefined) {
    const { $ref, ...siblings } = current;
    beside = { ...siblings, ...beside };
    const name = refName($ref);
    if (name === undefined || seen.has(name) || !Object.hasOwn(defs, name)) return beside;
    seen.add(name);
    current = defs[name];
  }
  return { ...(typeof current === "object" ? current : {}), ...beside };
}

/** The field a value gets in a form. */
export type Field =
  | { kind: "string"; schema: SchemaObject }
  | { kind: "number"; integer: boolean; schema: SchemaObject }
  | { kind: "boolean"; schema: SchemaObject }
  | { kind: "enum"; options: unknown[]; schema: SchemaObject }
  | { kind: "const"; value: unknown; schema: SchemaObject }
  | { kind: "object"; properties: [string, JsonSchema][]; required: Set<string>; schema: SchemaObject }
  | { kind: "channel"; channel: string; schema: SchemaObject }
  /** Anything else (arrays, unions, maps, no schema): edited as JSON; `why` when fields would not end. */
  | { kind: "json"; schema: SchemaObject; why?: string };

export function fieldOf(schema: JsonSchema | undefined, defs: Definitions): Field {
  const s = resolve(schema, defs);
  if (typeof s["x-channel"] === "string") return { kind: "channel", channel: s["x-channel"], schema: s };
  if (Array.isArray(s.enum) && s.enum.length > 0) return { kind: "enum", options: s.enum, schema: s };
  if ("const" in s) return { kind: "const", value: s.const, schema: s };
  const combined = ["oneOf", "anyOf", "allOf", "if", "not", "$dynamicRef"].some((k) => k in s);
  if (combined) return { kind: "json", schema: s };
  switch (s.type) {
    case "string":
      return { kind: "string", schema: s };
    case "number":
    case "integer":
      return { kind: "number", integer: s.type === "integer", schema: s };
    case "boolean":
      return { kind: "boolean", schema: s };
  }
  const properties = s.properties;
  if ((s.type === "object" || s.type === undefined) && typeof properties === "object" && properties !== null && !Array.isArray(properties)) {
    const required = new Set(Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === "string") : []);
    return { kind: "object", properties: Object.entries(properties as Record<string, JsonSchema>), required, schema: s };
  }
  return { kind: "json", schema: s };
}

/** The definitions a schema's `$ref`s lead through, in order. */
export function refsOf(schema: JsonSchema | undefined, defs: Definitions): string[] {
  const names: string[] = [];
  let current = schema;
  while (typeof current === "object" && current.$ref !== undefined) {
    const name = refName(current.$ref);
    if (name === undefined || names.includes(name) || !Object.hasOwn(defs, name)) break;
    names.push(name);
    current = defs[name];
  }
  return names;
}

/** How many objects deep a form nests fields; past it, a field is edited as JSON. */
export const FORM_DEPTH = 8;

/** Where a field sits in a form: inside which definitions, how many objects deep. */
export interface Place {
  within: readonly string[];
  depth: number;
}

export const TOP: Place = { within: [], depth: 0 };

/**
 * The field a schema gets at this place in a form, and the place of its own fields. An object
 * inside itself (a linked list's `next`, two definitions referring to each other), or past
 * FORM_DEPTH, is edited as JSON there: a form of fields would never end.
 */
export function fieldAt(schema: JsonSchema | undefined, defs: Definitions, place: Place): { field: Field; inner: Place } {
  const names = refsOf(schema, defs);
  const field = fieldOf(schema, defs);
  const inner = { within: [...place.within, ...names], depth: place.depth + 1 };
  if (field.kind !== "object") return { field, inner };
  const again = names.find((name) => place.within.includes(name));
  if (again !== undefined) return { field: { kind: "json", schema: field.schema, why: `it holds ${again} again` }, inner };
  if (place.depth >= FORM_DEPTH) return { field: { kind: "json", schema: field.schema, why: `nested over ${FORM_DEPTH} levels` }, inner };
  return { field, inner };
}

/** What a new form starts with: `default`, else the first of `examples`, else empty. */
export function initialValue(schema: JsonSchema | undefined, defs: Definitions, required: boolean, place: Place = TOP): unknown {
  const s = resolve(schema, defs);
  if ("default" in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  const { field, inner } = fieldAt(schema, defs, place);
  switch (field.kind) {
    case "string":
      return required ? "" : undefined;
    case "boolean":
      return required ? false : undefined;
    case "enum":
      return required ? field.options[0] : undefined;
    case "const":
      return field.value;
    case "object": {
      if (!required) return undefined;
      const value: Record<string, unknown> = {};
      for (const [name, child] of field.properties) {
        const initial = initialValue(child, defs, field.required.has(name), inner);
        if (initial !== undefined) value[name] = initial;
      }
      return value;
    }
    case "json":
      if (!required) return undefined;
      return s.type === "array" ? [] : s.type === "object" ? {} : s.type === "null" ? null : undefined;
    default:
      return undefined;
  }
}

/** The definitions a schema uses, itself first, each once (following `$ref`s anywhere inside). */
export function referencedNames(root: string, defs: Definitions): string[] {
  const names: string[] = [];
  const visit = (name: string) => {
    if (names.includes(name) || !Object.hasOwn(defs, name)) return;
    names.push(name);
    walk(defs[name]);
  };
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    for (const [key, child] of Object.entries(value)) {
      const name = key === "$ref" ? refName(child) : undefined;
      if (name !== undefined) visit(name);
      else walk(child);
    }
  };
  visit(root);
  return names;
}

/** "integer, 1 to 1000", "string, format email, at most 100 characters" ... */
export function summary(field: Field): string {
  const s = field.schema;
  const parts: string[] = [];
  const num = (key: string) => (typeof s[key] === "number" ? (s[key] as number) : undefined);
  switch (field.kind) {
    case "string": {
      parts.push("string");
      if (typeof s.format === "string") parts.push(`format ${s.format}`);
      const min = num("minLength");
      const max = num("maxLength");
      if (min !== undefined && max !== undefined) parts.push(`${min} to ${max} characters`);
      else if (max !== undefined) parts.push(`at most ${max} characters`);
      else if (min !== undefined) parts.push(`at least ${min} characters`);
      if (typeof s.pattern === "string") parts.push(`matching ${s.pattern}`);
      break;
    }
    case "number": {
      parts.push(field.integer ? "integer" : "number");
      const min = num("minimum") ?? num("exclusiveMinimum");
      const max = num("maximum") ?? num("exclusiveMaximum");
      if (min !== undefined && max !== undefined) parts.push(`${min} to ${max}`);
      else if (min !== undefined) parts.push(`at least ${min}`);
      else if (max !== undefined) parts.push(`at most ${max}`);
      break;
    }
    case "enum":
      parts.push(`one of ${field.options.length}`);
      break;
    case "channel":
      parts.push(`Channel (${field.channel})`);
      break;
    case "json":
      parts.push((typeof s.type === "string" ? `${s.type}, as JSON` : "JSON") + (field.why ? ` (${field.why})` : ""));
      break;
    default:
      parts.push(field.kind);
  }
  return parts.join(", ");
}
