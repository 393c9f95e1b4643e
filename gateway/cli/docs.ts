// gateway docs: the API's OpenAPI 3.1 (commands over HTTP) and AsyncAPI 3.0 (the WebSocket:
// events, channels, invoke/reply frames) documents, written from the manifest and its schemas
// without serving and without running any handler (describe/manifest-only.ts).
// A running gateway serves the same at /__gateway/openapi.json and /__gateway/asyncapi.json.
import { statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { formatProblem } from "../config/problems.ts";
import { readRegularFile } from "../config/regular-file.ts";
import type { Generation } from "../runtime/generation.ts";
import { Creation, withPath } from "./creation.ts";
import { Refusal, shown } from "./file-errors.ts";
import { namedByManifest } from "./manifest-files.ts";
import { inspectTarget, obstacleLine } from "./targets.ts";
import { buildCatalog } from "../describe/catalog.ts";
import { buildFromManifest } from "../describe/manifest-only.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, type Verb } from "./verb.ts";
import { ENV_FILE_DETAIL, ENV_FILE_OPTION, envFor } from "./env-files.ts";

/** Where `gateway docs` writes without --out: this folder beside the manifest. */
export const DEFAULT_DOCS_DIR = "docs/api";

export const docs: Verb = {
  name: "docs",
  summary: "write the API's OpenAPI and AsyncAPI documents (openapi.json, asyncapi.json)",
  synopsis: "docs [--out dir] [--config gateway.yaml] [--env-file file]...",
  details: `Writes openapi.json (OpenAPI 3.1: every command as POST /ipc/<name>, its body, value and
errors) and asyncapi.json (AsyncAPI 3.0: the WebSocket /ipc/ws, its events, channels and frames),
from the manifest and its schemas: handler files must exist but are not run. A broken manifest
prints its mistakes and exits 1. A running gateway serves the same documents at
/__gateway/openapi.json and /__gateway/asyncapi.json.

${CONFIG_DETAIL}
${ENV_FILE_DETAIL}
  -o, --out <dir>       where to write them (default: ${DEFAULT_DOCS_DIR} beside the manifest); an
                        openapi.json or asyncapi.json already there is replaced only if gateway
                        docs wrote it`,
  options: { ...CONFIG_OPTION, ...ENV_FILE_OPTION, out: { type: "string", short: "o" } },
  async run(values) {
    const config = resolve(values.config as string);
    const result = await buildFromManifest(config, envFor(values, config));
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
    const refusal = whyNotWrite(out, written.map(([name]) => join(out, name)), config, generation);
    if (refusal !== undefined) throw new Refusal(`${refusal}; nothing was written`);
    const creation = new Creation();
    try {
      for (const [name, document] of written) {
        const file = join(out, name);
        const text = jsonText(document);
        if (inspectTarget(file).existing === "none") creation.file(file, text);
        else withPath(file, () => writeFileSync(file, text));
      }
    } catch (error) {
      creation.undo();
      throw error; // a file system error: one line by cli/index.ts
    }
    for (const [name, , what] of written) {
      const file = join(out, name);
      const shownFile = relative(process.cwd(), file);
      console.log(`wrote ${shownFile.startsWith("..") || isAbsolute(shownFile) ? file : shownFile} (${what})`);
    }
    return 0;
  },
};

/**
 * Why the documents must not be written into `out`, if they must not: a path no folder can be made
 * at, a file in its place, or a file of the same name that is no document the gateway generated
 * (the app's own openapi.json, a file the manifest names).
 */
function whyNotWrite(out: string, files: string[], manifestFile: string, generation: Generation): string | undefined {
  const folder = inspectTarget(out);
  if (folder.obstacle !== undefined) return obstacleLine(folder.obstacle);
  if (folder.existing === "link-to-nothing") return `${shown(out)}: is a symbolic link to nothing; --out names the folder to write the documents in`;
  if (folder.existing !== "none" && folder.existing !== "folder") return `${shown(out)}: is a file; --out names the folder to write openapi.json and asyncapi.json in`;
  for (const file of files) {
    const target = inspectTarget(file);
    if (target.obstacle !== undefined) return obstacleLine(target.obstacle);
    const named = namedByManifest(file, manifestFile, generation);
    if (named !== undefined) return `${shown(file)}: is ${named}, not a document gateway docs writes`;
    if (target.existing === "none") continue;
    if (target.existing !== "file") return `${shown(file)}: is ${target.existing === "folder" ? "a folder" : target.existing === "link-to-nothing" ? "a symbolic link to nothing" : "not a regular file"}, where gateway docs writes a file`;
    if (!generated(file)) return `${shown(file)}: not generated by gateway docs (its info has no "x-generator": "ipc-gateway ..."), so not written over (--out names another folder)`;
  }
  return undefined;
}

/** Whether the file is empty or a JSON document gateway docs wrote (its info."x-generator" says ipc-gateway). */
function generated(file: string): boolean {
  if (statSync(file).size > MAX_DOCUMENT_BYTES) return false;
  const text = readRegularFile(file, "utf8");
  if (text.trim() === "") return true;
  try {
    const generator = (JSON.parse(text) as { info?: { "x-generator"?: unknown } } | null)?.info?.["x-generator"];
    return typeof generator === "string" && generator.startsWith("ipc-gateway");
  } catch {
    return false;
  }
}

/** An existing document larger than this is not read (nor written over): no generated one comes near. */
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

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
