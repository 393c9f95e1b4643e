// A cache on disk of what is costly to build and depends only on file contents: compiled
// validators (ajv's standalone code) and bundled handlers (esbuild's output). Entries are named by
// a hash of what they are built from, so an entry is either right or absent; a start with the
// cache warm skips ajv's code generation and esbuild for everything unchanged.
//
// Where: beside the app's dependencies, like Vite's node_modules/.vite:
// <nearest node_modules>/.cache/ipc-gateway/<gateway version>/<app>/. An app with no node_modules
// folder above it gets no disk cache (nothing is written outside the project).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { packageVersion } from "./package-info.ts";

export type CacheKind = "validators" | "modules" | "manifests";

export class DiskCache {
  private readonly pending = new Set<Promise<void>>();
  private readonly made = new Set<CacheKind>();
  /** The entries of each kind, listed once (one readdir instead of a stat per entry). */
  private readonly listed = new Map<CacheKind, Set<string>>();

  /** `dir` undefined: a cache that keeps nothing. */
  constructor(readonly dir: string | undefined) {}

  read(kind: CacheKind, key: string): string | undefined {
    if (this.dir === undefined) return undefined;
    try {
      return readFileSync(join(this.dir, kind, key), "utf8");
    } catch {
      return undefined;
    }
  }

  /** Is there an entry (as listed when first asked, plus what this run wrote)? */
  has(kind: CacheKind, key: string): boolean {
    if (this.dir === undefined) return false;
    let names = this.listed.get(kind);
    if (names === undefined) {
      try {
        names = new Set(readdirSync(join(this.dir, kind)));
      } catch {
        names = new Set();
      }
      this.listed.set(kind, names);
    }
    return names.has(key);
  }

  /** Saved in the background (see flush); a failure only means the next start builds it again. */
  write(kind: CacheKind, key: string, text: string): void {
    if (this.dir === undefined) return;
    const folder = join(this.dir, kind);
    if (!this.made.has(kind)) {
      try {
        mkdirSync(folder, { recursive: true });
      } catch {
        return;
      }
      this.made.add(kind);
    }
    const file = join(folder, key);
    this.listed.get(kind)?.add(key);
    // Written whole under another name, then renamed: a reader never sees half an entry.
    const temporary = `${file}.${process.pid}.tmp`;
    const done = writeFile(temporary, text)
      .then(() => rename(temporary, file))
      .catch(() => rmSync(temporary, { force: true }))
      .finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** Resolves once every write so far is on disk. */
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
      rmSync(join(this.dir, kind, name), { force: true });
      this.listed.get(kind)?.delete(name);
    }
  }
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

