// gateway.yaml -> a typed manifest. Every mistake is collected with its line and column; nothing
// here touches handler modules or compiles user schemas (generation.ts does, with these positions).
import { dirname, relative, resolve, sep } from "node:path";
import { createRequire } from "node:module";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import { precompiled } from "./precompiled.ts";
import { ajvLibrary } from "./ajv.ts";
import { isPair, isScalar, visit, type Scalar } from "yaml";
import { SourceDoc, type JsonPath, type Position } from "./source-doc.ts";
import { Problems } from "./problems.ts";
import { hash, type DiskCache } from "./disk-cache.ts";
import { NOT_REGULAR, readRegularFile } from "./regular-file.ts";
import { parseDuration, parseSize } from "./units.ts";
import { extractAccess, type AccessSpec } from "../access/spec.ts";

export interface Located {
  /** Where in the manifest this was written. */
  at: Position;
}

export type SchemaSpec =
  | ({ kind: "binary" } & Located)
  | ({ kind: "file"; file: string } & Located)
  | ({ kind: "inline"; schema: unknown; path: JsonPath } & Located);

export interface HandlerRef extends Located {
  file: string;
  /** "default" unless the manifest says `file#name`. */
  exportName: string;
}

export interface CommandEntry extends Located {
  name: string;
  handler?: HandlerRef;
  body?: SchemaSpec;
  returns?: SchemaSpec;
  /** What an InvokeError's value must be: a schema, or (from a list of codes) a composed one. */
  errors?: SchemaSpec;
  timeoutMs?: number;
  windows?: string[];
}

export interface ChannelEntry extends Located {
  name: string;
  message: SchemaSpec;
}

export type EventSource = "frontend" | "backend";

export interface EventEntry extends Located {
  name: string;
  payload?: SchemaSpec;
  from: EventSource[];
}

export interface ServerSettings {
  host: string;
  port: number;
  origins: string[];
  /** Host header values accepted besides the bound address (a name a load balancer or proxy forwards). */
  hosts: string[];
  token: string | undefined;
  bodyLimit: number;
  timeoutMs: number;
  /** Incoming JSON nested deeper than this is refused (400); outgoing values too (invalid-return). */
  maxDepth: number;
  /** Asynchronous invocations running at once, server-wide; past it new ones get `overloaded` (503). */
  maxInFlight: number;
  /** How long a client may take to send a whole request (headers within the first 10 s of it); then 408. */
  requestTimeoutMs: number;
  /**
   * On SIGTERM (or close()): how long calls in flight may take to finish while new work is still
   * served; past it they are answered 503 shutting-down and the process exits.
   */
  drainMs: number;
  /** How long an app module's top-level code may run when it is loaded (a loop that never ends is a broken edit). */
  loadTimeoutMs: number;
  /** A folder served at / (the app's page and assets). */
  static?: StaticSettings;
  /** The log level (default: info under `gateway dev`, warn otherwise). */
  log?: "debug" | "info" | "warn" | "error" | "silent";
  /** Redis joining several instances (events, channels, pages); none (or an empty URL): one instance, in-process. */
  bus?: BusSettings;
  /**
   * Which peers' forwarded address headers (X-Forwarded-For, Forwarded) say who the caller is:
   * false (default: the socket's address is the caller's), true (any peer), or a list of addresses
   * and CIDR ranges.
   */
  trustProxy: boolean | string[];
  /** GET /metrics (Prometheus text): on by default, false for 404, or { token } to need `Authorization: Bearer <token>`. */
  metrics: boolean | { token: string };
}

export interface BusSettings {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  url: string;
  /** Prefix of every key the gateway uses (instances of one app share it). Default "ipc-gateway". */
  prefix: string;
  /** Events kept in the events stream for instances reading behind (default 10,000). */
  history: number;
  /** How long an instance may be away from Redis before the others end its pages' streams (server.bus.pageTimeout; default 15 s). */
  pageTimeoutMs?: number;
}

