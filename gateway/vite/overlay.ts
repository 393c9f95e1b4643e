// The gateway's problems as Vite's error overlay shows them: the first mistake's place (a link
// that opens it in the editor) and its code frame, and every mistake below, each a link too.
import { readFileSync } from "node:fs";
import type { Problem } from "../config/problems.ts";

/** What Vite's client takes as `{ type: "error", err }` (its ErrorPayload's err). */
export interface OverlayError {
  message: string;
  stack: string;
  plugin: string;
  id?: string;
  frame?: string;
  loc?: { file: string; line: number; column: number };
}

/** Lines of code shown around a mistake. */
const FRAME_CONTEXT = 2;
/** Files read for a frame are the app's own; one over this is shown without a frame. */
const FRAME_FILE_LIMIT = 1024 * 1024;

/**
 * The overlay for `problems` (absolute files). `heading`: what kind of mistakes they are ("the
 * edit is broken", "handlers do not match their schemas").
 */
export function overlayError(problems: readonly Problem[], heading: string): OverlayError {
  const first = problems[0]!;
  const lines = problems.map(problemLine);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more below)` : "";
  const error: OverlayError = {
    message: `${heading}: ${first.message}${more}`,
    // The overlay makes every path:line:col in the stack a link to the editor.
    stack: lines.join("\n"),
    plugin: "ipc-gateway",
    id: first.file,
  };
  if (first.line !== undefined) {
    error.loc = { file: first.file, line: first.line, column: first.col ?? 1 };
    const frame = codeFrame(first.file, first.line, first.col ?? 1);
    if (frame !== undefined) error.frame = frame;
  }
  return error;
}

function problemLine(problem: Problem): string {
  return problem.line === undefined ? `${problem.file}: ${problem.message}` : `${problem.file}:${problem.line}:${problem.col ?? 1}: ${problem.message}`;
}

/** A few numbered lines around line:column with a caret under the column, as Vite's own frames look. */
function codeFrame(file: string, line: number, column: number): string | undefined {
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > FRAME_FILE_LIMIT) return undefined;
    text = bytes.toString("utf8");
  } catch {
    return undefined; // a file that is gone (the mistake may be that it is missing)
  }
  const lines = text.split(/\r?\n/);
  if (line < 1 || line > lines.length) return undefined;
  const from = Math.max(1, line - FRAME_CONTEXT);
  const to = Math.min(lines.length, line + FRAME_CONTEXT);
  const width = String(to).length;
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    out.push(`${n === line ? ">" : " "} ${String(n).padStart(width)} | ${lines[n - 1]!.replace(/\t/g, "  ")}`);
    if (n === line) out.push(`  ${" ".repeat(width)} | ${" ".repeat(Math.max(0, column - 1))}^`);
  }
  return out.join("\n");
}
