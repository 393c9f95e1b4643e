// gateway init [dir]: a new app that works at once (npm install && npm start): a manifest with one
// command, its handler and schemas, a page calling it through @tauri-apps/api, and the
// package.json and tsconfig.json that build, serve and type-check it.
import { basename, join, resolve } from "node:path";
import { Creation } from "./creation.ts";
import { fileErrorLine, isFileError, Refusal, shown } from "./file-errors.ts";
import { inspectTarget, obstacleLine } from "./targets.ts";
import {
  fill,
  GATEWAY_YAML,
  GITIGNORE,
  GREET_BODY_SCHEMA,
  GREET_HANDLER,
  GREET_RETURNS_SCHEMA,
  INDEX_HTML,
  MAIN_TS,
  PACKAGE_JSON,
  TSCONFIG_JSON,
} from "./templates.ts";
import type { Verb } from "./verb.ts";
import { packageInfo } from "../config/package-info.ts";

/** The files of a new app, in the order they are listed. */
export function initFiles(name: string): Array<[path: string, content: string]> {
  const own = packageInfo();
  const esbuild = own.dependencies?.esbuild ?? "^0.28.2";
  return [
    ["package.json", fill(PACKAGE_JSON, { NAME: name, GATEWAY_VERSION: own.version, ESBUILD_VERSION: esbuild })],
    ["gateway.yaml", GATEWAY_YAML],
    ["handlers/greet.ts", GREET_HANDLER],
    ["schemas/greet.body.json", GREET_BODY_SCHEMA],
    ["schemas/greet.returns.json", GREET_RETURNS_SCHEMA],
    ["web/index.html", fill(INDEX_HTML, { TITLE: name })],
    ["web/main.ts", MAIN_TS],
    ["tsconfig.json", TSCONFIG_JSON],
    [".gitignore", GITIGNORE],
  ];
}

export const init: Verb = {
  name: "init",
  summary: "create a new app (manifest, a handler, schemas, a page) in a folder",
  synopsis: "init [dir]",
  details: `Creates a working app in dir (default: the current folder, which is created if needed):
package.json, gateway.yaml with a greet command, handlers/greet.ts, its schemas in schemas/,
a page in web/ calling it through @tauri-apps/api, tsconfig.json and .gitignore. Refuses a
folder that already holds a gateway.yaml or a package.json, and never overwrites a file.
Then: cd dir && npm install && npm start.`,
  options: {},
  positionals: 1,
  async run(_values, positionals) {
    const given = positionals[0] ?? ".";
    const dir = resolve(given);
    const refusal = whyNot(dir, given);
    if (refusal !== undefined) throw new Refusal(refusal);
    const files = initFiles(packageName(basename(dir)));
    const creation = new Creation();
    try {
      creation.folder(dir);
      for (const [path, content] of files) creation.file(join(dir, path), content);
    } catch (error) {
      creation.undo();
      if (!isFileError(error)) throw error;
      throw new Refusal(`${fileErrorLine(error)}; what this run had created was removed`);
    }
    const here = dir === process.cwd();
    console.log(`Created an ipc-gateway app in ${here ? "this folder" : given}:`);
    for (const [path] of files) console.log(`  ${path}`);
    console.log(`
Next:
  ${here ? "" : `cd ${quoted(given)} && `}npm install && npm start
then open http://127.0.0.1:1430. Add a command with: npx gateway new <name>`);
    return 0;
  },
};

/**
 * Why no app can be created in `dir`, looked at before anything is written: every file's place
 * (a folder on the way that is a file, a file already there, a symbolic link to nothing, a name
 * too long, a folder not writable).
 */
function whyNot(dir: string, given: string): string | undefined {
  const folder = inspectTarget(dir);
  if (folder.obstacle !== undefined) return `${obstacleLine(folder.obstacle)}; nothing was written`;
  if (folder.existing !== "none" && folder.existing !== "folder")
    return folder.existing === "link-to-nothing" ? `${shown(dir)}: is a symbolic link to nothing; nothing was written` : `${given} exists and is not a folder`;
  for (const marker of ["gateway.yaml", "package.json"]) {
    if (inspectTarget(join(dir, marker)).existing !== "none")
      return `${shown(join(dir, marker))} already exists; init creates a new app in an empty folder (gateway init <dir> names another one)`;
  }
  const taken: string[] = [];
  for (const [path] of initFiles("app")) {
    const file = join(dir, path);
    const target = inspectTarget(file);
    if (target.obstacle !== undefined) return `${obstacleLine(target.obstacle)}; nothing was written`;
    if (target.existing === "link-to-nothing") return `${shown(file)}: is a symbolic link to nothing; nothing was written`;
    if (target.existing !== "none") taken.push(shown(file));
  }
  return taken.length > 0 ? `would overwrite ${taken.join(", ")}; nothing was written` : undefined;
}

/** A valid npm package name made from a folder name. */
export function packageName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, "-")
    .replace(/^[._-]+/, "")
    .replace(/-+$/, "")
    .slice(0, 214);
  return name === "" || name === "node_modules" || name === "favicon.ico" ? "gateway-app" : name;
}

function quoted(path: string): string {
  return /^[\w./@:+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
