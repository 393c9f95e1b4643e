// The app's modules — handlers and every local file they import — as one graph per process: each
// file is compiled on its own and evaluated once, and every importer gets that one instance (a
// store in `handlers/_store.ts` is shared by every handler, as under Node or Vite).
//
// Evaluation is CommonJS run by the gateway (evaluate.ts), not `import()`: Node's ESM loader never
// forgets a module, so re-importing on every reload would keep every old version alive. Here a
// replaced module is an object nothing refers to once its generation retires, and is collected.
//
// A reload (`begin(changed)`) drops the changed files and, transitively, the modules that import
// them; everything else keeps its instance and its state (Vite's rule for its module graph). The
// new instances are made in a build of their own beside the running graph and only become the
// graph when the whole generation is good (`commit`); a broken edit leaves the graph as it was.
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as handlerApi from "../runtime/handler-api.ts";
import { describeThrown } from "../runtime/codec.ts";
import type { LoadedModule } from "../runtime/generation.ts";
import type { Problem } from "../config/problems.ts";
import { EvaluationTimeout, moduleFactory, withTimeLimit } from "./evaluate.ts";
import { deferredExports, hasHooks, pickExport, shapeOf, type ExportShape } from "./export-shape.ts";
import { readRegularFile } from "../config/regular-file.ts";
import type { Resolved } from "./resolve.ts";

export type LoadFailure =
  | { kind: "missing" }
  | { kind: "build"; problems: Problem[] }
  /**
   * `file`: the module whose top-level code threw (or ran past its time limit: `timedOut`);
   * `line`/`col`: where, when stack traces are source-mapped.
   */
  | { kind: "threw"; file: string; message: string; line?: number; col?: number; timedOut?: boolean };

export type LoadResult = { ok: true; module: ModuleRecord } | { ok: false; failure: LoadFailure };

/** A module's code, ready to evaluate, as a code store (source-store.ts, build/built-store.ts) gives it. */
export interface PreparedModule {
  file: string;
  /** A hash of the source it was compiled from. */
  hash: string;
  /** The specifiers its code requires with a literal. */
  requires: string[];
  /** Its exports, when an earlier run evaluated the same code (see export-shape.ts). */
  shape?: ExportShape;
  /** Read from an earlier run's cache or a build folder (such a module may be evaluated at first use). */
  saved: boolean;
  /** The code; may read it from disk, so called only to evaluate. */
  code(): string;
}

export type PrepareResult = { ok: true; module: PreparedModule } | { ok: false; failure: LoadFailure };

/** Where compiled code comes from: the app's sources (compiled, cached) or a `gateway build` folder. */
export interface CodeStore {
  /** A new build begins: forget what was looked up on disk for the last one. */
  reset(): void;
  prepare(file: string): Promise<PrepareResult>;
  /** The same, blocking: for a module first required with a computed specifier while code runs. */
  prepareSync(file: string): PrepareResult;
  /** Is the module's source still what it was prepared from? */
  isCurrent(module: PreparedModule): boolean;
  resolve(specifier: string, fromFile: string): Resolved;
  /** A module was evaluated: its shape is worth keeping with its code. */
  evaluated(module: PreparedModule, shape: ExportShape): void;
  /** Keep on disk only what these files need. */
  retainOnDisk(files: ReadonlySet<string>): void;
}

type State = "unevaluated" | "evaluating" | "evaluated" | "failed";

/** One instance of one module. */
export class ModuleRecord implements LoadedModule {
  readonly file: string;
  /** App modules it imports: the literal ones (known before it runs) and those it required since. */
  readonly imports = new Set<string>();
  private state: State = "unevaluated";
  private failure: unknown;
  private readonly module: { exports: Record<string, unknown> } = { exports: {} };
  private standIns: Record<string, unknown> | undefined;
  /** Specifiers resolved for its code's require. */
  private readonly links = new Map<string, Resolved>();
  private nodeRequire: NodeJS.Require | undefined;

  constructor(
    readonly prepared: PreparedModule,
    private readonly graph: ModuleGraph,
  ) {
    this.file = prepared.file;
  }

