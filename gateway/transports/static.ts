// The optional `server.static` folder: the app's own page and assets, served at /.
//
// Files are opened before anything is answered and streamed from that descriptor, so a file that
// a build tool deletes or rewrites meanwhile is either served whole as it was opened, or (when it
// is truncated under us) the connection is cut rather than the answer silently short. The
// descriptor is released however the response ends, aborted downloads included. Nothing outside
// the folder is served, through `..` or through a symlink, and no dotfile (`.env`, `.git/`)
// unless `dotfiles: true`.
import { constants, createReadStream } from "node:fs";
import { open, realpath, type FileHandle } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import type { StaticSettings } from "../config/manifest.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

/**
 * Non-blocking, so that opening a FIFO someone left in the folder returns at once (and is then
 * refused as not a file) instead of holding one of libuv's four file threads until a writer comes.
 * Regular files ignore the flag.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * Serve `path` from the static folder (index.html for folders; the SPA fallback for a browser
 * navigating to a path that is no file). Resolves false when there is nothing to serve (404).
 */
export async function serveStatic(settings: StaticSettings, path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const found = (await locate(settings, path)) ?? (wantsFallback(settings, path, req) ? await locate(settings, `/${settings.fallback}`) : undefined);
  if (found === undefined) return false;
  send(found, req, res);
  return true;
}

interface Found {
  file: string;
  handle: FileHandle;
  size: number;
}

/** The open file for a URL path, or undefined (not there, outside the folder, a dotfile, not a file). */
async function locate(settings: StaticSettings, path: string): Promise<Found | undefined> {
  let relative: string;
  try {
    relative = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (relative.includes("\0")) return undefined;
  if (!settings.dotfiles && relative.split(/[\\/]/).some((segment) => segment.startsWith("."))) return undefined;
  let root: string;
  try {
    root = await realpath(settings.dir);
  } catch {
    return undefined;
  }
  let file = resolve(join(root, relative));
  if (!inside(file, root)) return undefined;
  let handle: FileHandle | undefined;
  try {
    // Symlinks are followed only to places inside the folder.
    file = await realpath(file);
    if (!inside(file, root, settings.dotfiles)) return undefined;
    handle = await open(file, OPEN_FLAGS);
    let stats = await handle.stat();
    if (stats.isDirectory()) {
      await handle.close();
      handle = undefined;
      file = await realpath(join(file, "index.html"));
      if (!inside(file, root, settings.dotfiles)) return undefined;
      handle = await open(file, OPEN_FLAGS);
      stats = await handle.stat();
    }
    if (!stats.isFile()) {
      await handle.close();
      return undefined;
    }
    return { file, handle, size: stats.size };
  } catch {
    await handle?.close().catch(() => {});
    return undefined;
  }
}

/** `file` is the folder or inside it, and (unless dotfiles are served) no part of its path below the folder starts with ".". */
function inside(file: string, root: string, dotfiles = true): boolean {
  const prefix = root.endsWith(sep) ? root : root + sep;
  if (file !== root && !file.startsWith(prefix)) return false;
  return dotfiles || !file.slice(prefix.length).split(sep).some((segment) => segment.startsWith("."));
}

/**
 * A browser navigating to a client-side route: GET/HEAD, accepting HTML, the last segment
 * without an extension (as connect-history-api-fallback and Vite decide it).
 */
function wantsFallback(settings: StaticSettings, path: string, req: IncomingMessage): boolean {
  if (settings.fallback === undefined) return false;
  const accept = req.headers.accept ?? "";
  if (!accept.includes("text/html") && !accept.includes("*/*")) return false;
  const last = path.slice(path.lastIndexOf("/") + 1);
  return !last.includes(".");
}

function send({ file, handle, size }: Found, req: IncomingMessage, res: ServerResponse): void {
  // The client left while the file was being found and opened: its "close" has passed already.
  if (res.destroyed) {
    void handle.close().catch(() => {});
    return;
  }
  res.writeHead(200, {
    "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "content-length": size,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (req.method === "HEAD" || size === 0) {
    res.end();
    void handle.close().catch(() => {});
    return;
  }
  const stream = createReadStream("", { fd: handle, start: 0, end: size - 1, autoClose: true });
  let sent = 0;
  stream.on("data", (chunk) => {
    sent += chunk.length;
    if (!res.write(chunk)) stream.pause();
  });
  res.on("drain", () => stream.resume());
  stream.on("end", () => {
    // Truncated while we read it: the answer would be shorter than its Content-Length.
    if (sent < size) res.destroy();
    else res.end();
  });
  stream.on("error", () => res.destroy());
  // However the response ends (finished, or the client went away), the descriptor is released.
  res.on("close", () => stream.destroy());
}
