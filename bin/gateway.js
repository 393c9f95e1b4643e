#!/usr/bin/env node
// The `gateway` command: the compiled CLI (dist/, built by `npm run build`, which `npm pack` runs
// before packing, and this file runs first in a clone that has none yet). Handler modules need no
// build: the gateway compiles them itself (gateway/reload/module-graph.ts).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// Stack traces of handlers (compiled by the gateway) and of the gateway point at TypeScript lines.
// Enabled before the gateway's modules load, so their maps are read too.
process.setSourceMapsEnabled(true);
const cli = new URL("../dist/cli/index.js", import.meta.url);
// `npm install` in a clone builds nothing (an install script would be one for every consumer too):
// a clone builds dist/ on first use. The package always ships it.
const build = new URL("../scripts/build.js", import.meta.url);
if (!existsSync(cli) && existsSync(build)) {
  console.error("gateway: dist/ is not built yet in this clone: building it ...");
  // stdout stays the command's own (gateway types prints there).
  if (spawnSync(process.execPath, [fileURLToPath(build)], { stdio: ["ignore", 2, 2] }).status !== 0) process.exit(1);
}
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2));
// Exit explicitly: a handler may have left timers or sockets behind, which must not keep a
// stopped gateway alive.
process.exit(code);
