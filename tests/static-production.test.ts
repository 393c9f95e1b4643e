// `server.static` for production (CONTRACT §9.1), over a real in-process gateway on 127.0.0.1 and
// raw node:http requests (so that Accept-Encoding, Range and the validators are exactly what is
// written here): ETag/Last-Modified and 304s, `immutable` only for names with a content hash,
// br/gzip compressed here or precompressed next to the file, never for images, single ranges,
// HEAD, and the web's content types.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { readdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { createGateway, type Gateway, type Listening } from "../gateway/index.ts";
import { hashedName } from "../gateway/transports/static.ts";
import { gatewayFor, memoryLogger, rejectionOf, tempApp, type TempApp } from "./helpers/app.ts";

interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** One request with exactly these headers (no agent: nothing added, nothing kept alive). */
function get(base: string, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Text that compresses (and is above the 1 KiB threshold): `lines` distinct lines. */
const text = (what: string, lines = 200) => Array.from({ length: lines }, (_, i) => `${what} line ${i}: ${"lorem ipsum ".repeat(3)}`).join("\n");

const INDEX = `<!doctype html><title>app</title>\n${text("<p>index</p>")}`;
const APP_JS = text("console.log('app')");
const VITE_JS = text("export const vite = 1;");
const PLAIN_JS = text("console.log('settings')");
const CSS = text("body { color: red }");
const TINY_JS = "console.log('tiny');";
const PRE_JS = text("console.log('the file itself')");
/** What the precompressed neighbours hold: not the file's content, so a test sees which was sent. */
const PRE_BR = "console.log('from pre.js.br')";
const PRE_GZ = "console.log('from pre.js.gz')";
const GZ_ONLY_JS = text("console.log('gz only')");
const GZ_ONLY_GZ = "console.log('from gz-only.js.gz')";
const LEAK_JS = text("console.log('leak.js itself')");
const OUTSIDE = "outside secret";
const PNG = randomBytes(8192);
const BIN = randomBytes(10_000);

const FILES: Record<string, string | Buffer> = {
  "index.html": INDEX,
  "assets/app.3f9a2c1b.js": APP_JS,
  "assets/index-BX4k2Yy8.js": VITE_JS,
  "assets/site-settings.js": PLAIN_JS,
  "styles.css": CSS,
  "tiny.js": TINY_JS,
  "pre.js": PRE_JS,
  "pre.js.br": brotliCompressSync(PRE_BR),
  "pre.js.gz": gzipSync(PRE_GZ),
  "gz-only.js": GZ_ONLY_JS,
  "gz-only.js.gz": gzipSync(GZ_ONLY_GZ),
  "leak.js": LEAK_JS,
  "image.png": PNG,
  "data.bin": BIN,
  "changing.txt": "version one",
  // Random hex: compresses only to about half, so a download held after its first chunk holds its file.
  "big.js": `const big = "${randomBytes(4 * 1024 * 1024).toString("hex")}";`,
};

interface Served {
  gw: Gateway;
  listening: Listening;
  app: TempApp;
}
const served: Served[] = [];

/** A gateway serving FILES from public/ with this `server.static` (YAML flow mapping). */
async function serve(staticSpec: string): Promise<{ url: string; app: TempApp }> {
  const app = tempApp({ "gateway.yaml": `version: 1\nserver:\n  static: ${staticSpec}\n` });
  for (const [name, content] of Object.entries(FILES)) {
    app.write(`public/${name}`, "");
    writeFileSync(app.path(`public/${name}`), content);
  }
  // A precompressed "neighbour" that is a symlink out of the folder: never followed.
  writeFileSync(app.path("outside.br"), brotliCompressSync(OUTSIDE));
  symlinkSync("../outside.br", app.path("public/leak.js.br"));
  // A stable name for a hashed file: its content changes under that name at the next build.
  symlinkSync("assets/app.3f9a2c1b.js", app.path("public/latest.js"));
  const gw = await createGateway({ config: app.path("gateway.yaml"), watch: false, logger: memoryLogger() });
  const listening = await gw.listen({ port: 0, host: "127.0.0.1" });
  served.push({ gw, listening, app });
  return { url: listening.url, app };
}

let url: string;
let app: TempApp;
let configuredUrl: string;

beforeAll(async () => {
  ({ url, app } = await serve("{ dir: public, fallback: index.html }"));
  ({ url: configuredUrl } = await serve('{ dir: public, cacheControl: "public, max-age=300", immutable: false }'));
}, 30_000);

afterAll(async () => {
  for (const { gw, listening, app } of served) {
    await listening.close();
    await gw.close();
    app.remove();
  }
});

describe("validators and 304", () => {
  test("a strong ETag and Last-Modified; If-None-Match with it is 304 with no body", async () => {
    const first = await get(url, "/tiny.js");
    expect(first.status).toBe(200);
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^"[^"]+"$/); // strong: no W/
    expect(new Date(first.headers["last-modified"]!).getTime()).toBeGreaterThan(0);

    const again = await get(url, "/tiny.js", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(etag);
    expect(again.headers["cache-control"]).toBe("no-cache");
    expect(again.headers["content-length"]).toBeUndefined();
    // In a list, weak form, or `*`: still a match; another tag is not.
    expect((await get(url, "/tiny.js", { "if-none-match": `"nope", W/${etag}` })).status).toBe(304);
    expect((await get(url, "/tiny.js", { "if-none-match": "*" })).status).toBe(304);
    const other = await get(url, "/tiny.js", { "if-none-match": '"nope"' });
    expect([other.status, other.body.toString()]).toEqual([200, TINY_JS]);
    // HEAD too.
    expect((await get(url, "/tiny.js", { "if-none-match": etag }, "HEAD")).status).toBe(304);
  });

  test("If-Modified-Since: 304 at or after the file's time, 200 before it; If-None-Match wins over it", async () => {
    const first = await get(url, "/tiny.js");
    const lastModified = first.headers["last-modified"]!;
    const at = await get(url, "/tiny.js", { "if-modified-since": lastModified });
    expect([at.status, at.body.length]).toEqual([304, 0]);
    const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
    expect((await get(url, "/tiny.js", { "if-modified-since": later })).status).toBe(304);
    const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    const before = await get(url, "/tiny.js", { "if-modified-since": earlier });
    expect([before.status, before.body.toString()]).toEqual([200, TINY_JS]);
    expect((await get(url, "/tiny.js", { "if-modified-since": "not a date" })).status).toBe(200);
    // A date that matches but a tag that does not: the tag decides (RFC 9110 §13.2.2).
    expect((await get(url, "/tiny.js", { "if-modified-since": lastModified, "if-none-match": '"nope"' })).status).toBe(200);
  });

  test("the ETag changes when the file changes (even to the same size); the old one then gets the new file", async () => {
    const file = app.path("public/changing.txt");
    const before = await get(url, "/changing.txt");
    expect(before.body.toString()).toBe("version one");
    writeFileSync(file, "version two"); // same length
    const time = new Date(Date.now() + 5_000);
    utimesSync(file, time, time);
    const after = await get(url, "/changing.txt", { "if-none-match": before.headers.etag! });
    expect(after.status).toBe(200);
    expect(after.body.toString()).toBe("version two");
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect((await get(url, "/changing.txt", { "if-none-match": after.headers.etag! })).status).toBe(304);
  });

  test("the SPA fallback has validators too, and answers 304 to them", async () => {
    const page = await get(url, "/some/route", { accept: "text/html" });
    expect(page.status).toBe(200);
    const again = await get(url, "/some/route", { accept: "text/html", "if-none-match": page.headers.etag! });
    expect(again.status).toBe(304);
  });
});

describe("Cache-Control", () => {
  test("immutable for a year only for names with a content hash; no-cache for the rest, index.html first", async () => {
    const IMMUTABLE = "public, max-age=31536000, immutable";
    const expected: Record<string, string> = {
      "/assets/app.3f9a2c1b.js": IMMUTABLE,
      "/assets/index-BX4k2Yy8.js": IMMUTABLE,
      "/assets/site-settings.js": "no-cache",
      "/index.html": "no-cache",
      "/": "no-cache",
      "/styles.css": "no-cache",
      "/image.png": "no-cache",
      "/latest.js": "no-cache",
    };
    const seen: Record<string, string | undefined> = {};
    for (const path of Object.keys(expected)) seen[path] = (await get(url, path)).headers["cache-control"];
    expect(seen).toEqual(expected);
  });

  test("which names count as hashed", () => {
    const names: Record<string, boolean> = {
      "app.3f9a2c1b.js": true,
      "main.3f9a2c1b9e0d.chunk.css": true,
      "logo.ABCDEF12.svg": true,
      "index-BX4k2Yy8.js": true,
      "vendor-a1b2c3d4.js": true,
      "index-Ab_cD-eF.css": true,
      "index.html": false,
      "app.js": false,
      "app.3f9a2c.js": false, // 6 hex digits: a version, not a hash
      "site-settings.js": false, // a word, not a hash
      "Page-Settings.js": false,
      "my-component.js": false,
      "jquery-3.7.1.min.js": false,
    };
    const judged = Object.fromEntries(Object.keys(names).map((name) => [name, hashedName(name)]));
    expect(judged).toEqual(names);
  });

  test.each([
    ['static: { dir: public, cacheControl: "no-cache\\r\\nSet-Cookie: a=b" }', "server.static.cacheControl is a Cache-Control value for files without a content hash, e.g. no-cache or public, max-age=300"],
    ["static: { dir: public, cacheControl: 300 }", "server.static.cacheControl is a Cache-Control value for files without a content hash, e.g. no-cache or public, max-age=300"],
  ])("%s is refused (no header injection from the manifest)", async (line, message) => {
    const error = await rejectionOf(gatewayFor({ "gateway.yaml": `version: 1\nserver:\n  ${line}\n` }));
    expect(error.problems).toEqual([expect.objectContaining({ line: 3, message })]);
  });

  test("server.static.cacheControl sets the others' header; immutable: false turns the hash rule off", async () => {
    expect((await get(configuredUrl, "/index.html")).headers["cache-control"]).toBe("public, max-age=300");
    expect((await get(configuredUrl, "/assets/app.3f9a2c1b.js")).headers["cache-control"]).toBe("public, max-age=300");
  });
});

describe("compression", () => {
  test("gzip and br on the fly: the body decompresses to the file; Vary: Accept-Encoding; distinct ETags", async () => {
    const plain = await get(url, "/assets/site-settings.js");
    const gz = await get(url, "/assets/site-settings.js", { "accept-encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.headers.vary).toBe("Accept-Encoding");
    expect(gz.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(gz.headers["accept-ranges"]).toBeUndefined();
    expect(gunzipSync(gz.body).toString()).toBe(PLAIN_JS);
    expect(gz.body.length).toBeLessThan(PLAIN_JS.length / 2);

    const br = await get(url, "/assets/site-settings.js", { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(brotliDecompressSync(br.body).toString()).toBe(PLAIN_JS);

    const tags = new Set([plain.headers.etag, gz.headers.etag, br.headers.etag]);
    expect(tags.size).toBe(3);
    // Each encoding revalidates against its own tag.
    expect((await get(url, "/assets/site-settings.js", { "accept-encoding": "br", "if-none-match": br.headers.etag! })).status).toBe(304);
    expect((await get(url, "/assets/site-settings.js", { "accept-encoding": "gzip", "if-none-match": br.headers.etag! })).status).toBe(200);
  });

  test("Accept-Encoding q-values decide; q=0 refuses; no header or identity only: the file as it is", async () => {
    const encodingFor = async (accept: string | undefined) => (await get(url, "/styles.css", accept === undefined ? {} : { "accept-encoding": accept })).headers["content-encoding"] ?? "identity";
    const cases: Record<string, string> = {
      "br;q=0.5, gzip": "gzip",
      "gzip;q=0.4, br;q=0.8": "br",
      "br;q=0, gzip": "gzip",
      "br;q=0, *": "gzip",
      "*": "br",
      "gzip;q=0, br;q=0": "identity",
      identity: "identity",
      "x-gzip": "gzip",
      "": "identity",
    };
    const seen: Record<string, string> = {};
    for (const accept of Object.keys(cases)) seen[accept] = await encodingFor(accept);
    expect(seen).toEqual(cases);
    expect(await encodingFor(undefined)).toBe("identity");
    const css = await get(url, "/styles.css", { "accept-encoding": "gzip;q=0.4, br;q=0.8" });
    expect(brotliDecompressSync(css.body).toString()).toBe(CSS);
  });

  test("a precompressed file.br / file.gz next to the file is preferred when accepted", async () => {
    const br = await get(url, "/pre.js", { "accept-encoding": "gzip, br" });
    expect([br.headers["content-encoding"], br.headers["content-type"], br.headers.vary]).toEqual(["br", "text/javascript; charset=utf-8", "Accept-Encoding"]);
    expect(brotliDecompressSync(br.body).toString()).toBe(PRE_BR);
    expect(Number(br.headers["content-length"])).toBe(br.body.length);

    const gz = await get(url, "/pre.js", { "accept-encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).toString()).toBe(PRE_GZ);

    // Only a .gz present: gzip from it even when br is accepted first.
    const gzOnly = await get(url, "/gz-only.js", { "accept-encoding": "br, gzip" });
    expect(gzOnly.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gzOnly.body).toString()).toBe(GZ_ONLY_GZ);

    // The file itself to a client that accepts neither.
    const identity = await get(url, "/pre.js");
    expect([identity.headers["content-encoding"], identity.body.toString()]).toEqual([undefined, PRE_JS]);
    // A precompressed file revalidates: 304 on its tag.
    expect((await get(url, "/pre.js", { "accept-encoding": "br", "if-none-match": br.headers.etag! })).status).toBe(304);
  });

  test("a precompressed neighbour that is a symlink out of the folder is never sent (the file is compressed here)", async () => {
    const res = await get(url, "/leak.js", { "accept-encoding": "br" });
    expect(res.headers["content-encoding"]).toBe("br");
    const body = brotliDecompressSync(res.body).toString();
    expect(body).toBe(LEAK_JS);
    expect(body).not.toContain(OUTSIDE);
  });

  test("never for images or unknown bytes, nor for files under 1 KiB", async () => {
    for (const path of ["/image.png", "/data.bin", "/tiny.js"]) {
      const res = await get(url, path, { "accept-encoding": "gzip, br" });
      expect({ path, encoding: res.headers["content-encoding"] }).toEqual({ path, encoding: undefined });
    }
    const png = await get(url, "/image.png", { "accept-encoding": "gzip, br" });
    expect(png.body.equals(PNG)).toBe(true);
    expect(png.headers.vary).toBeUndefined();
  });
});

/** This process's open descriptors (the gateway runs in it). */
const openDescriptors = () => readdirSync("/proc/self/fd").length;

test("downloads compressed on the fly and aborted mid-way release their files; the file still compresses whole", async () => {
  const { hostname, port } = new URL(url);
  const held = async (encoding: string) =>
    new Promise<{ destroy(): void }>((resolve, reject) => {
      const req = httpRequest({ host: hostname, port, path: "/big.js", headers: { "accept-encoding": encoding }, agent: false }, (res) => {
        expect(res.headers["content-encoding"]).toBe(encoding);
        res.once("data", () => {
          res.pause();
          resolve({ destroy: () => req.destroy() });
        });
      });
      req.on("error", reject);
      req.end();
    });
  await get(url, "/big.js", { "accept-encoding": "gzip" }); // anything opened once is in the baseline
  const baseline = openDescriptors();
  const downloads = await Promise.all(Array.from({ length: 20 }, (_, i) => held(i % 2 ? "gzip" : "br")));
  // Each holds a file and two socket ends here: the count is meaningful.
  expect(openDescriptors()).toBeGreaterThanOrEqual(baseline + 20);
  for (const download of downloads) download.destroy();
  let after = openDescriptors();
  for (let waited = 0; after > baseline + 4 && waited < 5000; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
    after = openDescriptors();
  }
  expect(after).toBeLessThanOrEqual(baseline + 4);
  const whole = await get(url, "/big.js", { "accept-encoding": "br" });
  expect(brotliDecompressSync(whole.body).toString()).toBe(FILES["big.js"]);
}, 30_000);

test("a file truncated while it is compressed and sent: the connection is cut, never a short 'complete' answer", async () => {
  const original = `const shrinks = "${randomBytes(4 * 1024 * 1024).toString("hex")}";`;
  writeFileSync(app.path("public/shrinks.js"), original);
  const { hostname, port } = new URL(url);
  const outcome = await new Promise<{ complete: boolean; body: Buffer }>((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path: "/shrinks.js", headers: { "accept-encoding": "gzip" }, agent: false }, (res) => {
      expect(res.headers["content-encoding"]).toBe("gzip");
      const chunks: Buffer[] = [];
      res.on("error", () => {}); // a cut is an outcome, seen in 'close'
      res.on("close", () => resolve({ complete: res.complete, body: Buffer.concat(chunks) }));
      res.once("data", (first: Buffer) => {
        chunks.push(first);
        res.pause();
        // Rewritten in place (O_TRUNC): the descriptor being read now ends at 1 KiB.
        writeFileSync(app.path("public/shrinks.js"), "x".repeat(1024));
        setTimeout(() => {
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.resume();
        }, 100);
      });
    });
    req.on("error", () => {});
    req.end();
    setTimeout(() => reject(new Error("hung: neither complete nor cut")), 15_000).unref();
  });
  // Complete only if it had all been read before the truncation: then it is all there.
  if (outcome.complete) expect(gunzipSync(outcome.body).toString()).toBe(original);
  else expect(() => gunzipSync(outcome.body)).toThrow();
  console.log(`static: truncated while compressed -> ${outcome.complete ? "served whole" : `cut after ${outcome.body.length} bytes`}`);
  const now = await get(url, "/shrinks.js", { "accept-encoding": "gzip" });
  expect(gunzipSync(now.body).toString()).toBe("x".repeat(1024));
}, 30_000);

describe("Range", () => {
  test("a single range is 206 with Content-Range and exactly those bytes", async () => {
    const cases: [string, number, number][] = [
      ["bytes=0-99", 0, 99],
      ["bytes=100-", 100, 9_999],
      ["bytes=-250", 9_750, 9_999],
      ["bytes=9990-20000", 9_990, 9_999],
      ["bytes=5000-5000", 5_000, 5_000],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(url, "/data.bin", { range });
      expect({ range, status: res.status, contentRange: res.headers["content-range"], length: res.headers["content-length"] }).toEqual({
        range,
        status: 206,
        contentRange: `bytes ${start}-${end}/10000`,
        length: String(end - start + 1),
      });
      expect(res.body.equals(BIN.subarray(start, end + 1))).toBe(true);
    }
    expect((await get(url, "/data.bin")).headers["accept-ranges"]).toBe("bytes");
  });

  test("unsatisfiable is 416 with bytes */size; several ranges or a malformed one get the whole file", async () => {
    for (const range of ["bytes=10000-", "bytes=20000-30000", "bytes=-0"]) {
      const res = await get(url, "/data.bin", { range });
      expect({ range, status: res.status, contentRange: res.headers["content-range"], body: res.body.length }).toEqual({ range, status: 416, contentRange: "bytes */10000", body: 0 });
    }
    for (const range of ["bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=50-10"]) {
      const res = await get(url, "/data.bin", { range });
      expect({ range, status: res.status, whole: res.body.equals(BIN) }).toEqual({ range, status: 200, whole: true });
    }
  });

  test("ranges are of the file itself, never of a compressed stream; If-Range with another tag gets the whole file", async () => {
    const res = await get(url, "/styles.css", { range: "bytes=0-9", "accept-encoding": "gzip, br" });
    expect([res.status, res.headers["content-encoding"], res.body.toString()]).toEqual([206, undefined, CSS.slice(0, 10)]);
    const { etag } = (await get(url, "/data.bin")).headers;
    const matching = await get(url, "/data.bin", { range: "bytes=0-9", "if-range": etag! });
    expect(matching.status).toBe(206);
    const stale = await get(url, "/data.bin", { range: "bytes=0-9", "if-range": '"old"' });
    expect([stale.status, stale.body.equals(BIN)]).toEqual([200, true]);
  });
});

describe("HEAD", () => {
  test("the headers a GET would have, and no body", async () => {
    const get200 = await get(url, "/data.bin");
    const head = await get(url, "/data.bin", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    for (const name of ["content-type", "content-length", "etag", "last-modified", "cache-control", "accept-ranges"]) expect({ name, value: head.headers[name] }).toEqual({ name, value: get200.headers[name] });

    const compressed = await get(url, "/styles.css", { "accept-encoding": "gzip" }, "HEAD");
    expect([compressed.status, compressed.headers["content-encoding"], compressed.headers.vary, compressed.body.length]).toEqual([200, "gzip", "Accept-Encoding", 0]);
    const ranged = await get(url, "/data.bin", { range: "bytes=0-9" }, "HEAD");
    expect([ranged.status, ranged.headers["content-range"], ranged.body.length]).toEqual([206, "bytes 0-9/10000", 0]);
  });
});

test("content types for the web's file types", async () => {
  const types: Record<string, string> = {
    "a.html": "text/html; charset=utf-8",
    "a.js": "text/javascript; charset=utf-8",
    "a.mjs": "text/javascript; charset=utf-8",
    "a.css": "text/css; charset=utf-8",
    "a.json": "application/json",
    "a.js.map": "application/json",
    "a.svg": "image/svg+xml",
    "a.wasm": "application/wasm",
    "a.woff": "font/woff",
    "a.woff2": "font/woff2",
    "a.png": "image/png",
    "a.jpg": "image/jpeg",
    "a.jpeg": "image/jpeg",
    "a.webp": "image/webp",
    "a.avif": "image/avif",
    "a.gif": "image/gif",
    "a.ico": "image/x-icon",
    "a.txt": "text/plain; charset=utf-8",
    "a.xml": "application/xml",
    "site.webmanifest": "application/manifest+json",
    "A.PNG": "image/png",
    "a.unknown": "application/octet-stream",
  };
  for (const name of Object.keys(types)) app.write(`public/types/${name}`, "x");
  const seen: Record<string, string | undefined> = {};
  for (const name of Object.keys(types)) {
    const res = await get(url, `/types/${name}`);
    seen[name] = res.headers["content-type"];
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  }
  expect(seen).toEqual(types);
});
