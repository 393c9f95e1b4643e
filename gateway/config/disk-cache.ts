// A cache on disk of what is costly to build and depends only on file contents: compiled
// validators (ajv's standalone code), compiled app modules (esbuild's output) and the manifest
// as read. Entries are named by a hash of what they are built from, so an entry is either right
// or absent; a start with the cache warm skips ajv's code generation and esbuild for everything
// unchanged.
//
// Where: beside the app's dependencies, like Vite's node_modules/.vite:
// <nearest node_modules>/.cache/ipc-gateway/<gateway version>/<app>/. An app with no node_modules
// folder above it gets no disk cache (nothing is written outside the project).
//
// The cache can only make a start faster, never break one. A file on disk may be cut short, have
// a bit flipped, hold another entry's content, be a FIFO or a folder, or vanish (deleting the
// cache is always safe): every entry carries a checksum of its name and content, and whatever
// does not verify is treated as absent and built again from the sources. A folder that cannot be
// written (read-only, full) only costs speed, and is said once.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { threadId } from "node:worker_threads";
import { packageVersion } from "./package-info.ts";
import { NOT_REGULAR, readRegularFile } from "./regular-file.ts";

export type CacheKind = "validators" | "modules" | "manifests";

/**
 * Where a cache says what happened to it: a damaged entry (debug); a folder it cannot write
 * (unwritable: once, until a write goes through again, then writable).
 */
export type CacheLevel = "debug" | "unwritable" | "writable";
export type CacheLog = (level: CacheLevel, message: string) => void;

/** Temporary files written by this thread so far (their names' counter). */
let writes = 0;

/** Messages kept until a log is given: the gateway's logger is made after the first build. */
const HELD_MESSAGES = 100;

export class DiskCache {
  private readonly pending = new Set<Promise<void>>();
  /** The last write of each entry still under way. */
  private readonly writing = new Map<string, Promise<void>>();
  /** The entries of each kind, listed once (one readdir instead of a stat per entry). */
  private readonly listed = new Map<CacheKind, Map<string, "regular" | "other">>();
  private log: CacheLog | undefined;
  private held: [level: CacheLevel, message: string][] = [];
  private warned = false;

  /** `dir` undefined: a cache that keeps nothing. `log`: default none (silent). */
  constructor(
    readonly dir: string | undefined,
    log?: CacheLog,
  ) {
    if (log) this.logTo(log);
  }

  /** Say from now on what happens to entries through `log`, beginning with what happened before. */
  logTo(log: CacheLog): void {
    this.log = log;
    const held = this.held;
    this.held = [];
    for (const [level, message] of held) this.say(level, message);
  }

  /** The entry's content, if there is one and it is exactly what was written under this name. */
  read(kind: CacheKind, key: string): string | undefined {
    if (this.dir === undefined) return undefined;
    // The folder's listing says what each entry is: one readdir instead of a stat per entry.
    const listed = this.listing(kind).get(key);
    if (listed === undefined) return undefined; // never written
    let text: string;
    try {
      if (listed === "other") throw Object.assign(new Error("not a regular file"), { code: NOT_REGULAR });
      text = readRegularFile(join(this.dir, kind, key), "utf8", "regular");
    } catch (error) {
      // Listed a moment ago: gone, or not what it should be, is news (at debug level).
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === NOT_REGULAR ? "is not a regular file" : code === "ENOENT" || code === "ENOTDIR" ? "is gone" : `cannot be read (${code ?? error})`;
      this.say("debug", `disk cache: ${kind}/${key} ${why}; building it again`);
      return undefined;
    }
    const content = decode(kind, key, text);
    if (content === undefined) this.say("debug", `disk cache: ${kind}/${key} does not match its checksum (damaged, or older); building it again`);
    return content;
  }

  /** Is there an entry (as listed when first asked, plus what this run wrote)? read() still verifies it. */
  has(kind: CacheKind, key: string): boolean {
    if (this.dir === undefined) return false;
    return this.listing(kind).has(key);
  }

  /** The entries of `kind` as listed when first asked (plus what this run wrote), each a regular file or not. */
  private listing(kind: CacheKind): Map<string, "regular" | "other"> {
    let names = this.listed.get(kind);
    if (names === undefined) {
      names = new Map();
      try {
        for (const entry of readdirSync(join(this.dir!, kind), { withFileTypes: true })) names.set(entry.name, entry.isFile() ? "regular" : "other");
      } catch {
        // no folder yet: no entries
      }
      this.listed.set(kind, names);
    }
    return names;
  }

  /** Saved in the background (see flush); a failure only means the next start builds it again. */
  write(kind: CacheKind, key: string, text: string): void {
    if (this.dir === undefined) return;
    this.listed.get(kind)?.set(key, "regular");
    const file = join(this.dir, kind, key);
    // Writes of one entry land in the order they were made (the last one wins).
    const previous = this.writing.get(file) ?? Promise.resolve();
    const done: Promise<void> = previous
      .then(() => this.save(file, encode(kind, key, text)))
      .then(() => this.canWrite(), (error: unknown) => this.cannotWrite(error))
      .finally(() => {
        this.pending.delete(done);
        if (this.writing.get(file) === done) this.writing.delete(file);
      });
    this.writing.set(file, done);
    this.pending.add(done);
  }

