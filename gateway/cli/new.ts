// gateway new <command>: a handler, its two schema files and a manifest entry naming them.
//
// The entry is spliced into the manifest's text: yaml's Document API finds where the `commands:`
// map ends, and every other byte of the file stays as it was (re-printing the whole document with
// String(doc) would move inline comments and reflow flow collections). The spliced text is parsed
// again and must mean the old manifest plus the entry; a layout the splice does not handle (a
// non-empty flow map `commands: { ... }`) falls back to the Document API's own printing.
import { NOT_REGULAR, readRegularFile } from "../config/regular-file.ts";
import { createRequire } from "node:module";
import { dirname, join, posix, relative, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { isMap, isScalar, parseDocument, stringify, type Document, type Node, type Pair, type YAMLMap } from "yaml";
import { SourceDoc } from "../config/source-doc.ts";
import { COMMAND_BODY_SCHEMA, COMMAND_HANDLER, COMMAND_RETURNS_SCHEMA, fill } from "./templates.ts";
import { commentText, stringLiteral } from "../describe/code-text.ts";
import { writeDeclarations } from "./new-declarations.ts";
import { Creation, replaceText } from "./creation.ts";
import { fileErrorLine, isFileError, Refusal, shown } from "./file-errors.ts";
import { inspectTarget, NAME_MAX, obstacleLine } from "./targets.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, UsageError, type Verb } from "./verb.ts";

/** Handler extensions the drop-in folder treats as commands (a file of another extension cannot clash). */
const HANDLER_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];

export const newVerb: Verb = {
  name: "new",
  summary: "add a command: its handler, its body and returns schemas, and its manifest entry",
  synopsis: "new <command> [--config gateway.yaml] [--handlers file.d.ts]",
  details: `Writes handlers/<command>.ts (typed with Handler<"<command>">, answering what its schemas
allow), schemas/<command>.body.json and schemas/<command>.returns.json, and adds an entry naming
them under commands: in the manifest (paths relative to it; the discover: folders when it names
them). The manifest keeps its comments, order and formatting. Refuses, writing nothing, a name
the manifest already has, a file that already exists, or an invalid name (letters, digits,
_ . : / -, starting with a letter, digit or _). Then writes the handlers' declarations (as
gateway types --handlers does), which give Handler<"<command>"> its types.

${CONFIG_DETAIL}
      --handlers <file> where the handlers' declarations go (default: gateway.d.ts in the
                        handlers' folder); only a file gateway types wrote, or none, is written`,
  options: { ...CONFIG_OPTION, handlers: { type: "string" } },
  positionals: 1,
  async run(values, positionals) {
    const name = positionals[0];
    if (name === undefined) throw new UsageError("missing the command's name");
    return addCommand(values.config as string, name, values.handlers as string | undefined);
  },
};

/** Where the handlers' declarations go without --handlers: beside the handlers, in their tsconfig's reach. */
export const DECLARATIONS_FILE = "gateway.d.ts";

