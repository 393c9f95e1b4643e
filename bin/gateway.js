#!/usr/bin/env node
// The `gateway` command. It runs under plain `node`: tsx is registered here so the gateway's own
// TypeScript source runs without a build step. (Handler modules do not need it: the gateway
// bundles them itself, see gateway/loader.ts.)
import { register } from "tsx/esm/api";

register();
const { main } = await import("../gateway/cli.ts");
const code = await main(process.argv.slice(2));
// Exit explicitly: a handler may have left timers or sockets behind, which must not keep a
// stopped gateway alive.
process.exit(code);
