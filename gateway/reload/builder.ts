// manifest -> generation: an immutable snapshot of everything an invocation needs (handlers,
// compiled validators, settings). Built whole or not at all; the hot path never parses YAML,
// compiles a schema or touches the file system.
import { readdirSync, statSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { DEFAULT_SERVER, loadManifest, type Env, type Manifest, type SchemaSpec, type ServerSettings } from "../config/manifest.ts";
import { ModuleGraph, type GraphBuild, type LoadFailure } from "./module-graph.ts";
import { replaceOnFirstCall } from "./export-shape.ts";
import { SourceStore } from "./source-store.ts";
import { stopCompiler } from "./compile.ts";
import type { ChannelDef, CommandDef, EventDef, Generation, ValueSpec } from "../runtime/generation.ts";
import { SchemaCompiler, type SchemaBuild, type SchemaUses, type Validator } from "../config/schemas.ts";
import { DiskCache, defaultCacheDir } from "../config/disk-cache.ts";
import { asEnvLayers, type EnvLayers } from "../config/env-layers.ts";
import { readRegularFile } from "../config/regular-file.ts";
import { Problems, displayPath, formatProblem, type Problem } from "../config/problems.ts";
import type { Position } from "../config/source-doc.ts";
import type { Handler } from "../runtime/types.ts";
import { buildPolicy, type AuthHandler, type GenerationAccess } from "../access/policy.ts";
import { readTauriCapabilities } from "../access/tauri.ts";

/**
 * A build's outcome. `files`: every file and folder the attempt read or looked for (missing ones
 * included), which a watcher watches so that creating or fixing one triggers the next attempt.
 */
export type BuildResult = ({ ok: true; generation: Generation } | BuildFailure) & { files: ReadonlySet<string> };

/** `settings`: the manifest's server settings, when it could be read at all. */
export type BuildFailure = { ok: false; problems: Problem[]; settings?: ServerSettings };

/**
 * What `gateway dev` serves while the app does not build: no commands, every invocation answered
 * `not-ready` naming the mistakes, the manifest's server settings when it could be read. Its files
 * are the failed attempt's, so fixing any of them triggers the next build.
 */
export function notReadyGeneration(manifestFile: string, failure: BuildFailure, files: ReadonlySet<string>): Generation {
  return {
    id: 0,
    manifestFile,
    settings: failure.settings ?? DEFAULT_SERVER,
    commands: new Map(),
    channels: new Map(),
    events: new Map(),
    files,
    schemaFiles: new Map(),
    modules: new Set(),
    usage: { inFlight: 0 },
    notReady: failure.problems.map((p) => formatProblem(p, dirname(manifestFile))).join("\n"),
  };
}

const HANDLER_FILE = /^[^_.][^/]*\.(ts|mts|cts|js|mjs|cjs)$/;
const NOT_A_HANDLER = /\.d\.[mc]?ts$|\.(test|spec)\.[mc]?[jt]s$/;
const COMMAND_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/;
const SCHEMA_EXTENSIONS = [".json", ".yaml", ".yml"];

/** Builds generations; keeps the caches (compiled schemas, the module graph) that make rebuilds cheap. */
export class GenerationBuilder {
  readonly schemas: SchemaCompiler;
  /** Compiled app modules (sources compiled once, kept in memory and on disk). */
  readonly store: SourceStore;
  /** The app's modules, one instance each (see module-graph.ts). */
  readonly graph: ModuleGraph;
  /** Compiled validators and modules saved between runs (see config/disk-cache.ts). */
  readonly cache: DiskCache;
  private nextId = 1;
  private lastManifest: { text: string; envKey: string; manifest: Manifest | undefined; problems: Problem[] } | undefined;
  /** Where `${VAR}` is read: the environment over env files (`.env` beside the manifest by default). */
  readonly env: EnvLayers;
  /** Each command as last built, with what it was built from (see buildCommand). */
  private readonly built = new Map<string, BuiltCommand>();

  /**
   * `env`: a plain environment is used alone; default: process.env over `.env` beside the manifest.
   * `cacheDir`: where to keep the disk cache; false for none; default: beside the app's node_modules.
   */
  constructor(
    readonly manifestFile: string,
    env?: Env | EnvLayers,
    cacheDir?: string | false,
  ) {
    this.env = asEnvLayers(env, manifestFile);
    this.cache = new DiskCache(cacheDir === false ? undefined : (cacheDir ?? defaultCacheDir(manifestFile)));
    this.schemas = new SchemaCompiler(this.cache);
    this.store = new SourceStore(this.cache);
    this.graph = new ModuleGraph(this.store);
  }

  /**
   * How long a rebuild prompted by the watcher may take before it is given up (its result, if it
   * ever comes, is ignored), so that a build stuck on something never holds back the next edit.
   */
  reloadTimeLimitMs = 60_000;
  /** Counts builds: only the newest may record what it built. */
  private attempts = 0;

  private warnings: { sink?: (warning: Problem) => void; said: Set<string>; waiting: Problem[] } = { said: new Set(), waiting: [] };

  /**
   * Where builds say what they ignore (a Tauri permission the gateway does not know): each thing
   * once per builder, that is once per gateway, not at every reload. What was said before (the
   * first build runs before the gateway has its logger) is passed on now.
   */
  warnTo(sink: (warning: Problem) => void): void {
    this.warnings.sink = sink;
    for (const warning of this.warnings.waiting.splice(0)) sink(warning);
  }

  private warnOnce(key: string, warning: () => Problem): void {
    if (this.warnings.said.has(key)) return;
    this.warnings.said.add(key);
    if (this.warnings.sink) this.warnings.sink(warning());
    else this.warnings.waiting.push(warning());
  }

  /**
   * Build a generation. `changed`: the files the watcher saw change since the last build; files
   * not in it are taken as read before. Without it everything is read (and checked) again.
   */
  async build(changed?: ReadonlySet<string>): Promise<BuildResult> {
    const attempt = ++this.attempts;
    if (changed === undefined) return this.buildNow(changed, attempt);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), this.reloadTimeLimitMs)));
    const result = await Promise.race([this.buildNow(changed, attempt), limit]).finally(() => clearTimeout(timer));
    if (result !== "timeout") return result;
    if (this.attempts === attempt) this.attempts++; // what the late build records is ignored
    this.graph.abandon();
    // The compiler is what can keep a build waiting: a fresh one serves the next build.
    await stopCompiler();
    const seconds = Math.round(this.reloadTimeLimitMs / 100) / 10;
    return {
      ok: false,
      problems: [{ file: this.manifestFile, message: `the rebuild did not finish within ${seconds} s and was given up; the next edit builds again` }],
      files: new Set([this.manifestFile, ...this.env.files, ...changed]),
    };
  }

  private async buildNow(changed: ReadonlySet<string> | undefined, attempt: number): Promise<BuildResult> {
    const isCurrent = () => attempt === this.attempts;
    this.schemas.forget(changed);
    const modules = this.graph.begin(changed);
    const problems = new Problems();
    // The env files too, missing ones included: creating or editing one is a reload.
    const files = new Set<string>([this.manifestFile, ...this.env.files]);
    let settings: ServerSettings | undefined;
    const failed = (): BuildResult => {
      modules.discard();
      const sorted = problems.sorted(this.manifestFile);
      for (const problem of sorted) files.add(problem.file);
      // A module the attempt could not find is created in one of these folders.
      for (const folder of modules.missingIn) files.add(folder);
      return { ok: false, problems: sorted, files, ...(settings ? { settings } : {}) };
    };
    const manifest = this.manifest(problems);
    if (!manifest) return failed();
    settings = manifest.server;
    this.graph.loadTimeoutMs = manifest.server.loadTimeoutMs;
    const schemas = this.schemas.begin(problems, manifest.file);
    for (const dir of [manifest.discover.handlers, manifest.discover.schemas]) if (dir) files.add(dir);
    if (manifest.discover.schemas && !isDir(manifest.discover.schemas)) {
      const at = manifest.source.valuePosition(["discover", "schemas"]);
      problems.add({ file: manifest.file, ...at, message: `discover.schemas folder not found: ${displayPath(manifest.discover.schemas, manifest.dir)}` });
    }
    const discovered = discoverHandlers(manifest, problems);
    const entries = mergeCommands(manifest, discovered, problems);
    for (const entry of entries) files.add(entry.handlerFile);
    const channels = buildChannels(manifest, schemas);
    const events = buildEvents(manifest, schemas);
    const authFile = manifest.access.auth?.handler?.file;
    if (authFile !== undefined) files.add(authFile);
    // Commands taken whole from the last build are taken synchronously: a reload of a big app
    // awaits only the few it rebuilds.
    const built: (BuiltCommand["result"] | undefined)[] = entries.map((entry) => this.reusable(entry, manifest, schemas, changed, modules));
    await Promise.all(
      entries.map(async (entry, i) => {
        if (built[i] === undefined) built[i] = await this.buildCommand(entry, manifest, schemas, channels, problems, modules, isCurrent);
      }),
    );
    if (!isCurrent()) {
      // Given up while it ran (see build): the graph stays as the build that replaced it left it.
      problems.add({ file: manifest.file, message: "the build was given up" });
      return failed();
    }
    const access = await this.buildAccess(manifest, entries.map((e) => e.name), events, problems, modules, files);
    const planned = new Set(entries.map((e) => e.name));
    for (const name of this.built.keys()) if (!planned.has(name)) this.built.delete(name);
    for (const file of schemas.filesRead) files.add(file);
    for (const result of built) if (result) for (const input of result.moduleFiles) files.add(input);
    if (problems.size > 0) return failed();

    const commands = new Map<string, CommandDef>();
    for (const result of built) commands.set(result!.command.name, result!.command);
    const records = modules.commit([...entries.map((e) => e.handlerFile), ...(authFile !== undefined ? [authFile] : [])]);
    this.schemas.retain(schemas.keys, schemas.urls);
    // The first good build of this run knows everything the app uses: the rest of the cache goes.
    if (this.nextId === 1) this.pruneCache(schemas.keys, new Set(records.map((r) => r.file)));
    let schemaFiles: ReadonlyMap<string, unknown> | undefined;
    const generation: Generation = {
      id: this.nextId++,
      manifestFile: manifest.file,
      settings: manifest.server,
      commands,
      channels,
      events,
      files,
      // Made when something describes the API (a reload need not pay for it).
      get schemaFiles() {
        return (schemaFiles ??= schemas.documents);
      },
      modules: new Set(records),
      evaluated: modules.evaluatedFiles,
      usage: { inFlight: 0 },
      ...(access !== undefined ? { access } : {}),
    };
    return { ok: true, generation, files };
  }

  /** Removes the disk cache's entries the app no longer uses (after the first good build). */
  protected pruneCache(validatorKeys: ReadonlySet<string>, moduleFiles: ReadonlySet<string>): void {
    this.schemas.retainOnDisk(validatorKeys);
    this.store.retainOnDisk(moduleFiles);
  }

  /**
   * The generation's access policy (undefined when the manifest has no auth:, capabilities:,
   * limits: or discover.capabilities): Tauri capability files read, names checked, the auth
   * handler loaded into the module graph like a command's.
   */
  private async buildAccess(
    manifest: Manifest,
    commands: string[],
    events: ReadonlyMap<string, EventDef>,
    problems: Problems,
    modules: GraphBuild,
    files: Set<string>,
  ): Promise<GenerationAccess | undefined> {
    const spec = { ...manifest.access };
    if (spec.auth === undefined && spec.capabilities === undefined && spec.limits.length === 0 && spec.capabilityFolder === undefined) return undefined;
    if (spec.capabilityFolder !== undefined) {
      files.add(spec.capabilityFolder.dir);
      const known = { commands, events: [...events.keys()] };
      const fromTauri = await readTauriCapabilities(spec.capabilityFolder.dir, problems, files, manifest, known, (key, warning) => this.warnOnce(key, warning));
      spec.capabilities = [...(spec.capabilities ?? []), ...fromTauri];
    }
    let authHandler: AuthHandler | undefined;
    const ref = spec.auth?.handler;
    if (ref !== undefined) {
      const loaded = await this.loadHandler(modules, ref.file);
      if (!loaded.ok) reportLoadFailure(loaded.failure, ref.file, manifest.dir, { file: manifest.file, at: ref.at }, problems);
      else {
        for (const file of loaded.module.files) files.add(file);
        const handler = loaded.module.exportFor(ref.exportName);
        if (typeof handler === "function") authHandler = handler as AuthHandler;
        else {
          const what = ref.exportName === "default" ? "a default export" : `an export named "${ref.exportName}"`;
          problems.add({ file: manifest.file, ...ref.at, message: `auth.handler ${displayPath(ref.file, manifest.dir)} has no function as ${what}` });
        }
      }
    }
    return buildPolicy(spec, { commands, events: events.keys() }, problems, authHandler);
  }

  /**
   * The manifest, parsed again only when its text or the env files changed (YAML with positions
   * is the slow part of a big app's build). The env files are read at every build: they are small,
   * and an edit of one is a reload like the manifest's.
   */
  private manifest(problems: Problems): Manifest | undefined {
    const { env, key: envKey } = this.env.read(problems);
    let text: string | undefined;
    try {
      text = readRegularFile(this.manifestFile, "utf8");
    } catch {
      // loadManifest reports it
    }
    const last = this.lastManifest;
    if (text !== undefined && last !== undefined && last.text === text && last.envKey === envKey) {
      for (const problem of last.problems) problems.add(problem);
      return last.manifest;
    }
    const own = new Problems();
    const manifest = loadManifest(this.manifestFile, own, env, this.cache);
    for (const problem of own.list) problems.add(problem);
    this.lastManifest = text === undefined ? undefined : { text, envKey, manifest, problems: own.list };
    return manifest;
  }

  /**
   * On a reload, a command taken whole from the previous build when nothing it is made of
   * changed: the same manifest (by identity: its text did not change), the same plan, and none of
   * its files (handler and what it imports, schemas and what they `$ref`) in `changed`. This is
   * what keeps a reload's cost independent of the app's size.
   */
  private reusable(entry: PlannedCommand, manifest: Manifest, schemas: SchemaBuild, changed: ReadonlySet<string> | undefined, modules: GraphBuild): BuiltCommand["result"] | undefined {
    const last = this.built.get(entry.name);
    if (
      changed === undefined ||
      last === undefined ||
      last.manifest !== manifest ||
      !samePlan(last.plan, entry) ||
      modules.invalid.has(entry.handlerFile) ||
      last.uses.files.some((f) => changed.has(f))
    ) {
      return undefined;
    }
    schemas.adopt(last.uses);
    return last.result;
  }

  /** A command built anew. */
  private async buildCommand(
    entry: PlannedCommand,
    manifest: Manifest,
    schemas: SchemaBuild,
    channels: Map<string, ChannelDef>,
    problems: Problems,
    modules: GraphBuild,
    isCurrent: () => boolean,
  ): Promise<BuiltCommand["result"] | undefined> {
    const uses: SchemaUses = { keys: [], urls: [], files: [] };
    const result = await this.buildCommandNow(entry, manifest, schemas, channels, problems, uses, modules);
    if (!isCurrent()) return result;
    if (result) this.built.set(entry.name, { manifest, plan: entry, uses, result });
    else this.built.delete(entry.name);
    return result;
  }

  private async buildCommandNow(
    entry: PlannedCommand,
    manifest: Manifest,
    schemas: SchemaBuild,
    channels: Map<string, ChannelDef>,
    problems: Problems,
    uses: SchemaUses,
    modules: GraphBuild,
  ): Promise<BuiltCommand["result"] | undefined> {
    const { name, handlerFile, exportName, reportAt } = entry;
    const role = (what: string) => `${what} of command "${name}"`;
    const body = valueSpec(entry.body, schemas, manifest, role("body"), uses);
    const returns = valueSpec(entry.returns, schemas, manifest, role("returns"), uses);
    const errors = valueSpec(entry.errors, schemas, manifest, role("errors"), uses);
    const channelFields = body?.kind === "json" ? channelFieldsOf(body.validate, name, channels, entry, manifest, problems) : new Map();

    const loaded = await this.loadHandler(modules, handlerFile);
    if (!loaded.ok) {
      reportLoadFailure(loaded.failure, handlerFile, manifest.dir, reportAt && { file: manifest.file, at: reportAt }, problems);
      return undefined;
    }
    const handler = loaded.module.exportFor(exportName);
    if (typeof handler !== "function") {
      const what = exportName === "default" ? "a default export" : `an export named "${exportName}"`;
      const found = handler === undefined ? "" : ` (found ${typeof handler})`;
      problems.add(
        reportAt
          ? { file: manifest.file, ...reportAt, message: `handler ${displayPath(handlerFile, manifest.dir)} has no function as ${what}${found}` }
          : { file: handlerFile, message: `no function as ${what}${found}: export default a handler, or start the file name with _ if it is a helper` },
      );
      return undefined;
    }
    if (!body || !returns || !errors) return undefined;
    const command: CommandDef = {
      name,
      handler: handler as Handler,
      body,
      returns,
      errors,
      timeoutMs: entry.timeoutMs ?? manifest.server.timeoutMs,
      windows: entry.windows ? new Set(entry.windows) : undefined,
      channelFields,
      source: `${displayPath(handlerFile, manifest.dir)}#${exportName}`,
      exportName,
      file: handlerFile,
    };
    replaceOnFirstCall(command);
    return { command, moduleFiles: loaded.module.files };
  }

  /** A command's handler module, loaded into the module graph with what it imports. */
  protected async loadHandler(modules: GraphBuild, file: string): Promise<{ ok: true; module: HandlerModule } | { ok: false; failure: LoadFailure }> {
    const loaded = await modules.load(file);
    if (!loaded.ok) return loaded;
    return { ok: true, module: { exportFor: (name) => loaded.module.exportFor(name), files: modules.closureOf(file) } };
  }
}

