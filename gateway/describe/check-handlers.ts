// `gateway check --types`: every handler type-checked against its command's schemas, with the
// app's own TypeScript (resolved from the manifest's folder; never a dependency of the gateway,
// so it is loaded here, at run time, and only here).
//
// The program is the handler files (manifest entries and drop-ins, and what they import), plus
// the declarations `gateway types --handlers` would write, held in memory: they augment
// ipc-gateway's `Commands`, which gives `Invoke<"greet">` its body type. Then, per command:
//  - the body: the handler must accept `Invoke<"greet">` (what the body schema allows);
//  - the return value: a handler function without a return type annotation gets one, in memory
//    (`: Promise<HandlerResult<"greet">>` after its parameter list, nothing else moves), so the
//    compiler reports each offending `return` at its own line, with the property that is wrong; a
//    handler with an annotation (or one the file does not define as a function) has its declared
//    return type checked instead, reported at the annotation (or the export);
//  - the errors, for a command with an `errors:` schema: each `new InvokeError(value)` inside the
//    handler function gets the command's type arguments, in memory (`new InvokeError<"divide">`),
//    so the compiler checks `value` where it stands; an `InvokeError<...>` the handler typed itself
//    is checked for a value the command's errors type allows. Helpers outside the handler
//    function, and an `InvokeError` not imported from ipc-gateway in the handler's file, are not
//    looked at: what they throw is checked at run time only.
// The checks themselves are a few lines appended to the handler file in memory, so they see the
// handler exactly as other files of its module format would; their findings are reported at the
// handler's line. The handler files' own type errors are reported too, at their place.
import { existsSync } from "node:fs";
import { readRegularFile } from "../config/regular-file.ts";
import { createRequire } from "node:module";
import { basename, dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as TS from "typescript";
import type { Problem } from "../config/problems.ts";
import type { Generation } from "../runtime/generation.ts";
import { buildCatalog } from "./catalog.ts";
import { handlerDeclarations } from "./typescript.ts";
import { stringLiteral } from "./code-text.ts";

export type HandlerCheckResult =
  | { ok: true; problems: Problem[]; checked: number; skipped: string[]; typescript: string }
  /** TypeScript could not be loaded from the app's folder. */
  | { ok: false; message: string };

type Ts = typeof TS;

/** Diagnostics about unused declarations: the appended checks are never used, by design. */
const UNUSED = new Set([6133, 6138, 6192, 6196, 6198, 6199, 6205]);
/** Diagnostics that say a value is not assignable to a type (a `return` against the injected annotation). */
const ASSIGNABILITY = new Set([2322, 2326, 2353, 2375, 2412, 2559, 2739, 2740, 2741, 2820]);
/** The same for an argument (an InvokeError's value against the injected type arguments). */
const ARGUMENT_ASSIGNABILITY = new Set([...ASSIGNABILITY, 2345, 2379]);
/** "Type X does not satisfy the expected type Y" (a typed InvokeError against its command's errors). */
const NOT_SATISFIED = 1360;

/** The app's `typescript`, resolved from `dir` (as its own tooling would find it). */
function loadTypeScript(dir: string): { ok: true; ts: Ts } | { ok: false; message: string } {
  const require = createRequire(join(dir, "__gateway__.js"));
  let path: string;
  try {
    path = require.resolve("typescript");
  } catch {
    return {
      ok: false,
      message: `TypeScript is not installed where ${dir} can find it; --types uses the app's own (npm install --save-dev typescript)`,
    };
  }
  return { ok: true, ts: require(path) as Ts };
}

interface Located {
  /** The handler function, when the file defines it as one (a function declaration or expression). */
  fn?: TS.FunctionLikeDeclaration;
  /** Where to report about the export when there is no better place. */
  at: TS.Node;
}

interface Insertion {
  pos: number;
  text: string;
}

interface AppendedCheck {
  /** Offsets in the appended text (which starts after the file and its annotations, and a newline). */
  start: number;
  end: number;
  command: string;
  kind: "body" | "returns" | "export";
  file: string;
  /** Position in the original file to report at. */
  at: number;
}

/** One handler file as the program sees it: the original text, the annotations, the checks. */
class Overlay {
  readonly insertions: Insertion[] = [];
  readonly checks: AppendedCheck[] = [];
  /** Return statements (and arrow bodies) checked against an injected annotation, by command. */
  readonly returnRanges: { start: number; end: number; command: string }[] = [];
  /**
   * InvokeError values checked against injected type arguments, by command(s); diagnostics inside
   * `holes` (the arguments of calls, the bodies of functions within the value) are not about them.
   */
  readonly errorRanges: { start: number; end: number; holes: [number, number][]; commands: string[] }[] = [];
  /** InvokeErrors with type arguments of their own: `end` is where the check is inserted, `at` where to report. */
  readonly typedErrors: { end: number; at: number; typed: string; commands: string[] }[] = [];
  private appended = "";

  constructor(
    readonly file: string,
    readonly original: string,
    readonly source: TS.SourceFile,
  ) {}

  /** The length of the original text plus every insertion: where the appended checks start. */
  private get base(): number {
    return this.original.length + this.insertions.reduce((n, i) => n + i.text.length, 0);
  }

  append(lines: string[], command: string, kind: AppendedCheck["kind"], at: number): void {
    const text = lines.join("\n");
    const start = this.appended.length;
    this.checks.push({ start, end: start + text.length, command, kind, file: this.file, at });
    this.appended += `${text}\n`;
  }

  get text(): string {
    let out = "";
    let at = 0;
    for (const i of [...this.insertions].sort((a, b) => a.pos - b.pos)) {
      out += this.original.slice(at, i.pos) + i.text;
      at = i.pos;
    }
    out += this.original.slice(at);
    return this.appended ? `${out}\n${this.appended}` : out;
  }

  /** A position in the program's text -> the original file's (or the appended check it falls in). */
  map(position: number): { original: number } | { check: AppendedCheck | undefined } {
    if (position >= this.base) {
      const offset = position - this.base - 1; // the "\n" that separates the checks from the file
      return { check: this.checks.find((c) => offset >= c.start && offset <= c.end) };
    }
    let shift = 0;
    for (const i of [...this.insertions].sort((a, b) => a.pos - b.pos)) {
      if (position < i.pos + shift) break;
      if (position < i.pos + shift + i.text.length) return { original: i.pos };
      shift += i.text.length;
    }
    return { original: position - shift };
  }
}

/** Type-checks every TypeScript handler of `generation` against its command's schemas. */
export function checkHandlerTypes(generation: Generation): HandlerCheckResult {
  const manifestDir = dirname(generation.manifestFile);
  const loaded = loadTypeScript(manifestDir);
  if (!loaded.ok) return loaded;
  const ts = loaded.ts;
  const problems: Problem[] = [];
  const catalog = buildCatalog(generation);

  // The declarations, in memory (an ES module whatever the app's package says).
  const declarationsFile = join(manifestDir, "__gateway_commands__.d.mts");
  const declarations = handlerDeclarations(catalog, { manifestFile: generation.manifestFile, outFile: declarationsFile });

  const options = compilerOptions(ts, manifestDir, problems);

  // The handlers, by file: each command's export, located in the file's syntax.
  const overlays = new Map<string, Overlay>();
  const skipped: string[] = [];
  let checked = 0;
  const byExport = new Map<string, string[]>();
  /** Handler exports whose InvokeErrors are already looked at (once for every command they serve). */
  const errorsLooked = new Set<string>();
  for (const command of generation.commands.values()) {
    const key = `${command.file}#${exportOf(command.source)}`;
    byExport.set(key, [...(byExport.get(key) ?? []), command.name]);
  }
  for (const command of [...generation.commands.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!/\.[mc]?ts$/.test(command.file) || /\.d\.[mc]?ts$/.test(command.file)) {
      skipped.push(command.name);
      continue;
    }
    let overlay = overlays.get(command.file);
    if (!overlay) {
      const text = readRegularFile(command.file, "utf8");
      overlay = new Overlay(command.file, text, ts.createSourceFile(command.file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS));
      overlays.set(command.file, overlay);
    }
    checked++;
    const spec = catalog.commands.get(command.name)!;
    const exportName = exportOf(command.source);
    const located = locateExport(ts, overlay.source, exportName);
    const at = located ? located.at.getStart(overlay.source) : 0;
    const name = stringLiteral(command.name);
    const self = stringLiteral(`./${basename(command.file, extname(command.file))}${runtimeExtension(command.file)}`);
    const handler = `__gatewayHandler${checked}`;
    overlay.append([`declare const ${handler}: (typeof import(${self}))[${stringLiteral(exportName)}];`], command.name, "export", at);

    if (spec.body.kind !== "any") {
      const param = located?.fn?.parameters[0];
      overlay.append(
        [`const __gatewayBody${checked}: (invoke: import("ipc-gateway").Invoke<${name}>) => unknown = ${handler};`],
        command.name,
        "body",
        param ? param.getStart(overlay.source) : at,
      );
    }
    if (spec.returns.kind !== "any") {
      const fn = located?.fn;
      const injectable = fn !== undefined && fn.type === undefined && !fn.asteriskToken && byExport.get(`${command.file}#${exportName}`)!.length === 1;
      const closeParen = injectable ? closeParenOf(ts, overlay.source, fn) : undefined;
      if (fn && closeParen !== undefined) {
        const result = `import("ipc-gateway").HandlerResult<${name}>`;
        const isAsync = ts.getCombinedModifierFlags(fn) & ts.ModifierFlags.Async;
        overlay.insertions.push({ pos: closeParen, text: isAsync ? `: Promise<${result}>` : `: ${result} | Promise<${result}>` });
        for (const range of returnRanges(ts, overlay.source, fn)) overlay.returnRanges.push({ ...range, command: command.name });
      } else {
        overlay.append(
          [`const __gatewayReturns${checked}: import("ipc-gateway").HandlerResult<${name}> = null as unknown as Awaited<ReturnType<typeof ${handler}>>;`],
          command.name,
          "returns",
          fn?.type ? fn.type.getStart(overlay.source) : fn?.name ? fn.name.getStart(overlay.source) : at,
        );
      }
    }
    const key = `${command.file}#${exportName}`;
    if (located?.fn && !errorsLooked.has(key)) {
      errorsLooked.add(key);
      // A function serving several commands must reject with what each of them allows.
      const declaring = byExport.get(key)!.filter((n) => catalog.commands.get(n)?.errors.kind !== "any").sort();
      if (declaring.length > 0) checkInvokeErrors(ts, overlay, located.fn, declaring);
    }
  }

  const host = ts.createCompilerHost(options, true);
  const virtual = new Map<string, string>([[declarationsFile, declarations]]);
  for (const overlay of overlays.values()) virtual.set(overlay.file, overlay.text);
  const { getSourceFile, readFile, fileExists } = host;
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, language, onError, shouldCreate) => {
    const text = virtual.get(file);
    return text !== undefined ? ts.createSourceFile(file, text, language, true) : getSourceFile.call(host, file, language, onError, shouldCreate);
  };

  // Handlers import "ipc-gateway"; an app that does not have it where TypeScript looks (a
  // global install, a test folder) gets this gateway's own declarations.
  const probe = ts.resolveModuleName("ipc-gateway", declarationsFile, options, host).resolvedModule;
  if (!probe) options.paths = { ...options.paths, "ipc-gateway": [ownDeclarations()] };

  const program = ts.createProgram({ rootNames: [...overlays.keys(), declarationsFile], options, host });
  for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) {
    problems.push({ file: d.file?.fileName ?? join(manifestDir, "tsconfig.json"), message: flatten(ts, d.messageText) });
  }
  for (const source of program.getSourceFiles()) {
    const isDeclarations = source.fileName === declarationsFile;
    if ((source.isDeclarationFile && !isDeclarations) || /[\\/]node_modules[\\/]/.test(source.fileName)) continue;
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    const overlay = overlays.get(source.fileName);
    for (const d of diagnostics) {
      const problem = isDeclarations
        ? { file: generation.manifestFile, message: `the declarations generated from the schemas do not type-check (a gateway bug): ${flatten(ts, d.messageText)}` }
        : overlay
          ? fromOverlay(ts, overlay, d)
          : located(ts, source, d.start ?? 0, flatten(ts, d.messageText));
      if (problem) problems.push(problem);
    }
  }
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)));
  return { ok: true, problems: dedupe(problems), checked, skipped, typescript: ts.version };
}

