// Where each command's handler is, for the dev console (manifest.json under dev only: a served
// gateway never tells its callers about its files). The line is where the file exports the
// handler, found by reading the file's text; a file that cannot be read, or an export written in
// a way not recognized here (re-exported from another module, say), simply has no line.
import { dirname, relative, sep } from "node:path";
import { readRegularFile } from "../config/regular-file.ts";
import type { CommandDef, Generation } from "../runtime/generation.ts";

export interface HandlerSource {
  /** The handler module, relative to the manifest's folder, with `/` between folders. */
  file: string;
  /** The export that is the handler ("default" unless the manifest says `file#name`). */
  export: string;
  /** The 1-based line that exports it, when found. */
  line?: number;
  /** The module's absolute path (for the editor link). */
  path: string;
}

/** Per command of a generation (both immutable): a file is read at most once per generation. */
const known = new WeakMap<CommandDef, HandlerSource>();

export function handlerSource(generation: Generation, command: CommandDef): HandlerSource {
  let source = known.get(command);
  if (source === undefined) {
    const file = relative(dirname(generation.manifestFile), command.file).split(sep).join("/");
    const line = exportLine(command.file, command.exportName);
    source = { file, export: command.exportName, ...(line === undefined ? {} : { line }), path: command.file };
    known.set(command, source);
  }
  return source;
}

/** The settings manifest.json's dev additions come from (absent: not under dev, none of them). */
export interface DevDescription {
  /** GatewaySettings.openInEditor, or null. */
  openInEditor: string | null;
}

/** createGateway's `openInEditor`, checked: a one-line TypeError for anything but a path or an http(s) URL. */
export function checkOpenInEditor(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value === "string" && (/^\/(?!\/)/.test(value) || /^https?:\/\/[^\s]+$/i.test(value)) && !/[?#]/.test(value)) return value;
  throw new TypeError(`createGateway: openInEditor must be a path such as "/__open-in-editor" or an http(s) URL, without ? or # (the console adds ?file=); got ${JSON.stringify(value) ?? String(value)}`);
}

function exportLine(file: string, exportName: string): number | undefined {
  let text: string;
  try {
    text = readRegularFile(file, "utf8", { maxBytes: 4 * 1024 * 1024 });
  } catch {
    return undefined;
  }
  const name = exportName.replace(/[$]/g, "\\$");
  // Declarations at the start of a line (not in a `//` comment), then export lists.
  const patterns =
    exportName === "default"
      ? [/^[ \t]*export[ \t]+default\b/m, /^[ \t]*export[ \t]*\{[^}]*\bas[ \t\r\n]+default\b/m]
      : [
          new RegExp(`^[ \\t]*export[ \\t]+(?:declare[ \\t]+)?(?:async[ \\t]+)?(?:function[ \\t]*\\*?[ \\t]*|const[ \\t]+|let[ \\t]+|var[ \\t]+|class[ \\t]+)${name}(?![\\w$])`, "m"),
          new RegExp(`^[ \\t]*export[ \\t]*\\{[^}]*(?<![\\w$])${name}[ \\t\\r\\n]*(?:,|\\})`, "m"),
        ];
  for (const pattern of patterns) {
    const match = pattern.exec(text);
    if (match) return text.slice(0, match.index).split("\n").length; // the match starts its line
  }
  return undefined;
}
