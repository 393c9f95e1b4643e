// `$ref` loops that consume no data: `{ "$ref": "#" }`, or a.json -> b.json -> a.json. ajv compiles
// them, and then every value sent through them recurses until the stack runs out (a RangeError for
// each call, and for anything that calls the validator while describing the API). A schema that
// refers back to itself only below a property or an item (a linked list, a tree) is fine: each
// step goes one level into the data, which ends.
//
// The search: schemas reached from the root are nodes; a keyword that applies its subschema to the
// same value (`$ref`, `allOf`, `not`, `if` ...) is an edge that consumes nothing, one that applies
// it to a part of the value (`properties`, `items` ...) an edge that does. A loop made of edges
// that consume nothing is the mistake. Iterative throughout: a schema may be nested deeply.
import type { JsonPath } from "./source-doc.ts";

/** A schema document: a schema file, or an inline schema (under its own URL). */
export interface LoopDocument {
  url: string;
  json: unknown;
}

/** One `$ref` of a loop: the schema holding it, in its document. */
export interface LoopStep {
  url: string;
  path: JsonPath;
  /** `$ref` (or `$dynamicRef`) and what it says. */
  keyword: string;
  ref: string;
}

/** Keywords whose subschema applies to the value itself. */
const IN_PLACE_SINGLE = ["not", "if", "then", "else"];
const IN_PLACE_LIST = ["allOf", "anyOf", "oneOf"];
const IN_PLACE_MAP = ["dependentSchemas"];
/** Keywords whose subschemas apply to parts of the value. */
const PART_SINGLE = ["additionalProperties", "unevaluatedProperties", "additionalItems", "unevaluatedItems", "contains", "propertyNames"];
const PART_LIST = ["prefixItems"];
const PART_MAP = ["properties", "patternProperties"];
/** Keywords that hold schemas only for `$ref`s to reach. */
const CONTAINERS = ["$defs", "definitions"];

interface Node {
  url: string;
  path: JsonPath;
  schema: Record<string, unknown>;
  /** The URL its relative `$ref`s resolve against. */
  base: string;
}

interface Edge {
  to: Node;
  consumes: boolean;
  ref?: { keyword: string; ref: string };
}

/**
 * The first loop of `$ref`s reachable from `rootUrl` that consumes no data, as the `$ref`s that
 * make it (in order); undefined when there is none.
 */
export function findRefLoop(rootUrl: string, documents: readonly LoopDocument[]): LoopStep[] | undefined {
  const index = new ResourceIndex(documents);
  const root = index.node(rootUrl, []);
  if (!root) return undefined;
  /** The edges that consume nothing, by node. */
  const edges = new Map<string, Edge[]>();
  const nodes = new Map<string, Node>();
  // Every schema reachable from the root, with its edges.
  const queue = [root];
  nodes.set(keyOf(root), root);
  while (queue.length > 0) {
    const node = queue.pop()!;
    const out = index.edgesOf(node);
    edges.set(keyOf(node), out.filter((e) => !e.consumes));
    for (const edge of out) {
      const key = keyOf(edge.to);
      if (nodes.has(key)) continue;
      nodes.set(key, edge.to);
      queue.push(edge.to);
    }
  }
  // A depth-first search over the edges that consume nothing; an edge back to a schema still on
  // the path closes a loop.
  const done = new Set<string>();
  for (const start of nodes.keys()) {
    if (done.has(start)) continue;
    const onPath = new Map<string, number>();
    const stack: { key: string; next: number; via?: Edge }[] = [{ key: start, next: 0 }];
    onPath.set(start, 0);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const inPlace = edges.get(top.key)!;
      if (top.next >= inPlace.length) {
        stack.pop();
        onPath.delete(top.key);
        done.add(top.key);
        continue;
      }
      const edge = inPlace[top.next++]!;
      const to = keyOf(edge.to);
      const at = onPath.get(to);
      if (at !== undefined) {
        const loop = [...stack.slice(at + 1).map((s) => ({ from: s.via!, node: s.key })), { from: edge, node: to }];
        const from = [stack[at]!.key, ...loop.map((l) => l.node)];
        return loop.flatMap((l, i) => (l.from.ref === undefined ? [] : [{ ...locationOf(nodes.get(from[i]!)!), ...l.from.ref }]));
      }
      if (done.has(to)) continue;
      onPath.set(to, stack.length);
      stack.push({ key: to, next: 0, via: edge });
    }
  }
  return undefined;
}

function locationOf(node: Node): { url: string; path: JsonPath } {
  return { url: node.url, path: node.path };
}

function keyOf(node: { url: string; path: JsonPath }): string {
  return `${node.url}\u0000${node.path.join("\u0000")}`;
}

/** Where each URL and anchor of the documents is, as ajv would resolve a `$ref` to it. */
class ResourceIndex {
  private readonly documents = new Map<string, unknown>();
  /** Resource URL (a document's, or a nested `$id`'s) -> where it is. */
  private readonly resources = new Map<string, { url: string; path: JsonPath }>();
  /** `<resource URL>#<anchor>` -> where it is. */
  private readonly anchors = new Map<string, { url: string; path: JsonPath }>();

  constructor(documents: readonly LoopDocument[]) {
    for (const doc of documents) this.documents.set(doc.url, doc.json);
    for (const doc of documents) this.indexDocument(doc);
  }

