#!/usr/bin/env node
// Builds the dev console (gateway/console/, a Preact app on the real @tauri-apps/api) into
// dist/console/: index.html, console.js and console.css (esbuild bundles Preact, the API and the
// CSS; nothing is fetched at run time). scripts/build.js runs it after tsc; run alone, it
// rebuilds just the console (what the browser tests do before they start).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = join(root, "gateway", "console");

/** Bundle the console into `outdir` (default dist/console). */
export async function buildConsole(outdir = join(root, "dist", "console")) {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [
      { in: join(source, "main.tsx"), out: "console" },
      { in: join(source, "console.css"), out: "console" },
    ],
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: true,
    sourcemap: true,
    legalComments: "eof",
    logLevel: "warning",
  });
  copyFileSync(join(source, "index.html"), join(outdir, "index.html"));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildConsole();