/** A diagnostic in a handler file (its own text, an injected annotation, or an appended check). */
function fromOverlay(ts: Ts, overlay: Overlay, d: TS.Diagnostic): Problem | undefined {
  const mapped = overlay.map(d.start ?? 0);
  if ("check" in mapped) {
    const check = mapped.check;
    if (!check || UNUSED.has(d.code)) return undefined;
    const name = JSON.stringify(check.command);
    const detail = flatten(ts, d.messageText);
    const message =
      check.kind === "body"
        ? `the body schema of ${name} allows values this handler does not accept: ${trimChain(detail)}`
        : check.kind === "returns"
          ? `the return type of the handler of ${name} does not match its returns schema: ${detail}`
          : `the handler of ${name}: ${detail}`;
    return located(ts, overlay.source, check.at, message);
  }
  const message = flatten(ts, d.messageText);
  const at = mapped.original;
  if (d.code === NOT_SATISFIED) {
    const typed = overlay.typedErrors.find((t) => t.end === at);
    if (typed) return located(ts, overlay.source, typed.at, `${handlerOf(typed.commands)} rejects with an ${typed.typed} whose value ${schemasOf(typed.commands)}: ${trimSatisfies(message)}`);
  }
  const value = ARGUMENT_ASSIGNABILITY.has(d.code)
    ? overlay.errorRanges.find((r) => at >= r.start && at <= r.end && !r.holes.some(([from, to]) => at >= from && at < to))
    : undefined;
  if (value) return located(ts, overlay.source, at, `${handlerOf(value.commands)} rejects with an InvokeError value ${schemasOf(value.commands)}: ${message}`);
  const range = ASSIGNABILITY.has(d.code) ? overlay.returnRanges.find((r) => at >= r.start && at <= r.end) : undefined;
  return located(ts, overlay.source, at, range ? `the handler of ${JSON.stringify(range.command)} returns a value its returns schema does not allow: ${message}` : message);
}

