// What the console reads from the gateway besides @tauri-apps/api: the gateway's browser script
// (loaded as any page loads it, with this window's label), and the JSON documents under
// /__gateway/ (the schema catalog, health, the principals to "call as"); and the calls made as
// another principal, which go over HTTP (see invokeAs).
import type { JsonSchema } from "./schema.ts";

/** A value's schema in the catalog: raw bytes, any JSON (no schema), or a named definition. */
export type Slot = "binary" | null | { $ref: string };

/** GET /__gateway/catalog.json. */
export interface Catalog {
  /** Named schemas; `$ref`s inside are `#/$defs/<Name>` (the document is a JSON Schema). */
  $defs: Record<string, JsonSchema>;
  /** `channels`: body field ("" for the whole body) -> channel name. */
  commands: Record<string, { body: Slot; returns: Slot; errors: Slot; channels: Record<string, string> }>;
  channels: Record<string, { message: Slot }>;
  events: Record<string, { payload: Slot; from: ("frontend" | "backend")[] }>;
}

/** GET /__gateway/manifest.json: under dev, each command's handler and the editor link. */
export interface Manifest {
  commands: Record<string, { timeout: number; windows?: string[]; handler?: HandlerSource }>;
  /** createGateway's openInEditor (the Vite plugin's /__open-in-editor), or null. */
  openInEditor?: string | null;
}

/** Where a command's handler is (manifest.json under dev). */
export interface HandlerSource {
  /** Relative to the manifest's folder. */
  file: string;
  export: string;
  line?: number;
  /** Absolute, for the editor link. */
  path: string;
}

/** One of what is wrong with the gateway now (health's `problems`: gateway/ops/problems.ts). */
export interface GatewayProblem {
  problem: string;
  since: string;
  message: string;
}

/** gateway://type-check, and health's `typeCheck` (with `gateway dev --check-types`): the handlers' type errors. */
export interface TypeCheck {
  ok: boolean;
  checked: number;
  problems: { file: string; line: number | null; column: number | null; message: string }[];
}

/** GET /__gateway/health (503 with `ok: false` while the app does not build). */
export interface Health {
  ok: boolean;
  generation: number;
  lastError: string | null;
  pages: number;
  listeners: number;
  problems?: GatewayProblem[];
  typeCheck?: TypeCheck;
}

/** gateway://invocation: one answered invocation, from any page or transport. */
export interface Invocation {
  cmd: string;
  window: string;
  transport: string;
  status: number;
  outcome: string;
  ms: number;
  /** The caller's principal id; null when anonymous. */
  principal: string | null;
}

/** GET /__gateway/principals.json (gateway dev only): what "call as" offers. */
export interface Principals {
  /** The manifest has auth:. */
  auth: boolean;
  /** The capabilities' names; null without any. */
  capabilities: string[] | null;
  /** auth.tokens' principals (with their roles) and the ids capabilities name. */
  principals: { id: string; roles: string[]; from: string }[];
  /** Every role a token has or a capability names. */
  roles: string[];
}

/** Whom the console's own calls are made as: null for anonymous, or a principal. */
export type CallAs = null | { id: string; roles: string[] };

/** gateway://error: a broken edit (`line`/`column` null for a mistake without a place). */
export interface BrokenEdit {
  message: string;
  problems: { file: string; line: number | null; column: number | null; message: string }[];
}

/** gateway://reload: a new generation serves. */
export interface Reload {
  generation: number;
  changed: string[];
}

const params = new URLSearchParams(location.search);
/** The console's window label: `?window=`, else its own. */
export const WINDOW_LABEL = params.get("window") || "gateway-console";
const token = params.get("token");

/** Load /__gateway/tauri.js for this window (and token): afterwards @tauri-apps/api works. */
export function loadGatewayScript(): Promise<void> {
  const url = new URL("/__gateway/tauri.js", location.href);
  url.searchParams.set("window", WINDOW_LABEL);
  if (token) url.searchParams.set("token", token);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url.href;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${url.pathname}`));
    document.head.append(script);
  });
}

/** A JSON document under /__gateway/ (with the token when the console's URL has one). */
export async function fetchDocument<T>(name: "catalog.json" | "manifest.json" | "health" | "principals.json"): Promise<T> {
  const response = await fetch(`/__gateway/${name}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: "no-store" });
  if (response.status === 401) throw new Error("this gateway has a token (server.token): open the console as /__gateway/?token=<the token>");
  if (!response.ok && !(name === "health" && response.status === 503)) throw new Error(`/__gateway/${name} answered ${response.status}`);
  return (await response.json()) as T;
}

/**
 * A call as another principal, for trying capabilities: `POST /ipc/<cmd>` with the
 * `Gateway-Principal` header, which the gateway honours under `gateway dev` only. Over HTTP
 * because the console's WebSocket is one connection with one caller, fixed when it opened; a
 * header on an invoke frame does not change who calls. Resolves or rejects as `invoke` does.
 */
export async function invokeAs(cmd: string, args: unknown, as: CallAs): Promise<unknown> {
  const headers: Record<string, string> = { "gateway-window": WINDOW_LABEL, "gateway-principal": JSON.stringify(as) };
  if (token) headers.authorization = `Bearer ${token}`;
  let body: BodyInit;
  // Tauri's rules, as tauri.js applies them: bytes (and number arrays) are the raw body.
  if (args instanceof ArrayBuffer || ArrayBuffer.isView(args) || Array.isArray(args)) {
    headers["content-type"] = "application/octet-stream";
    body = Array.isArray(args) ? new Uint8Array(args as number[]) : (args as BodyInit);
  } else {
    headers["content-type"] = "application/json";
    body = JSON.stringify(args ?? {});
  }
  let response: Response;
  try {
    response = await fetch(`/ipc/${encodeURIComponent(cmd)}`, { method: "POST", headers, body, cache: "no-store" });
  } catch (error) {
    throw { kind: "unreachable", message: `the gateway could not be reached (${String(error)}); "${cmd}" may or may not have run` };
  }
  const isJson = (response.headers.get("content-type") ?? "").startsWith("application/json");
  const value: unknown = isJson ? await response.json() : await response.arrayBuffer();
  if ((response.headers.get("tauri-response") ?? (response.ok ? "ok" : "error")) === "ok") return value;
  throw value;
}

/** `emit(event, payload)` as another principal: the event plugin's emit over HTTP (see invokeAs). */
export async function emitAs(event: string, payload: unknown, as: CallAs): Promise<void> {
  await invokeAs("plugin:event|emit", { event, payload }, as);
}

/**
 * Open a file in the editor through `openInEditor` (Vite's /__open-in-editor takes
 * `?file=<path>:<line>:<col>`), as Vite's error overlay does: a request to it, nothing to show.
 * The URL, for a link's href (another origin: the console's policy allows no request there, so
 * the link opens it as a page instead).
 */
export function editorUrl(openInEditor: string, path: string, line?: number): string {
  return `${openInEditor}?file=${encodeURIComponent(line === undefined ? path : `${path}:${line}`)}`;
}

/** Whether the console may fetch `url` (its Content-Security-Policy: connect-src 'self'). */
export function sameOrigin(url: string): boolean {
  return new URL(url, location.href).origin === location.origin;
}