  /** Resolves once every write so far is on disk (or given up); never rejects. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Remove the entries of `kind` not in `keep` (what the app no longer uses). */
  retain(kind: CacheKind, keep: ReadonlySet<string>): void {
    if (this.dir === undefined) return;
    let names: string[];
    try {
      names = readdirSync(join(this.dir, kind));
    } catch {
      return;
    }
    const ownWrites = `.${process.pid}.tmp`;
    for (const name of names) {
      // Another process's half-written entry is left over from one that was killed: it goes too.
      if (keep.has(name) || name.endsWith(ownWrites)) continue;
      try {
        // recursive: a folder where an entry should be goes like any other stray entry.
        rmSync(join(this.dir, kind, name), { recursive: true, force: true });
      } catch (error) {
        this.cannotWrite(error);
        return;
      }
      this.listed.get(kind)?.delete(name);
    }
  }

  private async save(file: string, bytes: Buffer): Promise<void> {
    // Written whole under a name of its own, then renamed: a reader never sees half an entry. Own
    // to this thread too: a gateway's background type check writes with a cache of its own.
    const temporary = `${file}.${threadId}-${++writes}.${process.pid}.tmp`;
    for (let attempt = 1; ; attempt++) {
      try {
        // Every time: the folder may have been deleted since the last write (always safe).
        await mkdir(dirname(file), { recursive: true });
        await writeFile(temporary, bytes);
        await replace(temporary, file);
        return;
      } catch (error) {
        await rm(temporary, { force: true }).catch(() => undefined);
        // Deleted between the mkdir and the write: once more.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt > 1) throw error;
      }
    }
  }

  private cannotWrite(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (this.warned) return this.say("debug", `disk cache: cannot write in ${this.dir} (${code})`);
    this.warned = true;
    this.say(
      "unwritable",
      `gateway: cannot write the disk cache in ${this.dir} (${code}): every start will be cold (everything compiled again); it works, only slower. ` +
        "Make that folder writable (or free some space), or set cacheDir to another folder, or to false for none.",
    );
  }

  /** A write went through: a folder that could not be written can be again (space was freed, say). */
  private canWrite(): void {
    if (!this.warned) return;
    this.warned = false;
    this.say("writable", `gateway: the disk cache in ${this.dir} can be written again`);
  }

  private say(level: CacheLevel, message: string): void {
    if (this.log === undefined) {
      if (this.held.length < HELD_MESSAGES) this.held.push([level, message]);
      return;
    }
    try {
      this.log(level, message);
    } catch {
      // A log that throws must not turn a cache miss into a failed start (or an unhandled rejection).
    }
  }
}

/** Rename over whatever is there; a folder in the way (a damaged cache) is removed first. */
async function replace(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "EPERM") throw error;
    await rm(to, { recursive: true, force: true });
    await rename(from, to);
  }
}

/** `<HEADER><sha256 of kind/key and content>\n<content>`: the first line proves the rest. */
const HEADER = "ipc-gateway cache v1 sha256:";

/** @internal An entry as written on disk (exported for tests that make entries of their own). */
export function encode(kind: CacheKind, key: string, text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  return Buffer.concat([Buffer.from(`${HEADER}${checksum(kind, key, body)}\n`, "latin1"), body]);
}

/**
 * The content of an entry that verifies under this name, else undefined (entries of older versions
 * too). Read as text: bytes that are not UTF-8 (damage) come back as U+FFFD, which hashes
 * differently, so they fail the sum like any other damage.
 */
function decode(kind: CacheKind, key: string, text: string): string | undefined {
  const end = text.indexOf("\n");
  if (end < 0) return undefined;
  const body = text.slice(end + 1);
  // The name is in the sum: another entry's content copied here does not verify either.
  if (text.slice(0, end) !== HEADER + checksum(kind, key, body)) return undefined;
  return body;
}

function checksum(kind: CacheKind, key: string, body: Buffer | string): string {
  return createHash("sha256").update(`${kind}/${key}\n`).update(body).digest("hex");
}

/** The cache folder for the app whose manifest this is, or undefined when there is no node_modules above it. */
export function defaultCacheDir(manifestFile: string): string | undefined {
  for (let dir = dirname(manifestFile); ; dir = dirname(dir)) {
    const modules = join(dir, "node_modules");
    // Entries made by another version of the gateway (and of ajv, esbuild with it) are not reused.
    if (existsSync(modules)) return join(modules, ".cache", "ipc-gateway", packageVersion(), hash(manifestFile).slice(0, 16));
    if (dirname(dir) === dir) return undefined;
  }
}

export function hash(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}