export interface StaticSettings {
  dir: string;
  /** Serve files and folders whose name starts with "." (default: no, they are 404). */
  dotfiles: boolean;
  /** SPA fallback: a file (relative to dir) sent for unknown paths a browser navigates to. */
  fallback?: string;
  /** Cache-Control for files without a content hash in their name (default: no-cache). */
  cacheControl?: string;
  /** Names with a content hash are cached for a year, `immutable` (default: true; false turns the rule off). */
  immutable?: boolean;
}

export interface Manifest {
  file: string;
  dir: string;
  source: SourceDoc;
  server: ServerSettings;
  discover: { handlers?: string; schemas?: string };
  commands: Map<string, CommandEntry>;
  channels: Map<string, ChannelEntry>;
  events: Map<string, EventEntry>;
  /** auth:, capabilities:, limits: and discover.capabilities (see access/spec.ts). */
  access: AccessSpec;
}

/**
 * How deeply JSON may nest unless `server.maxDepth` says otherwise: serde_json's recursion limit,
 * so a body Tauri itself would accept is accepted here too.
 */
export const DEFAULT_MAX_DEPTH = 128;

export const DEFAULT_SERVER: ServerSettings = {
  host: "127.0.0.1",
  port: 1430,
  origins: [],
  hosts: [],
  token: undefined,
  bodyLimit: 1024 * 1024,
  timeoutMs: 30_000,
  maxDepth: DEFAULT_MAX_DEPTH,
  maxInFlight: 10_000,
  requestTimeoutMs: 30_000,
  drainMs: 10_000,
  loadTimeoutMs: 5_000,
  trustProxy: false,
  metrics: true,
};

/** Keys under which a value is a user's JSON Schema, which `${VAR}` interpolation leaves alone. */
const SCHEMA_KEYS = new Set(["body", "returns", "errors", "schema", "message", "payload"]);

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Read and check a manifest. Returns undefined when it cannot be read or parsed at all; otherwise
 * a manifest built from whatever parts are sound, with every mistake added to `problems`.
 */
export function loadManifest(file: string, problems: Problems, env: Env = process.env, cache?: DiskCache, pathsFrom: string = dirname(file)): Manifest | undefined {
  let text: string;
  try {
    // A FIFO or device named as the manifest is a mistake to report, not a file to wait on.
    text = readRegularFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.add({ file, message: code === NOT_REGULAR ? "not a regular file" : `cannot read the manifest: ${code ?? error}` });
    return undefined;
  }
  const source = new SourceDoc(file, text);
  // A manifest that was good with the same text and the same variables is taken from the cache:
  // parsing a big manifest's YAML with positions, and checking its shape, is a big app's
  // slowest start-up step. Its positions are then worked out only if a mistake needs one.
  const key = `${hash(text)}.json`;
  const saved = savedManifest(cache?.read("manifests", key));
  if (saved !== undefined && Object.entries(saved.vars).every(([name, value]) => (env[name] ?? null) === value)) {
    return extract(saved.raw, source, new Set(), problems, pathsFrom);
  }
  const before = problems.size;
  const syntax = source.syntaxErrors();
  for (const e of syntax) problems.add({ file, ...e.at, message: e.message });
  if (syntax.length > 0) return undefined;

  const vars = new Map<string, string | null>();
  const unset = interpolateEnv(source, env, problems, vars);
  const raw = (source.toJS() ?? {}) as unknown;
  const shapeErrors = checkShape(raw, source, problems, unset);
  if (!isObject(raw)) return undefined;
  if (cache && problems.size === before) {
    cache.write("manifests", key, JSON.stringify({ vars: Object.fromEntries(vars), raw }));
    cache.retain("manifests", new Set([key]));
  }
  return extract(raw, source, shapeErrors, problems, pathsFrom);
}

/** What loadManifest saves: the `${VAR}` values it read, and the manifest as checked. */
interface SavedManifest {
  vars: Record<string, string | null>;
  raw: Record<string, unknown>;
}