/** A handler module as a command needs it: its exports, and the files it is made of (itself and its imports). */
export interface HandlerModule {
  exportFor(name: string): unknown;
  files: string[];
}

interface BuiltCommand {
  manifest: Manifest;
  plan: PlannedCommand;
  uses: SchemaUses;
  /** `moduleFiles`: its handler module's file and every app module it imports. */
  result: { command: CommandDef; moduleFiles: string[] };
}

/** The same command from the same sources (schemas compared by file, or by identity when inline). */
function samePlan(a: PlannedCommand, b: PlannedCommand): boolean {
  const sameSpec = (x: SchemaSpec | undefined, y: SchemaSpec | undefined) =>
    x === y || (x !== undefined && y !== undefined && x.kind === y.kind && (x.kind === "file" ? x.file === (y as { file: string }).file : x.kind === "binary" || (x as { schema: unknown }).schema === (y as { schema: unknown }).schema));
  return (
    a.handlerFile === b.handlerFile &&
    a.exportName === b.exportName &&
    a.timeoutMs === b.timeoutMs &&
    a.windows === b.windows &&
    sameSpec(a.body, b.body) &&
    sameSpec(a.returns, b.returns) &&
    sameSpec(a.errors, b.errors)
  );
}

/** A command as it will be built: from the manifest, a discovered file, or both. */
interface PlannedCommand {
  name: string;
  handlerFile: string;
  exportName: string;
  /** Where in the manifest to report handler problems; undefined for discovered files. */
  reportAt?: Position;
  body?: SchemaSpec;
  returns?: SchemaSpec;
  errors?: SchemaSpec;
  timeoutMs?: number;
  windows?: string[];
}

