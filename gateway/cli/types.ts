// gateway types: the manifest's commands, channels and events as TypeScript for the frontend
// (describe/typescript.ts), and on request the declarations that type handlers. Built from the
// manifest and its schemas alone: no handler module is loaded (describe/manifest-only.ts).
import { dirname, join, resolve } from "node:path";
import { formatProblem } from "../config/problems.ts";
import { buildCatalog } from "../describe/catalog.ts";
import { buildFromManifest } from "../describe/manifest-only.ts";
import type { Generation } from "../runtime/generation.ts";
import { Refusal, shown } from "./file-errors.ts";
import { read, typeFiles, whyNotWrite, writeIfChanged } from "./type-files.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, UsageError, type Verb } from "./verb.ts";
import { ENV_FILE_DETAIL, ENV_FILE_OPTION, envFor } from "./env-files.ts";

/** The frontend file's name when `--out` is not given: beside the manifest. */
export const DEFAULT_TYPES_FILE = "gateway-types.ts";

export const typesVerb: Verb = {
  name: "types",
  summary: "write the TypeScript types of the manifest's commands and events (for the frontend, and for handlers)",
  synopsis: "types [--config gateway.yaml] [--env-file file]... [--out file] [--handlers file.d.ts] [--check]",
  details: `Writes one TypeScript file for the frontend: a type per schema, and typed wrappers over
@tauri-apps/api (commands.greet(body), results.greet(body), events.chatMessage.listen(cb)). Built
from the manifest and its schemas alone; handler modules are not loaded.

${CONFIG_DETAIL}
${ENV_FILE_DETAIL}
  -o, --out <file>      the frontend file (default: ${DEFAULT_TYPES_FILE} beside the manifest)
      --handlers <file> also write the handlers' declarations (a .d.ts augmenting ipc-gateway's
                        Commands), so that Invoke<"greet"> and Handler<"greet"> follow the schemas
      --check           write nothing: exit 1 if a file differs from what would be written
Writes only over files it generated itself (their first line says so) or empty ones, never over
the manifest, a handler or a schema.`,
  options: {
    ...CONFIG_OPTION,
    ...ENV_FILE_OPTION,
    out: { type: "string", short: "o" },
    handlers: { type: "string" },
    check: { type: "boolean" },
  },
  async run(values) {
    const config = values.config as string;
    const manifestFile = resolve(config);
    const outFile = values.out !== undefined ? resolve(values.out as string) : join(dirname(manifestFile), DEFAULT_TYPES_FILE);
    const handlersFile = values.handlers === undefined ? undefined : resolve(values.handlers as string);
    const targets = outputs(outFile, handlersFile);
    const result = await buildFromManifest(manifestFile, envFor(values, manifestFile));
    if (!result.ok) {
      for (const problem of result.problems) console.error(formatProblem(problem));
      return 1;
    }
    // Before anything is written: a file the manifest names, a folder, a file of the user's.
    refuseTargets(targets, manifestFile, result.generation);
    const catalog = buildCatalog(result.generation);
    const files = await typeFiles(catalog, manifestFile, outFile, handlersFile);

    if (values.check) {
      const stale = files.filter((f) => read(f.file) !== f.text);
      for (const f of stale) {
        const why = read(f.file) === undefined ? "is missing" : "is stale: the manifest or its schemas changed since it was written";
        console.error(`${shown(f.file)} ${why}; regenerate it with: ${regenerate(values)}`);
      }
      if (stale.length > 0) return 1;
      console.log(`${files.map((f) => shown(f.file)).join(" and ")} ${files.length > 1 ? "are" : "is"} up to date`);
      return 0;
    }
    for (const f of files) {
      const changed = writeIfChanged(f.file, f.text);
      console.log(`${shown(f.file)}: ${changed ? "written" : "up to date"} (${catalog.commands.size} commands, ${catalog.channels.size} channels, ${catalog.events.size} events)`);
    }
    return 0;
  },
};


/** The files to write with the option naming each; one file named twice is a usage mistake. */
export function outputs(outFile: string | undefined, handlersFile: string | undefined, outOption = "--out"): [file: string, option: string][] {
  if (outFile !== undefined && outFile === handlersFile) throw new UsageError(`${outOption} and --handlers name the same file (${shown(outFile)}); give each its own`);
  const files: [string, string][] = [];
  if (outFile !== undefined) files.push([outFile, outOption]);
  if (handlersFile !== undefined) files.push([handlersFile, "--handlers"]);
  return files;
}

/** Throws the first reason not to write one of the files (cli/index.ts prints it, exit 1). */
export function refuseTargets(files: [file: string, option: string][], manifestFile: string, generation?: Generation): void {
  for (const [file, option] of files) {
    const why = whyNotWrite(file, option, manifestFile, generation);
    if (why !== undefined) throw new Refusal(`${why}; nothing was written`);
  }
}

/** The command line that rewrites the files: this one without --check. */
function regenerate(values: Record<string, string | boolean | undefined>): string {
  const args = ["gateway", "types"];
  if (values.config !== "gateway.yaml") args.push("--config", String(values.config));
  if (values.out !== undefined) args.push("--out", String(values.out));
  if (values.handlers !== undefined) args.push("--handlers", String(values.handlers));
  return args.map((a) => (/^[\w./:@=-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}
