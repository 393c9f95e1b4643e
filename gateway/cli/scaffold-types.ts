// The generated files a scaffold starts with (`gateway init`): the frontend's bindings and the
// handlers' declarations, made by the same generators as `gateway types --out/--handlers` from the
// scaffold's own manifest and schemas, so the app type-checks right after `npm install` and no
// scaffold carries a handwritten body or result type.
//
// The generators read a manifest from disk; the scaffold is not written yet (a run writes all of
// its files or none), so its files are put in a temporary folder of the same layout, read there,
// and the folder is removed. The texts name only paths relative to the manifest, so they are the
// same as if generated in place.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildCatalog } from "../describe/catalog.ts";
import { buildFromManifest } from "../describe/manifest-only.ts";
import { typeFiles } from "./type-files.ts";

export interface ScaffoldTypes {
  /** Where the frontend's bindings go (relative to the manifest's folder), or undefined for none. */
  bindings?: string;
  /** Where the handlers' declarations go (relative to the manifest's folder). */
  handlers: string;
}

/**
 * The generated files for `files` (paths relative to the manifest's folder, "gateway.yaml" among
 * them), in the order bindings, declarations.
 */
export async function scaffoldTypes(files: Array<[path: string, content: string]>, where: ScaffoldTypes): Promise<Array<[path: string, content: string]>> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-init-"));
  try {
    for (const [path, content] of files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    const manifest = join(dir, "gateway.yaml");
    // No environment: the scaffold's manifest reads no ${VAR}, and the app's .env is not the temporary folder's.
    const result = await buildFromManifest(manifest, {});
    // The scaffold's own manifest: a mistake here is the gateway's, not the user's.
    if (!result.ok) throw new Error(`the scaffold's manifest does not build: ${JSON.stringify(result)}`);
    const bindings = where.bindings === undefined ? undefined : join(dir, where.bindings);
    const generated = await typeFiles(buildCatalog(result.generation), manifest, bindings, join(dir, where.handlers));
    const paths = [...(where.bindings === undefined ? [] : [where.bindings]), where.handlers];
    return generated.map(({ text }, i) => [paths[i]!, text]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
