// What `gateway build` writes and `gateway serve --from` reads: one folder holding the app as
// built — the compiled modules, the generated validators, the resolved commands, channels and
// events — and a copy of the manifest (its `server:` settings, with their ${VAR}s, are read at
// start). build.json describes the rest; every file it names carries a SHA-256 there, and
// build.json itself carries one in its first line, so a damaged folder is refused at start with
// a clear message instead of being served.
//
// Paths are relative (to the app's folder, or "root:" URLs): the folder still works when it is
// moved with the app (a Docker image's COPY), as long as it keeps its place relative to the app.
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import type { EventSource } from "../config/manifest.ts";
import type { CapabilitySpec } from "../access/spec.ts";
import type { ExportShape } from "../reload/export-shape.ts";

export const BUILD_FORMAT = 1;
export const BUILD_FILE = "build.json";
/** The manifest's copy in the folder. */
export const MANIFEST_COPY = "gateway.yaml";
/** The copy of server.static's folder. */
export const STATIC_COPY = "static";

export interface BuildDescription {
  format: typeof BUILD_FORMAT;
  /** The version of ipc-gateway that built it (the one that serves it must be the same). */
  gateway: string;
  /** The app's folder (the manifest's), relative to the build folder, with "/" separators. */
  root: string;
  /** The manifest's file name in the app's folder (messages name it so). */
  manifest: string;
  modules: BuiltModule[];
  /** Generated validators (ajv standalone code); specs name them by index. */
  validators: BuiltFile[];
  commands: BuiltCommand[];
  channels: { name: string; message: BuiltSpec }[];
  events: { name: string; payload?: BuiltSpec; from: EventSource[] }[];
  /** Schema files as read (what API documents are made of), by portable URL. */
  schemaFiles: [url: string, json: unknown][];
  /** server.static's folder, copied into the build's STATIC_COPY (the page is part of what is deployed). */
  static: boolean;
  /**
   * With discover.capabilities: the capabilities its Tauri files gave, as read at build time (the
   * folder need not be deployed). The manifest's own `auth:`, `capabilities:` and `limits:` are
   * read from its copy at start, so their ${VAR}s are the environment's then.
   */
  capabilities?: BuiltCapability[];
}

/** A capability from a Tauri file; `file` relative to the app's folder. */
export type BuiltCapability = CapabilitySpec;

export interface BuiltFile {
  /** Its path in the build folder. */
  file: string;
  sha256: string;
}

export interface BuiltModule extends BuiltFile {
  /** Its source's path relative to the app's folder. */
  path: string;
  /** A hash of the source it was compiled from. */
  hash: string;
  requires: string[];
  /** How each of `requires` resolved when it was built. */
  links: Record<string, BuiltLink>;
  shape: ExportShape | null;
}

export type BuiltLink = { kind: "api" } | { kind: "package" } | { kind: "app"; path: string } | { kind: "missing"; path: string };

export type BuiltSpec = { kind: "binary" } | { kind: "json"; validator?: number; schema?: unknown; url?: string };

export interface BuiltCommand {
  name: string;
  /** The handler module's path relative to the app's folder, and the export that is the handler. */
  module: string;
  export: string;
  body: BuiltSpec;
  returns: BuiltSpec;
  errors: BuiltSpec;
  timeoutMs: number;
  windows?: string[];
  channelFields: [field: string, channel: string][];
  source: string;
}

const HEADER = "ipc-gateway build v1 sha256:";

export function sha256(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

/** build.json's text: its checksum line, then the JSON. */
export function encodeDescription(description: BuildDescription): string {
  const json = JSON.stringify(description);
  return `${HEADER}${sha256(json)}\n${json}`;
}

/** build.json read back, or why it cannot be. */
export function decodeDescription(text: string): { ok: true; description: BuildDescription } | { ok: false; reason: string } {
  const end = text.indexOf("\n");
  const json = end < 0 ? "" : text.slice(end + 1);
  if (end < 0 || !text.startsWith(HEADER)) return { ok: false, reason: "it is not a gateway build description" };
  if (text.slice(HEADER.length, end) !== sha256(json)) return { ok: false, reason: "it does not match its checksum (damaged)" };
  const description = JSON.parse(json) as BuildDescription;
  if (description.format !== BUILD_FORMAT) return { ok: false, reason: `it is in format ${String(description.format)}, not ${BUILD_FORMAT}` };
  return { ok: true, description };
}

/** "root:<path>" for a file:// URL under the app's folder (kept as is otherwise). */
export function portableUrl(url: string, rootUrl: string): string {
  return url.startsWith(`${rootUrl}/`) ? `root:${url.slice(rootUrl.length + 1)}` : url;
}

export function localUrl(url: string, rootUrl: string): string {
  return url.startsWith("root:") ? `${rootUrl}/${url.slice("root:".length)}` : url;
}

/** The folder `gateway build` writes by default: `.gateway` beside the manifest. */
export function defaultBuildDir(manifestFile: string): string {
  return join(dirname(resolve(manifestFile)), ".gateway");
}
