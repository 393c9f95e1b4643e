// `server.static` under stress and attack. Through the real `gateway serve` bin (where the
// process's descriptors can be counted): aborted downloads release their descriptors, a file
// deleted or truncated while it is streamed never ends the process, hangs or is answered silently
// short. In process (createGateway + listen): symlinks, dotfiles, traversal, the SPA fallback and
// HEAD.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { createGateway, type Gateway, type Listening } from "../gateway/index.ts";
import { memoryLogger, tempApp, type TempApp } from "./helpers/app.ts";
import { startGateway, type RunningGateway } from "./helpers/cli.ts";
import { HOSTILE_APP } from "./helpers/hostile-app.ts";

const LARGE_BYTES = 32 * 1024 * 1024;
const ABORTED_DOWNLOADS = 100;
/** Descriptors that may legitimately differ from the baseline (keep-alive sockets and the like). */
const DESCRIPTOR_TOLERANCE = 4;
/** A download that neither completes nor is cut within this long is a hang. */
const HANG_MS = 15_000;

// ---------------------------------------------------------------- raw HTTP (paths sent as written)

interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
  text: string;
}

/**
 * GET/HEAD `path` exactly as written: node:http given a URL string would normalize `/../x` and
 * `/sub/../.env` before sending them, so the path goes in the options.
 */
function get(base: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: options.method ?? "GET", headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString() });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** A download held after its first chunk: `resume()` reads the rest; `settled` says how it ended. */
interface HeldDownload {
  req: ClientRequest;
  res: IncomingMessage;
  contentLength: number;
  firstChunk: Buffer;
  /** Read the rest (stays held until called). */
  resume(): void;
  /** Resolves however the download ends: complete (all Content-Length bytes) or cut. */
  settled: Promise<{ complete: boolean; bytes: number; sha256: string }>;
}

