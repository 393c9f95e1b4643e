#!/usr/bin/env node
// Bundles the example app's frontend (web/main.ts, which imports @tauri-apps/api) into
// web/dist/main.js with esbuild. Runs before `npm start`.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const web = fileURLToPath(new URL("../web/", import.meta.url));
await build({
  entryPoints: [`${web}main.ts`],
  outfile: `${web}dist/main.js`,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  logLevel: "warning",
});
