// gateway build: the app compiled into one folder that `gateway serve --from` runs without the
// sources, esbuild or a schema compiler (build/write.ts).
import { resolve } from "node:path";
import { defaultBuildDir } from "../build/format.ts";
import { buildApp } from "../build/write.ts";
import { displayPath, formatProblem } from "../config/problems.ts";
import { Refusal } from "./file-errors.ts";
import { inspectTarget, obstacleLine } from "./targets.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, type Verb } from "./verb.ts";
import { ENV_FILE_DETAIL, ENV_FILE_OPTION, envFor } from "./env-files.ts";

export const build: Verb = {
  name: "build",
  summary: "compile the app into a folder that gateway serve --from runs (production images)",
  synopsis: "build [--config gateway.yaml] [--env-file file]... [--out DIR]",
  details: `Builds the app as gateway serve would (handlers and every local module they import compiled,
schemas turned into validators, the manifest resolved) and writes it into one folder, which
replaces the previous build only once it is complete. gateway serve --from DIR then needs that
folder and the app's node_modules, not the sources, esbuild or anything written to disk.
Handlers are loaded as gateway check loads them (their top-level code runs; setup() does not).
The manifest's server: settings, with their \${VAR}s, are read again when the build is served
(from the environment and the .env of that start); the env files are never copied into the build.

${CONFIG_DETAIL}
${ENV_FILE_DETAIL}
  -o, --out <dir>       the folder to write (default .gateway beside the manifest); an existing
                        folder is replaced only if it is empty or an earlier build`,
  options: { ...CONFIG_OPTION, ...ENV_FILE_OPTION, out: { type: "string", short: "o" } },
  async run(values) {
    const config = values.config as string;
    const outDir = values.out !== undefined ? resolve(values.out as string) : defaultBuildDir(config);
    // Before building, a given --out: a folder on the way that is a file, a name too long with the
    // suffix of the folder the build is staged in (build/write.ts: <out>.<pid>.tmp, then renamed).
    // (The default, beside the manifest, is looked at once the manifest has been read.)
    const obstacle = values.out !== undefined ? inspectTarget(outDir, `.${process.pid}.tmp`.length).obstacle : undefined;
    if (obstacle !== undefined) throw new Refusal(`${obstacleLine(obstacle)}; nothing was written`);
    const started = performance.now();
    const outcome = await buildApp(resolve(config), outDir, envFor(values, resolve(config)), (warning) => console.error(`warning: ${formatProblem(warning)}`));
    if (!outcome.ok) {
      for (const problem of outcome.problems) console.error(formatProblem(problem));
      return 1;
    }
    const { commands, modules, validators, bytes } = outcome.summary;
    const ms = Math.round(performance.now() - started);
    console.log(`${config}: ${commands} commands, ${modules} modules, ${validators} validators -> ${displayPath(outDir)}/ (${Math.ceil(bytes / 1024)} kB, ${ms} ms)`);
    return 0;
  },
};
