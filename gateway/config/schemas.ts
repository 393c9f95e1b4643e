// Users' JSON Schemas: one ajv instance per draft (ajv cannot mix 2020-12 and draft-07 in one),
// compiled at load time only, cached by content so an unchanged schema is never compiled twice.
//
// Schema files are registered in ajv under their file:// URL, so a relative `$ref`
// ("common.json#/$defs/user") resolves to the file beside the referring one. A file's
// "closure key" hashes its content together with everything it references: when any file of the
// closure changes, the key changes and the schema is registered afresh; compiled validators that
// a running generation still holds are plain closures and keep working.
import { createHash } from "node:crypto";
import { dirname, extname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Ajv, AnySchema, ErrorObject, KeywordCxt, Options, ValidateFunction } from "ajv";
import { ajvLibrary } from "./ajv.ts";
import { createRequire } from "node:module";
import { DiskCache } from "./disk-cache.ts";
import { NOT_REGULAR, TOO_LARGE, readRegularFile } from "./regular-file.ts";
import { findRefLoop, type LoopStep } from "./schema-loops.ts";
import { closest } from "./manifest.ts";

/** Saved validators require ajv's runtime helpers and ajv-formats' formats: the gateway's own copies. */
const requireForValidators = createRequire(import.meta.url);
import { SourceDoc, jsonParseErrorPosition, type JsonPath, type Position } from "./source-doc.ts";
import { displayPath, type Problems } from "./problems.ts";

export type Validator = ValidateFunction;

/**
 * The most a schema file may hold (4 MiB). Schemas are hand-written and far smaller; the limit
 * keeps a `$ref` to a huge or endless file (a log, a disk image) from filling the memory.
 */
export const SCHEMA_FILE_LIMIT = 4 * 1024 * 1024;

/**
 * How deeply a schema may nest (objects and arrays, as JSON counts them). Hand-written schemas
 * stay far below it (recursion is written with `$ref`); far deeper ones would exhaust the stack of
 * whatever walks them, ajv's compiler first.
 */
export const SCHEMA_DEPTH_LIMIT = 256;

/**
 * The wire form of a frontend Channel in a body: "__CHANNEL__:<id>" (Tauri's `Channel.toJSON`),
 * which the `x-channel` keyword checks. The id is a callback id (a u32 in Tauri); 15 digits keep
 * any accepted id a safe integer.
 */
export const CHANNEL_WIRE = /^__CHANNEL__:(\d{1,15})$/;

/** What a schema compiles from: a file, or a JSON Schema written inline in another file. */
export type SchemaOrigin =
  | { kind: "file"; file: string }
  | { kind: "inline"; schema: unknown; owner: SourceDoc; path: JsonPath };

/** Where the reference to the schema was written, to report a missing or broken schema there. */
export interface ReferencedAt {
  file: string;
  at: Position;
  /** What the schema is for, e.g. `body of command "greet"`. */
  role: string;
}


