// gateway init in a folder that has a package.json: the gateway added to that project. New files
// only (the manifest, the greet handler, its schemas, the generated types), and in package.json
// only new entries, spliced into its text (package-json-text.ts); every file the project had stays
// byte for byte as it was. Refuses, writing nothing, when a file it would write exists or a script
// name it would add is taken by another command.
import { join } from "node:path";
import { readRegularFile } from "../config/regular-file.ts";
import { packageInfo } from "../config/package-info.ts";
import { replaceText } from "./creation.ts";
import { Refusal, shown } from "./file-errors.ts";
import { addEntries, type Addition } from "./package-json-text.ts";
import { DECLARATIONS, gatewayFiles, pluginOptions, quoted, whyNotWriteAll, writeAll } from "./scaffold.ts";
import { scaffoldTypes } from "./scaffold-types.ts";
import { inspectTarget, obstacleLine } from "./targets.ts";
import { fill } from "./templates.ts";
import { HANDLERS_TSCONFIG_JSON, VITE_CONFIG_TS } from "./templates-vite.ts";

/** The names Vite looks for its config under, in its own order. */
const VITE_CONFIGS = ["vite.config.js", "vite.config.mjs", "vite.config.ts", "vite.config.cjs", "vite.config.mts", "vite.config.cts"];

type PackageJson = { [key: string]: unknown };

/** The project as init sees it. */
interface Project {
  pkg: PackageJson;
  vite: boolean;
  /** The project's vite config file, when it has one. */
  viteConfig?: string;
  /** Where the frontend's bindings go: src/ipc.ts when there is a src/ folder. */
  bindings: string;
}

export async function addToProject(dir: string, given: string, viteFlag: boolean): Promise<number> {
  const pkgFile = join(dir, "package.json");
  const text = readPackageJson(pkgFile);
  const project = look(dir, parse(text, pkgFile));

  const scripts = scriptsFor(project);
  const sources: Array<[string, string]> = [
    ...gatewayFiles(
      project.vite
        ? {
            runs: "`npm run dev` serves it inside Vite's dev server (ipc-gateway/vite\n# in the vite config), with hot reload; `npm run gateway:check` checks it and the handlers' types.",
            staticLine: "  static: dist                   # the page as `npm run build` makes it, at / under `npm run gateway:serve`",
            regenerate: "`npm run dev` (or `npm run gateway:types`)",
          }
        : {
            runs: "`npm run gateway:dev` serves it with hot reload; `npm run gateway:check`\n# checks it and the handlers' types.",
            staticLine: "  # static: dist                 # a folder of pages and assets to serve at / (your built frontend), if you want",
            regenerate: "`npm run gateway:dev` (or `npm run gateway:types`)",
          },
    ),
    ["handlers/tsconfig.json", HANDLERS_TSCONFIG_JSON],
  ];
  const addsViteConfig = project.vite && project.viteConfig === undefined;
  if (addsViteConfig) sources.push(["vite.config.ts", fill(VITE_CONFIG_TS, { OPTIONS: pluginOptions(project.bindings) })]);

  const why = whyNotWriteAll(dir, [...sources.map(([path]) => path), project.bindings, DECLARATIONS]);
  if (why !== undefined) throw new Refusal(why);
  const additions = [...dependencyAdditions(project.pkg), ...scriptAdditions(project.pkg, scripts)];
  const pkgTarget = inspectTarget(pkgFile);
  if (additions.length > 0 && pkgTarget.obstacle !== undefined) throw new Refusal(`${obstacleLine(pkgTarget.obstacle)}; nothing was written`);

  let updated: string;
  try {
    updated = addEntries(text, additions);
  } catch {
    throw new Refusal(`could not add to ${shown(pkgFile)} without changing what else it says; nothing was written`);
  }
  const generated = await scaffoldTypes(sources, { bindings: project.bindings, handlers: DECLARATIONS });
  const files = [...sources, ...generated];
  writeAll(dir, files, () => {
    if (additions.length > 0) replaceText(pkgFile, text, updated);
  });

  const where = dir === process.cwd() ? "this project" : given;
  if (viteFlag) console.log(`${shown(pkgFile)} exists: adding the gateway to this project (--vite creates new apps in folders without one).`);
  console.log(`Added ipc-gateway to ${where}${project.vite ? " (a Vite project)" : ""}:`);
  for (const [path] of files) console.log(`  ${path}${generated.some(([g]) => g === path) ? " (generated from the manifest)" : ""}`);
  for (const line of additionLines(additions)) console.log(`  ${line}`);
  const cd = dir === process.cwd() ? "" : `cd ${quoted(given)} && `;
  if (project.vite && project.viteConfig !== undefined) {
    const config = readRegularFile(join(dir, project.viteConfig), "utf8");
    if (!config.includes("ipc-gateway/vite")) {
      console.log(`
${project.viteConfig} was left as it is; add the gateway's plugin to it:
  import gateway from "ipc-gateway/vite";
  plugins: [gateway(${pluginOptions(project.bindings)})],   // beside the plugins it has`);
    }
  }
  console.log(
    project.vite
      ? `
Next:
  ${cd}npm install && npm run dev
The page calls the gateway on Vite's own origin: invoke("greet", { name: "Ada" }) from
@tauri-apps/api/core, or commands.greet({ name: "Ada" }) from ${project.bindings}.`
      : `
Next:
  ${cd}npm install && npm run gateway:dev
then load http://127.0.0.1:1430/__gateway/tauri.js?window=main in your page before its own script,
and list your page's origin under server.origins in gateway.yaml (e.g. origins: [http://localhost:5173]).`,
  );
  return 0;
}