interface DiscoveredHandler {
  name: string;
  file: string;
}

function discoverHandlers(manifest: Manifest, problems: Problems): Map<string, DiscoveredHandler> {
  const found = new Map<string, DiscoveredHandler>();
  const dir = manifest.discover.handlers;
  if (!dir) return found;
  // A file the manifest names (a command's handler, or auth.handler) is not a drop-in command.
  const used = new Set([...manifest.commands.values()].map((c) => c.handler?.file));
  used.add(manifest.access.auth?.handler?.file);
  for (const file of listDir(dir, manifest, "discover.handlers", problems)) {
    if (!HANDLER_FILE.test(file) || NOT_A_HANDLER.test(file)) continue;
    const path = join(dir, file);
    if (used.has(path) || !isFile(path)) continue;
    const name = file.slice(0, -extname(file).length);
    if (!COMMAND_NAME.test(name)) {
      problems.add({ file: path, message: `"${name}" is not a valid command name (letters, digits, _ . : / - only)` });
      continue;
    }
    const twin = found.get(name);
    if (twin) {
      problems.add({ file: path, message: `command "${name}" is also defined by ${displayPath(twin.file, manifest.dir)}; keep one of them` });
      continue;
    }
    found.set(name, { name, file: path });
  }
  return found;
}

