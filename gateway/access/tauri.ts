// Tauri 2 capability files (discover.capabilities, CONTRACT §9 and §9.1), read as capabilities so
// that a Tauri app's src-tauri/capabilities folder works as it is. Of a file the gateway takes
// what it can decide: `identifier`, `windows` (and `webviews`), `remote.urls`, and the
// permissions naming the app's commands (`allow-<x>`, `deny-<x>`) or the event plugin
// (`core:event:*`). Permissions for Tauri's own plugins (`core:default`, `opener:default`) mean
// nothing here: they are warned about and ignored, never mistakes, so the folder need not change.
//
// A file applies to everyone (Tauri has no principals); without `remote` only to the gateway's
// own pages and to callers without Origin (Tauri's local pages). A permission naming no command
// is a mistake (with "did you mean"), as is a deny the gateway cannot honour: a deny silently
// dropped would let through what the file means to keep out.
import { readdirSync } from "node:fs";
import { extname, join } from "node:path";
import { closest, type Manifest } from "../config/manifest.ts";
import { displayPath, type Problem, type Problems } from "../config/problems.ts";
import { readRegularFile } from "../config/regular-file.ts";
import { jsonParseErrorPosition, lazyPosition, SourceDoc, type JsonPath, type Position } from "../config/source-doc.ts";
import type { CapabilitySpec, NamedAt } from "./spec.ts";

/**
 * What a build ignores, said once per gateway: `key` is what counts as the same warning; the
 * warning is made only when it is said (its position may take parsing the file again).
 */
export type Warn = (key: string, warning: () => Problem) => void;

/** What permissions may name: the app's commands and its declared events. */
export interface KnownNames {
  commands: readonly string[];
  events: readonly string[];
}

/** The keys of a Tauri 2 capability (tauri-utils' `Capability`). */
const KEYS = ["$schema", "identifier", "description", "local", "windows", "webviews", "permissions", "platforms", "remote"];

const EVENT_PREFIX = "core:event:";

type Raw = Record<string, unknown>;

/**
 * The capabilities of every `*.json` and `*.toml` file in `dir` (not its subfolders), in file-name
 * order. Every file read, and the folder, go into `files` (so an edit, a new file or a removed one
 * rebuilds under `gateway dev`); mistakes go into `problems`, one line per broken file.
 */
export async function readTauriCapabilities(
  dir: string,
  problems: Problems,
  files: Set<string>,
  manifest: Manifest,
  known: KnownNames,
  warn: Warn = () => {},
): Promise<CapabilitySpec[]> {
  files.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => !entry.name.startsWith(".") && [".json", ".toml"].includes(extname(entry.name).toLowerCase()) && (entry.isFile() || entry.isSymbolicLink()))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const at = manifest.access.capabilityFolder?.at ?? { line: 1, col: 1 };
    const what = code === "ENOENT" || code === "ENOTDIR" ? "folder not found" : `folder cannot be read (${code ?? String(error)})`;
    problems.add({ file: manifest.file, line: at.line, col: at.col, message: `discover.capabilities ${what}: ${displayPath(dir, manifest.dir)}` });
    return [];
  }

  const taken = new Map<string, string>();
  for (const capability of manifest.access.capabilities ?? []) taken.set(capability.name, `${displayPath(manifest.file, manifest.dir)} (capabilities.${capability.name})`);
  const reader = new Reader(known, problems, warn);
  const specs: CapabilitySpec[] = [];
  for (const name of names) {
    const file = join(dir, name);
    files.add(file);
    for (const { spec, at } of await reader.read(file)) {
      const other = taken.get(spec.name);
      if (other !== undefined) {
        problems.add({ file, ...spread(at()), message: `capability "${spec.name}" is also defined by ${other}: identifiers must be unique` });
        continue;
      }
      taken.set(spec.name, displayPath(file, manifest.dir));
      specs.push(spec);
    }
  }
  if (names.length === 0 && manifest.access.capabilities === undefined) {
    warn(`empty:${dir}`, () => ({ file: dir, message: "discover.capabilities holds no capability file (*.json, *.toml): every command is denied until one allows it" }));
  }
  return specs;
}