function readPackageJson(file: string): string {
  try {
    return readRegularFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new Refusal(`${shown(file)} not found`);
    throw error; // said in one line by cli/index.ts
  }
}

function parse(text: string, file: string): PackageJson {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new Refusal(`${shown(file)} is not valid JSON (${(error as Error).message.split("\n")[0]}); nothing was written`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Refusal(`${shown(file)} is not a JSON object; nothing was written`);
  for (const key of ["dependencies", "devDependencies", "scripts"]) {
    const section = (value as PackageJson)[key];
    if (section !== undefined && (section === null || typeof section !== "object" || Array.isArray(section)))
      throw new Refusal(`${shown(file)}: "${key}" is not an object; nothing was written`);
  }
  return value as PackageJson;
}

function look(dir: string, pkg: PackageJson): Project {
  const vite = hasDependency(pkg, "vite");
  const viteConfig = VITE_CONFIGS.find((name) => inspectTarget(join(dir, name)).existing !== "none");
  const bindings = inspectTarget(join(dir, "src")).existing === "folder" ? "src/ipc.ts" : "gateway-types.ts";
  return { pkg, vite, viteConfig, bindings };
}

function section(pkg: PackageJson, key: string): Record<string, unknown> {
  return (pkg[key] ?? {}) as Record<string, unknown>;
}

function hasDependency(pkg: PackageJson, name: string): boolean {
  return name in section(pkg, "dependencies") || name in section(pkg, "devDependencies");
}

/** The scripts init adds (under names of their own, so none of the project's is changed). */
function scriptsFor(project: Project): Array<[name: string, command: string]> {
  const generate = `--types ${project.bindings} --handlers ${DECLARATIONS}`;
  return [
    // A Vite project runs the gateway inside `vite` (its own `dev` script).
    ...(project.vite ? [] : [["gateway:dev", `gateway dev ${generate}`] as [string, string]]),
    ["gateway:serve", "gateway serve"],
    ["gateway:check", "gateway check --types"],
    ["gateway:types", `gateway types --out ${project.bindings} --handlers ${DECLARATIONS}`],
  ];
}

function dependencyAdditions(pkg: PackageJson): Addition[] {
  const wanted: Array<[string, string]> = [
    ["@tauri-apps/api", "^2"],
    ["ipc-gateway", `^${packageInfo().version}`],
  ];
  return wanted.filter(([name]) => !hasDependency(pkg, name)).map(([key, value]) => ({ section: "dependencies", key, value, sorted: true }));
}

function scriptAdditions(pkg: PackageJson, scripts: Array<[string, string]>): Addition[] {
  const existing = section(pkg, "scripts");
  const additions: Addition[] = [];
  for (const [name, command] of scripts) {
    if (!(name in existing)) additions.push({ section: "scripts", key: name, value: command });
    else if (existing[name] !== command)
      throw new Refusal(`package.json already has a script "${name}" (${JSON.stringify(existing[name])}, not ${JSON.stringify(command)}); nothing was written`);
  }
  return additions;
}

/** `package.json: dependencies a, b; scripts c, d`, as printed. */
function additionLines(additions: Addition[]): string[] {
  const bySection = new Map<string, string[]>();
  for (const a of additions) bySection.set(a.section!, [...(bySection.get(a.section!) ?? []), a.key]);
  if (bySection.size === 0) return [];
  return [`package.json: added ${[...bySection].map(([name, keys]) => `${name} ${keys.join(", ")}`).join("; ")}`];
}
