// One app module's source -> CommonJS code that module-graph.ts evaluates, with esbuild's
// `transform` (no bundling: each file is compiled on its own, so a helper imported by several
// handlers is one module, evaluated once). Chosen by measuring on this machine: `transform` takes
// ~2 ms per file against ~6 ms for a `build` per file with a resolving plugin; Vite's module
// runner would add Vite to every app. Imports are resolved when the code runs (resolve.ts), the
// same way for static and computed specifiers.
import type { Message, TransformOptions, TsconfigRaw } from "esbuild";
import { createRequire } from "node:module";
import { basename, extname } from "node:path";
import type { Problem } from "../config/problems.ts";

export interface CompiledModule {
  /** The function body: CommonJS, with its source map inline (lines shifted for the wrapper). */
  code: string;
  /** The specifiers its code `require`s with a literal (its static and `import("...")` imports). */
  requires: string[];
}

export type CompileResult = { ok: true; module: CompiledModule } | { ok: false; problems: Problem[] };

/** The compiler options esbuild takes from a tsconfig (decorators, JSX, class fields ...). */
export type CompilerOptions = NonNullable<TsconfigRaw["compilerOptions"]>;
const USED_OPTIONS = [
  "alwaysStrict",
  "experimentalDecorators",
  "importsNotUsedAsValues",
  "jsx",
  "jsxFactory",
  "jsxFragmentFactory",
  "jsxImportSource",
  "preserveValueImports",
  "strict",
  "useDefineForClassFields",
  "verbatimModuleSyntax",
] as const;

/** The options of a tsconfig's compilerOptions that change compiled code (part of a cache key). */
export function compilerOptionsOf(options: Record<string, unknown> | undefined): CompilerOptions {
  const picked: Record<string, unknown> = {};
  for (const name of USED_OPTIONS) if (options?.[name] !== undefined) picked[name] = options[name];
  return picked as CompilerOptions;
}

type Esbuild = typeof import("esbuild");
let esbuild: Esbuild | undefined;
let holders = 0;

/** esbuild, loaded at the first compile: a warm start or `serve --from` never loads it. */
function esbuildModule(): Esbuild {
  return (esbuild ??= createRequire(import.meta.url)("esbuild") as Esbuild);
}

/**
 * Gateways using the compiler: when the last one closes, esbuild's helper process is stopped at
 * once (left alone, it outlives the process by a second or two).
 */
export function holdCompiler(): () => Promise<void> {
  holders++;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--holders === 0 && esbuild) await esbuild.stop();
  };
}

/**
 * Stop esbuild's helper process now; the next compile starts a new one. A compile still waiting on
 * it never finishes (its build was given up: see GenerationBuilder.build).
 */
export async function stopCompiler(): Promise<void> {
  if (esbuild) await esbuild.stop();
}

function options(file: string, compilerOptions: CompilerOptions): TransformOptions {
  return {
    loader: loaderFor(file),
    format: "cjs",
    platform: "node",
    target: "node20",
    // The map names the file by its base name, resolved against the URL the code is evaluated
    // under: compiled code does not depend on where the app is (gateway build output moves).
    sourcefile: basename(file),
    sourcemap: "external",
    sourcesContent: false,
    logLevel: "silent",
    tsconfigRaw: { compilerOptions },
    define: {
      "import.meta.url": "__importMetaUrl",
      "import.meta.filename": "__filename",
      "import.meta.dirname": "__dirname",
    },
  };
}

export async function compile(file: string, source: string, compilerOptions: CompilerOptions): Promise<CompileResult> {
  const { transform } = esbuildModule();
  try {
    const result = await transform(source, options(file, compilerOptions));
    return { ok: true, module: finish(result.code, result.map) };
  } catch (error) {
    return { ok: false, problems: problemsOf(error, file) };
  }
}

/**
 * The same, blocking: for a module first `require`d with a computed specifier while code runs
 * (evaluation is synchronous).
 */
export function compileSync(file: string, source: string, compilerOptions: CompilerOptions): CompileResult {
  try {
    const result = esbuildModule().transformSync(source, options(file, compilerOptions));
    return { ok: true, module: finish(result.code, result.map) };
  } catch (error) {
    return { ok: false, problems: problemsOf(error, file) };
  }
}

function loaderFor(file: string): TransformOptions["loader"] {
  switch (extname(file).toLowerCase()) {
    case ".ts":
    case ".mts":
    case ".cts":
      return "ts";
    case ".tsx":
      return "tsx";
    case ".jsx":
      return "jsx";
    case ".json":
      return "json";
    default:
      return "js";
  }
}

const REQUIRE_LITERAL = /\brequire\("((?:[^"\\\n]|\\.)*)"\)/g;

function finish(code: string, mapText: string): CompiledModule {
  const requires = new Set<string>();
  // esbuild prints every string literal with double quotes, so this finds each literal require
  // (imports become `require("...")` in CommonJS output).
  for (const match of code.matchAll(REQUIRE_LITERAL)) {
    try {
      requires.add(JSON.parse(`"${match[1]}"`) as string);
    } catch {
      // not a plain string literal after all
    }
  }
  return { code: withSourceMap(code, mapText), requires: [...requires] };
}

/**
 * The code with its source map inline, so stack traces name the module's own lines. The code is
 * evaluated as the body of `new Function`, which puts it after a two-line header
 * ("function anonymous(...\n) {\n"): the map is shifted by two generated lines to match.
 */
function withSourceMap(code: string, mapText: string): string {
  if (!mapText) return code;
  const map = JSON.parse(mapText) as { mappings: string };
  map.mappings = ";;" + map.mappings;
  const base64 = Buffer.from(JSON.stringify(map)).toString("base64");
  return `${code.replace(/\/\/# sourceMappingURL=\S+\s*$/, "")}//# sourceMappingURL=data:application/json;base64,${base64}`;
}

function problemsOf(error: unknown, file: string): Problem[] {
  const messages = (error as { errors?: Message[] }).errors;
  if (!messages?.length) return [{ file, message: String(error) }];
  return messages.map((message) => {
    const text = /top-level await/i.test(message.text)
      ? "top-level await is not supported in handler modules or the files they import (they are loaded as CommonJS so that reloading never leaks memory); await inside the handler or in setup() instead"
      : message.text;
    const where = message.location;
    return where ? { file, line: where.line, col: where.column + 1, message: text } : { file, message: text };
  });
}
