// A generation built from the manifest and its schemas alone, for what only describes the API
// (`gateway types`): handler modules are neither bundled nor evaluated, so generating types never
// runs an app's code (its top-level statements, its imports' side effects).
//
// GenerationBuilder itself always loads handler modules (bundles them with esbuild and evaluates
// them, reload/loader.ts). This builder is the same builder with a loader that only checks that
// each handler file exists and answers every export with a placeholder function: the manifest,
// the drop-in folders, the convention schemas, `$ref`s, channels and events are all read exactly
// as `gateway dev` reads them, and the commands are the same. What it cannot notice: a handler
// file that does not build or lacks the export (`gateway check` reports those).
import { statSync } from "node:fs";
import { GenerationBuilder, type BuildResult } from "../reload/builder.ts";
import { ModuleLoader, type LoadResult } from "../reload/loader.ts";
import type { Env } from "../config/manifest.ts";

/** Every export is a function that must never be called: the generation is only read, never served. */
const PLACEHOLDER_EXPORTS: Record<string, unknown> = new Proxy(
  {},
  {
    has: () => true,
    get: (_target, key) =>
      key === "__esModule"
        ? true
        : () => {
            throw new Error("a handler of a generation built from the manifest alone was called");
          },
  },
);

class FileCheckingLoader extends ModuleLoader {
  override load(file: string): Promise<LoadResult> {
    let exists = false;
    try {
      exists = statSync(file).isFile();
    } catch {
      // missing
    }
    return Promise.resolve(exists ? { ok: true, module: { file, exports: PLACEHOLDER_EXPORTS, inputs: new Map() } } : { ok: false, failure: { kind: "missing" } });
  }
}

class ManifestOnlyBuilder extends GenerationBuilder {
  override readonly modules: ModuleLoader = new FileCheckingLoader();
}

/** Builds the manifest's generation without loading any handler module (see above). */
export function buildFromManifest(manifestFile: string, env?: Env): Promise<BuildResult> {
  return new ManifestOnlyBuilder(manifestFile, env).build();
}