  get hooks(): boolean {
    if (this.state === "evaluated") return typeof this.module.exports?.setup === "function" || typeof this.module.exports?.dispose === "function";
    return this.prepared.shape === undefined || hasHooks(this.prepared.shape);
  }

  get evaluated(): boolean {
    return this.state === "evaluated";
  }

  /** Its exports, evaluating it first if it was deferred (throws what its top-level code threw). */
  get exports(): Record<string, unknown> {
    this.evaluate();
    return this.module.exports;
  }

  /**
   * What a command calls: the export itself, or for a module not evaluated yet (a warm start
   * defers what has no setup/dispose), a stand-in that evaluates it at its first call.
   */
  exportFor(name: string): unknown {
    const shape = this.prepared.shape;
    if (this.state === "unevaluated" && shape !== undefined && !shape.callable) {
      this.standIns ??= deferredExports(shape, () => this.exports);
      return pickExport(this.standIns, name);
    }
    return pickExport(this.exports, name);
  }

  /** @internal Resolved once per specifier. */
  link(specifier: string): Resolved {
    let resolved = this.links.get(specifier);
    if (resolved === undefined) {
      resolved = this.graph.store.resolve(specifier, this.file);
      this.links.set(specifier, resolved);
    }
    return resolved;
  }

  /** @internal Run its top-level code, once (a cycle gets the exports made so far, as in Node). */
  evaluate(): void {
    if (this.state === "evaluated" || this.state === "evaluating") return;
    if (this.state === "failed") throw this.failure;
    this.graph.run(this, () => {
      this.state = "evaluating";
      const url = pathToFileURL(this.file).href;
      const factory = moduleFactory(this.prepared.code(), url);
      const require = this.requireFunction();
      factory.call(this.module.exports, this.module.exports, require, this.module, this.file, dirname(this.file), url);
      this.state = "evaluated";
    });
    this.graph.store.evaluated(this.prepared, shapeOf(this.module.exports));
  }

  /** @internal Its evaluation failed (by a throw, or ended by the time limit). */
  fail(error: unknown): void {
    this.state = "failed";
    this.failure = error;
  }

  private requireFunction(): NodeJS.Require {
    const require = ((specifier: string) => this.require(specifier)) as NodeJS.Require;
    require.resolve = ((specifier: string) => {
      const resolved = this.link(specifier);
      if (resolved.kind === "app") return resolved.file;
      if (resolved.kind === "api") return "ipc-gateway";
      return this.packages().resolve(specifier);
    }) as NodeJS.RequireResolve;
    return require;
  }

  private require(specifier: string): unknown {
    if (typeof specifier !== "string") return this.packages()(specifier);
    const resolved = this.link(specifier);
    switch (resolved.kind) {
      case "api":
        // This very module instance: `instanceof InvokeError` holds in the gateway.
        return handlerApi;
      case "app": {
        this.imports.add(resolved.file);
        const record = this.graph.instance(resolved.file);
        record.evaluate();
        return record.module.exports;
      }
      case "missing": {
        const error = new Error(`Cannot find module '${specifier}' imported from ${this.file}`) as NodeJS.ErrnoException;
        error.code = "MODULE_NOT_FOUND";
        throw error;
      }
      default:
        return this.packages()(specifier);
    }
  }

  private packages(): NodeJS.Require {
    return (this.nodeRequire ??= createRequire(this.file));
  }
}

/** The module graph of one gateway (one per process in practice). */
export class ModuleGraph {
  /** The instances the serving generation uses, by file. */
  private committed = new Map<string, ModuleRecord>();
  /** Files whose modules a build invalidated but that never became the graph (a broken edit). */
  private stale = new Set<string>();
  /** The newest build: only it may commit. */
  private latest: GraphBuild | undefined;
  /** The build whose modules are being evaluated right now (evaluation is synchronous). */
  private evaluatingIn: GraphBuild | undefined;
  /** Modules whose top-level code is running, outermost first. */
  private readonly running: ModuleRecord[] = [];
  private evaluations = 0;
  /** The time limit of a module's top-level code (server.loadTimeout). */
  loadTimeoutMs = 5_000;

  constructor(readonly store: CodeStore) {}

