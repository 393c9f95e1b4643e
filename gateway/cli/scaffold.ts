// What every `gateway init` writes, new app or existing project: the manifest with its greet
// command, the handler and its schemas; and how a run checks the places it would write before
// writing any, then writes all of its files or none.
import { join } from "node:path";
import { Creation } from "./creation.ts";
import { fileErrorLine, isFileError, Refusal, shown } from "./file-errors.ts";
import { inspectTarget, obstacleLine } from "./targets.ts";
import { fill, GATEWAY_YAML, GREET_BODY_SCHEMA, GREET_HANDLER, GREET_RETURNS_SCHEMA } from "./templates.ts";

/** Where the handlers' declarations go in every scaffold (what `gateway new` writes too). */
export const DECLARATIONS = "handlers/gateway.d.ts";

/** The plugin's options in vite.config.ts: both generated files, kept current under `vite` dev. */
export function pluginOptions(bindings: string): string {
  return `{ types: ${JSON.stringify(bindings)}, handlers: ${JSON.stringify(DECLARATIONS)} }`;
}

export interface GatewayFilesOptions {
  /** The manifest's comment on how it is served and checked (the app's scripts). */
  runs: string;
  /** The `static:` line under `server:` (with its comment), or a comment in its place. */
  staticLine: string;
  /** What keeps the generated types current, for the handler's comment (`npm start` ...). */
  regenerate: string;
}

/** The manifest, the greet handler and its schemas (paths relative to the app's folder). */
export function gatewayFiles(options: GatewayFilesOptions): Array<[path: string, content: string]> {
  return [
    ["gateway.yaml", fill(GATEWAY_YAML, { RUNS: options.runs, STATIC: options.staticLine })],
    ["handlers/greet.ts", fill(GREET_HANDLER, { REGENERATE: options.regenerate })],
    ["schemas/greet.body.json", GREET_BODY_SCHEMA],
    ["schemas/greet.returns.json", GREET_RETURNS_SCHEMA],
  ];
}

/**
 * Why `paths` (relative to `dir`) cannot all be written, looked at before anything is: a folder on
 * the way that is a file, a symbolic link to nothing, a name too long, a folder not writable, or
 * files already there (all of them named).
 */
export function whyNotWriteAll(dir: string, paths: string[]): string | undefined {
  const taken: string[] = [];
  for (const path of paths) {
    const file = join(dir, path);
    const target = inspectTarget(file);
    if (target.obstacle !== undefined) return `${obstacleLine(target.obstacle)}; nothing was written`;
    if (target.existing === "link-to-nothing") return `${shown(file)}: is a symbolic link to nothing; nothing was written`;
    if (target.existing !== "none") taken.push(shown(file));
  }
  return taken.length > 0 ? `would overwrite ${taken.join(", ")}; nothing was written` : undefined;
}

/**
 * Writes every file (never over one already there) and then runs `last` (a change to an existing
 * file); should anything fail, what this run created is removed and the refusal says so.
 */
export function writeAll(dir: string, files: Array<[path: string, content: string]>, last?: () => void): void {
  const creation = new Creation();
  try {
    creation.folder(dir);
    for (const [path, content] of files) creation.file(join(dir, path), content);
    last?.();
  } catch (error) {
    creation.undo();
    if (!isFileError(error)) throw error;
    throw new Refusal(`${fileErrorLine(error)}; what this run had created was removed`);
  }
}

/** A path as a shell takes it (quoted when it needs to be). */
export function quoted(path: string): string {
  return /^[\w./@:+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