/** One file's text as a value, with a way to say where a part of it was written. */
interface Parsed {
  value: unknown;
  /** Where the value at `path` (or its key) was written; undefined when not known (TOML, or JSON the YAML reader refuses). */
  at(path: JsonPath, key?: boolean): Position | undefined;
}

class Reader {
  private toml: typeof import("smol-toml") | undefined;

  constructor(
    private readonly known: KnownNames,
    private readonly problems: Problems,
    private readonly warn: Warn,
  ) {}

  /** A file's capabilities, each with where its identifier was written; none when the file is broken (its one problem reported). */
  async read(file: string): Promise<{ spec: CapabilitySpec; at: () => Position | undefined }[]> {
    const parsed = await this.parse(file);
    if (parsed === undefined) return [];
    const found = capabilityList(parsed.value);
    if (!found.ok) {
      this.problems.add({ file, message: `not a Tauri capability file: ${found.reason}` });
      return [];
    }
    // The whole file is checked before any of it applies: half a file is not what its author meant.
    const shapeMistake = found.list.map(({ value, path }) => shapeOf(value, path)).find((m) => m !== undefined);
    if (shapeMistake !== undefined) {
      this.problems.add({ file, ...spread(parsed.at(shapeMistake.path, shapeMistake.key)), message: `not a Tauri capability: ${shapeMistake.message}` });
      return [];
    }
    const specs: { spec: CapabilitySpec; at: () => Position | undefined }[] = [];
    const seen = new Set<string>();
    for (const { value, path } of found.list) {
      const spec = this.capability(file, value as Raw, path, parsed);
      const at = () => parsed.at([...path, "identifier"]);
      if (seen.has(spec.name)) {
        this.problems.add({ file, ...spread(at()), message: `capability "${spec.name}" is defined twice in this file: identifiers must be unique` });
        continue;
      }
      seen.add(spec.name);
      specs.push({ spec, at });
    }
    return specs;
  }

