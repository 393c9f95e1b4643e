// After `gateway new`: the handlers' declarations (what `gateway types --handlers` writes), so that
// the handler it scaffolds, typed `Handler<"name">`, type-checks at once; without them ipc-gateway's
// `Commands` does not know the command and the body would be typed as the command's name.
//
// The command itself is added whatever happens here: the declarations are derived from the files
// just written and can always be made again, so a reason not to write them is said (stderr) but
// is no failure, and nothing is undone for it.
import { buildCatalog } from "../describe/catalog.ts";
import { buildFromManifest } from "../describe/manifest-only.ts";
import { fileErrorLine, isFileError, shown } from "./file-errors.ts";
import { typeFiles, whyNotWrite, writeIfChanged } from "./type-files.ts";

/** Writes the declarations of the manifest as it is now; returns the line to print and where. */
export async function writeDeclarations(file: string, manifest: string): Promise<{ ok: boolean; line: string }> {
  const result = await buildFromManifest(manifest);
  if (!result.ok) return { ok: false, line: `${shown(file)} not written: the manifest has mistakes (gateway check lists them)` };
  // Now that the manifest's own files are known: never over a handler or schema it names.
  const why = whyNotWrite(file, "--handlers", manifest, result.generation);
  if (why !== undefined) return { ok: false, line: `${why}; not written` };
  const [declarations] = await typeFiles(buildCatalog(result.generation), manifest, undefined, file);
  try {
    const changed = writeIfChanged(file, declarations!.text);
    return { ok: true, line: `${changed ? "wrote" : "kept"} ${shown(file)} (the handlers' declarations, for Handler<"...">)` };
  } catch (error) {
    if (!isFileError(error)) throw error;
    return { ok: false, line: `${fileErrorLine(error)}; the handlers' declarations were not written` };
  }
}
