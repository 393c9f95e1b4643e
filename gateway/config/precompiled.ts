// The gateway's own JSON Schemas (the manifest's, the WebSocket frames') as validators generated
// by `npm run build` (ajv's standalone code, written beside the compiled module), so a start
// compiles no schema at all: `gateway serve --from` promises that, and it saves every start the
// time. Running from the TypeScript sources (tests, tsx), there is no generated file and the
// schema is compiled instead, with the same options.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** Generated validators live beside their module as `<name>.validate.cjs`. */
export function precompiledFile(moduleUrl: string, name: string): string {
  return fileURLToPath(new URL(`./${name}.validate.cjs`, moduleUrl));
}

/** The module `npm run build` generated for `name` beside `moduleUrl`, or `compile()` when there is none. */
export function precompiled<T>(moduleUrl: string, name: string, compile: () => T): T {
  const file = precompiledFile(moduleUrl, name);
  let generated: unknown;
  try {
    generated = createRequire(moduleUrl)(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    return compile();
  }
  return generated as T;
}
