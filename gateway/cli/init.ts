// gateway init [dir]: a new app that works at once (npm install && npm start): a manifest with one
// command, its handler and schemas, a page calling it through @tauri-apps/api, and the
// package.json and tsconfig.json that build, serve and type-check it.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
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
    if (existsSync(dir) && !statSync(dir).isDirectory()) {
      console.error(`gateway init: ${given} exists and is not a folder`);
      return 1;
    }
    for (const marker of ["gateway.yaml", "package.json"]) {
      if (existsSync(join(dir, marker))) {
        console.error(`gateway init: ${shown(join(dir, marker))} already exists; init creates a new app in an empty folder (gateway init <dir> names another one)`);
        return 1;
      }
    }
    const files = initFiles(packageName(basename(dir)));
    const taken = files.filter(([path]) => existsSync(join(dir, path))).map(([path]) => shown(join(dir, path)));
    if (taken.length > 0) {
      console.error(`gateway init: would overwrite ${taken.join(", ")}; nothing was written`);
      return 1;
    }
    for (const [path, content] of files) {
      const file = join(dir, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content, { flag: "wx" });
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

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}

function quoted(path: string): string {
  return /^[\w./@:+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
