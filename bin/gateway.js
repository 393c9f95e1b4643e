#!/usr/bin/env node
// The `gateway` command. It runs under plain `node`: tsx is registered here so the gateway's own
// TypeScript source runs without a build step. (Handler modules do not need it: the gateway
// bundles them itself, see gateway/loader.ts.)
import { register } from "tsx/esm/api";

register();
const { main } = await import("../gateway/cli.ts");
process.exitCode = await main(process.argv.slice(2));
