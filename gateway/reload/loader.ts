// Handler modules are bundled with esbuild (TypeScript, local imports included, npm packages left
// to `require`) and evaluated as a function, instead of being `import()`ed. Node's ESM loader
// never forgets a module, so importing a new URL on each reload leaks every old version
// (measured: 73 MB -> 1.7 GB over 500 reloads); a function that is no longer referenced is
// collected like any other value. It also needs no `module.register()`, so it runs under jest.
// The cost: the bundle is CommonJS, which cannot hold a top-level `await`.
import type { Message } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as handlerApi from "../runtime/handler-api.ts";
import type { Problem } from "../config/problems.ts";
import { describeThrown } from "../runtime/codec.ts";
import { DiskCache, hash } from "../config/disk-cache.ts";
import type { LoadedModule } from "../runtime/generation.ts";


export type LoadFailure =
  | { kind: "missing" }
  | { kind: "build"; problems: Problem[] }
  /** `line`/`col`: where in the handler file it threw, when stack traces are source-mapped. */
  | { kind: "threw"; message: string; line?: number; col?: number };

export type LoadResult = { ok: true; module: LoadedModule } | { ok: false; failure: LoadFailure };

/** Loads handler modules; an unchanged module (itself and everything it bundles) is reused. */
export class ModuleLoader {
  /** `cache`: where bundles are saved between runs, so an unchanged handler skips esbuild. */
  constructor(private readonly cache: DiskCache = new DiskCache(undefined)) {}

  /**
   * The bundle an earlier run saved for this handler, if every file in it is still the same. Its
   * description (inputs, exports) and its code are saved apart: a module evaluated at its first
   * call reads its code only then.
   */
  private savedBundle(file: string): Bundled | undefined {
    const key = cacheKey(file);
    const text = this.cache.read("handlers", `${key}.json`);
    if (text === undefined || !this.cache.has("handlers", `${key}.js`)) return undefined;
    try {
      const saved = JSON.parse(text) as SavedBundle;
      const inputs = new Map(saved.inputs);
      if (!unchanged(inputs)) return undefined;
      const code = () => {
        const code = this.cache.read("handlers", `${key}.js`);
        if (code === undefined) throw new Error(`the cached bundle of ${file} is gone; restart the gateway`);
        return code;
      };
      return { ok: true, code, inputs, fresh: false, shape: saved.shape };
    } catch {
      return undefined;
    }
  }

  /** Remove saved bundles of handlers the app no longer has. */
  retainOnDisk(files: Iterable<string>): void {
    this.cache.retain("handlers", new Set([...files].flatMap((file) => [`${cacheKey(file)}.json`, `${cacheKey(file)}.js`])));
  }

  private readonly modules = new Map<string, LoadedModule>();
  /** Loads in progress: commands naming exports of one file share one module instance (and its state). */
  private readonly loading = new Map<string, Promise<LoadResult>>();
  private loadCount = 0;
  private bundleCount = 0;
  /** Modules whose files the watcher reported no change to since they were loaded. */
  private readonly verified = new Set<string>();

  /** How many times a module was actually evaluated (cache misses). */
  get loads(): number {
    return this.loadCount;
  }

  /** How many times esbuild bundled a module (neither in memory nor on disk). */
  get bundles(): number {
    return this.bundleCount;
  }

  load(file: string): Promise<LoadResult> {
    let pending = this.loading.get(file);
    if (!pending) {
      pending = this.loadNow(file).finally(() => this.loading.delete(file));
      this.loading.set(file, pending);
    }
    return pending;
  }

  /**
   * The watcher's list of changed files: modules that bundle none of them are reused without
   * reading their files again (what keeps a reload's cost independent of the app's size).
   * Without a list (a build not prompted by the watcher), every module's files are checked.
   */
  forget(paths?: ReadonlySet<string>): void {
    if (paths === undefined) {
      this.verified.clear();
      return;
    }
    for (const [file, module] of this.modules) {
      if ([...module.inputs.keys()].some((input) => paths.has(input))) this.verified.delete(file);
      else this.verified.add(file);
    }
  }