function mergeCommands(manifest: Manifest, discovered: Map<string, DiscoveredHandler>, problems: Problems): PlannedCommand[] {
  const planned: PlannedCommand[] = [];
  for (const entry of manifest.commands.values()) {
    // A manifest entry wins over a discovered file of the same name; without `handler:` it
    // borrows the discovered file and adds its own schemas, timeout or windows.
    const file = entry.handler?.file ?? discovered.get(entry.name)?.file;
    discovered.delete(entry.name);
    if (!file) {
      const hint = manifest.discover.handlers ? ` or add ${displayPath(join(manifest.discover.handlers, `${entry.name}.ts`), manifest.dir)}` : "";
      problems.add({ file: manifest.file, ...entry.at, message: `command "${entry.name}" has no handler: give handler:${hint}` });
      continue;
    }
    planned.push({
      name: entry.name,
      handlerFile: file,
      exportName: entry.handler?.exportName ?? "default",
      reportAt: entry.handler?.at ?? entry.at,
      body: entry.body ?? conventionSchema(manifest, entry.name, "body", problems),
      returns: entry.returns ?? conventionSchema(manifest, entry.name, "returns", problems),
      errors: entry.errors ?? conventionSchema(manifest, entry.name, "errors", problems),
      timeoutMs: entry.timeoutMs,
      windows: entry.windows,
    });
  }
  for (const { name, file } of discovered.values()) {
    planned.push({
      name,
      handlerFile: file,
      exportName: "default",
      body: conventionSchema(manifest, name, "body", problems),
      returns: conventionSchema(manifest, name, "returns", problems),
      errors: conventionSchema(manifest, name, "errors", problems),
    });
  }
  return planned;
}