/**
 * A saved manifest of exactly the shape written, else undefined (read afresh). The cache verifies
 * its entries; this keeps whatever still slips through from stopping every start.
 */
function savedManifest(text: string | undefined): SavedManifest | undefined {
  if (text === undefined) return undefined;
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch {
    return undefined;
  }
  // A variable saved as other than a string or null matches no environment: it is read afresh then.
  if (!isObject(saved) || !isObject(saved.vars) || !isObject(saved.raw)) return undefined;
  return saved as unknown as SavedManifest;
}

// ---------------------------------------------------------------------------------------------
// ${VAR} interpolation

const VARIABLE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` in the manifest's values; returns where a variable was missing. */
function interpolateEnv(source: SourceDoc, env: Env, problems: Problems, used: Map<string, string | null>): Set<string> {
  const unset = new Set<string>();
  visit(source.doc, {
    Pair(_key, pair) {
      // A user's JSON Schema may legitimately contain "${" (in a pattern, say): leave it as written.
      if (isPair(pair) && isScalar(pair.key) && SCHEMA_KEYS.has(String(pair.key.value)) && !isScalar(pair.value)) {
        return visit.SKIP;
      }
      return undefined;
    },
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("${")) return;
      node.value = interpolate(node, env, used, (name) => {
        const at = source.position(node.range?.[0] ?? 0);
        unset.add(`${at.line}:${at.col}`);
        problems.add({ file: source.file, ...at, message: `environment variable ${name} is not set (write \${${name}:-default} for a default)` });
      });
    },
  });
  return unset;
}

function interpolate(node: Scalar, env: Env, used: Map<string, string | null>, missing: (name: string) => void): string {
  return (node.value as string).replace(VARIABLE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$${") return "${";
    const value = env[name!];
    used.set(name!, value ?? null);
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    missing(name!);
    return "";
  });
}

// ---------------------------------------------------------------------------------------------
// The manifest's own JSON Schema

let validateManifest: ValidateFunction | undefined;

function manifestValidator(): ValidateFunction {
  return (validateManifest ??= precompiled<ValidateFunction>(import.meta.url, "manifest", () => compileManifestSchema().validate));
}

/** Compiles the manifest's JSON Schema (what `npm run build` saves as standalone code: manifestValidatorCode). */
function compileManifestSchema(): { ajv: Ajv; validate: ValidateFunction } {
  const schema = createRequire(import.meta.url)("./manifest.schema.json") as object;
  const ajv = new (ajvLibrary().Ajv2020)({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, code: { source: true } });
  ajv.addKeyword({ keyword: "x-message", schemaType: "string" });
  return { ajv, validate: ajv.compile(schema) };
}

/** The manifest's validator as standalone code (scripts/build.js writes it beside this module). */
export function manifestValidatorCode(): string {
  const { ajv, validate } = compileManifestSchema();
  return ajvLibrary().standaloneCode(ajv, validate);
}

/** Validate the shape; returns the JSON paths (as "/a/b") that have mistakes. */
function checkShape(raw: unknown, source: SourceDoc, problems: Problems, unset: Set<string>): Set<string> {
  const validate = manifestValidator();
  const bad = new Set<string>();
  if (validate(raw)) return bad;
  const reported = new Set<string>();
  const errors = validate.errors ?? [];
  // Where a schema carries an `x-message`, that one sentence replaces ajv's messages for the spot.
  const friendly = new Map<string, string>();
  for (const e of errors) {
    const message = (e.parentSchema as Record<string, unknown> | undefined)?.["x-message"];
    // An unknown key is better told as such ("did you mean ..."), whatever its object's sentence.
    if (typeof message === "string" && e.keyword !== "additionalProperties") friendly.set(spotOf(e), message);
  }
  for (const e of errors) {
    // Its subschema's error names the offending key; this one only says "must be valid".
    if (e.keyword === "propertyNames") continue;
    const spot = spotOf(e);
    const path = pathOf(e);
    bad.add("/" + path.join("/"));
    const message = friendly.get(spot) ?? describeError(e, path);
    const at = pointsAtKey(e) ? source.keyPosition(path) : source.valuePosition(path);
    const line = `${at.line}:${at.col}:${message}`;
    // A value whose variable was missing is already reported; its shape follows from that.
    if (reported.has(line) || unset.has(`${at.line}:${at.col}`)) continue;
    reported.add(line);
    problems.add({ file: source.file, ...at, message });
  }
  return bad;
}

/** The instance location an error is about, including the offending key for key errors. */
function pathOf(e: ErrorObject): (string | number)[] {
  const path = e.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  const key = e.keyword === "additionalProperties" ? e.params.additionalProperty : (e as { propertyName?: string }).propertyName;
  if (typeof key === "string") path.push(key);
  return path;
}

function spotOf(e: ErrorObject): string {
  return pathOf(e).join("\u0000");
}

function pointsAtKey(e: ErrorObject): boolean {
  return e.keyword === "additionalProperties" || (e as { propertyName?: string }).propertyName !== undefined;
}

function describeError(e: ErrorObject, path: (string | number)[]): string {
  const where = path.length ? path.join(".") : "the manifest";
  switch (e.keyword) {
    case "additionalProperties": {
      const allowed = Object.keys(((e.parentSchema as { properties?: object }).properties ?? {}) as object);
      const owner = path.length > 1 ? path.slice(0, -1).join(".") : "the manifest";
      const key = String(e.params.additionalProperty);
      const guess = closest(key, allowed);
      const hint = guess ? `did you mean "${guess}"?` : allowed.length ? `expected one of: ${allowed.join(", ")}` : "";
      return `unknown key "${key}" in ${owner}${hint ? ` (${hint})` : ""}`;
    }
    case "required":
      return `${where} is missing "${e.params.missingProperty}"`;
    case "type":
      return `${where} must be ${String(e.params.type).replace(/,/g, " or ")}`;
    case "enum":
      return `${where} must be one of: ${(e.params.allowedValues as unknown[]).join(", ")}`;
    default:
      return `${where} ${e.message}`;
  }
}

/** The candidate a typo most likely meant, if one is close enough. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Extraction: raw JS value -> typed manifest (skipping parts whose shape is wrong)

/** `dir`: the folder relative paths are resolved from (the manifest's, or the app's for a build's copy of it). */
function extract(raw: Record<string, unknown>, source: SourceDoc, bad: Set<string>, problems: Problems, dir: string): Manifest {
  const file = source.file;
  const ok = (path: string) => !bad.has(path);
  const at = (path: JsonPath) => source.lazyKeyPosition(path);
  const manifest: Manifest = {
    file,
    dir,
    source,
    server: extractServer(raw.server, ok, dir),
    discover: {},
    commands: new Map(),
    channels: new Map(),
    events: new Map(),
    access: { limits: [] },
  };

  const discover = isObject(raw.discover) ? raw.discover : {};
  for (const kind of ["handlers", "schemas"] as const) {
    if (typeof discover[kind] === "string" && ok(`/discover/${kind}`)) manifest.discover[kind] = resolve(dir, discover[kind]);
  }

  for (const [name, entry] of Object.entries(isObject(raw.commands) ? raw.commands : {})) {
    const base = ["commands", name];
    if (!ok(`/commands/${name}`)) continue;
    const spec = isObject(entry) ? entry : {};
    const command: CommandEntry = { name, at: at(base) };
    if (typeof spec.handler === "string" && ok(`/commands/${name}/handler`)) {
      command.handler = handlerRef(spec.handler, dir, source.lazyValuePosition([...base, "handler"]));
    }
    for (const key of ["body", "returns"] as const) {
      if (spec[key] !== undefined && ok(`/commands/${name}/${key}`)) {
        command[key] = schemaSpec(spec[key], [...base, key], source, problems, true);
      }
    }
    if (spec.errors !== undefined && ok(`/commands/${name}/errors`)) command.errors = errorsSpec(spec.errors, [...base, "errors"], source, problems);
    if (spec.timeout !== undefined && ok(`/commands/${name}/timeout`)) command.timeoutMs = parseDuration(spec.timeout as string | number);
    if (Array.isArray(spec.windows) && ok(`/commands/${name}/windows`)) command.windows = spec.windows as string[];
    manifest.commands.set(name, command);
  }

  for (const [name, entry] of Object.entries(isObject(raw.channels) ? raw.channels : {})) {
    const base = ["channels", name];
    if (!ok(`/channels/${name}`) || !isObject(entry) || !ok(`/channels/${name}/message`)) continue;
    const message = schemaSpec(entry.message, [...base, "message"], source, problems, true);
    if (message) manifest.channels.set(name, { name, at: at(base), message });
  }

  for (const [name, entry] of Object.entries(isObject(raw.events) ? raw.events : {})) {
    const base = ["events", name];
    if (!ok(`/events/${name}`)) continue;
    const spec = isObject(entry) ? entry : {};
    const event: EventEntry = { name, at: at(base), from: ["frontend", "backend"] };
    if (spec.payload !== undefined && ok(`/events/${name}/payload`)) event.payload = schemaSpec(spec.payload, [...base, "payload"], source, problems, false);
    if (Array.isArray(spec.from) && ok(`/events/${name}/from`)) event.from = spec.from as EventSource[];
    manifest.events.set(name, event);
  }
  manifest.access = extractAccess(raw, source, ok, problems, dir, manifest.server.token);
  return manifest;
}

function extractServer(value: unknown, ok: (path: string) => boolean, dir: string): ServerSettings {
  const server = { ...DEFAULT_SERVER };
  if (!isObject(value)) return server;
  if (typeof value.host === "string" && ok("/server/host")) server.host = value.host;
  if (value.port !== undefined && ok("/server/port")) server.port = Number(value.port);
  if (Array.isArray(value.origins) && ok("/server/origins")) {
    server.origins = (value.origins as string[]).map((o) => o.toLowerCase().replace(/\/$/, ""));
  }
  if (Array.isArray(value.hosts) && ok("/server/hosts")) server.hosts = (value.hosts as string[]).map((h) => h.toLowerCase());
  if (typeof value.token === "string" && value.token !== "" && ok("/server/token")) server.token = value.token;
  if (value.bodyLimit !== undefined && ok("/server/bodyLimit")) server.bodyLimit = parseSize(value.bodyLimit as string | number) ?? server.bodyLimit;
  if (value.timeout !== undefined && ok("/server/timeout")) server.timeoutMs = parseDuration(value.timeout as string | number) ?? server.timeoutMs;
  if (value.maxDepth !== undefined && ok("/server/maxDepth")) server.maxDepth = value.maxDepth as number;
  if (value.maxInFlight !== undefined && ok("/server/maxInFlight")) server.maxInFlight = value.maxInFlight as number;
  if (value.requestTimeout !== undefined && ok("/server/requestTimeout")) {
    server.requestTimeoutMs = parseDuration(value.requestTimeout as string | number) ?? server.requestTimeoutMs;
  }
  if (value.drain !== undefined && ok("/server/drain")) server.drainMs = parseDuration(value.drain as string | number) ?? server.drainMs;
  if (value.loadTimeout !== undefined && ok("/server/loadTimeout")) {
    server.loadTimeoutMs = parseDuration(value.loadTimeout as string | number) ?? server.loadTimeoutMs;
  }
  if (typeof value.log === "string" && ok("/server/log")) server.log = value.log as ServerSettings["log"];
  if (value.bus !== undefined && ok("/server/bus")) {
    const spec = typeof value.bus === "string" ? { url: value.bus } : (value.bus as { url: string; prefix?: string; history?: number; pageTimeout?: string | number });
    // Empty (`${REDIS_URL:-}` with REDIS_URL unset): no bus, so one manifest serves a machine with Redis and one without.
    if (spec.url !== "") {
      server.bus = { url: spec.url, prefix: spec.prefix ?? "ipc-gateway", history: spec.history ?? 10_000 };
      if (spec.pageTimeout !== undefined) server.bus.pageTimeoutMs = parseDuration(spec.pageTimeout);
    }
  }
  if (value.trustProxy !== undefined && ok("/server/trustProxy")) server.trustProxy = value.trustProxy as boolean | string[];
  if (value.metrics !== undefined && ok("/server/metrics")) server.metrics = typeof value.metrics === "boolean" ? value.metrics : { token: (value.metrics as { token: string }).token };
  if (value.static !== undefined && ok("/server/static")) {
    const spec = typeof value.static === "string" ? { dir: value.static } : (value.static as { dir: string; dotfiles?: boolean; fallback?: string; cacheControl?: string; immutable?: boolean });
    server.static = {
      dir: resolve(dir, spec.dir),
      dotfiles: spec.dotfiles ?? false,
      ...(spec.fallback ? { fallback: spec.fallback } : {}),
      ...(spec.cacheControl !== undefined ? { cacheControl: spec.cacheControl } : {}),
      ...(spec.immutable !== undefined ? { immutable: spec.immutable } : {}),
    };
  }
  return server;
}

function handlerRef(spec: string, dir: string, at: Position): HandlerRef {
  const hash = spec.lastIndexOf("#");
  const path = hash === -1 ? spec : spec.slice(0, hash);
  const exportName = hash === -1 ? "default" : spec.slice(hash + 1) || "default";
  return { file: resolve(dir, path), exportName, at };
}

const SCHEMA_FILE = /\.(json|ya?ml)$/i;

function schemaSpec(
  value: unknown,
  path: JsonPath,
  source: SourceDoc,
  problems: Problems,
  binaryAllowed: boolean,
): SchemaSpec | undefined {
  const at = source.lazyValuePosition(path);
  if (value === "binary") {
    if (binaryAllowed) return { kind: "binary", at };
    problems.add({ file: source.file, ...at, message: `${path.join(".")} cannot be binary: only bodies, returns and channel messages can` });
    return undefined;
  }
  if (typeof value === "string") {
    if (SCHEMA_FILE.test(value)) return { kind: "file", file: resolve(dirname(source.file), value), at };
    problems.add({
      file: source.file,
      ...at,
      message: `${path.join(".")} must be a schema file (.json, .yaml), an inline JSON Schema, or the word binary; got "${value}"`,
    });
    return undefined;
  }
  return { kind: "inline", schema: value, path, at };
}

/**
 * `errors:` as one schema. A list of `{ code, schema? }` becomes an inline schema: the value is an
 * object whose `code` is one of the codes and which matches that code's schema (file schemas are
 * `$ref`'d relative to the manifest, as inline schemas' references are).
 */
function errorsSpec(value: unknown, path: JsonPath, source: SourceDoc, problems: Problems): SchemaSpec | undefined {
  if (!Array.isArray(value)) return schemaSpec(value, path, source, problems, false);
  const dir = dirname(source.file);
  const alternatives: unknown[] = [];
  for (const [i, entry] of (value as { code: string; schema?: unknown }[]).entries()) {
    const tagged = { type: "object", required: ["code"], properties: { code: { const: entry.code } } };
    if (entry.schema === undefined) {
      alternatives.push(tagged);
      continue;
    }
    const spec = schemaSpec(entry.schema, [...path, i, "schema"], source, problems, false);
    if (spec === undefined) continue;
    const schema = spec.kind === "file" ? { $ref: relative(dir, spec.file).split(sep).join("/") } : spec.kind === "inline" ? spec.schema : undefined;
    alternatives.push({ allOf: [tagged, schema] });
  }
  return { kind: "inline", schema: { oneOf: alternatives }, path, at: source.lazyValuePosition(path) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

