// The optional `server.static` folder: the app's own page and assets, served at /.
//
// Files are opened before anything is answered and streamed from that descriptor, so a file that
// a build tool deletes or rewrites meanwhile is either served whole as it was opened, or (when it
// is truncated under us) the connection is cut rather than the answer silently short. The
// descriptor is released however the response ends, aborted downloads included. Nothing outside
// the folder is served, through `..` or through a symlink, and no dotfile (`.env`, `.git/`)
// unless `dotfiles: true`.
//
// For production (CONTRACT §9.1): validators (ETag, Last-Modified) and 304s, `immutable` caching
// for names carrying a content hash, br/gzip (a precompressed `file.br`/`file.gz` next to the file,
// else compressed here), single `Range` requests on the identity encoding, and HEAD.
import { constants, createReadStream, type ReadStream, type Stats } from "node:fs";
import { open, realpath, type FileHandle } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { basename, extname, join, resolve, sep } from "node:path";
import { Transform, pipeline } from "node:stream";
import { constants as zlib, createBrotliCompress, createGzip } from "node:zlib";
import type { StaticSettings } from "../config/manifest.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".webmanifest": "application/manifest+json",
  ".xml": "application/xml",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".apng": "image/apng",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".wasm": "application/wasm",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".mp3": "audio/mpeg",
};

/**
 * Types worth compressing: text and text-like formats (wasm compresses well too). Everything else
 * (images, woff/woff2, archives, media, unknown bytes) is compressed already or unknown, and
 * compressing it again costs CPU for nothing.
 */
function compressible(type: string): boolean {
  return /^text\/|^application\/(json|manifest\+json|xml|wasm)\b|^image\/svg\+xml\b/.test(type);
}

/** Below this, gzip's and brotli's framing and the CPU cost outweigh the bytes saved. */
const COMPRESS_MIN_BYTES = 1024;

/**
 * Brotli's default quality (11) is for build tools: roughly 10x slower than 4, which compresses
 * text about as well as gzip -9 and is what on-the-fly servers use. Precompress at build time
 * (`file.br`) for the best ratio.
 */
const BROTLI_QUALITY = 4;

/** A year: the longest lifetime caches honour, for a name that changes whenever its content does. */
const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * A name carrying a content hash, so that its content never changes under that name:
 * - `app.3f9a2c1b.js`, `main.3f9a2c1b9e.chunk.css`: 8 or more hex digits between dots (webpack,
 *   Parcel, esbuild's `[name].[hash]`, CONTRACT §9.1);
 * - `index-BX4k2Yy8.js`: Vite/Rollup's `[name]-[hash]`, exactly 8 base64url characters after the
 *   last `-`. Words fit that shape too (`site-settings.js`), so the 8 characters must look
 *   random: a digit and a letter, or a capital after the first character next to a small
 *   letter. About 1 in 150 real hashes has neither and is merely revalidated (`no-cache`);
 *   `immutable: false` turns the rule off for names that only look hashed.
 */
export function hashedName(name: string): boolean {
  if (/\.[0-9a-f]{8,}\./i.test(name)) return true;
  const vite = /-([A-Za-z0-9_-]{8})\.[A-Za-z0-9]+$/.exec(name);
  if (vite === null) return false;
  const hash = vite[1]!;
  const digit = /[0-9]/.test(hash);
  const letter = /[A-Za-z]/.test(hash);
  return (digit && letter) || (/[A-Z]/.test(hash.slice(1)) && /[a-z]/.test(hash));
}

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
  let variant: Variant;
  try {
    variant = await chooseVariant(settings, found, req);
  } catch (error) {
    await found.handle.close().catch(() => {});
    throw error;
  }
  send(settings, found, variant, lastSegment(path), req, res);
  return true;
}

interface Found {
  /** The folder (its real path). */
  root: string;
  file: string;
  handle: FileHandle;
  size: number;
  stats: Stats;
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
    return { root, file, handle, size: stats.size, stats };
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

// ---------------------------------------------------------------- encodings

type Encoding = "br" | "gzip";

/** What is sent for the file: itself, a precompressed neighbour, or the file compressed here. */
type Variant =
  /** `negotiated`: another request's Accept-Encoding could get another answer (Vary). */
  | { kind: "identity"; negotiated: boolean }
  | { kind: "precompressed"; encoding: Encoding; handle: FileHandle; size: number; stats: Stats }
  | { kind: "compress"; encoding: Encoding };

/** The encodings `Accept-Encoding` accepts (q > 0, `*` counting for those not named), best first. */
function acceptedEncodings(header: string | undefined): Encoding[] {
  if (header === undefined) return [];
  const q: Record<string, number> = {};
  for (const part of header.split(",")) {
    const [token, ...params] = part.trim().toLowerCase().split(";");
    if (!token) continue;
    let weight = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(param);
      if (match) weight = Number(match[1]);
    }
    if (!Number.isFinite(weight)) weight = 0;
    q[token === "x-gzip" ? "gzip" : token] = Math.max(q[token === "x-gzip" ? "gzip" : token] ?? 0, weight);
  }
  const weightOf = (name: Encoding) => q[name] ?? q["*"] ?? 0;
  // Higher q first; at equal q brotli (smaller) before gzip.
  return (["br", "gzip"] as const).filter((name) => weightOf(name) > 0).sort((a, b) => weightOf(b) - weightOf(a));
}