/** schemas/<name>.body.json (or .yaml, .yml), <name>.returns.json and <name>.errors.json, when they exist. */
function conventionSchema(manifest: Manifest, name: string, role: "body" | "returns" | "errors", problems: Problems): SchemaSpec | undefined {
  const dir = manifest.discover.schemas;
  if (!dir) return undefined;
  const candidates = SCHEMA_EXTENSIONS.map((ext) => join(dir, `${name}.${role}${ext}`)).filter(isFile);
  if (candidates.length > 1) {
    problems.add({ file: candidates[1]!, message: `${displayPath(candidates[0]!, manifest.dir)} is also the ${role} schema of "${name}"; keep one of them` });
  }
  if (candidates.length === 0) return undefined;
  return { kind: "file", file: candidates[0]!, at: { line: 1, col: 1 } };
}

function valueSpec(spec: SchemaSpec | undefined, schemas: SchemaBuild, manifest: Manifest, role: string, uses?: SchemaUses): ValueSpec | undefined {
  if (!spec) return { kind: "json" };
  if (spec.kind === "binary") return { kind: "binary" };
  const origin =
    spec.kind === "file" ? ({ kind: "file", file: spec.file } as const) : ({ kind: "inline", schema: spec.schema, owner: manifest.source, path: spec.path } as const);
  const validate = schemas.compile(origin, { file: manifest.file, at: spec.at, role }, uses);
  if (!validate) return undefined;
  const id = (validate.schema as { $id?: unknown } | null)?.$id;
  return { kind: "json", validate, schema: asWritten(validate.schema), ...(typeof id === "string" ? { url: id } : {}) };
}