function ajvOptions(): Options {
  const { _ } = ajvLibrary();
  return {
    // Keeps each validator's generated source, which the disk cache saves (ajv's standalone code).
    // The formats are referenced, not inlined, so saved code requires them from ajv-formats.
    code: { optimize: true, source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` },
    allErrors: false, // Fastify's default: the first error, and no work amplification on hostile input
    strictSchema: true, // a misspelt keyword ("requred") is a mistake, not silently ignored
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    coerceTypes: false,
    useDefaults: false,
  };
}

type Draft = "2020-12" | "draft-07";

interface LoadedFile {
  file: string;
  url: string;
  json: unknown;
  hash: string;
  source: () => SourceDoc;
  /** Other files this one `$ref`s (URLs without fragment). */
  refs: string[];
}

function createAjv(draft: Draft): Ajv {
  const { Ajv, Ajv2020, addFormats, usePattern, _ } = ajvLibrary();
  const ajv = draft === "2020-12" ? new Ajv2020(ajvOptions()) : new Ajv(ajvOptions());
  addFormats(ajv);
  // Generated code rather than a validate function, so validators can be saved as standalone
  // code in the cache (see ValidatorCache) like every other keyword.
  ajv.addKeyword({
    keyword: "x-channel",
    schemaType: "string",
    error: { message: 'must be a Channel ("__CHANNEL__:<id>")' },
    code(cxt: KeywordCxt) {
      const pattern = usePattern(cxt, CHANNEL_WIRE.source);
      cxt.fail(_`typeof ${cxt.data} !== "string" || !${pattern}.test(${cxt.data})`);
    },
  });
  return ajv;
}

/**
 * A validator from ajv's standalone code (saved in the disk cache, or in a `gateway build` folder),
 * or undefined when the code does not evaluate to one.
 */
export function validatorFromCode(code: string): Validator | undefined {
  try {
    const module = { exports: {} as { default?: unknown } };
    new Function("module", "exports", "require", code)(module, module.exports, requireForValidators);
    const exported = module.exports.default;
    if (typeof exported !== "function") return undefined;
    // Not called to check it: calling every validator at start makes V8 compile them all before
    // the gateway listens (measured: +500 ms for 2,000 at a warm start). The entry's checksum is
    // what tells damage; a function of the right checksum but the wrong code is a forgery.
    return exported as Validator;
  } catch {
    return undefined;
  }
}

export class SchemaCompiler {
  /** Made at the first compile: a start whose validators all come from the cache needs none. */
  private readonly instances: Partial<Record<Draft, Ajv>> = {};
  private ajv(draft: Draft): Ajv {
    return (this.instances[draft] ??= createAjv(draft));
  }

  /** `cache`: where compiled validators are saved between runs (and found again). */
  constructor(private readonly cache: DiskCache = new DiskCache(undefined)) {}
  /** What each ajv instance holds, by URL: the closure key it was registered with. */
  private readonly registered: Record<Draft, Map<string, string>> = { "2020-12": new Map(), "draft-07": new Map() };
  private readonly validators = new Map<string, Validator>();
  /** Closure keys whose `$ref`s were followed and found to make no loop (see findRefLoop). */
  readonly loopFree = new Set<string>();
  /** Closure keys by root schema object (see keyOf). */
  private readonly rootKeys = new WeakMap<object, { draft: Draft; url: string; closure: LoadedFile[]; key: string }>();
  /** Schema files as read by earlier builds, until the watcher says they changed (see forget()). */
  readonly read = new Map<string, LoadedFile>();
  private compileCount = 0;

  /** How many schemas were compiled so far (cache misses): tests use it to prove caching. */
  get compiled(): number {
    return this.compileCount;
  }

  /** Start compiling the schemas of one generation. */
  begin(problems: Problems, manifestFile: string): SchemaBuild {
    return new SchemaBuild(this, problems, manifestFile);
  }

  /** @internal Compile `root` (already loaded, with its closure) unless a validator for the same content exists. */
  compile(draft: Draft, rootUrl: string, rootJson: unknown, closure: LoadedFile[], inline: boolean): { validate?: Validator; error?: unknown; key: string } {
    const key = closureKey(draft, rootUrl, rootJson, closure);
    const cached = this.validators.get(key);
    if (cached) return { validate: cached, key };
    const ajv = this.ajv(draft);
    const registered = this.registered[draft];
    try {
      for (const dep of closure) {
        const depKey = closureKey(draft, dep.url, dep.json, closureOf(dep, closure));
        if (registered.get(dep.url) === depKey) continue;
        if (registered.has(dep.url)) ajv.removeSchema(dep.url);
        registered.delete(dep.url);
        ajv.addSchema(withId(dep.json, dep.url), undefined, undefined, false);
        registered.set(dep.url, depKey);
      }
      let validate: Validator | undefined;
      if (inline) {
        if (registered.has(rootUrl)) ajv.removeSchema(rootUrl);
        registered.delete(rootUrl);
        validate = ajv.compile(withId(rootJson, rootUrl));
        registered.set(rootUrl, key);
      } else {
        validate = ajv.getSchema(rootUrl);
      }
      if (!validate) throw new Error(`schema ${rootUrl} was not registered`);
      this.compileCount++;
      this.validators.set(key, validate);
      const code = ajvLibrary().standaloneCode(ajv, validate);
      this.cache.write("validators", key, code);
      if (this.keepCode) this.codes.set(validate, code);
      return { validate, key };
    } catch (error) {
      // Leave nothing half-registered behind: the next attempt registers the closure afresh.
      for (const dep of [...closure.map((d) => d.url), rootUrl]) {
        if (registered.delete(dep)) ajv.removeSchema(dep);
      }
      return { error, key };
    }
  }

  /**
   * @internal The validator compiled for exactly this content, this run or an earlier one (saved
   * on disk). Loaded now, not wrapped for later: a wrapper would cost every call.
   */
  cachedValidator(key: string, rootUrl: string, rootJson: unknown): Validator | undefined {
    const known = this.validators.get(key);
    if (known !== undefined || !this.cache.has("validators", key)) return known;
    const loaded = this.fromDisk(key, rootUrl, rootJson);
    if (loaded) this.validators.set(key, loaded);
    return loaded;
  }

  /**
   * @internal The closure key of a root (what its compiled validator is cached under). Hashing
   * a big app's schemas on every reload would cost more than the rest of the reload: the key is
   * remembered for the same root (by identity) with the same files in its closure.
   */
  keyOf(draft: Draft, rootUrl: string, rootJson: unknown, closure: LoadedFile[]): string {
    const known = typeof rootJson === "object" && rootJson !== null ? this.rootKeys.get(rootJson) : undefined;
    if (known && known.draft === draft && known.url === rootUrl && sameFiles(known.closure, closure)) return known.key;
    const key = closureKey(draft, rootUrl, rootJson, closure);
    if (typeof rootJson === "object" && rootJson !== null) this.rootKeys.set(rootJson, { draft, url: rootUrl, closure, key });
    return key;
  }

  /**
   * A validator saved by an earlier run. The entry verified against its checksum, but what it
   * evaluates to is checked too: anything that does not behave as a validator (it throws, it is
   * not a function, it answers other than true or false) is compiled afresh, never served.
   */
  private fromDisk(key: string, rootUrl: string, rootJson: unknown): Validator | undefined {
    const code = this.cache.read("validators", key);
    if (code === undefined) return undefined;
    const validate = validatorFromCode(code); // or compiled afresh (and saved over it)
    if (validate === undefined) return undefined;
    // What ajv's own validators carry, and the gateway reads (the schema, for describing it).
    (validate as { schema: unknown }).schema = withId(rootJson, rootUrl);
    if (this.keepCode) this.codes.set(validate, code);
    return validate;
  }

  /** Keep each validator's standalone code (for `gateway build`, which writes it out: codeOf). */
  keepCode = false;
  private readonly codes = new WeakMap<Validator, string>();

  /** A validator's standalone code, when `keepCode` was set before it was compiled or loaded. */
  codeOf(validate: Validator): string | undefined {
    return this.codes.get(validate);
  }

  /** Files that changed (or, without a list, all of them) are read again by the next build. */
  forget(paths?: Iterable<string>): void {
    if (paths === undefined) return this.read.clear();
    for (const path of paths) this.read.delete(path);
  }

  /** Remove saved validators that none of these keys names. */
  retainOnDisk(keys: ReadonlySet<string>): void {
    this.cache.retain("validators", keys);
  }

  /** @internal The keywords a draft knows (for a misspelt one's suggestion). */
  keywords(draft: Draft): string[] {
    return Object.keys(this.ajv(draft).RULES.keywords);
  }

  /** @internal Check a schema against its draft's meta-schema. */
  metaErrors(draft: Draft, json: unknown): ErrorObject[] {
    const ajv = this.ajv(draft);
    return ajv.validateSchema(json as AnySchema) ? [] : [...(ajv.errors ?? [])];
  }

  /** Forget validators and registrations that the newest generation no longer uses. */
  retain(keys: Set<string>, urls: Set<string>): void {
    for (const key of this.validators.keys()) if (!keys.has(key)) this.validators.delete(key);
    for (const key of this.loopFree) if (!keys.has(key)) this.loopFree.delete(key);
    for (const draft of ["2020-12", "draft-07"] as const) {
      for (const url of this.registered[draft].keys()) {
        if (!urls.has(url)) {
          this.instances[draft]?.removeSchema(url);
          this.registered[draft].delete(url);
        }
      }
    }
  }
}

/** What compiled validators depend on: their cache keys, registered URLs, and schema files. */
export interface SchemaUses {
  keys: string[];
  urls: string[];
  files: string[];
}

/** The schemas of one generation: files are read once per build, problems are collected. */
export class SchemaBuild {
  private readonly files = new Map<string, LoadedFile | null>();
  readonly keys = new Set<string>();
  readonly urls = new Set<string>();

  constructor(
    private readonly compiler: SchemaCompiler,
    private readonly problems: Problems,
    /** Mistakes in it are `path:line:col: message`; paths in messages are relative to its folder. */
    private readonly manifestFile: string,
  ) {}

  /** Files read by this build (the watcher watches them). */
  get filesRead(): string[] {
    return [...this.files.keys()];
  }

  /** The schema files this build read and parsed, by file:// URL. */
  get documents(): Map<string, unknown> {
    const documents = new Map<string, unknown>();
    for (const loaded of this.files.values()) if (loaded) documents.set(loaded.url, loaded.json);
    return documents;
  }

  /**
   * The validator for a schema, or undefined (its mistakes reported). `uses`, when given, collects
   * what the validator depends on (see SchemaUses), so a caller can reuse it while none changes.
   */
  compile(origin: SchemaOrigin, ref: ReferencedAt, uses?: SchemaUses): Validator | undefined {
    let root: SchemaPart & { url: string };
    if (origin.kind === "file") {
      const loaded = this.load(origin.file, ref);
      if (!loaded) return undefined;
      root = { ...loaded, under: [] };
    } else {
      // The manifest's URL with a query: relative `$ref`s resolve beside the manifest.
      const url = `${pathToFileURL(origin.owner.file).href}?${origin.path.map((p) => encodeURIComponent(String(p))).join("/")}`;
      root = { url, json: origin.schema, file: origin.owner.file, source: () => origin.owner, under: origin.path };
    }
    const draft = draftOf(root.json);
    if (!draft) {
      const declared = (root.json as { $schema: unknown }).$schema;
      const at = root.source().findKey("$schema", root.under);
      this.report(root.file, at, `${ref.role}: unsupported $schema ${JSON.stringify(declared)} (use JSON Schema 2020-12 or draft-07)`, origin);
      return undefined;
    }
    if (origin.kind === "inline") {
      const deep = pathPastDepth(root.json, SCHEMA_DEPTH_LIMIT);
      if (deep) {
        this.report(root.file, root.source().valuePosition([...root.under, ...deep]), `${ref.role}: ${TOO_DEEP}`, origin);
        return undefined;
      }
    }
    const closure = this.closure(root, origin.kind === "file");
    if (!closure) return undefined;
    const key = this.compiler.keyOf(draft, root.url, root.json, closure);
    // Before any cached validator is used: one saved by an older gateway may loop.
    if (!this.compiler.loopFree.has(key)) {
      const others = closure.filter((c) => c.url !== root.url);
      const loop = findRefLoop(root.url, [{ url: root.url, json: root.json }, ...others]);
      if (loop) {
        this.reportLoop(loop, [root, ...others.map((c) => ({ ...c, under: [] }))], ref, origin);
        return undefined;
      }
      this.compiler.loopFree.add(key);
    }
    // Compiled before, for exactly this content (this run, or saved on disk): it was valid then.
    const known = this.compiler.cachedValidator(key, root.url, root.json);
    if (known) {
      this.used(key, root.url, closure, uses);
      return known;
    }
    const parts: SchemaPart[] = [root, ...closure.filter((c) => c.url !== root.url).map((c) => ({ ...c, under: [] }))];
    let valid = true;
    for (const part of parts) {
      const seen = new Set<string>();
      for (const e of this.compiler.metaErrors(draft, part.json)) {
        valid = false;
        // The meta-schema's anyOf branches each fail at the same spot: the first says it best.
        if (seen.has(e.instancePath)) continue;
        seen.add(e.instancePath);
        const detail = Array.isArray(e.params.allowedValues) ? `must be one of: ${e.params.allowedValues.join(", ")}` : e.message;
        const at = part.source().valuePosition([...part.under, ...e.instancePath.split("/").slice(1).map(unescapePointer)]);
        this.report(part.file, at, `${ref.role} is not a valid JSON Schema: ${e.instancePath || "(root)"} ${detail}`, origin);
      }
    }
    if (!valid) return undefined;
    const result = this.compiler.compile(draft, root.url, root.json, closure, origin.kind === "inline");
    if (!result.validate) {
      this.reportCompileError(result.error, origin, parts, ref, draft);
      return undefined;
    }
    this.used(result.key, root.url, closure, uses);
    return result.validate;
  }

  /** What this generation uses (everything else is forgotten once it serves). */
  private used(key: string, rootUrl: string, closure: LoadedFile[], uses: SchemaUses | undefined): void {
    this.keys.add(key);
    this.urls.add(rootUrl);
    for (const dep of closure) this.urls.add(dep.url);
    if (uses === undefined) return;
    uses.keys.push(key);
    uses.urls.push(rootUrl, ...closure.map((c) => c.url));
    uses.files.push(...closure.map((c) => c.file));
  }

  /** Take over what an unchanged part of the previous build used (see GenerationBuilder's reuse). */
  adopt(uses: SchemaUses): void {
    for (const key of uses.keys) this.keys.add(key);
    for (const url of uses.urls) this.urls.add(url);
    for (const file of uses.files) if (!this.files.has(file)) this.files.set(file, this.compiler.read.get(file) ?? null);
  }

  private reportCompileError(error: unknown, origin: SchemaOrigin, parts: SchemaPart[], ref: ReferencedAt, draft: Draft): void {
    let message = error instanceof Error ? error.message : String(error);
    // Point at the keyword or `$ref` that broke, in whichever file of the closure holds it.
    const keyword = /unknown keyword: "([^"]+)"/.exec(message)?.[1];
    const guess = keyword === undefined ? undefined : closest(keyword, this.compiler.keywords(draft));
    if (guess !== undefined) message += ` (did you mean "${guess}"?)`;
    const refText = /can't resolve reference (\S+)/.exec(message)?.[1];
    if (keyword || refText) {
      for (const part of parts) {
        const source = part.source();
        const at = keyword ? source.findKey(keyword, part.under) : source.findPairWithValue("$ref", refText!, part.under);
        if (at) {
          this.report(part.file, at, `${ref.role} does not compile: ${message}`, origin);
          return;
        }
      }
    }
    const root = parts[0]!;
    const at = origin.kind === "inline" ? root.source().valuePosition(root.under) : undefined;
    this.report(root.file, at, `${ref.role} does not compile: ${message}`, origin);
  }

  /**
   * A loop of `$ref`s that reads no data, reported at its first `$ref`, with the others it goes
   * through: `$ref "b.json" leads back here (through schemas/b.json $ref "a.json") ...`.
   */
  private reportLoop(loop: LoopStep[], parts: (SchemaPart & { url: string })[], ref: ReferencedAt, origin: SchemaOrigin): void {
    const partOf = (step: LoopStep) => parts.find((p) => p.url === step.url)!;
    const where = (step: LoopStep) => {
      const part = partOf(step);
      const pointer = [...part.under, ...step.path].map((s) => String(s).replace(/~/g, "~0").replace(/\//g, "~1"));
      return `${displayPath(part.file, dirname(this.manifestFile))}${pointer.length ? `#/${pointer.join("/")}` : ""}`;
    };
    const [first, ...rest] = loop;
    const part = partOf(first!);
    const at = part.source().keyPosition([...part.under, ...first!.path, first!.keyword]);
    const back = rest.length === 0 ? "back to itself" : `back here (through ${rest.map((s) => `${where(s)} ${s.keyword} ${JSON.stringify(s.ref)}`).join(", ")})`;
    this.report(
      part.file,
      at,
      `${ref.role}: ${first!.keyword} ${JSON.stringify(first!.ref)} leads ${back} without going into a property or an item: validation would never end`,
      origin,
    );
  }

  /** The schema files the root references, transitively (a file root first); undefined when one is missing. */
  private closure(root: SchemaPart & { url: string }, rootIsFile: boolean): LoadedFile[] | undefined {
    const seen = new Map<string, LoadedFile>();
    const own = rootIsFile ? this.files.get(root.file) : undefined;
    if (own) seen.set(own.url, own);
    let ok = true;
    const walk = (baseUrl: string, json: unknown, source: () => SourceDoc, file: string) => {
      for (const ref of refsIn(json)) {
        const target = resolveRef(ref, baseUrl);
        if (!target || seen.has(target)) continue;
        // A $ref the gateway composed itself (errors: as a list of codes) is written nowhere:
        // it is reported where the inline schema is.
        const at = source().findPairWithValue("$ref", ref) ?? (file === root.file ? root.source().valuePosition(root.under) : { line: 1, col: 1 });
        const loaded = this.load(fileURLToPath(target), { file, at, role: `$ref "${ref}"` });
        if (!loaded) {
          ok = false;
          continue;
        }
        seen.set(target, loaded);
        walk(loaded.url, loaded.json, loaded.source, loaded.file);
      }
    };
    walk(root.url, root.json, root.source, root.file);
    return ok ? [...seen.values()] : undefined;
  }

  /** Read and parse a schema file once per build. */
  private load(file: string, ref: ReferencedAt): LoadedFile | undefined {
    if (this.files.has(file)) return this.files.get(file) ?? undefined;
    const known = this.compiler.read.get(file);
    if (known) {
      this.files.set(file, known);
      return known;
    }
    this.files.set(file, null);
    let text: string;
    try {
      // A FIFO or device named as a schema is a mistake to report, not a file to wait on.
      text = readRegularFile(file, "utf8", { maxBytes: SCHEMA_FILE_LIMIT });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT"
          ? "file not found"
          : code === NOT_REGULAR
            ? "not a regular file"
            : code === TOO_LARGE
              ? `larger than ${SCHEMA_FILE_LIMIT / 1024 / 1024} MiB, the most a schema file may hold`
              : "cannot read";
      this.add(ref.file, ref.at, `${ref.role}: ${why}: ${displayPath(file, dirname(this.manifestFile))}`);
      return undefined;
    }
    let source: SourceDoc | undefined;
    const sourceOf = () => (source ??= new SourceDoc(file, text));
    let json: unknown;
    if (extname(file).toLowerCase() === ".json") {
      try {
        json = JSON.parse(text);
      } catch (error) {
        const message = (error as Error).message;
        const at = jsonParseErrorPosition(message, text);
        // The line and column say where; V8's "at position N" would say it again, less usefully.
        this.add(file, at, `invalid JSON: ${at ? message.replace(/ (at|in JSON at) position \d+.*$/s, "") : message}`);
        return undefined;
      }
    } else {
      const syntax = sourceOf().syntaxErrors();
      for (const e of syntax) this.add(file, e.at, e.message);
      if (syntax.length > 0) return undefined;
      json = sourceOf().toJS();
    }
    const deep = pathPastDepth(json, SCHEMA_DEPTH_LIMIT);
    if (deep) {
      // A JSON file is not parsed again for the place (YAML's parser is slow on deep nesting).
      this.add(file, source ? source.valuePosition(deep) : positionPastDepth(text, SCHEMA_DEPTH_LIMIT), TOO_DEEP);
      return undefined;
    }
    const url = pathToFileURL(file).href;
    const refs = refsIn(json).map((r) => resolveRef(r, url)).filter((u): u is string => !!u && u !== url);
    const loaded: LoadedFile = { file, url, json, hash: sha1(text), source: sourceOf, refs };
    this.files.set(file, loaded);
    this.compiler.read.set(file, loaded);
    return loaded;
  }

  private report(file: string, at: Position | undefined, message: string, origin: SchemaOrigin): void {
    this.add(file, at ?? (origin.kind === "inline" && file === origin.owner.file ? origin.owner.valuePosition(origin.path) : undefined), message);
  }

  /** A mistake at its place in its file (`path:line:col: message`), whichever file it is in. */
  private add(file: string, at: Position | undefined, message: string): void {
    this.problems.add(at ? { file, ...at, message } : { file, message });
  }
}

interface SchemaPart {
  file: string;
  json: unknown;
  source: () => SourceDoc;
  /** Where the schema sits inside its source (non-empty for inline schemas). */
  under: JsonPath;
}

function draftOf(schema: unknown): Draft | undefined {
  const declared = typeof schema === "object" && schema !== null ? (schema as { $schema?: unknown }).$schema : undefined;
  if (declared === undefined) return "2020-12";
  if (typeof declared !== "string") return undefined;
  if (declared.includes("draft-07")) return "draft-07";
  if (declared.includes("2020-12")) return "2020-12";
  return undefined;
}

/** Every `$ref` string in a schema (nested definitions included). */
function refsIn(json: unknown): string[] {
  const found: string[] = [];
  // In document order, without recursion: a `$ref` found is a string on the stack.
  const stack: unknown[] = [{ value: json }];
  while (stack.length > 0) {
    const top = stack.pop();
    if (typeof top === "string") {
      found.push(top);
      continue;
    }
    const { value } = top as { value: unknown };
    if (typeof value !== "object" || value === null) continue;
    const entries = Array.isArray(value) ? value.map((v) => ["", v] as const) : Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      stack.push(key === "$ref" && typeof child === "string" && !Array.isArray(value) ? child : { value: child });
    }
  }
  return found;
}

const TOO_DEEP = `nested deeper than ${SCHEMA_DEPTH_LIMIT} levels (write recursion with $ref)`;

/** Where JSON text opens its first object or array nested deeper than `limit` levels. */
function positionPastDepth(text: string, limit: number): Position {
  let depth = 0;
  let inString = false;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") [line, lineStart] = [line + 1, i + 1];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") {
      if (++depth > limit + 1) return { line, col: i - lineStart + 1 };
    } else if (c === "}" || c === "]") depth--;
  }
  return { line: 1, col: 1 };
}

/** The path of a value nested deeper than `limit` levels, or undefined. Without recursion: it is for schemas that nest too deeply. */
function pathPastDepth(json: unknown, limit: number): JsonPath | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: json, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (path.length > limit) return path;
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, child] of entries) if (typeof child === "object" && child !== null) stack.push({ value: child, path: [...path, key] });
  }
  return undefined;
}

/** The file URL (without fragment) a `$ref` points to, or undefined for a local or non-file ref. */
function resolveRef(ref: string, baseUrl: string): string | undefined {
  if (ref.startsWith("#")) return undefined;
  let url: URL;
  try {
    url = new URL(ref, baseUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== "file:") return undefined;
  url.hash = "";
  url.search = "";
  return url.href;
}

function sameFiles(a: LoadedFile[], b: LoadedFile[]): boolean {
  return a.length === b.length && a.every((file, i) => file === b[i]);
}

function closureOf(file: LoadedFile, all: LoadedFile[]): LoadedFile[] {
  const byUrl = new Map(all.map((f) => [f.url, f]));
  const seen = new Map<string, LoadedFile>([[file.url, file]]);
  const stack = [file];
  while (stack.length) {
    for (const url of stack.pop()!.refs) {
      const dep = byUrl.get(url);
      if (dep && !seen.has(url)) {
        seen.set(url, dep);
        stack.push(dep);
      }
    }
  }
  return [...seen.values()];
}

function closureKey(draft: Draft, url: string, json: unknown, closure: LoadedFile[]): string {
  // A file's content is in its closure's hashes already; an inline schema's is not.
  const ownContent = closure.some((file) => file.url === url) ? "" : (JSON.stringify(json) ?? "");
  const hash = createHash("sha1").update(draft).update("\0").update(url).update("\0").update(ownContent);
  for (const dep of [...closure].sort((a, b) => (a.url < b.url ? -1 : 1))) hash.update("\0").update(dep.url).update(dep.hash);
  return hash.digest("hex");
}

function withId(json: unknown, url: string): AnySchema {
  if (typeof json !== "object" || json === null) return json as AnySchema;
  return { ...(json as object), $id: url } as AnySchema;
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
