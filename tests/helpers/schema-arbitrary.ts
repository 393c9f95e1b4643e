// A JSON Schema as a fast-check arbitrary of values that schema accepts. Only the subset the test
// apps use: type (one or several), properties, required, additionalProperties (false or a
// schema), items, minItems/maxItems, enum, const, minLength/maxLength, minimum/maximum,
// pattern (through fc.stringMatching), format "email", anyOf (keywords beside it are not merged
// into its branches), and local $ref ("#/$defs/..."). An unknown keyword throws rather than being
// ignored, so a schema outside the subset cannot quietly yield invalid values.
//
// Recursion is bounded by `maxDepth`: each $ref followed spends one level; once none are left,
// objects get only their required properties, arrays only their minItems and anyOf its first
// branch, so a recursive schema still bottoms out in a valid value.
import fc, { type Arbitrary } from "fast-check";

export type Schema = boolean | { [keyword: string]: unknown };

export interface SchemaArbitraryOptions {
  /** How many $refs deep values may go (default 3). */
  maxDepth?: number;
  /** Keys for additionalProperties (default: any string but "__proto__" and "constructor", which JSON parsers meant for untrusted input refuse). */
  key?: Arbitrary<string>;
  /** Longest array when the schema sets no maxItems (default 4). */
  maxItems?: number;
}

const KNOWN = new Set([
  "$ref", "$defs", "$schema", "$id", "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
  "enum", "const", "minLength", "maxLength", "minimum", "maximum", "pattern", "format", "anyOf",
]);

/** An arbitrary of values `schema` accepts (`schema` is the root: $refs resolve against it). */
export function arbitraryFromSchema(root: Schema, options: SchemaArbitraryOptions = {}): Arbitrary<unknown> {
  const key = options.key ?? fc.string().filter((k) => k !== "__proto__" && k !== "constructor");
  const maxItems = options.maxItems ?? 4;
  const refs = new Map<string, Arbitrary<unknown>>(); // by "<ref>@<levels left>": each built once

  function gen(schema: Schema, left: number): Arbitrary<unknown> {
    if (schema === true) return fc.jsonValue({ maxDepth: 2 });
    if (schema === false) throw new Error("schema `false` accepts no value");
    for (const keyword of Object.keys(schema)) if (!KNOWN.has(keyword)) throw new Error(`schema-arbitrary does not know "${keyword}"`);
    const s = schema as Record<string, any>;
    if (typeof s.$ref === "string") {
      if (left < -16) throw new Error(`$ref "${s.$ref}" recurses through required properties: no finite value`);
      const id = `${s.$ref}@${left}`;
      if (!refs.has(id)) refs.set(id, gen(resolveRef(root, s.$ref), left - 1));
      return refs.get(id)!;
    }
    if ("const" in s) return fc.constant(s.const);
    if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
    if (Array.isArray(s.anyOf)) {
      const branches = s.anyOf as Schema[];
      return left > 0 ? fc.oneof(...branches.map((b) => gen(b, left))) : gen(branches[0]!, left);
    }
    const types: string[] = Array.isArray(s.type) ? s.type : typeof s.type === "string" ? [s.type] : [];
    if (types.length === 0) {
      if (s.properties !== undefined || s.required !== undefined) return ofType("object", s, left);
      if (s.items !== undefined) return ofType("array", s, left);
      return fc.jsonValue({ maxDepth: 2 });
    }
    return types.length === 1 ? ofType(types[0]!, s, left) : fc.oneof(...types.map((t) => ofType(t, s, left)));
  }

  function ofType(type: string, s: Record<string, any>, left: number): Arbitrary<unknown> {
    switch (type) {
      case "null":
        return fc.constant(null);
      case "boolean":
        return fc.boolean();
      case "integer":
        return fc.integer({ min: s.minimum ?? Number.MIN_SAFE_INTEGER, max: s.maximum ?? Number.MAX_SAFE_INTEGER });
      case "number":
        return fc.double({ min: s.minimum, max: s.maximum, noNaN: true, noDefaultInfinity: true });
      case "string":
        return stringOf(s);
      case "array": {
        const minLength: number = s.minItems ?? 0;
        const items = s.items === undefined ? fc.jsonValue({ maxDepth: 1 }) : gen(s.items, left);
        const maxLength: number = left > 0 ? (s.maxItems ?? Math.max(minLength, maxItems)) : minLength;
        return fc.array(items, { minLength, maxLength });
      }
      case "object": {
        const properties: Record<string, Schema> = s.properties ?? {};
        const required = new Set<string>(s.required ?? []);
        const model: Record<string, Arbitrary<unknown>> = {};
        for (const [name, sub] of Object.entries(properties)) if (left > 0 || required.has(name)) model[name] = gen(sub, left);
        for (const name of required) model[name] ??= fc.jsonValue({ maxDepth: 1 }); // required but not described
        const declared = fc.record(model, { requiredKeys: [...required] });
        const extra = s.additionalProperties;
        if (left <= 0 || extra === undefined || typeof extra === "boolean") return declared;
        const others = fc.dictionary(key.filter((k) => !Object.hasOwn(properties, k)), gen(extra as Schema, left), { maxKeys: maxItems });
        return fc.tuple(declared, others).map(([d, o]) => ({ ...o, ...d }));
      }
      default:
        throw new Error(`schema-arbitrary does not know type "${type}"`);
    }
  }

  return gen(root, options.maxDepth ?? 3);
}

function stringOf(s: Record<string, any>): Arbitrary<string> {
  const minLength: number = s.minLength ?? 0;
  const maxLength: number | undefined = s.maxLength;
  // ajv counts code points; so does fast-check's "binary" unit (one code point per unit, no lone surrogates).
  const length = (text: string) => [...text].length;
  const fits = (text: string) => length(text) >= minLength && (maxLength === undefined || length(text) <= maxLength);
  if (typeof s.pattern === "string") return fc.stringMatching(new RegExp(s.pattern, "u")).filter(fits);
  if (s.format === "email") return fc.emailAddress().filter(fits);
  if (s.format !== undefined) throw new Error(`schema-arbitrary does not know format "${String(s.format)}"`);
  return fc.string({ unit: "binary", minLength, maxLength });
}

/** The schema a local `$ref` ("#/$defs/node", "#") points at. */
export function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith("#")) throw new Error(`schema-arbitrary resolves only local $refs, not "${ref}"`);
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    node = (node as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    if (node === undefined) throw new Error(`$ref "${ref}" points at nothing`);
  }
  return node as Schema;
}
