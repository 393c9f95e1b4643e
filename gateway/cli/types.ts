// gateway types: the manifest's commands, channels and events as TypeScript for the frontend
// (describe/typescript.ts), and on request the declarations that type handlers. Built from the
// manifest and its schemas alone: no handler module is loaded (describe/manifest-only.ts).
import { dirname, join, relative, resolve } from "node:path";
import { formatProblem } from "../config/problems.ts";
import { buildCatalog } from "../describe/catalog.ts";
import { buildFromManifest } from "../describe/manifest-only.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, type Verb } from "./verb.ts";
import { read, typeFiles, writeIfChanged } from "./type-files.ts";

/** The frontend file's name when `--out` is not given: beside the manifest. */
export const DEFAULT_TYPES_FILE = "gateway-types.ts";

export const typesVerb: Verb = {
  name: "types",
  summary: "write the TypeScript types of the manifest's commands and events (for the frontend, and for handlers)",
  synopsis: "types [--config gateway.yaml] [--out file] [--handlers file.d.ts] [--check]",
  details: `Writes one TypeScript file for the frontend: a type per schema, and typed wrappers over
@tauri-apps/api (commands.greet(body), results.greet(body), events.chatMessage.listen(cb)). Built
from the manifest and its schemas alone; handler modules are not loaded.

${CONFIG_DETAIL}
  -o, --out <file>      the frontend file (default: ${DEFAULT_TYPES_FILE} beside the manifest)
      --handlers <file> also write the handlers' declarations (a .d.ts augmenting ipc-gateway's
                        Commands), so that Invoke<"greet"> and Handler<"greet"> follow the schemas
      --check           write nothing: exit 1 if a file differs from what would be written`,
  options: {
    ...CONFIG_OPTION,
    out: { type: "string", short: "o" },
    handlers: { type: "string" },
    check: { type: "boolean" },
  },
  async run(values) {
    const config = values.config as string;
    const manifestFile = resolve(config);
    const result = await buildFromManifest(manifestFile);
    if (!result.ok) {
      for (const problem of result.problems) console.error(formatProblem(problem));
      return 1;
    }
    const catalog = buildCatalog(result.generation);
    const outFile = values.out !== undefined ? resolve(values.out as string) : join(dirname(manifestFile), DEFAULT_TYPES_FILE);
    const files = await typeFiles(catalog, manifestFile, outFile, values.handlers === undefined ? undefined : resolve(values.handlers as string));

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



function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

/** The command line that rewrites the files: this one without --check. */
function regenerate(values: Record<string, string | boolean | undefined>): string {
  const args = ["gateway", "types"];
  if (values.config !== "gateway.yaml") args.push("--config", String(values.config));
  if (values.out !== undefined) args.push("--out", String(values.out));
  if (values.handlers !== undefined) args.push("--handlers", String(values.handlers));
  return args.map((a) => (/^[\w./:@=-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}