/** `the handler of "a"`, `the handler of "a" and "b"`. */
function handlerOf(commands: string[]): string {
  const names = commands.map((c) => JSON.stringify(c));
  return `the handler of ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`}`;
}

function schemasOf(commands: string[]): string {
  return commands.length === 1 ? "its errors schema does not allow" : "their errors schemas do not allow";
}

/**
 * The typed check's chain starts with the in-memory `satisfies { readonly value: ... }`; what
 * matters is where the values differ.
 */
function trimSatisfies(detail: string): string {
  return chainFrom(detail, /does not satisfy the expected type|Types of property 'value' are incompatible/);
}

function located(ts: Ts, source: TS.SourceFile, position: number, message: string): Problem {
  const { line, character } = ts.getLineAndCharacterOfPosition(source, Math.min(position, source.text.length));
  return { file: source.fileName, line: line + 1, col: character + 1, message };
}

/** TypeScript's message chain: the headline, then each detail on its own indented line. */
function flatten(ts: Ts, text: string | TS.DiagnosticMessageChain): string {
  return ts.flattenDiagnosticMessageText(text, "\n", 0).split("\n").join("\n    ");
}

/**
 * The body check's chain starts with the function types and `Invoke<...>`; what matters is where
 * the body types differ, so the chain is shown from the first line about the body itself.
 */
function trimChain(detail: string): string {
  return chainFrom(detail, /Invoke(Context)?<|Types of parameters|Types of property 'body' are incompatible|\(invoke: /);
}

/** A flattened message chain from its first line that `preamble` does not match, indented anew. */
function chainFrom(detail: string, preamble: RegExp): string {
  const lines = detail.split("\n");
  const first = lines.findIndex((l) => !preamble.test(l));
  if (first <= 0) return detail;
  const indent = (l: string) => l.length - l.trimStart().length;
  const base = indent(lines[first]!);
  return lines
    .slice(first)
    .map((l, i) => (i === 0 ? l.trim() : `    ${l.slice(Math.min(base, indent(l)))}`))
    .join("\n");
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.col}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The app's compiler options (its tsconfig.json, found from the manifest's folder up), made to check only. */
function compilerOptions(ts: Ts, dir: string, problems: Problem[]): TS.CompilerOptions {
  const configFile = ts.findConfigFile(dir, ts.sys.fileExists, "tsconfig.json");
  let options: TS.CompilerOptions;
  if (configFile) {
    const read = ts.readConfigFile(configFile, ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(read.config ?? {}, ts.sys, dirname(configFile), undefined, configFile);
    for (const e of [...(read.error ? [read.error] : []), ...parsed.errors]) {
      if (e.code === 18003) continue; // "no inputs were found": the handlers are given here
      problems.push({ file: configFile, message: flatten(ts, e.messageText) });
    }
    options = parsed.options;
  } else {
    options = {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      esModuleInterop: true,
      skipLibCheck: true,
    };
  }
  // Check only: nothing is emitted, and handlers may sit outside the app's rootDir.
  for (const key of ["incremental", "composite", "tsBuildInfoFile", "emitDeclarationOnly", "declarationDir", "rootDir", "outFile", "out"]) delete options[key];
  options.noEmit = true;
  return options;
}

/** This gateway's own declarations (dist/index.d.ts beside the compiled code; index.ts when run from source). */
function ownDeclarations(): string {
  const built = fileURLToPath(new URL("../index.d.ts", import.meta.url));
  return existsSync(built) ? built : fileURLToPath(new URL("../index.ts", import.meta.url));
}

/** "handlers/users.ts#saveUser" -> "saveUser". */
function exportOf(source: string): string {
  return source.slice(source.lastIndexOf("#") + 1);
}

/** How a file refers to itself in an import: `.ts` is imported as `.js`, `.mts` as `.mjs`, `.cts` as `.cjs`. */
function runtimeExtension(file: string): string {
  return extname(file).replace("ts", "js");
}

/** The export's function (when the file itself defines it) and where it is declared. */
function locateExport(ts: Ts, source: TS.SourceFile, exportName: string): Located | undefined {
  const unwrap = (e: TS.Expression): TS.Expression => {
    while (ts.isParenthesizedExpression(e) || ts.isSatisfiesExpression(e) || ts.isAsExpression(e)) e = e.expression;
    return e;
  };
  const functionOf = (e: TS.Expression | undefined): TS.FunctionLikeDeclaration | undefined => {
    if (!e) return undefined;
    const inner = unwrap(e);
    return ts.isArrowFunction(inner) || ts.isFunctionExpression(inner) ? inner : undefined;
  };
  const local = (name: string): Located | undefined => {
    for (const statement of source.statements) {
      if (ts.isFunctionDeclaration(statement) && statement.name?.text === name && statement.body) return { fn: statement, at: statement.name };
      if (ts.isVariableStatement(statement)) {
        for (const d of statement.declarationList.declarations) {
          if (ts.isIdentifier(d.name) && d.name.text === name) {
            const fn = functionOf(d.initializer);
            return fn ? { fn, at: d.name } : { at: d.name };
          }
        }
      }
    }
    return undefined;
  };
  const flags = (node: TS.Node) => (ts.canHaveModifiers(node) ? (ts.getModifiers(node) ?? []).map((m) => m.kind) : []);
  for (const statement of source.statements) {
    const modifiers = flags(statement);
    const exported = modifiers.includes(ts.SyntaxKind.ExportKeyword);
    const isDefault = modifiers.includes(ts.SyntaxKind.DefaultKeyword);
    if (exportName === "default") {
      if (ts.isFunctionDeclaration(statement) && exported && isDefault && statement.body) return { fn: statement, at: statement.name ?? statement };
      if (ts.isExportAssignment(statement) && !statement.isExportEquals) {
        const fn = functionOf(statement.expression);
        if (fn) return { fn, at: statement };
        const e = unwrap(statement.expression);
        return (ts.isIdentifier(e) ? local(e.text) : undefined) ?? { at: statement };
      }
    } else if (exported && !isDefault) {
      if (ts.isFunctionDeclaration(statement) && statement.name?.text === exportName && statement.body) return { fn: statement, at: statement.name };
      if (ts.isVariableStatement(statement) && statement.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === exportName)) {
        return local(exportName);
      }
    }
    if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      for (const element of statement.exportClause.elements) {
        if (element.name.text !== exportName) continue;
        return (statement.moduleSpecifier ? undefined : local((element.propertyName ?? element.name).text)) ?? { at: element };
      }
    }
  }
  return undefined;
}

/**
 * Every `new InvokeError(value)` inside the handler function (nested functions included: they are
 * the handler's code): without type arguments it gets the commands' in memory, so the compiler
 * checks `value` against their errors types where it stands (and at the property that is wrong);
 * with type arguments of its own, the instance is checked to carry a value those types allow.
 */
function checkInvokeErrors(ts: Ts, overlay: Overlay, fn: TS.FunctionLikeDeclaration, commands: string[]): void {
  const source = overlay.source;
  const { names, namespaces } = invokeErrorImports(ts, source);
  if (names.size === 0 && namespaces.size === 0) return;
  const isInvokeError = (e: TS.Expression) =>
    ts.isIdentifier(e)
      ? names.has(e.text)
      : ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression) && namespaces.has(e.expression.text) && e.name.text === "InvokeError";
  const errorType = commands.map((c) => `import("ipc-gateway").CommandError<${stringLiteral(c)}>`).join(" & ");
  const visit = (node: TS.Node): void => {
    if (ts.isNewExpression(node) && isInvokeError(node.expression) && node.arguments && node.arguments.length > 0) {
      const value = node.arguments[0]!;
      if (!node.typeArguments) {
        overlay.insertions.push({ pos: node.expression.end, text: `<${commands.length === 1 ? stringLiteral(commands[0]!) : errorType}>` });
        overlay.errorRanges.push({ start: value.getStart(source), end: value.end, holes: holesIn(ts, value), commands });
      } else if (!ts.isExpressionStatement(node.parent)) {
        // (A bare `new InvokeError<T>(v);` statement is left alone: a `(` there could join the line above.)
        overlay.insertions.push({ pos: node.getStart(source), text: "(" }, { pos: node.end, text: ` satisfies { readonly value: ${errorType} })` });
        const typed = `${node.expression.getText(source)}<${node.typeArguments.map((t) => t.getText(source)).join(", ")}>`;
        overlay.typedErrors.push({ end: node.end, at: node.typeArguments[0]!.getStart(source), typed, commands });
      }
    }
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(fn, visit);
}

/** The local names of ipc-gateway's InvokeError in a file: `import { InvokeError as E }`, and `import * as gw` (gw.InvokeError). */
function invokeErrorImports(ts: Ts, source: TS.SourceFile): { names: Set<string>; namespaces: Set<string> } {
  const names = new Set<string>();
  const namespaces = new Set<string>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier) || statement.moduleSpecifier.text !== "ipc-gateway") continue;
    const bindings = statement.importClause?.isTypeOnly ? undefined : statement.importClause?.namedBindings;
    if (!bindings) continue;
    if (ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
    else for (const e of bindings.elements) if (!e.isTypeOnly && (e.propertyName ?? e.name).text === "InvokeError") names.add(e.name.text);
  }
  return { names, namespaces };
}

/**
 * Where, inside an InvokeError's value, a diagnostic is about something else: the arguments of
 * calls in it and the bodies of functions in it (a mistake there is not the value's).
 */
function holesIn(ts: Ts, value: TS.Expression): [number, number][] {
  const holes: [number, number][] = [];
  const visit = (node: TS.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) holes.push([node.body.pos, node.body.end]);
    else if (ts.isCallExpression(node) || ts.isNewExpression(node)) holes.push([node.expression.end, node.end]);
    else if (ts.isTaggedTemplateExpression(node)) holes.push([node.tag.end, node.end]);
    ts.forEachChild(node, visit);
  };
  visit(value);
  return holes;
}

/** Where a return type annotation goes: right after the parameter list's `)` (undefined for `x => ...`). */
function closeParenOf(ts: Ts, source: TS.SourceFile, fn: TS.FunctionLikeDeclaration): number | undefined {
  const children = fn.getChildren(source);
  const open = children.findIndex((c) => c.kind === ts.SyntaxKind.OpenParenToken);
  if (open === -1) return undefined;
  const close = children.slice(open).find((c) => c.kind === ts.SyntaxKind.CloseParenToken);
  return close?.end;
}

/** The function's own `return` statements (not those of functions inside it), or its expression body. */
function returnRanges(ts: Ts, source: TS.SourceFile, fn: TS.FunctionLikeDeclaration): { start: number; end: number }[] {
  const body = fn.body;
  if (!body) return [];
  if (!ts.isBlock(body)) return [{ start: body.getStart(source), end: body.end }];
  const ranges: { start: number; end: number }[] = [];
  const visit = (node: TS.Node): void => {
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (ts.isReturnStatement(node)) ranges.push({ start: node.getStart(source), end: node.end });
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(body, visit);
  return ranges;
}
