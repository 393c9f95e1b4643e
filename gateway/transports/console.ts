// The dev console's files (gateway dev): the page at /__gateway/ and its assets at
// /__gateway/console/<file>, read from the folder the build put them in (scripts/build-console.js).
// Only names the build writes are served (no subfolders, no dotfiles), from that one folder.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * dist/console/: beside this module's compiled self (dist/transports/console.js), or, when the
 * TypeScript sources run as they are (jest, tsx), in the project's dist/ that the build filled.
 */
export const CONSOLE_DIR = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../../dist/console/" : "../console/", import.meta.url));

/** The console's page. */
export const CONSOLE_PATH = "/__gateway/";

/**
 * The page's headers. Its Invoke buttons run commands: no other origin may frame it (clickjacking).
 * Its policy allows what it uses and nothing else: its own bundle and tauri.js (same origin), its
 * stylesheet, fetch and the WebSocket to the gateway ('self' covers ws: to the same host), the
 * data: favicon. No inline script, no eval: an `eval` frame a handler sends to this window is
 * refused by the browser (tauri.js logs it).
 */
export const CONSOLE_PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};
const ASSETS = "/__gateway/console/";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json",
};

/** Whether `path` is one of the console's routes (answered 404 when the console is not served). */
export function isConsolePath(path: string): boolean {
  return path === "/__gateway" || path === CONSOLE_PATH || path.startsWith(ASSETS);
}

export interface ConsoleFile {
  type: string;
  body: Buffer;
}

/** The file for a console route, or undefined (no such file, or the console was not built). */
export async function readConsoleFile(dir: string, path: string): Promise<ConsoleFile | undefined> {
  const name = path === CONSOLE_PATH ? "index.html" : path.slice(ASSETS.length);
  const extension = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.([a-z]+)$/.exec(name)?.[1];
  if (extension === undefined || !Object.hasOwn(TYPES, extension)) return undefined;
  const type = TYPES[extension]!;
  try {
    return { type, body: await readFile(join(dir, name)) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
