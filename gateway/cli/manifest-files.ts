// Whether a path the command line was told to write is one of the app's own files: the manifest,
// a handler or a schema it names (generated output never goes over those).
import { realpathSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { Generation } from "../runtime/generation.ts";

/** What `file` is to the manifest, if it names it: the manifest itself, a handler, a schema. */
export function namedByManifest(file: string, manifestFile: string, generation: Generation | undefined): string | undefined {
  const same = sameFile(file);
  if (same(manifestFile)) return "the manifest";
  if (generation === undefined) return undefined;
  if (same(generation.manifestFile)) return "the manifest";
  for (const command of generation.commands.values()) if (same(command.file)) return `the handler of command "${command.name}"`;
  for (const schema of generation.schemaFiles.keys()) if (same(fileOf(schema))) return "a schema the manifest names";
  return undefined;
}

/**
 * A test for "is the same file as `file`": the same path, or the same file once symbolic links are
 * followed. Links are followed only for paths of the same name (a reload of a big app asks this of
 * every handler and schema): a link of another name to `file` that the manifest names goes
 * unnoticed here, and is still never written over unless it holds generated text.
 */
function sameFile(file: string): (other: string) => boolean {
  const real = realOrSelf(file);
  const names = new Set([basename(file), basename(real)]);
  return (other) => other === file || other === real || (names.has(basename(other)) && realOrSelf(other) === real);
}

function realOrSelf(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path; // not there (yet)
  }
}

function fileOf(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

