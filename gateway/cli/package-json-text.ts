// Entries added to a package.json's text, every other byte kept: its indentation (spaces or tabs,
// any width), line endings, key order, spacing after colons and final newline stay as they were,
// so `git diff` shows only the added lines (and a comma after what was the last entry).
//
// JSON.parse says whether the text is valid; a small scanner then finds where each object and
// member sits. The result is parsed again and must be the old document plus the entries.
import { isDeepStrictEqual } from "node:util";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Member {
  key: string;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

interface ObjectSpan {
  open: number;
  close: number;
  members: Member[];
}

/** One entry to add: `section` null adds a top-level member, else one in that top-level object. */
export interface Addition {
  section: string | null;
  key: string;
  value: Json;
  /** Put it where its key sorts when the section's keys are sorted (npm keeps dependencies sorted). */
  sorted?: boolean;
}

/** The text with every addition made; throws if the text is not a JSON object (callers parse first). */
export function addEntries(text: string, additions: Addition[]): string {
  const before = JSON.parse(stripBom(text)) as { [key: string]: Json };
  const expected = structuredClone(before);
  let out = text;
  for (const addition of additions) {
    const section = addition.section;
    if (section !== null && !(section in topLevel(out))) {
      out = insertMember(out, rootObject(out), section, {}, false);
      expected[section] = {};
    }
    const target = section === null ? rootObject(out) : memberObject(out, section);
    out = insertMember(out, target, addition.key, addition.value, addition.sorted === true);
    const into = section === null ? expected : (expected[section] as { [key: string]: Json });
    into[addition.key] = addition.value;
  }
  if (!isDeepStrictEqual(JSON.parse(stripBom(out)), expected)) throw new Error("package.json: the added entries changed what else it says");
  return out;
}

function stripBom(text: string): string {
  return text.replace(/^\uFEFF/, "");
}

function topLevel(text: string): Record<string, unknown> {
  return JSON.parse(stripBom(text)) as Record<string, unknown>;
}

function rootObject(text: string): ObjectSpan {
  const scanner = new Scanner(text);
  scanner.skipSpace();
  return scanner.object();
}

function memberObject(text: string, key: string): ObjectSpan {
  const member = rootObject(text).members.find((m) => m.key === key);
  if (member === undefined || text[member.valueStart] !== "{") throw new Error(`package.json: "${key}" is not an object`);
  return new Scanner(text, member.valueStart).object();
}

function insertMember(text: string, object: ObjectSpan, key: string, value: Json, sorted: boolean): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const unit = indentUnit(text);
  const colon = colonOf(text);
  const ownIndent = lineIndent(text, object.open);
  const { members } = object;
  // An empty object goes over lines unless the whole document is on one line (`{"a": {}}`).
  const root = rootObject(text);
  const multiline = members.length > 0 ? /\n/.test(text.slice(object.open, members[0]!.keyStart)) : root.members.length === 0 || /\n/.test(text.slice(root.open, root.close));
  const indent = members.length > 0 && multiline ? lineIndent(text, members[0]!.keyStart) : ownIndent + unit;
  const entry = `${JSON.stringify(key)}${colon}${valueText(value, multiline ? indent : null, unit, eol)}`;

  if (members.length === 0) {
    if (!multiline) return `${text.slice(0, object.open + 1)}${entry}${text.slice(object.close)}`;
    // `{}` (or `{ }`, or spread over lines): opened onto lines of its own.
    return `${text.slice(0, object.open + 1)}${eol}${indent}${entry}${eol}${ownIndent}${text.slice(object.close)}`;
  }
  const keys = members.map((m) => m.key);
  const inOrder = keys.every((k, i) => i === 0 || keys[i - 1]!.localeCompare(k, "en") <= 0);
  const next = sorted && inOrder ? members.find((m) => m.key.localeCompare(key, "en") > 0) : undefined;
  if (next !== undefined) {
    const separator = multiline ? `,${eol}${indent}` : ", ";
    return `${text.slice(0, next.keyStart)}${entry}${separator}${text.slice(next.keyStart)}`;
  }
  const last = members.at(-1)!;
  const separator = multiline ? `,${eol}${indent}` : ", ";
  return `${text.slice(0, last.valueEnd)}${separator}${entry}${text.slice(last.valueEnd)}`;
}

/** A value's text: objects over lines indented from `indent` (one line when null). */
function valueText(value: Json, indent: string | null, unit: string, eol: string): string {
  if (indent === null || value === null || typeof value !== "object") return JSON.stringify(value);
  if (!Array.isArray(value) && Object.keys(value).length === 0) return "{}";
  return JSON.stringify(value, null, unit).split("\n").join(`${eol}${indent}`);
}

/** The file's indentation step: the leading blanks of its first indented line (two spaces if none). */
function indentUnit(text: string): string {
  return /\n([ \t]+)\S/.exec(text)?.[1] ?? "  ";
}

/** What comes between a key and its value (`": "` unless the file shows otherwise). */
function colonOf(text: string): string {
  const first = rootObject(text).members[0];
  return first === undefined ? ": " : text.slice(first.keyEnd, first.valueStart);
}

/** The blanks that start the line holding `offset`. */
function lineIndent(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** Walks valid JSON (JSON.parse said so), recording where objects' members are. */
class Scanner {
  constructor(
    private readonly text: string,
    private at = 0,
  ) {
    if (at === 0 && text.startsWith("\uFEFF")) this.at = 1;
  }

  skipSpace(): void {
    while (/[ \t\r\n]/.test(this.text[this.at] ?? "")) this.at++;
  }

  object(): ObjectSpan {
    const open = this.at;
    this.at++; // {
    const members: Member[] = [];
    this.skipSpace();
    while (this.text[this.at] !== "}") {
      if (this.text[this.at] === ",") this.at++;
      this.skipSpace();
      const keyStart = this.at;
      const key = JSON.parse(this.text.slice(keyStart, this.string())) as string;
      const keyEnd = this.at;
      this.skipSpace();
      this.at++; // :
      this.skipSpace();
      const valueStart = this.at;
      this.value();
      members.push({ key, keyStart, keyEnd, valueStart, valueEnd: this.at });
      this.skipSpace();
    }
    this.at++; // }
    return { open, close: this.at - 1, members };
  }

  /** Skips a string; returns the offset just past its closing quote. */
  private string(): number {
    this.at++; // "
    while (this.text[this.at] !== '"') this.at += this.text[this.at] === "\\" ? 2 : 1;
    return ++this.at;
  }

  private value(): void {
    const c = this.text[this.at];
    if (c === "{") {
      this.object();
      return;
    }
    if (c === '"') {
      this.string();
      return;
    }
    if (c === "[") {
      this.at++;
      this.skipSpace();
      while (this.text[this.at] !== "]") {
        if (this.text[this.at] === ",") this.at++;
        this.skipSpace();
        this.value();
        this.skipSpace();
      }
      this.at++;
      return;
    }
    while (this.at < this.text.length && !/[,}\] \t\r\n]/.test(this.text[this.at]!)) this.at++; // number, true, false, null
  }
}
