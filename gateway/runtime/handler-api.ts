// What an app module gets when it imports "ipc-gateway": the module graph hands it this module
// (the gateway's own instance, so `instanceof InvokeError` holds), not the whole gateway.
// Types are erased when modules are compiled; only these values matter at run time.
export { InvokeError } from "./invoke-error.ts";
export { GatewayError } from "./errors.ts";
