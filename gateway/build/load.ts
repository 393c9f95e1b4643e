// gateway serve --from: a generation made from a `gateway build` folder. The folder is checked
// whole before anything runs (every file against its SHA-256, the gateway's version); the
// manifest's copy is read for its `server:` settings, so ${VAR}s (a token, a port) are the
// environment's at start; everything else is as built. Modules are evaluated as a warm start
// evaluates them (at their first call, unless they have setup/dispose). Nothing is written.
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadManifest, type Manifest } from "../config/manifest.ts";
import { envLayers, type EnvOptions } from "../config/env-layers.ts";
import { packageVersion } from "../config/package-info.ts";
import { Problems, type Problem } from "../config/problems.ts";
import { readRegularFile } from "../config/regular-file.ts";
import { validatorFromCode, type Validator } from "../config/schemas.ts";
import { replaceOnFirstCall } from "../reload/export-shape.ts";
import { describeLoadFailure, ModuleGraph, type GraphBuild } from "../reload/module-graph.ts";
import { buildPolicy, type AuthHandler, type GenerationAccess } from "../access/policy.ts";
import type { ChannelDef, CommandDef, EventDef, Generation, LoadedModule, ValueSpec } from "../runtime/generation.ts";
import type { Handler } from "../runtime/types.ts";
import { BuiltStore } from "./built-store.ts";
import { BUILD_FILE, decodeDescription, localUrl, MANIFEST_COPY, sha256, STATIC_COPY, type BuildDescription, type BuiltSpec } from "./format.ts";

export type LoadedBuild = { ok: true; generation: Generation } | { ok: false; problems: Problem[] };

/**
 * `env`: as for a manifest (createGateway's `env` and `envFile`); the default `.env` is the one
 * beside the app's manifest, where the build found it, not one in the build folder: a build never
 * copies it, so its secrets stay out of images and artifacts.
 */
