// gateway init [--vite] [dir]: a new app that works at once (npm install && npm start, or with
// --vite, npm install && npm run dev): a manifest with one command, its handler and schemas, a page
// calling it through @tauri-apps/api, and the package.json and tsconfig.json that build, serve and
// type-check it. In a folder that has a package.json: the gateway added to that project
// (init-existing.ts). The types every scaffold uses are generated (scaffold-types.ts).
import { basename, join, resolve } from "node:path";
import { Refusal, shown } from "./file-errors.ts";
import { addToProject } from "./init-existing.ts";
import { DECLARATIONS, gatewayFiles, pluginOptions, quoted, whyNotWriteAll, writeAll } from "./scaffold.ts";
import { scaffoldTypes } from "./scaffold-types.ts";
import { inspectTarget, obstacleLine } from "./targets.ts";
import { fill, GITIGNORE, INDEX_HTML, MAIN_TS, PACKAGE_JSON, TSCONFIG_JSON } from "./templates.ts";
import { VITE_CONFIG_TS, VITE_GITIGNORE, VITE_INDEX_HTML, VITE_PACKAGE_JSON, VITE_TSCONFIG_JSON } from "./templates-vite.ts";
import type { Verb } from "./verb.ts";
import { packageInfo } from "../config/package-info.ts";

/** The frontend's bindings in a new app, by kind. */
const BINDINGS = { plain: "web/ipc.ts", vite: "src/ipc.ts" } as const;

type Kind = keyof typeof BINDINGS;

/** The files of a new app (the generated ones last), in the order they are written. */
function sourceFiles(kind: Kind, name: string): Array<[path: string, content: string]> {
  const own = packageInfo();
  if (kind === "vite") {
    const vite = own.devDependencies?.vite ?? "^8.0.0";
    return [
      ["package.json", fill(VITE_PACKAGE_JSON, { NAME: name, GATEWAY_VERSION: own.version, VITE_VERSION: vite })],
      ...gatewayFiles({
        runs: "`npm run dev` serves it inside Vite's dev server (vite.config.ts),\n# with hot reload; `npm run build`, then `npm start`, serve the built page and it in production;\n# `npm run check` checks it and the handlers' and page's types.",
        staticLine: "  static: dist                   # the built page (npm run build), at / under `npm start`",
        regenerate: "`npm run dev`",
      }),
      ["vite.config.ts", fill(VITE_CONFIG_TS, { OPTIONS: pluginOptions(BINDINGS.vite) })],
      ["index.html", fill(VITE_INDEX_HTML, { TITLE: name })],
      ["src/main.ts", fill(MAIN_TS, { IPC: "./ipc.ts", REGENERATE: "`npm run dev`" })],
      ["tsconfig.json", VITE_TSCONFIG_JSON],
      [".gitignore", VITE_GITIGNORE],
    ];
  }
  const esbuild = own.dependencies?.esbuild ?? "^0.28.2";
  return [
    ["package.json", fill(PACKAGE_JSON, { NAME: name, GATEWAY_VERSION: own.version, ESBUILD_VERSION: esbuild })],
    ...gatewayFiles({
      runs: "`npm start` serves it with hot reload; `npm run check` checks it without serving.",
      staticLine: "  static: web                    # the page (web/index.html and the bundle in web/dist), at /",
      regenerate: "`npm start`",
    }),
    ["web/index.html", fill(INDEX_HTML, { TITLE: name })],
    ["web/main.ts", fill(MAIN_TS, { IPC: "./ipc.js", REGENERATE: "`npm start`" })],
    ["tsconfig.json", TSCONFIG_JSON],
    [".gitignore", GITIGNORE],
  ];
}

/** Every path a new app has, generated ones included (for the look before writing). */
function allPaths(kind: Kind): string[] {
  return [...sourceFiles(kind, "app").map(([path]) => path), BINDINGS[kind], DECLARATIONS];
}

