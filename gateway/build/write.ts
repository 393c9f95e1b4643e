// gateway build: the app built as `gateway serve` would build it (the same builder, the same disk
// cache), then written out as a folder `serve --from` runs without the sources, esbuild or ajv's
// compiler (see format.ts). The folder is written beside the old one and swapped in whole: a
// failed build leaves the previous one as it was.
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { packageVersion } from "../config/package-info.ts";
import { readRegularFile } from "../config/regular-file.ts";
import type { Problem } from "../config/problems.ts";
import type { Env } from "../config/manifest.ts";
import type { EnvLayers } from "../config/env-layers.ts";
import type { Validator } from "../config/schemas.ts";
import { GenerationBuilder } from "../reload/builder.ts";
import { holdCompiler } from "../reload/compile.ts";
import type { Generation, ValueSpec } from "../runtime/generation.ts";
import {
  BUILD_FILE,
  BUILD_FORMAT,
  encodeDescription,
  MANIFEST_COPY,
  portableUrl,
  STATIC_COPY,
  sha256,
  type BuildDescription,
  type BuiltFile,
  type BuiltLink,
  type BuiltModule,
  type BuiltSpec,
} from "./format.ts";

export interface BuildSummary {
  outDir: string;
  commands: number;
  modules: number;
  validators: number;
  bytes: number;
}

export type BuildOutcome = { ok: true; summary: BuildSummary } | { ok: false; problems: Problem[] };

