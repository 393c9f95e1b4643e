// The optional `server.static` folder: the app's own page and assets, served at /.
import { createReadStream, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

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

/** Serve `path` from `folder` (index.html for folders); false when there is no such file. */
export function serveStatic(folder: string, path: string, req: IncomingMessage, res: ServerResponse): boolean {
  let relative: string;
  try {
    relative = decodeURIComponent(path);
  } catch {
    return false;
  }
  const root = resolve(folder);
  let file = resolve(join(root, relative));
  // Never outside the folder (../, encoded or not).
  if (file !== root && !file.startsWith(root + sep)) return false;
  let stats;
  try {
    stats = statSync(file);
    if (stats.isDirectory()) {
      file = join(file, "index.html");
      stats = statSync(file);
    }
  } catch {
    return false;
  }
  if (!stats.isFile()) return false;
  res.writeHead(200, {
    "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "content-length": stats.size,
    "cache-control": "no-cache",
  });
  if (req.method === "HEAD") res.end();
  else createReadStream(file).pipe(res);
  return true;
}
