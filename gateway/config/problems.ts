// Mistakes found while loading a manifest, a schema or a handler. They are collected, never
// thrown one at a time, so `gateway check` can report all of them in one run.
import { relative, isAbsolute } from "node:path";

export interface Problem {
  file: string;
  line?: number;
  col?: number;
  message: string;
}

export class Problems {
  readonly list: Problem[] = [];
  private readonly seen = new Set<string>();

  /**
   * Adds a mistake once: the same one found again (a broken file that five commands load) is one
   * line, not five, wherever the problems are shown (check, the dev console, gateway://error).
   */
  add(problem: Problem): void {
    const key = problem.line === undefined ? `${problem.file}\0\0${problem.message}` : `${problem.file}\0${problem.line}:${problem.col ?? 1}\0${problem.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(problem);
  }

  get size(): number {
    return this.list.length;
  }

  /** The manifest's mistakes first, then the other files' by path; within a file, by position. */
  sorted(manifestFile: string): Problem[] {
    const rank = (p: Problem) => (p.file === manifestFile ? 0 : 1);
    return [...this.list].sort(
      (a, b) =>
        rank(a) - rank(b) ||
        (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
        (a.line ?? 0) - (b.line ?? 0) ||
        (a.col ?? 0) - (b.col ?? 0),
    );
  }
}

/** The path as the user would type it: relative to the working directory when inside it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

/** `path:line:col: message` when the position is known, else `path: message`. */
export function formatProblem(problem: Problem, cwd?: string): string {
  const path = displayPath(problem.file, cwd);
  return problem.line === undefined
    ? `${path}: ${problem.message}`
    : `${path}:${problem.line}:${problem.col ?? 1}: ${problem.message}`;
}

/** Thrown when a manifest (or what it names) has mistakes; carries every one of them. */
export class ConfigError extends Error {
  readonly problems: Problem[];

  constructor(problems: Problem[]) {
    super(problems.map((p) => formatProblem(p)).join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}
