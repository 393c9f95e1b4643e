// Where a module's `import`/`require` specifier leads: the gateway's own API, an app module (a
// local file the module graph compiles and evaluates once per process), or a package (Node's
// `require`). App modules are resolved the way TypeScript and the bundler before did: extensionless
// paths and `.js` naming a `.ts` file, folder index files, the tsconfig's `paths`, and
// package.json `imports` (`#lib/db`) that point into the app.
import { existsSync, statSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, extname, isAbsolute, join, resolve, sep } from "node:path";
import type { TsConfigResult } from "get-tsconfig";

type TsconfigLibrary = typeof import("get-tsconfig");
let tsconfigLibrary: TsconfigLibrary | undefined;
/** get-tsconfig (tsx's reader: `extends`, JSON with comments), loaded only for an app that has a tsconfig.json. */
function tsconfigReader(): TsconfigLibrary {
  return (tsconfigLibrary ??= createRequire(import.meta.url)("get-tsconfig") as TsconfigLibrary);
}

export type Resolved =
  | { kind: "api" }
  | { kind: "app"; file: string }
  | { kind: "package" }
  /** A relative or aliased path that names no file. */
  | { kind: "missing"; tried: string };

/** Files the graph compiles itself; anything else (a `.node` addon, say) goes to Node. */
export const APP_EXTENSIONS = [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".json"];
const TS_FOR_JS: Record<string, string[]> = { ".js": [".ts", ".tsx"], ".jsx": [".tsx"], ".mjs": [".mts"], ".cjs": [".cts"] };
const BUILTINS = new Set(builtinModules);

export function isAppModulePath(file: string): boolean {
  return APP_EXTENSIONS.includes(extname(file).toLowerCase()) && !file.split(sep).includes("node_modules");
}

/**
 * Resolves specifiers for the modules of one build. What it looks up on disk (tsconfig files,
 * folders) is remembered until `reset()`: a build reads each at most once.
 */
export class Resolver {
  private tsconfigs = new Map<string, TsConfigResult | null>();
  private readonly tsconfigCache = new Map<string, unknown>();

  reset(): void {
    this.tsconfigs.clear();
    this.tsconfigCache.clear();
  }

  /** The tsconfig.json that applies to files in `dir` (the nearest above it), if any. */
  tsconfigFor(dir: string): TsConfigResult | null {
    let found = this.tsconfigs.get(dir);
    if (found === undefined) {
      try {
        found = hasTsconfigAbove(dir) ? (tsconfigReader().getTsconfig(dir, "tsconfig.json", this.tsconfigCache as never) ?? null) : null;
      } catch {
        found = null; // a broken tsconfig.json: TypeScript's own check reports it; resolve without it
      }
      this.tsconfigs.set(dir, found);
    }
    return found;
  }

  resolve(specifier: string, fromFile: string): Resolved {
    if (specifier === "ipc-gateway") return { kind: "api" };
    if (specifier.startsWith("node:") || BUILTINS.has(specifier)) return { kind: "package" };
    const dir = dirname(fromFile);
    if (isPathLike(specifier)) {
      const base = resolve(dir, specifier);
      if (base.split(sep).includes("node_modules")) return { kind: "package" };
      const file = findFile(base);
      return file ? app(file) : { kind: "missing", tried: base };
    }
    const tsconfig = this.tsconfigFor(dir);
    const matcher = tsconfig ? pathsMatcher(tsconfig) : null;
    if (matcher) {
      for (const candidate of matcher(specifier)) {
        const file = findFile(candidate);
        if (file) return app(file);
      }
    }
    if (specifier.startsWith("#")) {
      // package.json "imports": Node knows the rules; a target inside the app is an app module.
      try {
        const file = createRequire(fromFile).resolve(specifier);
        if (isAbsolute(file)) return app(file);
      } catch {
        // a target Node cannot find (a .ts file is found by the lookup below)
      }
    }
    return { kind: "package" };
  }
}

const matchers = new WeakMap<TsConfigResult, ReturnType<TsconfigLibrary["createPathsMatcher"]>>();
function pathsMatcher(tsconfig: TsConfigResult): ReturnType<TsconfigLibrary["createPathsMatcher"]> {
  if (!matchers.has(tsconfig)) matchers.set(tsconfig, tsconfigReader().createPathsMatcher(tsconfig));
  return matchers.get(tsconfig)!;
}

/** Is there a tsconfig.json in `dir` or a folder above it (a few existence checks, no reading)? */
function hasTsconfigAbove(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, "tsconfig.json"))) return true;
    if (dirname(at) === at) return false;
  }
}

function app(file: string): Resolved {
  return isAppModulePath(file) ? { kind: "app", file } : { kind: "package" };
}

export function isPathLike(specifier: string): boolean {
  return specifier === "." || specifier === ".." || specifier.startsWith("./") || specifier.startsWith("../") || isAbsolute(specifier);
}

/**
 * The file a path names: itself, with an extension added, `.js` standing for `.ts`, or a folder's
 * index. `exists`: is there such a module (on disk, or in a build folder's list).
 */
export function findFile(base: string, exists: (file: string) => boolean = isRegularFile): string | undefined {
  if (exists(base)) return base;
  for (const ext of APP_EXTENSIONS) if (exists(base + ext)) return base + ext;
  const ext = extname(base).toLowerCase();
  for (const ts of TS_FOR_JS[ext] ?? []) {
    const file = base.slice(0, -ext.length) + ts;
    if (exists(file)) return file;
  }
  for (const ext of APP_EXTENSIONS) {
    const index = `${base}${sep}index${ext}`;
    if (exists(index)) return index;
  }
  return undefined;
}

/** A regular file (a FIFO or a device is never opened as a module: reading it could block forever). */
export function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
