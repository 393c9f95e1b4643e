// The files `gateway types` (and `gateway dev --types`) write, and writing them only when their
// text changed.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Catalog } from "../describe/catalog.ts";

/** The files `gateway types` writes: the frontend's, and the handlers' declarations when asked. */
export async function typeFiles(
  catalog: Catalog,
  manifestFile: string,
  outFile: string | undefined,
  handlersFile?: string,
): Promise<{ file: string; text: string }[]> {
  // Loaded when asked for: `gateway dev` without --types never loads the generator.
  const { frontendTypes, handlerDeclarations } = await import("../describe/typescript.ts");
  const files: { file: string; text: string }[] = [];
  if (outFile !== undefined) files.push({ file: outFile, text: frontendTypes(catalog, { manifestFile, outFile }) });
  if (handlersFile !== undefined) files.push({ file: handlersFile, text: handlerDeclarations(catalog, { manifestFile, outFile: handlersFile }) });
  return files;
}

/** Writes `text` unless the file already holds it (so watchers see no change); true when written. */
export function writeIfChanged(file: string, text: string): boolean {
  if (read(file) === text) return false;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return true;
}

export function read(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
