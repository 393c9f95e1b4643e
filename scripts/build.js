#!/usr/bin/env node
// Builds the package: gateway/ -> dist/ with tsc (ESM JavaScript, .d.ts with declaration maps,
// source maps), then copies the files tsc does not emit (the browser script, the manifest's JSON
// Schema) and bundles the dev console (scripts/build-console.js: gateway/console/ ->
// dist/console/). Incremental, so a rebuild after a small edit takes a fraction of a clean one;
// `--clean` (what `npm pack` runs) starts from an empty dist/ so nothing stale is shipped.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildConsole } from "./build-console.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const buildInfo = join(root, "node_modules", ".cache", "ipc-gateway", "build.tsbuildinfo");

// tsc's incremental state says what it emitted, not whether that is still there: without dist/
// (a clone's first build, dist/ deleted) it starts from nothing too.
if (process.argv.includes("--clean") || !existsSync(join(dist, "index.js"))) {
  rmSync(dist, { recursive: true, force: true });
  rmSync(buildInfo, { force: true });
}
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
try {
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--incremental", "--tsBuildInfoFile", buildInfo], {
    stdio: "inherit",
  });
} catch {
  console.error("build: tsc reported the errors above; dist/ was not updated");
  process.exit(1);
}

for (const asset of ["client/tauri.js", "config/manifest.schema.json"]) {
  mkdirSync(dirname(join(dist, asset)), { recursive: true });
  copyFileSync(join(root, "gateway", asset), join(dist, asset));
}
await buildConsole(join(dist, "console"));

// The gateway's own JSON Schemas as ajv's standalone code beside their modules, so that no start
// compiles a schema (config/precompiled.ts); generated from the modules just built, with their options.
const { manifestValidatorCode } = await import(join(dist, "config", "manifest.js"));
const { frameValidatorsCode } = await import(join(dist, "runtime", "frames.js"));
writeFileSync(join(dist, "config", "manifest.validate.cjs"), manifestValidatorCode());
writeFileSync(join(dist, "runtime", "frames.validate.cjs"), frameValidatorsCode());

// tsc keeps the sources' `.ts` import paths in declarations; a consumer's TypeScript resolves
// `.js` paths in any configuration, so declarations name the emitted files. (Same length: the
// declaration maps stay exact.)
for (const file of walk(dist)) {
  if (!file.endsWith(".d.ts")) continue;
  const text = readFileSync(file, "utf8");
  const rewritten = text.replace(/((?:from|import)\s*\(?\s*["']\.\.?\/[^"']*?)\.ts(["'])/g, "$1.js$2");
  if (rewritten !== text) writeFileSync(file, rewritten);
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}