export async function loadBuild(dir: string, env: EnvOptions = {}): Promise<LoadedBuild> {
  const fail = (message: string, file = dir): LoadedBuild => ({ ok: false, problems: [{ file, message }] });
  let text: string;
  try {
    text = readRegularFile(join(dir, BUILD_FILE), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" || code === "ENOTDIR" ? `not a gateway build folder (no ${BUILD_FILE}); gateway build writes one` : `cannot read ${BUILD_FILE} (${code ?? error})`);
  }
  const decoded = decodeDescription(text);
  if (!decoded.ok) return fail(`${BUILD_FILE}: ${decoded.reason}; run gateway build again`);
  const build = decoded.description;
  if (build.gateway !== packageVersion()) {
    return fail(`built by ipc-gateway ${build.gateway}; this is ${packageVersion()}: run gateway build again with this version`);
  }
  const root = resolve(dir, build.root);
  const store = new BuiltStore(dir, root, build.modules);
  // Checked whole at start: a damaged folder is refused now, not at some command's first call.
  for (const module of build.modules) {
    try {
      store.readVerified(module);
    } catch (error) {
      return fail((error as Error).message);
    }
  }
  const validators: Validator[] = [];
  for (const file of build.validators) {
    let code: string | undefined;
    try {
      code = readRegularFile(join(dir, file.file), "utf8");
    } catch {
      // reported below
    }
    const validate = code !== undefined && sha256(code) === file.sha256 ? validatorFromCode(code) : undefined;
    if (!validate) return fail(`${join(dir, file.file)} is damaged: run gateway build again`);
    validators.push(validate);
  }

  const problems = new Problems();
  const { env: variables } = envLayers(env, join(root, build.manifest)).read(problems);
  // Read as if it were in the app's folder: relative paths in it (server.static) are the app's.
  const manifest = loadManifest(join(dir, MANIFEST_COPY), problems, variables, undefined, root);
  if (!manifest || problems.size > 0) return { ok: false, problems: problems.list };
  const settings = { ...manifest.server };
  if (settings.static && build.static) settings.static = { ...settings.static, dir: join(dir, STATIC_COPY) };

  const graph = new ModuleGraph(store);
  graph.loadTimeoutMs = settings.loadTimeoutMs;
  const modules = graph.begin();
  const rootUrl = pathToFileURL(root).href;
  const spec = (built: BuiltSpec): ValueSpec => {
    if (built.kind === "binary") return built;
    return {
      kind: "json",
      ...(built.validator !== undefined ? { validate: validators[built.validator]! } : {}),
      ...(built.schema !== undefined ? { schema: built.schema } : {}),
      ...(built.url !== undefined ? { url: localUrl(built.url, rootUrl) } : {}),
    };
  };

  const commands = new Map<string, CommandDef>();
  const handlerFiles: string[] = [];
  for (const built of build.commands) {
    const file = resolve(root, built.module);
    const loaded = await modules.load(file);
    if (!loaded.ok) {
      problems.add({ file, message: describeLoadFailure(loaded.failure, file) });
      continue;
    }
    const handler = loaded.module.exportFor(built.export);
    if (typeof handler !== "function") {
      problems.add({ file, message: `has no function as the export "${built.export}" any more: run gateway build again` });
      continue;
    }
    const command: CommandDef = {
      name: built.name,
      handler: handler as Handler,
      body: spec(built.body),
      returns: spec(built.returns),
      errors: spec(built.errors),
      timeoutMs: built.timeoutMs,
      ...(built.windows ? { windows: new Set(built.windows) } : {}),
      channelFields: new Map(built.channelFields),
      source: built.source,
      file,
      exportName: built.export,
    };
    replaceOnFirstCall(command);
    commands.set(command.name, command);
    handlerFiles.push(file);
  }
  const access = await accessOf(manifest, build, root, modules, problems);
  if (problems.size > 0) {
    modules.discard();
    return { ok: false, problems: problems.list };
  }
  const authFile = manifest.access.auth?.handler?.file;
  const records = modules.commit(authFile !== undefined ? [...handlerFiles, authFile] : handlerFiles);
  const generation = generationOf(build, root, rootUrl, settings, commands, spec, records);
  if (access !== undefined) generation.access = access;
  return { ok: true, generation };
}

/**
 * The access policy as builder.ts makes it: the manifest copy's `auth:`, `capabilities:` and
 * `limits:` (read now, with the environment's ${VAR}s), the Tauri capabilities as the build read
 * them, and auth.handler from the build's modules.
 */
async function accessOf(manifest: Manifest, build: BuildDescription, root: string, modules: GraphBuild, problems: Problems): Promise<GenerationAccess | undefined> {
  const spec = { ...manifest.access };
  if (spec.auth === undefined && spec.capabilities === undefined && spec.limits.length === 0 && spec.capabilityFolder === undefined) return undefined;
  if (spec.capabilityFolder !== undefined) {
    const fromTauri = (build.capabilities ?? []).map((c) => ({ ...c, file: resolve(root, c.file) }));
    spec.capabilities = [...(spec.capabilities ?? []), ...fromTauri];
  }
  let authHandler: AuthHandler | undefined;
  const ref = spec.auth?.handler;
  if (ref !== undefined) {
    const loaded = await modules.load(ref.file);
    if (!loaded.ok) problems.add({ file: ref.file, message: describeLoadFailure(loaded.failure, ref.file) });
    else {
      const handler = loaded.module.exportFor(ref.exportName);
      if (typeof handler === "function") authHandler = handler as AuthHandler;
      else problems.add({ file: ref.file, message: `has no function as the export "${ref.exportName}" (auth.handler): run gateway build again` });
    }
  }
  const events = build.events.map((e) => e.name);
  return buildPolicy(spec, { commands: build.commands.map((c) => c.name), events }, problems, authHandler);
}

function generationOf(
  build: BuildDescription,
  root: string,
  rootUrl: string,
  settings: Generation["settings"],
  commands: Map<string, CommandDef>,
  spec: (built: BuiltSpec) => ValueSpec,
  records: readonly LoadedModule[],
): Generation {
  const channels = new Map<string, ChannelDef>(build.channels.map((c) => [c.name, { name: c.name, message: spec(c.message) }]));
  const events = new Map<string, EventDef>(
    build.events.map((e) => {
      const payload = e.payload ? spec(e.payload) : undefined;
      const def: EventDef = { name: e.name, from: new Set(e.from) };
      if (payload?.kind === "json") {
        if (payload.validate) def.validate = payload.validate;
        if (payload.schema !== undefined) def.schema = payload.schema;
        if (payload.url !== undefined) def.url = payload.url;
      }
      return [e.name, def];
    }),
  );
  return {
    id: 1,
    manifestFile: join(root, build.manifest),
    settings,
    commands,
    channels,
    events,
    files: new Set(),
    schemaFiles: new Map(build.schemaFiles.map(([url, json]) => [localUrl(url, rootUrl), json])),
    modules: new Set(records),
    usage: { inFlight: 0 },
  };
}