  /** How many times a module's top-level code ran (tests use it to prove instances are shared). */
  get evaluationCount(): number {
    return this.evaluations;
  }

  /** The instance of a file the serving graph holds, if any. */
  get(file: string): ModuleRecord | undefined {
    return this.committed.get(file);
  }

  /**
   * Start a build. `changed`: the files the watcher saw change since the last build; those whose
   * content is no longer what their module was made from are made anew, with their importers.
   * Without it every module's source is checked.
   */
  begin(changed?: ReadonlySet<string>): GraphBuild {
    this.store.reset();
    // A build that neither committed nor discarded (it threw) left its files to be made anew too.
    const seeds = new Set<string>([...this.stale, ...(this.latest?.invalid ?? [])]);
    for (const [file, record] of this.committed) {
      // A file reported changed whose content is what the module was made from (a save without
      // an edit, a touch, a checkout back to the same text) keeps its module and its state.
      if ((changed === undefined || changed.has(file)) && !this.store.isCurrent(record.prepared)) seeds.add(file);
    }
    const invalid = this.importersOf(seeds);
    const records = new Map<string, ModuleRecord>();
    for (const [file, record] of this.committed) if (!invalid.has(file)) records.set(file, record);
    const build = new GraphBuild(this, records, invalid, this.committed.size === 0);
    this.latest = build;
    return build;
  }

  /** `files` and every module that imports one of them, transitively. */
  private importersOf(files: Set<string>): Set<string> {
    const importers = new Map<string, string[]>();
    for (const record of this.committed.values()) {
      for (const imported of record.imports) {
        let list = importers.get(imported);
        if (!list) importers.set(imported, (list = []));
        list.push(record.file);
      }
    }
    const result = new Set(files);
    const stack = [...files];
    while (stack.length > 0) {
      for (const importer of importers.get(stack.pop()!) ?? []) {
        if (result.has(importer)) continue;
        result.add(importer);
        stack.push(importer);
      }
    }
    return result;
  }

  /** @internal A build became the graph. */
  commit(build: GraphBuild, records: Map<string, ModuleRecord>): boolean {
    if (build !== this.latest) return false; // overtaken (an abandoned build finishing late)
    this.committed = records;
    this.stale.clear();
    this.latest = undefined;
    return true;
  }

  /** @internal A build was not good: what it invalidated is still to be made anew. */
  discard(build: GraphBuild, invalid: ReadonlySet<string>): void {
    if (build !== this.latest) return; // given up earlier (see abandon), or overtaken
    for (const file of invalid) this.stale.add(file);
    this.latest = undefined;
  }

  /** The newest build is given up while it runs: it can neither commit nor discard any more. */
  abandon(): void {
    if (this.latest) this.discard(this.latest, this.latest.invalid);
  }

  /**
   * @internal The instance a running module's `require` gets: from the build being evaluated, or
   * from the serving graph (a deferred module evaluated at its first call, a computed import).
   * A file no module required before is prepared now, synchronously.
   */
  instance(file: string): ModuleRecord {
    const records = this.evaluatingIn?.records ?? this.committed;
    let record = records.get(file);
    if (record) return record;
    const prepared = this.store.prepareSync(file);
    if (!prepared.ok) throw loadError(prepared.failure, file);
    record = new ModuleRecord(prepared.module, this);
    records.set(file, record);
    return record;
  }

  /** @internal Evaluate within `build` (its instances are the ones required). */
  evaluateIn(build: GraphBuild, record: ModuleRecord): void {
    const outer = this.evaluatingIn;
    this.evaluatingIn = build;
    try {
      record.evaluate();
    } finally {
      this.evaluatingIn = outer;
    }
  }

  /**
   * @internal Run a module's top-level code. The outermost run is time-limited; when the limit
   * ends it, every module still running is failed with the reason (V8 ends the code without
   * running its catch or finally blocks), the innermost being the one that did not finish.
   */
  run(record: ModuleRecord, body: () => void): void {
    this.running.push(record);
    this.evaluations++;
    const outermost = this.running.length === 1;
    try {
      if (outermost) withTimeLimit(body, this.loadTimeoutMs);
      else body();
      this.running.pop();
      this.evaluatingIn?.evaluatedFiles.push(record.file);
    } catch (error) {
      if (error instanceof EvaluationTimeout) {
        const culprit = this.running[this.running.length - 1]!;
        origins.set(error, culprit.file);
        for (const stuck of this.running.splice(0)) stuck.fail(error);
        throw error;
      }
      // The innermost module a throw passes through is where it came from.
      if (typeof error === "object" && error !== null && !origins.has(error)) origins.set(error, record.file);
      record.fail(error);
      this.running.pop();
      throw error;
    }
  }
}

