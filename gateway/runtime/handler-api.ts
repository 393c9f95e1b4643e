// What a handler module gets when it imports "ipc-gateway": the loader hands bundles this module
// (the gateway's own instance, so `instanceof InvokeError` holds), not the whole gateway.
// Types are erased from bundles; only these values matter at run time.
export { InvokeError } from "./invoke-error.ts";
export { GatewayError } from "./errors.ts";
