// The `rpc.method` a metric label or a span carries (OpenTelemetry's RPC conventions): a bounded
// set, so that a caller cannot create series or span names by sending made-up command names.

/** An unknown command is one value, not one per name a caller sends. */
export const OTHER_METHOD = "_OTHER";

/** The event plugin's commands (a page's listen/emit calls), a fixed set. */
const EVENT_PLUGIN_COMMANDS = new Set(["plugin:event|listen", "plugin:event|unlisten", "plugin:event|emit", "plugin:event|emit_to"]);

/** Is `name` a method of its own (one of the app's `commands`, or an event-plugin command), rather than `_OTHER`? */
export function isKnownMethod(name: string, commands: { has(name: string): boolean }): boolean {
  return EVENT_PLUGIN_COMMANDS.has(name) || commands.has(name);
}
