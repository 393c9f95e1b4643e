// App modules compiled from their sources (`gateway dev`, `gateway serve`): each file's compiled
// code is kept in memory while the process runs and on disk between runs (config/disk-cache.ts),
// named by the file and checked against a hash of its source, so an unchanged file is compiled
// once, ever. A saved module's code is read from disk only when it is evaluated; if the entry is
// gone by then (the cache deleted while serving), the source is compiled again.
import { dirname } from "node:path";
import { DiskCache, hash } from "../config/disk-cache.ts";
import { NOT_REGULAR, readRegularFile } from "../config/regular-file.ts";
import { compile, compilerOptionsOf, compileSync, type CompileResult, type CompilerOptions } from "./compile.ts";
import { asShape, type ExportShape } from "./export-shape.ts";
import { describeLoadFailure, type CodeStore, type PreparedModule, type PrepareResult } from "./module-graph.ts";
import { Resolver, type Resolved } from "./resolve.ts";

/** What the disk cache keeps of a module beside its code (<key>.js). */
interface SavedModule {
  /** Hashes of its source, of the compiler options, and of the code entry. */
  source: string;
  options: string;
  code: string;
  requires: string[];
  shape?: ExportShape;
}

interface Source {
  text: string;
  hash: string;
}

type SourceRead = { ok: true; source: Source } | { ok: false; failure: PrepareResult & { ok: false } };

export class SourceStore implements CodeStore {
  private readonly resolver = new Resolver();
  /** Modules prepared this run, by file (the newest version of each). */
  private readonly memory = new Map<string, PreparedModule & { options: string }>();
  private compileCount = 0;

  constructor(private readonly cache: DiskCache = new DiskCache(undefined)) {}

  /** How many times a module was compiled (neither in memory nor on disk). */
  get compiled(): number {
    return this.compileCount;
  }

  reset(): void {
    this.resolver.reset();
  }

  resolve(specifier: string, fromFile: string): Resolved {
    return this.resolver.resolve(specifier, fromFile);
  }

  async prepare(file: string): Promise<PrepareResult> {
    const read = readSource(file);
    if (!read.ok) return read.failure;
    const options = this.optionsFor(file);
    const known = this.reuse(file, read.source, options);
    if (known) return { ok: true, module: known };
    return this.finish(file, read.source, options, await compile(file, read.source.text, options.values));
  }

  prepareSync(file: string): PrepareResult {
    const read = readSource(file);
    if (!read.ok) return read.failure;
    const options = this.optionsFor(file);
    const known = this.reuse(file, read.source, options);
    if (known) return { ok: true, module: known };
    return this.finish(file, read.source, options, compileSync(file, read.source.text, options.values));
  }

  isCurrent(module: PreparedModule): boolean {
    const read = readSource(module.file);
    return read.ok && read.source.hash === module.hash;
  }

  evaluated(module: PreparedModule, shape: ExportShape): void {
    if (module.shape !== undefined && JSON.stringify(module.shape) === JSON.stringify(shape)) return;
    module.shape = shape;
    const entry = this.entries.get(module);
    if (entry) this.cache.write("modules", `${cacheKey(module.file)}.json`, JSON.stringify({ ...entry, shape } satisfies SavedModule));
  }

  retainOnDisk(files: ReadonlySet<string>): void {
    this.cache.retain("modules", new Set([...files].flatMap((file) => [`${cacheKey(file)}.json`, `${cacheKey(file)}.js`])));
  }

  /** What each prepared module's disk entry says (rewritten when its shape becomes known). */
  private readonly entries = new WeakMap<PreparedModule, SavedModule>();

  private optionsFor(file: string): { values: CompilerOptions; key: string } {
    const tsconfig = this.resolver.tsconfigFor(dirname(file));
    const values = compilerOptionsOf(tsconfig?.config.compilerOptions as Record<string, unknown> | undefined);
    return { values, key: hash(JSON.stringify(values)) };
  }

