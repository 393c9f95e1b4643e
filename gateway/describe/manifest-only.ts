// A generation built from the manifest and its schemas alone, for what only describes the API
// (`gateway types`): handler modules are neither compiled nor evaluated, so generating types never
// runs an app's code (its top-level statements, its imports' side effects).
//
// GenerationBuilder itself always loads handler modules (compiles and evaluates them into the
// module graph, reload/module-graph.ts). This builder is the same builder with a loader that only
// checks that each handler file exists and answers every export with a placeholder function: the manifest,
// the drop-in folders, the convention schemas, `$ref`s, channels and events are all read exactly
// as `gateway dev` reads them, and the commands are the same. What it cannot notice: a handler
// file that does not build or lacks the export (`gateway check` reports those).
import { statSync } from "node:fs";
import { GenerationBuilder, type BuildResult, type HandlerModule } from "../reload/builder.ts";
import type { GraphBuild, LoadFailure } from "../reload/module-graph.ts";
import type { Env } from "../config/manifest.ts";
import type { EnvLayers } from "../config/env-layers.ts";

/** Every export is a function that must never be called: the generation is only read, never served. */
function placeholder(): never {
  throw new Error("a handler of a generation built from the manifest alone was called");
}

class ManifestOnlyBuilder extends GenerationBuilder {
  /** `prune`: whether the validators the app no longer uses leave the disk cache (see pruneCache). */
  constructor(manifestFile: string, env: Env | EnvLayers | undefined, cacheDir: string | false | undefined, private readonly prune: boolean) {
    super(manifestFile, env, cacheDir);
  }

  /**
   * Never the compiled modules: this builder loads none, so pruning them would empty the cache
   * of every handler and make the next `gateway dev` start cold. Validators only when asked.
   */
  protected override pruneCache(validatorKeys: ReadonlySet<string>): void {
    if (this.prune) this.schemas.retainOnDisk(validatorKeys);
  }

  protected override loadHandler(_modules: GraphBuild, file: string): Promise<{ ok: true; module: HandlerModule } | { ok: false; failure: LoadFailure }> {
    let exists = false;
    try {
      exists = statSync(file).isFile();
    } catch {
      // missing
    }
    return Promise.resolve(exists ? { ok: true, module: { exportFor: () => placeholder, files: [file] } } : { ok: false, failure: { kind: "missing" } });
  }
}

/** Builds the manifest's generation without loading any handler module (see above). */
/** `env`: as GenerationBuilder takes it (default: process.env over the `.env` beside the manifest). */
export function buildFromManifest(manifestFile: string, env?: Env | EnvLayers): Promise<BuildResult> {
  return new ManifestOnlyBuilder(manifestFile, env, undefined, true).build();
}

/**
 * A builder of such generations that is kept, so that each build reuses what the last one
 * compiled, and that never removes anything from the disk cache: for a reader beside a gateway
 * that owns the cache (the background type check, describe/type-check-worker.ts), whose view of
 * the files may be a moment older or newer than the gateway's.
 */
export function manifestOnlyBuilder(manifestFile: string, env?: Env | EnvLayers, cacheDir?: string | false): GenerationBuilder {
  return new ManifestOnlyBuilder(manifestFile, env, cacheDir, false);
}
