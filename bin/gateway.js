#!/usr/bin/env node
// The `gateway` command: the compiled CLI (dist/, built by `npm run build`, which `npm install`
// runs in a clone and `npm pack` runs before packing). Handler modules need no build: the gateway
// bundles them itself (gateway/reload/loader.ts).

// Stack traces of handlers (bundled by the gateway) and of the gateway point at TypeScript lines.
// Enabled before the gateway's modules load, so their maps are read too.
process.setSourceMapsEnabled(true);
const { main } = await import("../dist/cli/index.js");
const code = await main(process.argv.slice(2));
// Exit explicitly: a handler may have left timers or sockets behind, which must not keep a
// stopped gateway alive.
process.exit(code);
