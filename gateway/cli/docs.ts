// gateway docs: the API's OpenAPI 3.1 (commands over HTTP) and AsyncAPI 3.0 (the WebSocket:
// events, channels, invoke/reply frames) documents, written from the manifest and its schemas
// without serving and without running any handler (describe/manifest-only.ts).
// A running gateway serves the same at /__gateway/openapi.json and /__gateway/asyncapi.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { formatProblem } from "../config/problems.ts";
import { buildCatalog } from "../describe/catalog.ts";
import { buildFromManifest } from "../describe/manifest-only.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, type Verb } from "./verb.ts";

/** Where `gateway docs` writes without --out: this folder beside the manifest. */
export const DEFAULT_DOCS_DIR = "docs/api";

export const docs: Verb = {
  name: "docs",
  summary: "write the API's OpenAPI and AsyncAPI documents (openapi.json, asyncapi.json)",
  synopsis: "docs [--out dir] [--config gateway.yaml]",
  details: `Writes openapi.json (OpenAPI 3.1: every command as POST /ipc/<name>, its body, value and
errors) and asyncapi.json (AsyncAPI 3.0: the WebSocket /ipc/ws, its events, channels and frames),
from the manifest and its schemas: handler files must exist but are not run. A broken manifest
prints its mistakes and exits 1. A running gateway serves the same documents at
/__gateway/openapi.json and /__gateway/asyncapi.json.

${CONFIG_DETAIL}
  -o, --out <dir>       where to write them (default: ${DEFAULT_DOCS_DIR} beside the manifest)`,
  options: { ...CONFIG_OPTION, out: { type: "string", short: "o" } },
  async run(values) {
    const config = resolve(values.config as string);
    const result = await buildFromManifest(config);
    if (!result.ok) {
      for (const problem of result.problems) console.error(formatProblem(problem));
      return 1;
    }
    const generation = result.generation;
    const catalog = buildCatalog(generation);
    const [{ openApiDocument }, { asyncApiDocument }] = await Promise.all([import("../describe/openapi.ts"), import("../describe/asyncapi.ts")]);
    const out = values.out === undefined ? join(dirname(config), DEFAULT_DOCS_DIR) : resolve(values.out as string);
    const written: [string, unknown, string][] = [
      ["openapi.json", openApiDocument(generation, catalog), `OpenAPI 3.1, ${plural(catalog.commands.size, "command")}`],
      [
        "asyncapi.json",
        asyncApiDocument(generation, catalog),
        `AsyncAPI 3.0, ${plural(catalog.events.size, "event")}, ${plural(catalog.channels.size, "channel")}`,
      ],
    ];
    for (const [name, document, what] of written) {
      const file = join(out, name);
      const shown = relative(process.cwd(), file);
      const where = shown.startsWith("..") || isAbsolute(shown) ? file : shown;
      try {
        mkdirSync(out, { recursive: true });
        writeFileSync(file, jsonText(document));
      } catch (error) {
        console.error(`gateway docs: cannot write ${where}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        return 1;
      }
      console.log(`wrote ${where} (${what})`);
    }
    return 0;
  },
};

/**
 * A document as the file holds it. U+2028 and U+2029 (a title or description may hold them) are
 * valid in JSON but were line ends in JavaScript before ES2019: escaped, the file is also safe to
 * paste into a script.
 */
function jsonText(document: unknown): string {
  return `${JSON.stringify(document, null, 2).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