  private async loadNow(file: string): Promise<LoadResult> {
    const cached = this.modules.get(file);
    if (cached && (this.verified.has(file) || unchanged(cached.inputs))) return { ok: true, module: cached };
    try {
      if (!statSync(file).isFile()) return { ok: false, failure: { kind: "missing" } };
    } catch {
      return { ok: false, failure: { kind: "missing" } };
    }
    const bundled = this.savedBundle(file) ?? (await bundle(file));
    if (!bundled.ok) return bundled;
    if (bundled.fresh) this.bundleCount++;
    // A saved bundle known to export only handlers (no setup/dispose) is evaluated at its first
    // call, not now: a warm start of a big app then runs no handler module at all.
    if (!bundled.fresh && bundled.shape !== undefined && isDeferrable(bundled.shape)) {
      const module: LoadedModule = { file, exports: deferredExports(bundled.shape, () => this.evaluateNow(file, bundled.code())), inputs: bundled.inputs };
      this.modules.set(file, module);
      return { ok: true, module };
    }
    const code = bundled.code();
    const evaluated = evaluate(file, code);
    if (!evaluated.ok) return evaluated;
    this.loadCount++;
    if (bundled.fresh || bundled.shape === undefined) {
      const key = cacheKey(file);
      const entry: SavedBundle = { inputs: [...bundled.inputs], shape: shapeOf(evaluated.exports) };
      this.cache.write("handlers", `${key}.js`, code);
      this.cache.write("handlers", `${key}.json`, JSON.stringify(entry));
    }
    const module: LoadedModule = { file, exports: evaluated.exports, inputs: bundled.inputs };
    this.modules.set(file, module);
    return { ok: true, module };
  }

  /** A deferred module, evaluated at its first call. */
  private evaluateNow(file: string, code: string): Record<string, unknown> {
    const evaluated = evaluate(file, code);
    if (!evaluated.ok) {
      const failure = evaluated.failure;
      throw new Error(failure.kind === "threw" ? `${file} threw while loading: ${failure.message}` : `${file} could not be loaded`);
    }
    this.loadCount++;
    return evaluated.exports;
  }

  /** Forget modules the newest generation does not use, so they can be collected. */
  retain(files: Set<string>): void {
    for (const file of this.modules.keys()) if (!files.has(file)) this.modules.delete(file);
  }
}

/** The export a command calls: `default` (or the CommonJS `module.exports`) or a named one. */
export function pickExport(module: LoadedModule, name: string): unknown {
  const exports = module.exports;
  if (name !== "default") return exports[name];
  if ("default" in exports) return exports.default;
  return exports.__esModule ? undefined : exports;
}

/**
 * `code`: the bundle (read from the cache only when called); `fresh`: built now (not read from
 * the cache), so worth saving; `shape`: its exports, when saved with it.
 */
type Bundled = { ok: true; code: () => string; inputs: Map<string, string>; fresh: boolean; shape?: ExportShape } | { ok: false; failure: LoadFailure };

/** What the disk cache keeps of a bundled handler module, beside its code (<key>.js). */
interface SavedBundle {
  inputs: [string, string][];
  shape: ExportShape;
}

/** A module's exports as `typeof` each (or "callable": `module.exports` is itself a function). */
type ExportShape = { callable: true } | { callable: false; types: Record<string, string>; esModule: boolean };

function shapeOf(exports: unknown): ExportShape {
  if (typeof exports === "function") return { callable: true };
  const record = exports as Record<string, unknown>;
  return { callable: false, types: Object.fromEntries(Object.keys(record).map((name) => [name, typeof record[name]])), esModule: record.__esModule === true };
}

/** Modules with setup() or dispose() run when a generation starts or ends: they are evaluated at once. */
function isDeferrable(shape: ExportShape): shape is Extract<ExportShape, { callable: false }> {
  return !shape.callable && shape.types.setup === undefined && shape.types.dispose === undefined;
}

/** Marks a stand-in for a deferred module's function export: `[REAL]()` evaluates and returns the real one. */
export const REAL = Symbol("ipc-gateway.deferred-export");

/**
 * Stand-ins for a deferred module's exports: functions that evaluate the module at their first
 * call (builder.ts then puts the real function in the command's place), other values read
 * through getters.
 */
function deferredExports(shape: Extract<ExportShape, { callable: false }>, load: () => Record<string, unknown>): Record<string, unknown> {
  let real: Record<string, unknown> | undefined;
  const exports: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(shape.types)) {
    if (type === "function") {
      const resolve = () => (real ??= load())[name] as (...args: unknown[]) => unknown;
      const stand = function (this: unknown, ...args: unknown[]) {
        return resolve().apply(this, args);
      };
      Object.defineProperty(stand, REAL, { value: resolve });
      exports[name] = stand;
    } else {
      Object.defineProperty(exports, name, { enumerable: true, get: () => (real ??= load())[name] });
    }
  }
  if (shape.esModule) Object.defineProperty(exports, "__esModule", { value: true });
  return exports;
}

/** A handler's entries in the cache: <key>.json (inputs, exports) and <key>.js (its code). */
function cacheKey(file: string): string {
  return hash(file);
}