/** The schema without the file:// `$id` the compiler gives it (a local path is nobody's business). */
function asWritten(schema: unknown): unknown {
  if (typeof schema !== "object" || schema === null) return schema;
  const { $id, ...rest } = schema as { $id?: unknown };
  return typeof $id === "string" && $id.startsWith("file:") ? rest : schema;
}

function buildChannels(manifest: Manifest, schemas: SchemaBuild): Map<string, ChannelDef> {
  const channels = new Map<string, ChannelDef>();
  for (const entry of manifest.channels.values()) {
    const message = valueSpec(entry.message, schemas, manifest, `message of channel "${entry.name}"`);
    if (message) channels.set(entry.name, { name: entry.name, message });
  }
  return channels;
}

function buildEvents(manifest: Manifest, schemas: SchemaBuild): Map<string, EventDef> {
  const events = new Map<string, EventDef>();
  for (const entry of manifest.events.values()) {
    const payload = valueSpec(entry.payload, schemas, manifest, `payload of event "${entry.name}"`);
    if (payload?.kind === "json") {
      events.set(entry.name, { name: entry.name, validate: payload.validate, schema: payload.schema, ...(payload.url ? { url: payload.url } : {}), from: new Set(entry.from) });
    }
  }
  return events;
}

/** Top-level body properties (or the body itself) declared as `{ "x-channel": "<name>" }`. */
function channelFieldsOf(
  validate: Validator | undefined,
  command: string,
  channels: Map<string, ChannelDef>,
  entry: PlannedCommand,
  manifest: Manifest,
  problems: Problems,
): Map<string, string> {
  const fields = new Map<string, string>();
  const schema = validate?.schema as Record<string, unknown> | undefined;
  if (!schema || typeof schema !== "object") return fields;
  const declare = (field: string, channel: unknown) => {
    if (typeof channel !== "string") return;
    if (!manifest.channels.has(channel)) {
      const at = entry.body?.at ?? { line: 1, col: 1 };
      problems.add({ file: manifest.file, ...at, message: `body of command "${command}" uses channel "${channel}", which channels: does not declare` });
      return;
    }
    if (channels.has(channel)) fields.set(field, channel);
  };
  declare("", schema["x-channel"]);
  const properties = schema.properties;
  if (properties && typeof properties === "object") {
    for (const [field, sub] of Object.entries(properties as Record<string, unknown>)) {
      if (sub && typeof sub === "object") declare(field, (sub as Record<string, unknown>)["x-channel"]);
    }
  }
  return fields;
}

function reportLoadFailure(failure: LoadFailure, file: string, dir: string, reportAt: { file: string; at: Position } | undefined, problems: Problems): void {
  const at = (message: string): Problem => (reportAt ? { file: reportAt.file, ...reportAt.at, message } : { file, message });
  switch (failure.kind) {
    case "missing":
      problems.add(at(`handler file not found: ${displayPath(file, dir)}`));
      break;
    case "build":
      for (const problem of failure.problems) problems.add(problem);
      break;
    case "threw": {
      // Where it threw, when known, is the place to fix; else the module that threw (the handler,
      // or a helper it imports). Never each manifest entry that loads it: one mistake, one line.
      const what = `${failure.timedOut ? "did not finish loading" : "threw while loading"}: ${failure.message}`;
      problems.add(failure.line !== undefined ? { file: failure.file, line: failure.line, col: failure.col ?? 1, message: what } : { file: failure.file, message: what });
      break;
    }
  }
}

function listDir(dir: string, manifest: Manifest, key: string, problems: Problems): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    const at = manifest.source.valuePosition(key.split("."));
    problems.add({ file: manifest.file, ...at, message: `${key} folder not found: ${displayPath(dir, manifest.dir)}` });
    return [];
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
