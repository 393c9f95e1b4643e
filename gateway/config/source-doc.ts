// A parsed YAML or JSON text that remembers where every value came from, so mistakes can be
// reported as `path:line:col` (JSON is YAML 1.2, so one parser serves both).
import { LineCounter, parseDocument, isMap, isPair, isScalar, visit, type Document, type Node } from "yaml";

export type JsonPath = readonly (string | number)[];

export interface Position {
  line: number;
  col: number;
}

export class SourceDoc {
  private parsed: Document.Parsed | undefined;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    readonly text: string,
  ) {}

  /** Parsed on first use: a manifest read from the cache needs positions only to report a mistake. */
  get doc(): Document.Parsed {
    return (this.parsed ??= parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true }));
  }

  /** YAML syntax errors, each with its position. */
  syntaxErrors(): { message: string; at: Position }[] {
    return this.doc.errors.map((e) => ({ message: firstLine(e.message), at: this.position(e.pos[0]) }));
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