/**
 * The representation for this request. A `Range` request gets the file itself (byte ranges of a
 * compressed stream are useless to resume or seek with, and a compressed-here stream has no
 * stable length); otherwise the best accepted encoding for which a precompressed file exists,
 * else compression here when the type is worth it and the file above the threshold.
 */
async function chooseVariant(settings: StaticSettings, found: Found, req: IncomingMessage): Promise<Variant> {
  const type = typeOf(found.file);
  const worth = compressible(type);
  // A file that is itself an archive (`app.js.gz` asked for by name) is sent as it is.
  if (!worth && /\.(br|gz)$/i.test(found.file)) return { kind: "identity", negotiated: false };
  const accepted = req.headers.range === undefined ? acceptedEncodings(req.headers["accept-encoding"]) : [];
  for (const encoding of accepted) {
    const neighbour = await openNeighbour(settings, found.root, `${found.file}.${encoding === "br" ? "br" : "gz"}`);
    if (neighbour !== undefined) return { kind: "precompressed", encoding, ...neighbour };
  }
  if (worth && found.size >= COMPRESS_MIN_BYTES && accepted.length > 0) return { kind: "compress", encoding: accepted[0]! };
  return { kind: "identity", negotiated: worth };
}

/** A precompressed file next to the served one, held by the same rules (inside the folder, a regular file). */
async function openNeighbour(settings: StaticSettings, root: string, file: string): Promise<{ handle: FileHandle; size: number; stats: Stats } | undefined> {
  let handle: FileHandle | undefined;
  try {
    const real = await realpath(file);
    if (!inside(real, root, settings.dotfiles)) return undefined;
    handle = await open(real, OPEN_FLAGS);
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      return undefined;
    }
    return { handle, size: stats.size, stats };
  } catch {
    await handle?.close().catch(() => {});
    return undefined;
  }
}

const typeOf = (file: string) => TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";

// ---------------------------------------------------------------- validators

/**
 * A strong ETag from the size and the modification time (in microseconds), plus the encoding. Not
 * the inode (as nginx and Apache's default also leave out): replicas behind a load balancer
 * unpack the same image with the same sizes and times but different inodes, and a tag that
 * differed per instance would turn every 304 into a 200. Not a content hash: that means reading
 * the whole file before its first byte is sent. Strong, because the bytes for one tag never
 * differ: a file rewritten changes its mtime, and zlib compresses the same input at the same
 * settings to the same bytes. The encoding is part of the tag, as gzip bytes are not br bytes.
 */
function etagOf(stats: Stats, encoding: Encoding | undefined): string {
  const mtimeUs = Math.round(stats.mtimeMs * 1000);
  return `"${stats.size.toString(16)}-${mtimeUs.toString(16)}${encoding ? `-${encoding}` : ""}"`;
}

/** `If-None-Match` (weak comparison, as RFC 9110 §13.1.2 says for it) matches `etag`. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const opaque = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === opaque);
}

/** Not modified since the date: compared in whole seconds, as HTTP dates have no finer part. */
function notModifiedSince(header: string, stats: Stats): boolean {
  const since = Date.parse(header);
  return Number.isFinite(since) && Math.floor(stats.mtimeMs / 1000) * 1000 <= since;
}

// ---------------------------------------------------------------- ranges

/**
 * A single `bytes=` range: [start, end] inclusive, "unsatisfiable", or undefined (no Range, a
 * syntax we ignore, several ranges: the whole file is sent, as RFC 9110 §14.2 allows).
 */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return undefined;
  const [, first, last] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    // The last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return undefined; // invalid: ignored
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** `If-Range` holds: the range applies only to the representation the client already has part of. */
function ifRangeHolds(header: string | undefined, etag: string, stats: Stats): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return value === etag; // strong comparison
  const date = Date.parse(value);
  return Number.isFinite(date) && Math.floor(stats.mtimeMs / 1000) * 1000 === date;
}

// ---------------------------------------------------------------- sending