async function addCommand(config: string, name: string, handlersOption: string | undefined): Promise<number> {
  checkName(name);
  const manifest = resolve(config);
  let text: string;
  try {
    text = readRegularFile(manifest, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === NOT_REGULAR) throw new Refusal(`${config} is not a regular file`);
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // said in one line by cli/index.ts
    throw new Refusal(`${config} not found (--config names another manifest; gateway init creates a new app)`);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw new Refusal(`${config} is not valid YAML (${doc.errors[0]!.message.split("\n")[0]}); gateway check tells more`);
  // The alias checks of the gateway's own reader (an alias bomb would expand below, in means()).
  const mistake = new SourceDoc(manifest, text).syntaxErrors()[0];
  if (mistake) throw new Refusal(`${config}:${mistake.at.line}:${mistake.at.col}: ${mistake.message}; gateway check tells more`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new Refusal(`${config} is not a manifest (its top level is not a map of keys)`);

  const commands = doc.contents?.get("commands", true) as unknown;
  if (commands !== undefined && !isNullish(commands) && !isMap(commands)) throw new Refusal(`commands: in ${config} is not a map`);
  if (isMap(commands) && commands.items.some((pair) => keyOf(pair) === name)) throw new Refusal(`command "${name}" already exists in ${config}`);

  const base = dirname(manifest);
  const handlersDir = discovered(doc, "handlers") ?? "handlers";
  const schemasDir = discovered(doc, "schemas") ?? "schemas";
  const handler = posix.join(handlersDir, `${name}.ts`);
  const body = posix.join(schemasDir, `${name}.body.json`);
  const returns = posix.join(schemasDir, `${name}.returns.json`);
  if (!inside(base, handlersDir, handler) || !inside(base, schemasDir, body) || !inside(base, schemasDir, returns))
    throw new Refusal(`invalid command name "${name}": its files would be outside ${handlersDir}/ and ${schemasDir}/`);
  const longest = [handler, body, returns].map((path) => longestName(path)).reduce((a, b) => (b.bytes > a.bytes ? b : a));
  if (longest.bytes > NAME_MAX)
    throw new Refusal(`invalid command name ${shortened(name)}: its file names would be too long (${longest.bytes} bytes; file systems take at most ${NAME_MAX}); nothing was written`);

  const taken: string[] = [];
  const look = (path: string) => {
    const target = inspectTarget(join(base, path));
    if (target.obstacle !== undefined) throw new Refusal(`${obstacleLine(target.obstacle)}; nothing was written`);
    if (target.existing === "link-to-nothing") throw new Refusal(`${shown(join(base, path))}: is a symbolic link to nothing; nothing was written`);
    if (target.existing !== "none") taken.push(path);
  };
  [handler, body, returns].forEach(look);
  // A drop-in of the same name (handlers/<name>.js ...) would be silently shadowed by the entry.
  if (discovered(doc, "handlers") !== undefined) {
    for (const ext of HANDLER_EXTENSIONS) {
      const dropIn = posix.join(handlersDir, `${name}${ext}`);
      if (dropIn !== handler && inspectTarget(join(base, dropIn)).existing !== "none") taken.push(dropIn);
    }
  }
  if (taken.length > 0) throw new Refusal(`${taken.map((path) => shown(join(base, path))).join(", ")} already exist${taken.length === 1 ? "s" : ""}; nothing was written`);
  const manifestTarget = inspectTarget(manifest);
  if (manifestTarget.obstacle !== undefined) throw new Refusal(`${obstacleLine(manifestTarget.obstacle)}; nothing was written`);

  const entry = { handler, body, returns };
  const updated = withCommand(text, doc, name, entry);
  const declarations = handlersOption !== undefined ? resolve(handlersOption) : join(base, handlersDir, DECLARATIONS_FILE);
  const declarationsShown = relative(base, declarations).split("\\").join("/");

  // App text goes into comments on one line and into the string literal escaped (code-text.ts):
  // a discover: folder may hold a newline, which would end the comment and start code.
  const handlerText = fill(COMMAND_HANDLER, {
    COMMAND: commentText(name),
    COMMAND_LITERAL: stringLiteral(name),
    FUNCTION: functionName(name),
    BODY_SCHEMA: commentText(body),
    RETURNS_SCHEMA: commentText(returns),
    DECLARATIONS: commentText(declarationsShown),
  });
  const files: Array<[string, string]> = [
    [handler, handlerText],
    [body, COMMAND_BODY_SCHEMA],
    [returns, COMMAND_RETURNS_SCHEMA],
  ];
  const creation = new Creation();
  try {
    for (const [path, content] of files) creation.file(join(base, path), content);
    replaceText(manifest, text, updated);
  } catch (error) {
    creation.undo();
    if (!isFileError(error)) throw error;
    throw new Refusal(`${fileErrorLine(error)}; the files this run had created were removed`);
  }
  console.log(`${shown(manifest)}: added command "${name}"`);
  for (const [path] of files) console.log(`created ${shown(join(base, path))}`);
  const written = await writeDeclarations(declarations, manifest);
  if (written.ok) console.log(written.line);
  else console.error(`gateway new: ${written.line}; Handler<${stringLiteral(name)}> has its types once \`gateway types --handlers ${declarationsShown}\` runs`);
  return 0;
}

/** The longest name (between slashes) of a relative path, in bytes. */
function longestName(path: string): { name: string; bytes: number } {
  return path
    .split("/")
    .map((name) => ({ name, bytes: Buffer.byteLength(name) }))
    .reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/** A name in quotes, cut short (with its length) when it is too long to read. */
function shortened(name: string): string {
  return name.length > 64 ? `"${name.slice(0, 24)}…${name.slice(-16)}" (${name.length} characters)` : `"${name}"`;
}

/** The manifest's rule for command names, from its JSON Schema, plus: the name must make a file name. */
function checkName(name: string): void {
  const schema = createRequire(import.meta.url)("../config/manifest.schema.json") as {
    properties: { commands: { propertyNames: { pattern: string; "x-message": string } } };
  };
  const rule = schema.properties.commands.propertyNames;
  if (!new RegExp(rule.pattern, "u").test(name)) throw new Refusal(`invalid command name "${name}": ${rule["x-message"]}`);
  if (name.split("/").some((segment) => segment === "" || segment === "." || segment === ".."))
    throw new Refusal(`invalid command name "${name}": its handler would be handlers/${name}.ts; a name with an empty, "." or ".." part between slashes makes no file name`);
}

/** `discover.<kind>` when the manifest gives it as a plain relative folder. */
function discovered(doc: Document, kind: "handlers" | "schemas"): string | undefined {
  const value = doc.getIn(["discover", kind]);
  if (typeof value !== "string" || value === "" || value.includes("${")) return undefined;
  const folder = posix.normalize(value.replace(/\\/g, "/")).replace(/\/+$/, "");
  return folder === "." || folder.startsWith("/") || folder.startsWith("../") ? undefined : folder;
}

function inside(base: string, folder: string, path: string): boolean {
  const rel = relative(resolve(base, folder), resolve(base, path));
  return rel !== "" && !rel.startsWith("..");
}

function isNullish(node: unknown): boolean {
  return node === null || (isScalar(node) && node.value === null) || (isMap(node) && node.flow === true && node.items.length === 0);
}

function keyOf(pair: Pair): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

/** A function name for the handler: "save-user" -> saveUser, "a:b/c" -> aBC. */
export function functionName(command: string): string {
  const words = command.split(/[^A-Za-z0-9_]+/).filter(Boolean);
  let name = words.map((word, i) => (i === 0 ? word : word[0]!.toUpperCase() + word.slice(1))).join("");
  if (/^[0-9]/.test(name)) name = `_${name}`;
  // "Handler" is the type the scaffold imports.
  return RESERVED.has(name) || name === "Handler" ? `${name}Command` : name || "handler";
}

const RESERVED = new Set(
  "arguments await break case catch class const continue debugger default delete do else enum eval export extends false finally for function if implements import in instanceof interface let new null package private protected public return static super switch this throw true try typeof var void while with yield".split(" "),
);

// -------------------------------------------------------------------------------------------
// The splice

/** The manifest's text with `commands.<name>: entry` added, everything else unchanged. */
export function withCommand(text: string, doc: Document, name: string, entry: Record<string, string>): string {
  const spliced = splice(text, doc, name, entry);
  if (spliced !== undefined && means(spliced, doc, name, entry)) return spliced;
  // The Document API's printing: right in meaning, though it may re-flow the file's layout.
  const copy = doc.clone();
  if (!isMap(copy.get("commands", true))) copy.set("commands", copy.createNode({}));
  copy.setIn(["commands", name], copy.createNode(entry));
  const printed = String(copy);
  if (!means(printed, doc, name, entry)) throw new Refusal(`could not add "${name}" to the manifest without changing what else it says; nothing was written`);
  return printed;
}

/** Whether `text` is the manifest of `doc` with the entry added, and nothing else changed. */
function means(text: string, doc: Document, name: string, entry: Record<string, string>): boolean {
  const after = parseDocument(text, { uniqueKeys: true });
  if (after.errors.length > 0) return false;
  // Aliases were checked above (no bomb): yaml's own count limit would refuse plain documents.
  const expected = (doc.toJS({ maxAliasCount: -1 }) ?? {}) as Record<string, unknown>;
  const commands = (expected.commands ?? {}) as Record<string, unknown>;
  return isDeepStrictEqual(after.toJS({ maxAliasCount: -1 }), { ...expected, commands: { ...commands, [name]: entry } });
}

function splice(text: string, doc: Document, name: string, entry: Record<string, string>): string | undefined {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const root = doc.contents as YAMLMap | null;
  const block = (indent: number, step: number) =>
    stringify({ [name]: entry }, { indent: step, lineWidth: 0 })
      .trimEnd()
      .split("\n")
      .map((line) => " ".repeat(indent) + line)
      .join(eol) + eol;

  if (root?.flow) return undefined;
  const pair = root?.items.find((item) => keyOf(item) === "commands");
  const step = root ? indentStep(text, root) : 2;

  if (pair === undefined) {
    // No commands: section: one at the end of the file.
    const ending = text === "" || text.endsWith("\n") ? "" : eol;
    return `${text}${ending}${text.trim() === "" ? "" : eol}commands:${eol}${block(step, step)}`;
  }

  const key = pair.key as Node;
  const value = pair.value as Node | null;
  if (value === null || isNullish(value)) {
    // `commands:` (or `commands: ~`, `commands: {}`): drop the empty value, the entries follow.
    let before = text;
    if (value?.range && value.range[1] > value.range[0]) {
      const rest = text.slice(value.range[1]);
      // `commands: {}` becomes `commands:` (no trailing blanks), `commands: {} # c` keeps its comment.
      const head = text.slice(0, value.range[0]);
      before = /^[ \t]*(\r?\n|$)/.test(rest) ? head.trimEnd() + rest.replace(/^[ \t]*/, "") : head + rest;
    }
    const at = lineEnd(before, key.range![1]);
    return insert(before, at, block(column(text, key.range![0]) + step, step), eol);
  }

  if (!isMap(value) || value.flow || value.items.length === 0) return undefined;
  const first = value.items[0]!.key as Node;
  const last = value.items.at(-1)!;
  const indent = column(text, first.range![0]);
  const lastEnd = (last.value as Node | null)?.range?.[1] ?? (last.key as Node).range![1];
  let at = lineEnd(text, lastEnd);
  // Comments indented under the last entry belong to it; those at the entries' indentation (or
  // less) are about the section or what follows, and stay after the new entry.
  for (let next = at; next < text.length; ) {
    const end = nextLine(text, next);
    const line = text.slice(next, end).replace(/\r?\n$/, "");
    if (line.trim() === "") {
      next = end;
      continue;
    }
    if (line.trimStart().startsWith("#") && line.length - line.trimStart().length > indent) {
      at = end;
      next = end;
      continue;
    }
    break;
  }
  // Entries separated by blank lines (above their comments, if any) get one before the new entry too.
  const spaced = value.items.length > 1 && blankAbove(text, (last.key as Node).range![0]);
  return insert(text, at, (spaced ? eol : "") + block(indent, step), eol);
}

/** Whether a blank line comes before the line of `offset` and the comment lines right above it. */
function blankAbove(text: string, offset: number): boolean {
  const lines = text.slice(0, lineStart(text, offset)).split("\n");
  lines.pop(); // "" after the last newline
  while (lines.length > 0 && lines.at(-1)!.trimStart().startsWith("#")) lines.pop();
  return lines.length > 0 && lines.at(-1)!.trim() === "";
}

/** Inserts `lines` at `at`, the start of a line (or the end of a text without a final newline). */
function insert(text: string, at: number, lines: string, eol: string): string {
  const needsBreak = at > 0 && text[at - 1] !== "\n";
  return text.slice(0, at) + (needsBreak ? eol : "") + lines + text.slice(at);
}

/** The offset just past the end of the line holding `offset` (past its newline, if any). */
function lineEnd(text: string, offset: number): number {
  if (offset > 0 && text[offset - 1] === "\n") return offset;
  const newline = text.indexOf("\n", offset);
  return newline === -1 ? text.length : newline + 1;
}

/** The offset of the line after the one starting at `start`. */
function nextLine(text: string, start: number): number {
  const newline = text.indexOf("\n", start);
  return newline === -1 ? text.length : newline + 1;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

function column(text: string, offset: number): number {
  return offset - lineStart(text, offset);
}

/** How far the manifest indents a nested map (2 unless it shows otherwise). */
function indentStep(text: string, root: YAMLMap): number {
  for (const pair of root.items) {
    const value = pair.value;
    if (isMap(value) && !value.flow && value.items.length > 0) {
      const step = column(text, (value.items[0]!.key as Node).range![0]) - column(text, (pair.key as Node).range![0]);
      if (step > 0) return step;
    }
  }
  return 2;
}