function holdDownload(base: string, path: string): Promise<HeldDownload> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`GET ${path}: ${res.statusCode}`));
      }
      const hash = createHash("sha256");
      let bytes = 0;
      let settle!: (value: { complete: boolean; bytes: number; sha256: string }) => void;
      const settled = new Promise<{ complete: boolean; bytes: number; sha256: string }>((r) => (settle = r));
      res.on("error", () => {}); // a cut connection is an outcome here, seen in 'close'
      req.on("error", () => {});
      res.on("close", () => settle({ complete: res.complete, bytes, sha256: hash.digest("hex") }));
      res.once("data", (first: Buffer) => {
        res.pause();
        bytes += first.length;
        hash.update(first);
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        resolve({ req, res, contentLength: Number(res.headers["content-length"]), firstChunk: first, resume: () => res.resume(), settled });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `settled`, or a failure naming a hang after `ms`. */
function withinHangBound<T>(settled: Promise<T>, what: string, ms = HANG_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: hung (no end, no cut) for ${ms} ms`)), ms)));
  return Promise.race([settled, hang]).finally(() => clearTimeout(timer));
}

/** Poll `read` until `ok` holds (or ~5 s pass); returns the last reading. */
async function settle(read: () => number, ok: (n: number) => boolean): Promise<number> {
  let value = read();
  for (let waited = 0; !ok(value) && waited < 5000; waited += 50) {
    await sleep(50);
    value = read();
  }
  return value;
}

// ---------------------------------------------------------------- the apps

/** Files next to (not inside) the static folder, which no URL may reach. */
const OUTSIDE = "outside secret";

/** The hostile app (static: { dir: public, fallback: index.html }) plus files, symlinks and a large file. */
function staticApp(files: Record<string, string>, manifest?: string): { app: TempApp; large: Buffer } {
  const app = tempApp(manifest === undefined ? files : { ...files, "gateway.yaml": manifest });
  app.write("outside.txt", OUTSIDE);
  app.write("outside-dir/secret.txt", OUTSIDE);
  app.write("public/sub/page.txt", "sub page");
  app.write("public/data.json", '{"a":1}');
  // Symlinks out of the folder (relative and absolute, to a file and to a folder) and within it.
  symlinkSync("../outside.txt", app.path("public/link-out.txt"));
  symlinkSync(app.path("outside.txt"), app.path("public/link-out-absolute.txt"));
  symlinkSync("../outside-dir", app.path("public/dir-out"));
  symlinkSync("app.js", app.path("public/link-in.js"));
  symlinkSync("sub", app.path("public/sub-link"));
  // A visible name for a dotfile: still a dotfile.
  symlinkSync(".env", app.path("public/visible-env.txt"));
  const large = randomBytes(LARGE_BYTES);
  writeFileSync(app.path("public/large.bin"), large);
  return { app, large };
}

let child: RunningGateway;
let childApp: TempApp;
let large: Buffer;
let largeSha: string;

/** In-process gateways: `dotfiles: true` without fallback, and the string form `static: public`. */
const inProcess: { gw: Gateway; listening: Listening; app: TempApp }[] = [];
let dotfilesUrl: string;
let plainUrl: string;

async function listenInProcess(manifest: string): Promise<string> {
  const { app } = staticApp(HOSTILE_APP, manifest);
  // Only the static folder matters here: the manifest has no commands.
  const gw = await createGateway({ config: app.path("gateway.yaml"), watch: false, logger: memoryLogger() });
  const listening = await gw.listen({ port: 0, host: "127.0.0.1" });
  inProcess.push({ gw, listening, app });
  return listening.url;
}

beforeAll(async () => {
  ({ app: childApp, large } = staticApp(HOSTILE_APP));
  largeSha = sha256(large);
  child = await startGateway("serve", childApp.dir);
  dotfilesUrl = await listenInProcess("version: 1\nserver:\n  static: { dir: public, dotfiles: true }\n");
  plainUrl = await listenInProcess("version: 1\nserver:\n  static: public\n");
}, 60_000);

afterAll(async () => {
  child?.kill();
  childApp?.remove();
  for (const { gw, listening, app } of inProcess) {
    await listening.close();
    await gw.close();
    app.remove();
  }
});

// ---------------------------------------------------------------- the real bin: descriptors, files changing

test(`${ABORTED_DOWNLOADS} downloads of a ${LARGE_BYTES / 1024 / 1024} MiB file aborted mid-way release every descriptor; the file still downloads whole`, async () => {
  // One full download first, so anything opened once and kept (lazy modules, caches) is in the baseline.
  const warm = await get(child.url, "/large.bin");
  expect(warm.status).toBe(200);
  await sleep(200); // its connection (Connection: close) goes away
  const baseline = child.openDescriptors();

  const held = await Promise.all(Array.from({ length: ABORTED_DOWNLOADS }, () => holdDownload(child.url, "/large.bin")));
  for (const download of held) {
    expect(download.contentLength).toBe(LARGE_BYTES);
    expect(download.firstChunk.length).toBeGreaterThan(0);
    expect(download.firstChunk.length).toBeLessThan(LARGE_BYTES);
  }
  // Every download holds a socket and an open file in the gateway: the count is meaningful.
  const peak = child.openDescriptors();
  expect(peak).toBeGreaterThanOrEqual(baseline + ABORTED_DOWNLOADS);

  for (const download of held) download.req.destroy();
  const after = await settle(child.openDescriptors, (n) => n <= baseline + DESCRIPTOR_TOLERANCE);
  console.log(`static: descriptors before ${baseline}, with ${ABORTED_DOWNLOADS} downloads held ${peak}, after aborting them ${after}`);
  expect(after).toBeLessThanOrEqual(baseline + DESCRIPTOR_TOLERANCE);
  expect(child.child.exitCode).toBeNull();

  const whole = await get(child.url, "/large.bin");
  expect(whole.status).toBe(200);
  expect(whole.body.length).toBe(LARGE_BYTES);
  expect(sha256(whole.body)).toBe(largeSha);
}, 60_000);

test("downloads abandoned before the answer starts (the client leaves while the file is being opened) release their descriptors too", async () => {
  const { port } = new URL(child.url);
  await sleep(200);
  const baseline = child.openDescriptors();
  // The request is sent and the connection closed at once: the gateway is still locating the
  // file (realpath, open, stat) when the client is gone.
  await Promise.all(
    Array.from(
      { length: 50 },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = connect(Number(port), "127.0.0.1", () => {
            socket.write(`GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
            socket.destroy();
            resolve();
          });
          socket.on("error", reject);
        }),
    ),
  );
  const after = await settle(child.openDescriptors, (n) => n <= baseline + DESCRIPTOR_TOLERANCE);
  console.log(`static: descriptors before 50 abandoned requests ${baseline}, after ${after}`);
  expect(after).toBeLessThanOrEqual(baseline + DESCRIPTOR_TOLERANCE);
  expect(child.child.exitCode).toBeNull();
  expect((await get(child.url, "/large.bin")).body.length).toBe(LARGE_BYTES);
}, 30_000);

