// What the console reads from the gateway besides @tauri-apps/api: the gateway's browser script
// (loaded as any page loads it, with this window's label), and the JSON documents under
// /__gateway/ (the schema catalog, health).
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

/** GET /__gateway/health (503 with `ok: false` while the app does not build). */
export interface Health {
  ok: boolean;
  generation: number;
  lastError: string | null;
  pages: number;
  listeners: number;
}

/** gateway://invocation: one answered invocation, from any page or transport. */
export interface Invocation {
  cmd: string;
  window: string;
  transport: string;
  status: number;
  outcome: string;
  ms: number;
}

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
export async function fetchDocument<T>(name: "catalog.json" | "health"): Promise<T> {
  const response = await fetch(`/__gateway/${name}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: "no-store" });
  if (response.status === 401) throw new Error("this gateway has a token (server.token): open the console as /__gateway/?token=<the token>");
  if (!response.ok && !(name === "health" && response.status === 503)) throw new Error(`/__gateway/${name} answered ${response.status}`);
  return (await response.json()) as T;
}