  private async parse(file: string): Promise<Parsed | undefined> {
    let text: string;
    try {
      text = readRegularFile(file, "utf8");
    } catch (error) {
      this.problems.add({ file, message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` });
      return undefined;
    }
    if (extname(file).toLowerCase() === ".toml") {
      // Loaded only for an app that has a TOML file.
      this.toml ??= await import("smol-toml");
      try {
        return { value: this.toml.parse(text), at: () => undefined };
      } catch (error) {
        const e = error as { message?: string; line?: number; column?: number };
        const message = firstLine(e.message ?? String(error)).replace(/^Invalid TOML document:\s*/i, "");
        this.problems.add({ file, ...(typeof e.line === "number" ? { line: e.line, col: e.column ?? 1 } : {}), message: `not valid TOML: ${message}` });
        return undefined;
      }
    }
    // JSON is YAML: the YAML reader says where each part was written, parsed only if asked.
    const source = new SourceDoc(file, text);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const message = (error as Error).message;
      // V8 says where only for some mistakes; the YAML reader finds most of the others.
      const at = jsonParseErrorPosition(message, text) ?? source.syntaxErrors()[0]?.at;
      const what = firstLine(message)
        .replace(/ in JSON at position \d+.*$/, "")
        .replace(/, (?:\.\.\.)?".*$/, "");
      this.problems.add({ file, ...spread(at), message: `not valid JSON: ${what}` });
      return undefined;
    }
    return {
      value,
      at: (path, key) => (source.doc.errors.length > 0 ? undefined : key ? source.keyPosition(path) : source.valuePosition(path)),
    };
  }

  private capability(file: string, raw: Raw, path: JsonPath, parsed: Parsed): CapabilitySpec {
    // Where a part was written: for messages (undefined: the file only), and for the names it gives.
    const where = (sub: JsonPath): Position | undefined => parsed.at([...path, ...sub]);
    const position = (sub: JsonPath): Position => lazyPosition(() => where(sub) ?? { line: 1, col: 1 });
    const name = raw.identifier as string;
    const windows = [...((raw.windows as string[] | undefined) ?? []), ...((raw.webviews as string[] | undefined) ?? [])];
    const spec: CapabilitySpec = {
      name,
      ...(typeof raw.description === "string" ? { description: raw.description } : {}),
      // Tauri has no principals: a capability is for whoever uses the window.
      principals: ["*", "anonymous"],
      windows,
      commands: { allow: [], deny: [] },
      events: { listen: [], emit: [] },
      file,
      at: position(["identifier"]),
    };
    const remote = raw.remote as { urls: string[] } | undefined;
    if (remote !== undefined) {
      const origins: string[] = [];
      for (const [i, url] of remote.urls.entries()) {
        const origin = originOf(url);
        if (origin === undefined) {
          this.mistake(file, where(["remote", "urls", i]), `capability "${name}": remote.urls: "${url}" is not a URL pattern (scheme://host[:port], e.g. https://*.example.com)`);
        } else origins.push(origin);
      }
      spec.origins = origins;
      // As in Tauri, `local` (default true) keeps the app's own pages too.
      if (raw.local !== false) spec.alsoLocal = true;
    } else if (raw.local === false) {
      this.warn(`nowhere:${file}:${name}`, () => ({ file, ...spread(where(["local"])), message: `capability "${name}" has local: false and no remote: it applies to no page` }));
    } else spec.localOnly = true;
    if (windows.length === 0) {
      this.warn(`no-windows:${file}:${name}`, () => ({ file, ...spread(where(["identifier"])), message: `capability "${name}" lists no windows (e.g. "windows": ["main"], or ["*"] for every window): it applies to none` }));
    }

    // A mistake in a permission fails the build; the capability still takes its name, so that a
    // clash with it is reported in the same run.
    for (const [i, entry] of (raw.permissions as unknown[]).entries()) {
      const at = () => where(["permissions", i]);
      let identifier: string;
      if (typeof entry === "string") identifier = entry;
      else {
        const object = entry as { identifier: string; allow?: unknown; deny?: unknown };
        identifier = object.identifier;
        if (object.allow !== undefined || object.deny !== undefined) {
          this.warn("scopes", () => ({ file, ...spread(at()), message: `permission "${identifier}" has scopes (allow/deny): the gateway ignores scopes and applies the permission without them` }));
        }
      }
      this.permission(identifier, spec, file, at, position(["permissions", i]));
    }
    return spec;
  }

  /** One permission applied to `spec` (or reported as a mistake). */
  private permission(identifier: string, spec: CapabilitySpec, file: string, at: () => Position | undefined, written: Position): void {
    const named = (name: string): NamedAt => ({ name, at: written });
    const command = /^(allow|deny)-(.+)$/.exec(identifier);
    if (command !== null) {
      const [, verb, target] = command as unknown as [string, "allow" | "deny", string];
      const name = this.commandNamed(target);
      if (name === undefined) {
        const guess = closest(target, this.known.commands.map(kebab));
        this.mistake(file, at(), `permission "${identifier}": no command named "${target}"${target.includes("-") ? ` or "${target.replace(/-/g, "_")}"` : ""}${guess ? ` (did you mean "${verb}-${guess}"?)` : ""}`);
        return;
      }
      spec.commands[verb].push(named(name));
      return;
    }
    if (identifier.startsWith(EVENT_PREFIX)) {
      const which = identifier.slice(EVENT_PREFIX.length);
      // Without declared events there is nothing to listen to or emit: "*" would name nothing.
      const all = this.known.events.length > 0 ? [named("*")] : [];
      switch (which) {
        case "default":
          spec.events.listen.push(...all);
          spec.events.emit.push(...all);
          return;
        case "allow-listen":
          spec.events.listen.push(...all);
          return;
        case "allow-emit":
        case "allow-emit-to":
          spec.events.emit.push(...all);
          return;
        case "allow-unlisten":
          return; // removing one's own listener is always allowed
      }
      if (which.startsWith("deny-")) {
        this.mistake(file, at(), `permission "${identifier}": the gateway cannot deny events; leave core:event:allow-${which.slice(5)} (or core:event:default) out of the capabilities of those windows instead`);
        return;
      }
    }
    this.warn(`permission:${identifier}`, () => ({ file, ...spread(at()), message: `permission "${identifier}" is not one the gateway knows (it reads allow-<command>, deny-<command> and core:event:*): ignored` }));
  }

  /** The command `allow-<written>` names: `written` itself, or with `-` read as `_` (Tauri's kebab-case of `my_cmd`). */
  private commandNamed(written: string): string | undefined {
    if (this.known.commands.includes(written)) return written;
    const snake = written.replace(/-/g, "_");
    return this.known.commands.includes(snake) ? snake : undefined;
  }

  private mistake(file: string, at: Position | undefined, message: string): void {
    this.problems.add({ file, ...(at ? { line: at.line, col: at.col } : {}), message });
  }
}

/** Tauri's three forms: one capability, a list of them, or `{ "capabilities": [...] }`. */
function capabilityList(value: unknown): { ok: true; list: { value: unknown; path: JsonPath }[] } | { ok: false; reason: string } {
  if (Array.isArray(value)) return { ok: true, list: value.map((v, i) => ({ value: v, path: [i] })) };
  if (isObject(value) && !("identifier" in value) && "capabilities" in value) {
    const list = value.capabilities;
    if (!Array.isArray(list)) return { ok: false, reason: '"capabilities" must be a list of capabilities' };
    return { ok: true, list: list.map((v, i) => ({ value: v, path: ["capabilities", i] })) };
  }
  if (isObject(value)) return { ok: true, list: [{ value, path: [] }] };
  return { ok: false, reason: 'expected a capability ({ "identifier": ..., "permissions": [...] }), a list of them, or { "capabilities": [...] }' };
}

/** The first thing wrong with a capability's shape, and where. */
function shapeOf(value: unknown, path: JsonPath): { message: string; path: JsonPath; key?: boolean } | undefined {
  const at = (sub: JsonPath, message: string, key = false) => ({ message, path: [...path, ...sub], key });
  if (!isObject(value)) return at([], "each capability must be an object");
  for (const key of Object.keys(value)) {
    if (KEYS.includes(key)) continue;
    const guess = closest(key, KEYS);
    return at([key], `unknown key "${key}"${guess ? ` (did you mean "${guess}"?)` : ""}`, true);
  }
  if (typeof value.identifier !== "string" || value.identifier === "") return at(value.identifier === undefined ? [] : ["identifier"], '"identifier" must be a non-empty string');
  const id = `capability "${value.identifier}": `;
  if (value.description !== undefined && typeof value.description !== "string") return at(["description"], `${id}"description" must be a string`);
  if (value.local !== undefined && typeof value.local !== "boolean") return at(["local"], `${id}"local" must be true or false`);
  for (const key of ["windows", "webviews", "platforms"] as const) {
    const list = value[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((w) => typeof w === "string"))) return at([key], `${id}"${key}" must be a list of strings`);
  }
  if (value.remote !== undefined) {
    const remote = value.remote;
    if (!isObject(remote) || !Array.isArray(remote.urls) || !remote.urls.every((u) => typeof u === "string")) return at(["remote"], `${id}"remote" must be { "urls": ["https://..."] }`);
  }
  if (!Array.isArray(value.permissions)) return at(value.permissions === undefined ? [] : ["permissions"], `${id}"permissions" must be a list`);
  for (const [i, entry] of value.permissions.entries()) {
    if (typeof entry === "string" && entry !== "") continue;
    if (isObject(entry) && typeof entry.identifier === "string" && entry.identifier !== "") continue;
    return at(["permissions", i], `${id}each permission must be a name or { "identifier": ..., "allow"?: [...], "deny"?: [...] }`);
  }
  return undefined;
}

/** A remote URL's origin pattern: scheme, host and port (a path, as Tauri's URL patterns may have, is not part of an origin). */
function originOf(url: string): string | undefined {
  const match = /^([a-z*][a-z0-9+.*-]*:\/\/(?:\[[^\]]+\]|[^/:?#]+)(?::(?:\d+|\*))?)(?:[/?#].*)?$/i.exec(url.trim());
  return match ? match[1]!.toLowerCase() : undefined;
}

/** `my_cmd` as Tauri names its permission: `my-cmd`. */
function kebab(command: string): string {
  return command.replace(/_/g, "-");
}

function spread(at: Position | undefined): { line?: number; col?: number } {
  return at ? { line: at.line, col: at.col } : {};
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