/** Which module's top-level code an error came from. */
const origins = new WeakMap<object, string>();

/** The modules of one generation being built. */
export class GraphBuild {
  /** Modules evaluated by this build, in order (what a reload logs). */
  readonly evaluatedFiles: string[] = [];
  /** Folders where a module an import names was not found (creating it there is worth a rebuild). */
  readonly missingIn = new Set<string>();
  private readonly preparing = new Map<string, Promise<PrepareResult>>();

  constructor(
    private readonly graph: ModuleGraph,
    /** @internal Unchanged instances taken over from the graph, and the new ones. */
    readonly records: Map<string, ModuleRecord>,
    /** The files whose modules this build makes anew. */
    readonly invalid: ReadonlySet<string>,
    /** The first build of the process: modules saved by an earlier run may wait for their first call. */
    private readonly mayDefer: boolean,
  ) {}

  /**
   * The module of a handler file with every module it imports: prepared (compiled or read from
   * the cache), then evaluated — unless it comes whole from an earlier run's cache and has no
   * setup/dispose, when it is evaluated at its first call.
   */
  async load(file: string): Promise<LoadResult> {
    const prepared = await this.prepareAll(file);
    if (!prepared.ok) return prepared;
    const record = this.records.get(file)!;
    if (record.evaluated) return { ok: true, module: record };
    if (this.mayDefer && this.closureOf(file).every((f) => this.deferrable(this.records.get(f)!))) return { ok: true, module: record };
    try {
      this.graph.evaluateIn(this, record);
    } catch (error) {
      return { ok: false, failure: threwFailure(error, file) };
    }
    return { ok: true, module: record };
  }

  private deferrable(record: ModuleRecord): boolean {
    return record.evaluated || (record.prepared.saved && record.prepared.shape !== undefined && !record.prepared.shape.callable && !hasHooks(record.prepared.shape));
  }

  /** Prepare `file` and, transitively, every app module its code requires with a literal. */
  private async prepareAll(root: string): Promise<LoadResult> {
    const seen = new Set<string>([root]);
    let level = [root];
    const problems: Problem[] = [];
    while (level.length > 0) {
      const next: string[] = [];
      const results = await Promise.all(level.map((file) => this.prepareOne(file)));
      for (const [i, result] of results.entries()) {
        const file = level[i]!;
        if (!result.ok) {
          if (file === root) return result;
          if (result.failure.kind === "build") problems.push(...result.failure.problems);
          else problems.push({ file, message: describeLoadFailure(result.failure, file) });
          continue;
        }
        const record = result.module;
        for (const specifier of record.prepared.requires) {
          const resolved = record.link(specifier);
          if (resolved.kind === "app") {
            record.imports.add(resolved.file);
            if (!seen.has(resolved.file)) {
              seen.add(resolved.file);
              next.push(resolved.file);
            }
          } else if (resolved.kind === "missing") {
            // A literal require in a try block may name an optional file; an import may not.
            const at = importPosition(file, specifier);
            this.missingIn.add(dirname(resolved.tried));
            if (at) problems.push({ file, ...at, message: `cannot find module "${specifier}" (${missingReason(resolved.tried)})` });
          }
        }
      }
      level = next;
    }
    return problems.length > 0 ? { ok: false, failure: { kind: "build", problems } } : { ok: true, module: this.records.get(root)! };
  }

  private async prepareOne(file: string): Promise<{ ok: true; module: ModuleRecord } | { ok: false; failure: LoadFailure }> {
    const known = this.records.get(file);
    if (known) return { ok: true, module: known };
    let pending = this.preparing.get(file);
    if (!pending) this.preparing.set(file, (pending = this.graph.store.prepare(file)));
    const result = await pending;
    if (!result.ok) return result;
    let record = this.records.get(file);
    if (!record) this.records.set(file, (record = new ModuleRecord(result.module, this.graph)));
    return { ok: true, module: record };
  }