async function bundle(file: string): Promise<Bundled> {
  const workingDir = dirname(file);
  try {
    // Loaded at the first bundle: a warm start takes every handler from the disk cache.
    const { build } = await import("esbuild");
    const result = await build({
      entryPoints: [file],
      absWorkingDir: workingDir,
      bundle: true,
      packages: "external",
      format: "cjs",
      platform: "node",
      target: "node20",
      write: false,
      metafile: true,
      sourcemap: "external",
      outfile: `${file}.bundle.js`, // never written (write: false); names the map for the code
      sourcesContent: false,
      logLevel: "silent",
      define: {
        "import.meta.url": "__importMetaUrl",
        "import.meta.filename": "__filename",
        "import.meta.dirname": "__dirname",
      },
    });
    const inputs = new Map<string, string>();
    for (const input of Object.keys(result.metafile.inputs)) {
      const path = resolve(workingDir, input);
      const hash = hashFile(path);
      if (hash) inputs.set(path, hash);
    }
    const code = result.outputFiles.find((f) => f.path.endsWith(".js"))!.text;
    const map = result.outputFiles.find((f) => f.path.endsWith(".map"))?.text;
    const full = map ? withSourceMap(code, map) : code;
    return { ok: true, code: () => full, inputs, fresh: true };
  } catch (error) {
    const messages = (error as { errors?: Message[] }).errors;
    if (!messages?.length) return { ok: false, failure: { kind: "threw", message: String(error) } };
    return { ok: false, failure: { kind: "build", problems: messages.map((m) => buildProblem(m, workingDir, file)) } };
  }
}

/**
 * The bundle with its source map inline, so stack traces name the handler's own lines. `new Function`
 * puts the body after a two-line header ("function anonymous(...\n) {\n"): the map is shifted by
 * two generated lines to match.
 */
function withSourceMap(code: string, mapText: string): string {
  const map = JSON.parse(mapText) as { mappings: string };
  map.mappings = ";;" + map.mappings;
  const base64 = Buffer.from(JSON.stringify(map)).toString("base64");
  // esbuild ends the code with a sourceMappingURL comment naming the (unwritten) .map file.
  return `${code.replace(/\/\/# sourceMappingURL=\S+\s*$/, "")}//# sourceMappingURL=data:application/json;base64,${base64}`;
}

function buildProblem(message: Message, workingDir: string, entry: string): Problem {
  const where = message.location;
  const text = /top-level await/i.test(message.text)
    ? "top-level await is not supported in handler modules (they are loaded as CommonJS so that reloading never leaks memory); await inside the handler instead"
    : message.text;
  if (!where) return { file: entry, message: text };
  return { file: resolve(workingDir, where.file), line: where.line, col: where.column + 1, message: text };
}

type Evaluated = { ok: true; exports: Record<string, unknown> } | { ok: false; failure: LoadFailure };

function evaluate(file: string, code: string): Evaluated {
  const url = pathToFileURL(file).href;
  const nodeRequire = createRequire(file);
  // Handlers get this very module instance for "ipc-gateway", so `instanceof InvokeError` holds.
  const requireForHandler = (id: string): unknown => (id === "ipc-gateway" ? handlerApi : nodeRequire(id));
  const module = { exports: {} as Record<string, unknown> };
  try {
    // `new Function` compiles in the realm of the gateway's own code (under jest: the test's realm),
    // so values a handler returns compare equal to the caller's own.
    const factory = new Function("exports", "require", "module", "__filename", "__dirname", "__importMetaUrl", `${code}\n//# sourceURL=${url}`);
    factory.call(module.exports, module.exports, requireForHandler, module, file, dirname(file), url);
  } catch (error) {
    return { ok: false, failure: { kind: "threw", ...whereThrown(error, file) } };
  }
  return { ok: true, exports: module.exports };
}

/** "Error: message", and where in the handler file it was thrown when stack traces are source-mapped. */
function whereThrown(error: unknown, file: string): { message: string; line?: number; col?: number } {
  const message = describeThrown(error);
  if (!(error instanceof Error)) return { message };
  // Without source maps (under jest, say) positions would be the bundle's, not the file's.
  if (!(process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return { message };
  const frame = error.stack?.split("\n").find((line) => line.includes(`${file}:`));
  const at = frame && /:(\d+):(\d+)\)?$/.exec(frame.trim());
  return at ? { message, line: Number(at[1]), col: Number(at[2]) } : { message };
}

function hashFile(path: string): string | undefined {
  try {
    return createHash("sha1").update(readFileSync(path)).digest("hex");
  } catch {
    return undefined;
  }
}

function unchanged(inputs: Map<string, string>): boolean {
  for (const [path, hash] of inputs) if (hashFile(path) !== hash) return false;
  return true;
}
