// One .env file: NAME=value lines for the manifest's `${VAR}`s. Parsed by Node's own parser
// (util.parseEnv, what `node --env-file` uses), so one file serves both. That parser reports
// nothing: a line without `=` is glued to the next one's name, and a line starting with `=` ends
// the file there, each surfacing later as a baffling "variable is not set". Such lines are found
// here first and reported at their line. A .env holds secrets: no message quotes its content.
import { statSync } from "node:fs";
import { parseEnv } from "node:util";
import { NOT_REGULAR, TOO_LARGE, readRegularFile } from "./regular-file.ts";
import type { Problem } from "./problems.ts";

/** A .env of NAME=value lines is a few kilobytes; past this it is not one (a log, a dump). */
export const MAX_ENV_FILE_BYTES = 1024 * 1024;

export type EnvFileRead =
  /** `problems`: its lines that are not NAME=value; `values` are the other lines' (so the manifest's own report does not add a "not set" for each). */
  | { kind: "read"; values: Record<string, string>; text: string; problems: Problem[] }
  /** Not there (or, for the default `.env`, a folder: Python's virtual environments are often named so). */
  | { kind: "absent" }
  | { kind: "unreadable"; problems: Problem[] };

/** `named`: the user named this file (--env-file, envFile), so its absence is a mistake too. */
export function readEnvFile(file: string, named: boolean): EnvFileRead {
  let text: string;
  try {
    text = readRegularFile(file, "utf8", { maxBytes: MAX_ENV_FILE_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!named && (code === "ENOENT" || code === "ENOTDIR" || (code === NOT_REGULAR && isFolder(file)))) return { kind: "absent" };
    return { kind: "unreadable", problems: [{ file, message: unreadable(code, error) }] };
  }
  // An editor's byte order mark would otherwise be part of the first name.
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const { mistakes, bad } = lineMistakes(text);
  // Blanked, a bad line cannot glue itself to the next name or end the file early (nor make
  // Node 20's parser slow: it takes time growing with the square of such lines).
  const parsed = bad.size === 0 ? text : linesOf(text).map((line, i) => (bad.has(i + 1) ? "" : line)).join("\n");
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(parsed))) if (value !== undefined) values[name] = value;
  return { kind: "read", values, text, problems: mistakes.map((m): Problem => ({ file, ...m })) };
}

function unreadable(code: string | undefined, error: unknown): string {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return "env file not found";
    case NOT_REGULAR:
      return "not a regular file (an env file holds NAME=value lines)";
    case TOO_LARGE:
      return `larger than ${MAX_ENV_FILE_BYTES / 1024 / 1024} MiB: not an env file of NAME=value lines`;
    case "EACCES":
    case "EPERM":
      return "cannot read the env file: permission denied";
    default:
      return `cannot read the env file: ${code ?? String(error)}`;
  }
}

function isFolder(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** A name as Node's parser and dotenv take it (only [A-Za-z_][A-Za-z0-9_]* ones are usable as `${VAR}`). */
const NAME = /^[\w.-]+$/;
const QUOTES = new Set(['"', "'", "`"]);
/** Mistakes reported per file. */
const MAX_MISTAKES = 20;

type LineMistake = { line: number; col: number; message: string };

/**
 * The lines Node's parser would drop or garble (`bad`, by number from 1), the first of them with
 * their column and what is wrong. A quoted value may span lines up to its closing quote (as the
 * parser reads it); without one it is that line alone.
 */
export function lineMistakes(text: string): { mistakes: LineMistake[]; bad: Set<number> } {
  const lines = linesOf(text);
  const found: LineMistake[] = [];
  const bad = new Set<number>();
  const note = (line: number, col: number, message: string) => {
    bad.add(line);
    if (found.length <= MAX_MISTAKES) found.push({ line, col, message });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const start = line.length - line.trimStart().length;
    const rest = line.slice(start);
    if (rest === "" || rest.startsWith("#")) continue;
    const equal = rest.indexOf("=");
    if (equal === -1) {
      note(i + 1, start + 1, "expected NAME=value (or a # comment): this line has no =");
      continue;
    }
    const name = rest.slice(0, equal).trim().replace(/^export\s+/, "");
    if (name === "") {
      note(i + 1, start + 1, "expected NAME=value: nothing names the value before =");
      continue;
    }
    if (!NAME.test(name)) {
      note(i + 1, start + 1, "expected NAME=value: a name is letters, digits and _ (with no spaces)");
      continue;
    }
    const value = rest.slice(equal + 1).trimStart();
    const quote = value[0];
    if (quote === undefined || !QUOTES.has(quote) || value.indexOf(quote, 1) !== -1) continue;
    // Opened and not closed on this line: the value runs to the line holding the closing quote.
    // (Each line is looked at once, but for the lines after a quote that is never closed: at
    // most three such scans, one per kind of quote, since a later opening would close it.)
    for (let j = i + 1; j < lines.length; j++) {
      if (lines[j]!.includes(quote)) {
        i = j;
        break;
      }
    }
  }
  // A file of thousands of bad lines is no env file: the first few say enough.
  if (bad.size <= MAX_MISTAKES) return { mistakes: found, bad };
  const more = found[MAX_MISTAKES]!;
  return { mistakes: [...found.slice(0, MAX_MISTAKES), { ...more, message: `this line and ${bad.size - MAX_MISTAKES - 1} more are not NAME=value either` }], bad };
}

/** Lines as Node's parser sees them: it drops every carriage return first. */
function linesOf(text: string): string[] {
  return text.replace(/\r/g, "").split("\n");
}