  /** `file` and every app module it imports, transitively (as far as known). */
  closureOf(file: string): string[] {
    const seen = new Set<string>([file]);
    const stack = [file];
    while (stack.length > 0) {
      const record = this.records.get(stack.pop()!);
      for (const imported of record?.imports ?? []) {
        if (seen.has(imported)) continue;
        seen.add(imported);
        stack.push(imported);
      }
    }
    return [...seen];
  }

  /** The generation is good: these handler files (and what they import) are the graph now. */
  commit(handlerFiles: Iterable<string>): ModuleRecord[] {
    // One walk from every handler at once (handlers share their imports): linear in the graph.
    const kept = new Map<string, ModuleRecord>();
    const stack = [...handlerFiles];
    while (stack.length > 0) {
      const file = stack.pop()!;
      const record = this.records.get(file);
      if (record === undefined || kept.has(file)) continue;
      kept.set(file, record);
      for (const imported of record.imports) if (!kept.has(imported)) stack.push(imported);
    }
    if (!this.graph.commit(this, kept)) return [];
    return [...kept.values()];
  }

  /** The generation is not good (or was given up): the graph stays as it was. */
  discard(): void {
    this.graph.discard(this, this.invalid);
  }
}

/**
 * Where `specifier` is imported in `file` (an `import`/`export ... from`, or `import("...")`), or
 * undefined when only a `require` names it.
 */
function importPosition(file: string, specifier: string): { line: number; col: number } | undefined {
  let source: string;
  try {
    source = readRegularFile(file, "utf8");
  } catch {
    return undefined;
  }
  const quoted = `(["'])${specifier.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\1`;
  const statement = new RegExp(`\\b(?:from\\s*|import\\s*\\(?\\s*)${quoted}`).exec(source);
  if (!statement) return undefined;
  const offset = statement.index + statement[0].search(/["']/);
  const before = source.slice(0, offset).split("\n");
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

function missingReason(tried: string): string {
  try {
    if (!statSync(tried).isFile() && !statSync(tried).isDirectory()) return `${tried} is not a regular file`;
  } catch {
    // not there at all
  }
  return `no file ${tried}, with a .ts or .js extension, or as a folder with an index file`;
}

/** A failed load as the error a `require` throws. */
function loadError(failure: LoadFailure, file: string): Error {
  const error = new Error(describeLoadFailure(failure, file));
  if (failure.kind === "missing") (error as NodeJS.ErrnoException).code = "MODULE_NOT_FOUND";
  return error;
}

/** A failed load in one sentence (per mistake). */
export function describeLoadFailure(failure: LoadFailure, file: string): string {
  switch (failure.kind) {
    case "missing":
      return `Cannot find module ${file}`;
    case "build":
      return failure.problems.map((p) => `${p.file}${p.line ? `:${p.line}:${p.col ?? 1}` : ""}: ${p.message}`).join("\n");
    case "threw":
      return `${failure.file} ${failure.timedOut ? "did not finish loading" : "threw while loading"}: ${failure.message}`;
  }
}

function threwFailure(error: unknown, handlerFile: string): LoadFailure {
  const file = (typeof error === "object" && error !== null && origins.get(error)) || handlerFile;
  if (error instanceof EvaluationTimeout) return { kind: "threw", file, message: error.message, timedOut: true };
  return { kind: "threw", file, message: describeThrown(error), ...whereThrown(error, file) };
}

/** Where in `file` it was thrown, when stack traces are source-mapped. */
function whereThrown(error: unknown, file: string): { line?: number; col?: number } {
  if (!(error instanceof Error)) return {};
  // Without source maps (under jest, say) positions would be the compiled code's, not the file's.
  if (!(process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return {};
  const frame = error.stack?.split("\n").find((line) => line.includes(`${file}:`));
  const at = frame && /:(\d+):(\d+)\)?$/.exec(frame.trim());
  return at ? { line: Number(at[1]), col: Number(at[2]) } : {};
}