/** The URL's last segment, decoded ("" for a folder's URL). */
function lastSegment(path: string): string {
  try {
    return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
  } catch {
    return "";
  }
}

/** `name`: the URL's last segment, the name caches know the answer by. */
function send(settings: StaticSettings, found: Found, variant: Variant, name: string, req: IncomingMessage, res: ServerResponse): void {
  const release = () => {
    void found.handle.close().catch(() => {});
    if (variant.kind === "precompressed") void variant.handle.close().catch(() => {});
  };
  // The client left while the file was being found and opened: its "close" has passed already.
  if (res.destroyed) return release();

  const stats = variant.kind === "precompressed" ? variant.stats : found.stats;
  const encoding = variant.kind === "identity" ? undefined : variant.encoding;
  const etag = etagOf(stats, encoding);
  // Both names hashed: the URL's (a `latest.js` symlink to a hashed file changes under its name)
  // and the file's (a hashed-looking symlink to a plain file, the SPA fallback's index.html).
  const immutable = settings.immutable !== false && hashedName(name) && hashedName(basename(found.file));
  const headers: Record<string, string | number> = {
    "content-type": typeOf(found.file),
    "cache-control": immutable ? IMMUTABLE : (settings.cacheControl ?? "no-cache"),
    "x-content-type-options": "nosniff",
    etag,
    "last-modified": stats.mtime.toUTCString(),
  };
  if (variant.kind !== "identity" || variant.negotiated) headers.vary = "Accept-Encoding";

  // Conditional GET/HEAD: If-None-Match wins; If-Modified-Since only without it (RFC 9110 §13.2.2).
  const inm = req.headers["if-none-match"];
  const ims = req.headers["if-modified-since"];
  if (inm !== undefined ? noneMatch(inm, etag) : ims !== undefined && notModifiedSince(ims, stats)) {
    const { "content-type": _type, "x-content-type-options": _nosniff, ...kept } = headers;
    res.writeHead(304, kept);
    res.end();
    return release();
  }

  if (variant.kind === "compress") {
    headers["content-encoding"] = variant.encoding;
    res.writeHead(200, headers);
    if (req.method === "HEAD") {
      res.end();
      return release();
    }
    const compressor =
      variant.encoding === "br"
        ? createBrotliCompress({ params: { [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: found.size, [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT } })
        : createGzip();
    const stream = createReadStream("", { fd: found.handle, start: 0, end: found.size - 1, autoClose: true });
    // Truncated while we read it: cut the connection rather than end a short, "complete" answer.
    let read = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        read += chunk.length;
        done(null, chunk);
      },
      flush(done) {
        done(read < found.size ? new Error("file truncated while served") : null);
      },
    });
    // Any failure or the client leaving destroys every stage, the file's descriptor with it.
    pipeline(stream, counted, compressor, res, () => {});
    return;
  }

  const handle = variant.kind === "precompressed" ? variant.handle : found.handle;
  const size = variant.kind === "precompressed" ? variant.size : found.size;
  if (variant.kind === "precompressed") {
    headers["content-encoding"] = variant.encoding;
    void found.handle.close().catch(() => {});
  } else headers["accept-ranges"] = "bytes";

  let start = 0;
  let end = size - 1;
  let status = 200;
  if (variant.kind === "identity" && (req.method === "GET" || req.method === "HEAD")) {
    const range = ifRangeHolds(req.headers["if-range"] as string | undefined, etag, stats) ? parseRange(req.headers.range, size) : undefined;
    if (range === "unsatisfiable") {
      res.writeHead(416, { ...headers, "content-range": `bytes */${size}`, "content-length": 0 });
      res.end();
      return release();
    }
    if (range !== undefined) {
      ({ start, end } = range);
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${size}`;
    }
  }
  const length = size === 0 ? 0 : end - start + 1;
  headers["content-length"] = length;
  res.writeHead(status, headers);
  if (req.method === "HEAD" || length === 0) {
    res.end();
    void handle.close().catch(() => {});
    return;
  }
  streamBytes(createReadStream("", { fd: handle, start, end, autoClose: true }), length, res);
}

/** Stream exactly `length` bytes to `res`, cutting the connection if the file ends short. */
function streamBytes(stream: ReadStream, length: number, res: ServerResponse): void {
  let sent = 0;
  stream.on("data", (chunk) => {
    sent += chunk.length;
    if (!res.write(chunk)) stream.pause();
  });
  res.on("drain", () => stream.resume());
  stream.on("end", () => {
    // Truncated while we read it: the answer would be shorter than its Content-Length.
    if (sent < length) res.destroy();
    else res.end();
  });
  stream.on("error", () => res.destroy());
  // However the response ends (finished, or the client went away), the descriptor is released.
  res.on("close", () => stream.destroy());
}