test("a file deleted while it is streamed: the download is whole (it was open) or cut, the gateway lives on", async () => {
  const victim = randomBytes(LARGE_BYTES);
  writeFileSync(childApp.path("public/deleted.bin"), victim);
  const download = await holdDownload(child.url, "/deleted.bin");
  expect(download.contentLength).toBe(LARGE_BYTES);
  unlinkSync(childApp.path("public/deleted.bin"));
  await sleep(100);
  download.resume();
  const outcome = await withinHangBound(download.settled, "download of a deleted file");
  if (outcome.complete) {
    expect(outcome.bytes).toBe(LARGE_BYTES);
    expect(outcome.sha256).toBe(sha256(victim));
  } else expect(outcome.bytes).toBeLessThan(LARGE_BYTES);
  console.log(`static: deleted while served -> ${outcome.complete ? "served whole" : `cut after ${outcome.bytes} bytes`}`);

  expect(child.child.exitCode).toBeNull();
  expect((await get(child.url, "/deleted.bin")).status).toBe(404);
  const next = await get(child.url, "/app.js");
  expect(next.status).toBe(200);
  expect(next.text).toBe("console.log('app');");
}, 30_000);

test("a file truncated while it is streamed: the connection is cut (never a hang, never a short 'complete' answer); the gateway keeps serving", async () => {
  writeFileSync(childApp.path("public/shrinks.bin"), randomBytes(LARGE_BYTES));
  const download = await holdDownload(child.url, "/shrinks.bin");
  expect(download.contentLength).toBe(LARGE_BYTES);
  // Rewritten in place (O_TRUNC): the descriptor the gateway reads from now ends at 1 KiB.
  writeFileSync(childApp.path("public/shrinks.bin"), "x".repeat(1024));
  await sleep(100);
  download.resume();
  const outcome = await withinHangBound(download.settled, "download of a truncated file");
  // Complete only if the gateway had read it all before the truncation; then it is all there.
  if (outcome.complete) expect(outcome.bytes).toBe(LARGE_BYTES);
  else expect(outcome.bytes).toBeLessThan(LARGE_BYTES);
  console.log(`static: truncated while served -> ${outcome.complete ? "served whole" : `cut after ${outcome.bytes} bytes`}`);

  expect(child.child.exitCode).toBeNull();
  const now = await get(child.url, "/shrinks.bin");
  expect(now.status).toBe(200);
  expect(now.text).toBe("x".repeat(1024));
  expect(Number(now.headers["content-length"])).toBe(1024);
  expect((await get(child.url, "/index.html")).status).toBe(200);
}, 30_000);