  private indexDocument(doc: LoopDocument): void {
    this.resources.set(doc.url, { url: doc.url, path: [] });
    const stack: { value: unknown; path: JsonPath; base: string }[] = [{ value: doc.json, path: [], base: doc.url }];
    while (stack.length > 0) {
      const { value, path, base: outer } = stack.pop()!;
      if (!isRecord(value)) continue;
      const base = path.length === 0 ? doc.url : withOwnId(value, outer);
      if (path.length > 0 && base !== outer) this.resources.set(base, { url: doc.url, path });
      for (const keyword of ["$anchor", "$dynamicAnchor"]) {
        const anchor = value[keyword];
        if (typeof anchor === "string") this.anchors.set(`${base}#${anchor}`, { url: doc.url, path });
      }
      // draft-07 names anchors with `$id: "#name"`.
      if (typeof value.$id === "string" && value.$id.startsWith("#") && value.$id.length > 1) this.anchors.set(`${base}${value.$id}`, { url: doc.url, path });
      for (const [child, childPath] of subschemas(value, path, true)) stack.push({ value: child, path: childPath, base });
    }
  }

  /** The schema at `path` in the document at `url`, with its base URL; undefined when there is none. */
  node(url: string, path: JsonPath): Node | undefined {
    let value = this.documents.get(url);
    let base = url;
    for (let i = 0; i < path.length; i++) {
      if (!isRecord(value) && !Array.isArray(value)) return undefined;
      if (i > 0 && isRecord(value)) base = withOwnId(value, base);
      const step = path[i]!;
      if (!Object.hasOwn(value, step)) return undefined;
      value = (value as Record<string | number, unknown>)[step];
    }
    if (!isRecord(value)) return undefined; // true / false: no keyword, no edge
    if (path.length > 0) base = withOwnId(value, base);
    return { url, path, schema: value, base };
  }

  edgesOf(node: Node): Edge[] {
    const edges: Edge[] = [];
    for (const keyword of ["$ref", "$dynamicRef"]) {
      const ref = node.schema[keyword];
      if (typeof ref !== "string") continue;
      const to = this.resolve(ref, node.base);
      if (to) edges.push({ to, consumes: false, ref: { keyword, ref } });
    }
    for (const [, childPath, consumes] of subschemas(node.schema, node.path, false)) {
      const to = this.node(node.url, childPath);
      if (to) edges.push({ to, consumes });
    }
    return edges;
  }

  private resolve(ref: string, base: string): Node | undefined {
    let target: URL;
    try {
      target = new URL(ref, base);
    } catch {
      return undefined;
    }
    const fragment = decodeFragment(target.hash);
    target.hash = "";
    const resource = this.resources.get(target.href);
    if (!resource || fragment === undefined) return undefined;
    if (fragment === "" || fragment.startsWith("/")) {
      const steps = fragment === "" ? [] : fragment.slice(1).split("/").map(unescapePointer);
      return this.node(resource.url, [...resource.path, ...steps]);
    }
    const anchored = this.anchors.get(`${target.href}#${fragment}`);
    return anchored ? this.node(anchored.url, anchored.path) : undefined;
  }
}

/** A subschema's base URL: its own `$id` resolved against the outer one (an anchor-only `$id` changes nothing). */
function withOwnId(schema: Record<string, unknown>, outer: string): string {
  const id = schema.$id;
  if (typeof id !== "string" || id.startsWith("#")) return outer;
  try {
    const url = new URL(id, outer);
    url.hash = "";
    return url.href;
  } catch {
    return outer;
  }
}

/** The subschemas of a schema, with their paths and whether they apply to a part of the value. */
function* subschemas(schema: Record<string, unknown>, path: JsonPath, withContainers: boolean): Generator<[unknown, JsonPath, boolean]> {
  const own = (keyword: string) => (Object.hasOwn(schema, keyword) ? schema[keyword] : undefined);
  for (const keyword of [...IN_PLACE_SINGLE, ...PART_SINGLE]) {
    const child = own(keyword);
    if (child !== undefined && !Array.isArray(child)) yield [child, [...path, keyword], !IN_PLACE_SINGLE.includes(keyword)];
  }
  for (const keyword of [...IN_PLACE_LIST, ...PART_LIST]) {
    const list = own(keyword);
    if (Array.isArray(list)) for (let i = 0; i < list.length; i++) yield [list[i], [...path, keyword, i], !IN_PLACE_LIST.includes(keyword)];
  }
  for (const keyword of [...IN_PLACE_MAP, ...PART_MAP, ...(withContainers ? CONTAINERS : [])]) {
    const map = own(keyword);
    if (isRecord(map)) for (const key of Object.keys(map)) yield [map[key], [...path, keyword, key], !IN_PLACE_MAP.includes(keyword)];
  }
  // `items`: one schema for every item, or (draft-07) one per position.
  const items = own("items");
  if (Array.isArray(items)) for (let i = 0; i < items.length; i++) yield [items[i], [...path, "items", i], true];
  else if (items !== undefined) yield [items, [...path, "items"], true];
  // draft-07 `dependencies`: a list of names, or a schema for the value itself.
  const dependencies = own("dependencies");
  if (isRecord(dependencies)) {
    for (const key of Object.keys(dependencies)) if (!Array.isArray(dependencies[key])) yield [dependencies[key], [...path, "dependencies", key], false];
  }
}

function decodeFragment(hash: string): string | undefined {
  try {
    return decodeURIComponent(hash.replace(/^#/, ""));
  } catch {
    return undefined;
  }
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
