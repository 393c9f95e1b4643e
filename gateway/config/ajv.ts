// ajv, loaded when first needed rather than at start-up: loading it (and ajv-formats) is a good
// part of a start, and a warm start whose validators all come from the disk cache, with a cached
// manifest and no page yet, needs none of it.
import { createRequire } from "node:module";
import type * as AjvModule from "ajv";
import type * as Ajv2020Module from "ajv/dist/2020.js";
import type * as CodeModule from "ajv/dist/vocabularies/code.js";

const load = createRequire(import.meta.url);

export interface AjvLibrary {
  Ajv: typeof AjvModule.Ajv;
  Ajv2020: typeof Ajv2020Module.Ajv2020;
  /** ajv's code generation tag (for keywords that generate code). */
  _: typeof AjvModule._;
  usePattern: typeof CodeModule.usePattern;
  standaloneCode: (ajv: AjvModule.Ajv, validate: AjvModule.ValidateFunction | Record<string, string>) => string;
  addFormats: (ajv: AjvModule.Ajv) => unknown;
}

let library: AjvLibrary | undefined;

export function ajvLibrary(): AjvLibrary {
  if (library) return library;
  const ajv = load("ajv") as typeof AjvModule;
  // CommonJS modules whose export is the function itself, and also carries it as .default.
  const standalone = load("ajv/dist/standalone/index.js") as { default: AjvLibrary["standaloneCode"] };
  const formats = load("ajv-formats") as { default: AjvLibrary["addFormats"] };
  return (library = {
    Ajv: ajv.Ajv,
    Ajv2020: (load("ajv/dist/2020.js") as typeof Ajv2020Module).Ajv2020,
    _: ajv._,
    usePattern: (load("ajv/dist/vocabularies/code.js") as typeof CodeModule).usePattern,
    standaloneCode: standalone.default,
    addFormats: formats.default,
  });
}