  /** The module as prepared before (this run, or saved by an earlier one), if its source and options are the same. */
  private reuse(file: string, source: Source, options: { key: string }): PreparedModule | undefined {
    const known = this.memory.get(file);
    if (known && known.hash === source.hash && known.options === options.key) return known;
    const key = cacheKey(file);
    const text = this.cache.read("modules", `${key}.json`);
    if (text === undefined) return undefined;
    const saved = asSavedModule(text);
    if (!saved || saved.source !== source.hash || saved.options !== options.key || !this.cache.has("modules", `${key}.js`)) return undefined;
    const prepared: PreparedModule & { options: string } = {
      file,
      hash: source.hash,
      options: options.key,
      requires: saved.requires,
      ...(saved.shape ? { shape: saved.shape } : {}),
      saved: true,
      code: () => this.savedCode(file, key, saved.code, options.key) ?? this.recompile(prepared),
    };
    this.entries.set(prepared, saved);
    this.memory.set(file, prepared);
    return prepared;
  }

  private savedCode(file: string, key: string, codeHash: string, options: string): string | undefined {
    const code = this.cache.read("modules", `${key}.js`);
    if (code === undefined || hash(code) !== codeHash) return undefined;
    // Keep it: a module evaluated again (its import changed) does not read the disk again.
    const known = this.memory.get(file);
    if (known && known.options === options) known.code = () => code;
    return code;
  }

  /** A saved module whose code entry went away (or was damaged) since the start: compile it again, and save it again. */
  private recompile(module: PreparedModule): string {
    const read = readSource(module.file);
    if (!read.ok) throw new Error(`${module.file}: its compiled code is gone from the cache and its source cannot be read`);
    const options = this.optionsFor(module.file);
    const result = this.finish(module.file, read.source, options, compileSync(module.file, read.source.text, options.values));
    if (!result.ok) throw new Error(describeLoadFailure(result.failure, module.file));
    if (module.shape && result.module.hash === module.hash) this.evaluated(result.module, module.shape);
    return result.module.code();
  }

  private finish(file: string, source: Source, options: { key: string }, compiled: CompileResult): PrepareResult {
    if (!compiled.ok) return { ok: false, failure: { kind: "build", problems: compiled.problems } };
    this.compileCount++;
    const { code, requires } = compiled.module;
    const prepared: PreparedModule & { options: string } = { file, hash: source.hash, options: options.key, requires, saved: false, code: () => code };
    const entry: SavedModule = { source: source.hash, options: options.key, code: hash(code), requires };
    const key = cacheKey(file);
    this.cache.write("modules", `${key}.js`, code);
    this.cache.write("modules", `${key}.json`, JSON.stringify(entry));
    this.entries.set(prepared, entry);
    this.memory.set(file, prepared);
    return { ok: true, module: prepared };
  }
}

/** A module's entries in the cache: <key>.json (what it was compiled from, its imports and exports) and <key>.js (its code). */
function cacheKey(file: string): string {
  return hash(file);
}

function asSavedModule(text: string): SavedModule | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const saved = value as Record<string, unknown>;
  if (typeof saved.source !== "string" || typeof saved.options !== "string" || typeof saved.code !== "string") return undefined;
  if (!Array.isArray(saved.requires) || !saved.requires.every((r) => typeof r === "string")) return undefined;
  const shape = saved.shape === undefined ? undefined : asShape(saved.shape);
  if (saved.shape !== undefined && shape === undefined) return undefined;
  return { source: saved.source, options: saved.options, code: saved.code, requires: saved.requires as string[], ...(shape ? { shape } : {}) };
}

/** A module's source, never opening what is not a regular file (a FIFO would block the process). */
function readSource(file: string): SourceRead {
  let text: string;
  try {
    text = readRegularFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, failure: { ok: false, failure: { kind: "missing" } } };
    const message = code === NOT_REGULAR ? "not a regular file (a module must be a file)" : `cannot read it: ${code ?? String(error)}`;
    return { ok: false, failure: { ok: false, failure: { kind: "build", problems: [{ file, message }] } } };
  }
  return { ok: true, source: { text, hash: hash(text) } };
}
