// A parsed YAML or JSON text that remembers where every value came from, so mistakes can be
// reported as `path:line:col` (JSON is YAML 1.2, so one parser serves both).
import { LineCounter, parseDocument, isAlias, isCollection, isMap, isNode, isPair, isScalar, visit, type Document, type Node } from "yaml";

export type JsonPath = readonly (string | number)[];

export interface Position {
  line: number;
  col: number;
}

/**
 * How many values a document's aliases may stand for, all told (each alias counting every value of
 * what it names, nested aliases expanded). Far above what repeating a schema in a big manifest
 * takes; far below a "billion laughs" document's 10^9, which anything walking the value (the
 * manifest's shape check, schema compilation, the cache's JSON) would take forever over.
 */
export const MAX_ALIAS_VALUES = 1_000_000;

export interface Mistake {
  message: string;
  at: Position;
}

export class SourceDoc {
  private parsed: Document.Parsed | undefined;
  private readonly lines = new LineCounter();
  private aliasMistakes: Mistake[] | undefined;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {}

  /** Parsed on first use: a manifest read from the cache needs positions only to report a mistake. */
  get doc(): Document.Parsed {
    return (this.parsed ??= parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true }));
  }

  /**
   * YAML syntax errors, else the aliases that keep the document from becoming a value (one naming
   * no anchor, one inside what it names, too many values through aliases), each with its position.
   * None: toJS() may be called.
   */
  syntaxErrors(): Mistake[] {
    const syntax: Mistake[] = [];
    const lines = new Set<number>();
    for (const e of this.doc.errors) {
      const at = this.position(e.pos[0]);
      // One mistake per line: the parser's first says where it went wrong, the rest follow from it.
      if (lines.has(at.line)) continue;
      lines.add(at.line);
      syntax.push({ message: this.unquotedVariable(at.line) ?? firstLine(e.message), at });
    }
    return syntax.length > 0 ? syntax : this.aliasErrors();
  }

  /**
   * `{ token: ${BOT_TOKEN} }`: in YAML's { } and [ ] a plain value may not hold braces, so `${VAR}`
   * there breaks the line. Said plainly, with the fix, rather than as the parser's token soup.
   */
  private unquotedVariable(line: number): string | undefined {
    const text = this.text.split("\n", line)[line - 1] ?? "";
    const variable = /(?<![\w"'])(\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\})/.exec(text);
    if (variable === null || !/[{[]/.test(text.slice(0, variable.index))) return undefined;
    return `${variable[1]} inside { } or [ ] must be quoted: "${variable[1]}" (or write the mapping as indented lines)`;
  }

  /** The document as a plain value; only once syntaxErrors() found none. */
  toJS(): unknown {
    if (this.doc.errors.length > 0 || this.aliasErrors().length > 0) throw new Error(`${this.file}: toJS() of a document with mistakes (see syntaxErrors())`);
    // yaml's own guard against alias bombs (maxAliasCount) refuses plain documents, such as a
    // manifest naming one anchor a hundred times: aliasErrors() guarded against them instead.
    return this.doc.toJS({ maxAliasCount: -1 });
  }

  private aliasErrors(): Mistake[] {
    // A document without "*" has no alias (most have none): nothing to walk.
    this.aliasMistakes ??= this.text.includes("*") ? aliasMistakes(this.doc).map(({ message, offset }) => ({ message, at: this.position(offset) })) : [];
    return this.aliasMistakes;
  }

  position(offset: number): Position {
    void this.doc; // the line counter is filled while parsing
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  /** A position worked out only when read (see lazyPosition). */
  lazyKeyPosition(path: JsonPath): Position {
    return lazyPosition(() => this.keyPosition(path));
  }

  lazyValuePosition(path: JsonPath): Position {
    return lazyPosition(() => this.valuePosition(path));
  }

  /** Where the value at `path` starts; the nearest existing ancestor when it does not exist. */
  valuePosition(path: JsonPath): Position {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = this.nodeAt(path.slice(0, depth));
      if (node?.range) return this.position(node.range[0]);
    }
    return { line: 1, col: 1 };
  }

  /** Where the key of the last step of `path` is written (a value position for list items). */
  keyPosition(path: JsonPath): Position {
    if (path.length === 0) return this.valuePosition(path);
    const parent = this.nodeAt(path.slice(0, -1));
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return this.position(keyNode.range[0]);
    }
    return this.valuePosition(path);
  }

  nodeAt(path: JsonPath): Node | undefined {
    if (path.length === 0) return (this.doc.contents as Node | null) ?? undefined;
    const node = this.doc.getIn(path, true);
    return node && typeof node === "object" && "range" in (node as object) ? (node as Node) : undefined;
  }

  /** The first key named `key` anywhere under `path`, e.g. an unknown schema keyword. */
  findKey(key: string, under: JsonPath = []): Position | undefined {
    return this.findPair(under, (k) => k === key);
  }

  /** The first `key: value` pair with this exact scalar value anywhere under `path`. */
  findPairWithValue(key: string, value: string, under: JsonPath = []): Position | undefined {
    return this.findPair(under, (k, v) => k === key && v === value);
  }

  private findPair(under: JsonPath, match: (key: string, value: unknown) => boolean): Position | undefined {
    const root = this.nodeAt(under);
    if (!root) return undefined;
    let found: Position | undefined;
    visit(root, {
      Pair: (_key, pair) => {
        if (!isPair(pair) || !isScalar(pair.key)) return undefined;
        const value = isScalar(pair.value) ? pair.value.value : undefined;
        if (match(String(pair.key.value), value) && pair.key.range) {
          found = this.position(pair.key.range[0]);
          return visit.BREAK;
        }
        return undefined;
      },
    });
    return found;
  }
}

/**
 * What keeps a parsed document's aliases from becoming a value, found the way yaml resolves them
 * (an alias names the last anchor of that name before it, in document order) without expanding
 * anything: the values each anchored node stands for are counted once and added up per alias.
 */
function aliasMistakes(doc: Document.Parsed): { message: string; offset: number }[] {
  const anchors = new Map<string, Node>();
  /** How many values each anchored node stands for, its aliases expanded. */
  const values = new Map<Node, number>();
  /** Anchored nodes being walked: an alias to one of them is inside what it names. */
  const open = new Set<Node>();
  let throughAliases = 0;
  const walk = (node: unknown): number => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const offset = node.range?.[0] ?? 0;
      if (target === undefined) throw new AliasMistake(`alias *${node.source} names no anchor before it (write &${node.source} on a value above it)`, offset);
      if (open.has(target)) throw new AliasMistake(`alias *${node.source} is inside the value it names: a value cannot contain itself`, offset);
      throughAliases += values.get(target)!;
      if (throughAliases > MAX_ALIAS_VALUES) {
        throw new AliasMistake(`too many values through aliases: this one takes the document past ${MAX_ALIAS_VALUES.toLocaleString("en-US")} values (an alias bomb?)`, offset);
      }
      return values.get(target)!;
    }
    if (!isNode(node)) return 0;
    if (node.anchor) {
      anchors.set(node.anchor, node);
      open.add(node);
    }
    let count = 1;
    if (isCollection(node)) for (const item of node.items) count += isPair(item) ? walk(item.key) + walk(item.value) : walk(item);
    if (node.anchor) {
      open.delete(node);
      values.set(node, count);
    }
    return count;
  };
  try {
    walk(doc.contents);
    return [];
  } catch (error) {
    if (error instanceof AliasMistake) return [{ message: error.message, offset: error.offset }];
    // Nesting deep enough to exhaust the stack here would exhaust it in toJS() too.
    if (error instanceof RangeError) return [{ message: "nested too deeply", offset: 0 }];
    throw error;
  }
}

class AliasMistake extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

/** Turn a JSON.parse error message into a position in `text`, when the message carries one. */
export function jsonParseErrorPosition(message: string, text: string): Position | undefined {
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol) return { line: Number(lineCol[1]), col: Number(lineCol[2]) };
  const at = /position (\d+)/.exec(message);
  if (!at) return undefined;
  const before = text.slice(0, Number(at[1])).split("\n");
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

/** A Position whose line and column are computed (once) when first read: enumerable, so spreads copy them. */
export function lazyPosition(compute: () => Position): Position {
  let known: Position | undefined;
  return {
    get line() {
      return (known ??= compute()).line;
    },
    get col() {
      return (known ??= compute()).col;
    },
  };
}