/** `warn`: what the app has that the gateway ignores (a Tauri permission it does not know), once each. */
export async function buildApp(manifestFile: string, outDir: string, env?: Env | EnvLayers, warn?: (warning: Problem) => void): Promise<BuildOutcome> {
  const release = holdCompiler();
  try {
    const builder = new GenerationBuilder(manifestFile, env);
    if (warn) builder.warnTo(warn);
    builder.schemas.keepCode = true;
    const result = await builder.build();
    await builder.cache.flush();
    if (!result.ok) return { ok: false, problems: result.problems };
    const refusal = refuseOut(outDir, dirname(manifestFile));
    if (refusal) return { ok: false, problems: [{ file: outDir, message: refusal }] };
    try {
      return { ok: true, summary: write(builder, result.generation, outDir) };
    } catch (error) {
      rmSync(stagingOf(outDir), { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      return { ok: false, problems: [{ file: outDir, message: `cannot write the build (${code ?? (error as Error).message}); the previous build, if any, is as it was` }] };
    }
  } finally {
    await release();
  }
}

/** Why `outDir` must not be written (replaced whole), if it must not. */
function refuseOut(outDir: string, root: string): string | undefined {
  if (root === outDir || root.startsWith(outDir + sep)) return "the build folder would hold the app itself; name a folder of its own (default .gateway)";
  if (!existsSync(outDir)) return undefined;
  if (!statSync(outDir).isDirectory()) return "exists and is not a folder";
  const entries = readdirSync(outDir);
  if (entries.length > 0 && !entries.includes(BUILD_FILE)) return `exists and is not a gateway build folder (it has no ${BUILD_FILE}); remove it or name another --out`;
  return undefined;
}

/** Where the new build is written before it replaces the old one. */
function stagingOf(outDir: string): string {
  return `${outDir}.${process.pid}.tmp`;
}

function write(builder: GenerationBuilder, generation: Generation, outDir: string): BuildSummary {
  const root = dirname(generation.manifestFile);
  const rootUrl = pathToFileURL(root).href;
  const rel = (file: string) => relative(root, file).split(sep).join("/");
  const staging = stagingOf(outDir);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, "modules"), { recursive: true });
  mkdirSync(join(staging, "validators"), { recursive: true });
  let bytes = 0;
  const put = (file: string, content: string): BuiltFile => {
    writeFileSync(join(staging, file), content);
    bytes += Buffer.byteLength(content);
    return { file, sha256: sha256(content) };
  };

  const modules: BuiltModule[] = [];
  for (const loaded of generation.modules) {
    const record = builder.graph.get(loaded.file)!;
    const links: Record<string, BuiltLink> = {};
    for (const specifier of record.prepared.requires) {
      const resolved = record.link(specifier);
      links[specifier] = resolved.kind === "app" ? { kind: "app", path: rel(resolved.file) } : resolved.kind === "missing" ? { kind: "missing", path: rel(resolved.tried) } : { kind: resolved.kind };
    }
    const stored = put(`modules/${modules.length}.js`, record.prepared.code());
    modules.push({ ...stored, path: rel(record.file), hash: record.prepared.hash, requires: record.prepared.requires, links, shape: record.prepared.shape ?? null });
  }

  const validators: BuiltFile[] = [];
  const validatorIds = new Map<Validator, number>();
  const spec = (value: ValueSpec): BuiltSpec => {
    if (value.kind === "binary") return { kind: "binary" };
    const built: BuiltSpec = { kind: "json" };
    if (value.schema !== undefined) built.schema = value.schema;
    if (value.url !== undefined) built.url = portableUrl(value.url, rootUrl);
    if (value.validate) {
      let id = validatorIds.get(value.validate);
      if (id === undefined) {
        const code = builder.schemas.codeOf(value.validate);
        if (code === undefined) throw new Error("a validator's code was not kept (ipc-gateway bug)");
        id = validators.length;
        validators.push(put(`validators/${id}.cjs`, code));
        validatorIds.set(value.validate, id);
      }
      built.validator = id;
    }
    return built;
  };

  const description: BuildDescription = {
    format: BUILD_FORMAT,
    gateway: packageVersion(),
    root: relative(outDir, root).split(sep).join("/") || ".",
    manifest: rel(generation.manifestFile),
    modules,
    validators,
    commands: [...generation.commands.values()].map((c) => ({
      name: c.name,
      module: rel(c.file),
      export: c.exportName,
      body: spec(c.body),
      returns: spec(c.returns),
      errors: spec(c.errors),
      timeoutMs: c.timeoutMs,
      ...(c.windows ? { windows: [...c.windows] } : {}),
      channelFields: [...c.channelFields],
      source: c.source,
    })),
    channels: [...generation.channels.values()].map((c) => ({ name: c.name, message: spec(c.message) })),
    events: [...generation.events.values()].map((e) => ({
      name: e.name,
      ...(e.validate || e.schema !== undefined ? { payload: spec({ kind: "json", ...(e.validate ? { validate: e.validate } : {}), schema: e.schema, ...(e.url ? { url: e.url } : {}) }) } : {}),
      from: [...e.from],
    })),
    schemaFiles: [...generation.schemaFiles].map(([url, json]) => [portableUrl(url, rootUrl), json]),
    static: generation.settings.static !== undefined,
  };
  const access = generation.access?.spec;
  if (access?.capabilityFolder !== undefined) {
    // As read: serve --from needs neither the folder nor a TOML reader.
    description.capabilities = (access.capabilities ?? []).filter((c) => c.file !== generation.manifestFile).map((c) => ({ ...c, file: rel(c.file) }));
  }
  const statics = generation.settings.static;
  if (statics) {
    // Files the gateway would not serve (dotfiles, unless server.static.dotfiles) are not copied
    // either, nor dependencies or builds, should the folder hold the app.
    const copied = (path: string) =>
      path === statics.dir || ((statics.dotfiles || !basename(path).startsWith(".")) && basename(path) !== "node_modules" && path !== outDir && path !== staging);
    cpSync(statics.dir, join(staging, STATIC_COPY), { recursive: true, dereference: true, filter: copied });
  }
  put(MANIFEST_COPY, readRegularFile(generation.manifestFile, "utf8"));
  put(BUILD_FILE, encodeDescription(description));

  // Swapped in whole: the old folder goes only once the new one is complete.
  const old = `${outDir}.${process.pid}.old`;
  if (existsSync(outDir)) renameSync(outDir, old);
  mkdirSync(dirname(resolve(outDir)), { recursive: true });
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
  return { outDir, commands: generation.commands.size, modules: modules.length, validators: validators.length, bytes };
}