test("a FIFO in the folder is not a file: 404, not a request that never ends", async () => {
  const fifo = childApp.path("public/pipe");
  execFileSync("mkfifo", [fifo]);
  try {
    const res = await withinHangBound(get(child.url, "/pipe"), "GET of a FIFO", 5_000);
    expect(res.status).toBe(404);
  } finally {
    // If the gateway is stuck opening it for reading, a writer lets that open return (and frees
    // the thread it holds, so the tests after this one are not slowed by it).
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: nobody has it open for reading, nothing is stuck.
    }
    unlinkSync(fifo);
  }
  expect((await get(child.url, "/app.js")).status).toBe(200);
}, 30_000);

// ---------------------------------------------------------------- what may and may not be served

test("symlinks are followed only to files inside the folder", async () => {
  for (const url of [child.url, dotfilesUrl]) {
    for (const path of ["/link-out.txt", "/link-out-absolute.txt", "/dir-out/secret.txt", "/dir-out/"]) {
      const res = await get(url, path);
      expect({ path, status: res.status, leaked: res.text.includes(OUTSIDE) }).toEqual({ path, status: 404, leaked: false });
    }
    const inside = await get(url, "/link-in.js");
    expect(inside.status).toBe(200);
    expect(inside.text).toBe("console.log('app');");
    expect(inside.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    const throughFolder = await get(url, "/sub-link/page.txt");
    expect(throughFolder.status).toBe(200);
    expect(throughFolder.text).toBe("sub page");
  }
  // A symlink with a visible name to a dotfile is a dotfile, unless dotfiles are served.
  expect((await get(child.url, "/visible-env.txt")).status).toBe(404);
  expect((await get(dotfilesUrl, "/visible-env.txt")).text).toBe("SECRET=hunter2");
});

const DOTFILE_PATHS = ["/.env", "/.git/config", "/%2eenv", "/%2Eenv", "/.git/", "/sub/../.env", "/sub/%2e%2e/.env", "/sub/..%2f.env"];

const INDEX_HTML = "<!doctype html><h1>app</h1>";

test("dotfiles are 404 however the path spells them; a browser navigating there gets at most the SPA fallback, never the file", async () => {
  for (const path of DOTFILE_PATHS) {
    const plain = await get(child.url, path);
    expect({ path, status: plain.status, leaked: plain.text.includes("SECRET") || plain.text.includes("[core]") }).toEqual({ path, status: 404, leaked: false });
    // With Accept: text/html an extension-less path is a client-side route: index.html, not the dotfile.
    const navigating = await get(child.url, path, { headers: { accept: "text/html" } });
    const outcome = navigating.status === 404 ? "404" : navigating.status === 200 && navigating.text === INDEX_HTML ? "fallback" : `${navigating.status} ${navigating.text}`;
    expect({ path, outcome: outcome === "404" || outcome === "fallback" ? "not served" : outcome }).toEqual({ path, outcome: "not served" });
  }
  expect((await get(plainUrl, "/.env")).status).toBe(404);
  expect((await get(plainUrl, "/.git/config", { headers: { accept: "text/html" } })).status).toBe(404);
});

test("with dotfiles: true they are served", async () => {
  for (const path of ["/.env", "/%2eenv", "/sub/../.env"]) {
    const res = await get(dotfilesUrl, path);
    expect({ path, status: res.status, text: res.text }).toEqual({ path, status: 200, text: "SECRET=hunter2" });
  }
  expect((await get(dotfilesUrl, "/.git/config")).text).toBe("[core]");
});

test("traversal out of the folder is 404, dotfiles served or not", async () => {
  const TRAVERSALS = ["/../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E/outside.txt", "/%2e%2e%2foutside.txt", "/sub/../../outside.txt", "/..%5coutside.txt", "/../outside-dir/secret.txt", "/%2e%2e/%2e%2e/etc/passwd", "/..", "/%00/outside.txt"];
  for (const url of [child.url, dotfilesUrl, plainUrl]) {
    for (const path of TRAVERSALS) {
      const res = await get(url, path);
      expect({ path, status: res.status, leaked: res.text.includes(OUTSIDE) || res.text.includes("root:") }).toEqual({ path, status: 404, leaked: false });
    }
  }
});

test("SPA fallback: a browser navigating to an unknown route gets index.html; assets, JSON and apps without fallback get 404", async () => {
  const index = INDEX_HTML;
  for (const path of ["/some/route", "/some/route/", "/settings", "/"]) {
    const res = await get(child.url, path, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect({ path, status: res.status, text: res.text, type: res.headers["content-type"] }).toEqual({
      path,
      status: 200,
      text: index,
      type: "text/html; charset=utf-8",
    });
  }
  expect((await get(child.url, "/some/route", { headers: { accept: "text/html" } })).text).toBe(index);
  expect((await get(child.url, "/missing.js", { headers: { accept: "text/html" } })).status).toBe(404);
  expect((await get(child.url, "/missing.js", { headers: { accept: "*/*" } })).status).toBe(404);
  expect((await get(child.url, "/some/route", { headers: { accept: "application/json" } })).status).toBe(404);
  expect((await get(child.url, "/some/route")).status).toBe(404);
  // A real file is still itself, not the fallback.
  expect((await get(child.url, "/data.json", { headers: { accept: "text/html" } })).text).toBe('{"a":1}');
  for (const url of [dotfilesUrl, plainUrl]) {
    expect((await get(url, "/some/route", { headers: { accept: "text/html" } })).status).toBe(404);
    expect((await get(url, "/", { headers: { accept: "text/html" } })).text).toBe(index); // index.html of the folder
  }
});

test("HEAD: 200 with the file's Content-Length and no body", async () => {
  for (const url of [child.url, plainUrl]) {
    const res = await get(url, "/large.bin", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(Number(res.headers["content-length"])).toBe(LARGE_BYTES);
    expect(res.headers["content-type"]).toBe("application/octet-stream");
    expect(res.body.length).toBe(0);
    const small = await get(url, "/app.js", { method: "HEAD" });
    expect(small.status).toBe(200);
    expect(Number(small.headers["content-length"])).toBe("console.log('app');".length);
    expect(small.body.length).toBe(0);
  }
  expect((await get(child.url, "/.env", { method: "HEAD" })).status).toBe(404);
  // A HEAD for the large file opens it and answers at once: no descriptor is left behind.
  const before = child.openDescriptors();
  await Promise.all(Array.from({ length: 20 }, () => get(child.url, "/large.bin", { method: "HEAD" })));
  expect(await settle(child.openDescriptors, (n) => n <= before + DESCRIPTOR_TOLERANCE)).toBeLessThanOrEqual(before + DESCRIPTOR_TOLERANCE);
});

test("a file is sent with the headers docs/protocol.md lists, framing left to the app; a missing one is the gateway's own 404, not to be framed", async () => {
  for (const url of [child.url, plainUrl]) {
    const page = await get(url, "/index.html");
    const { date: _date, connection: _connection, "keep-alive": _keepAlive, ...headers } = page.headers;
    expect(headers).toEqual({
      "content-type": "text/html; charset=utf-8",
      "content-length": String(page.body.length),
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      // Validators and negotiation (tests/static-production.test.ts): no framing, no CSP.
      etag: expect.stringMatching(/^"[0-9a-f]+-[0-9a-f]+"$/),
      "last-modified": expect.any(String),
      "accept-ranges": "bytes",
      vary: "Accept-Encoding",
    });
    const missing = await get(url, "/no-such-file.js");
    expect([missing.status, missing.headers["x-frame-options"], missing.headers["content-security-policy"]]).toEqual([404, "DENY", "frame-ancestors 'none'"]);
  }
});

// A FileHandle left open and later collected shows up here: "Closing file descriptor N on garbage collection".
test("the gateway process is still up, and said nothing on stderr", () => {
  expect(child.child.exitCode).toBeNull();
  expect(child.stderr()).toBe("");
});