export const init: Verb = {
  name: "init",
  summary: "create a new app (manifest, a handler, schemas, a page), or add the gateway to an existing project",
  synopsis: "init [--vite] [dir]",
  details: `In a folder without a package.json (default: the current folder, created if needed), creates
a working app: package.json, gateway.yaml with a greet command, handlers/greet.ts typed with
Handler<"greet">, its schemas in schemas/, a page calling it through @tauri-apps/api,
tsconfig.json and .gitignore, and the generated types the handler and the page use
(handlers/gateway.d.ts, and the page's bindings). Then: cd dir && npm install && npm start.

  --vite   a Vite + TypeScript app instead: index.html, vite.config.ts (with ipc-gateway/vite, which
           serves the gateway on Vite's dev server) and gateway.yaml at its root, the page in src/
           (bindings in src/ipc.ts). Then: npm install && npm run dev (build: npm run build, then
           npm start serves dist/ and the gateway).

In a folder with a package.json, adds the gateway to that project, changing none of its files:
gateway.yaml, handlers/greet.ts (and handlers/tsconfig.json), its schemas, handlers/gateway.d.ts,
the page's bindings (src/ipc.ts, or gateway-types.ts without src/), and in package.json only new
entries: ipc-gateway and @tauri-apps/api under dependencies (each one it lacks), and the
scripts gateway:dev (not in Vite projects), gateway:serve, gateway:check and gateway:types. A Vite
project without a vite config gets a vite.config.ts using the plugin; one with a config is left as
it is, and the two lines to add are printed. --vite changes nothing there.

Refuses, writing nothing, when a file it would write exists (a gateway.yaml among them), when a
script it would add exists with another command, or when package.json is not a JSON object.`,
  options: { vite: { type: "boolean" } },
  positionals: 1,
  async run(values, positionals) {
    const given = positionals[0] ?? ".";
    const dir = resolve(given);
    const manifest = inspectTarget(join(dir, "package.json"));
    if (manifest.existing === "file") return addToProject(dir, given, values.vite === true);
    const kind: Kind = values.vite === true ? "vite" : "plain";
    const refusal = whyNot(dir, given, kind);
    if (refusal !== undefined) throw new Refusal(refusal);
    const sources = sourceFiles(kind, packageName(basename(dir)));
    const generated = await scaffoldTypes(sources, { bindings: BINDINGS[kind], handlers: DECLARATIONS });
    const files = [...sources, ...generated];
    writeAll(dir, files);

    const here = dir === process.cwd();
    console.log(`Created ${kind === "vite" ? "a Vite + TypeScript app with ipc-gateway" : "an ipc-gateway app"} in ${here ? "this folder" : given}:`);
    for (const [path] of files) console.log(`  ${path}${generated.some(([g]) => g === path) ? " (generated from the manifest)" : ""}`);
    const cd = here ? "" : `cd ${quoted(given)} && `;
    console.log(
      kind === "vite"
        ? `
Next:
  ${cd}npm install && npm run dev
then open the address Vite prints. For production: npm run build && npm start (http://127.0.0.1:1430).
Add a command with: npx gateway new <name>`
        : `
Next:
  ${cd}npm install && npm start
then open http://127.0.0.1:1430. Add a command with: npx gateway new <name>`,
    );
    return 0;
  },
};

/** Why no new app can be created in `dir`, looked at before anything is written. */
function whyNot(dir: string, given: string, kind: Kind): string | undefined {
  const folder = inspectTarget(dir);
  if (folder.obstacle !== undefined) return `${obstacleLine(folder.obstacle)}; nothing was written`;
  if (folder.existing !== "none" && folder.existing !== "folder")
    return folder.existing === "link-to-nothing" ? `${shown(dir)}: is a symbolic link to nothing; nothing was written` : `${given} exists and is not a folder`;
  const marker = join(dir, "gateway.yaml");
  if (inspectTarget(marker).existing !== "none")
    return `${shown(marker)} already exists; init creates a new app in an empty folder (gateway init <dir> names another one)`;
  return whyNotWriteAll(dir, allPaths(kind));
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
