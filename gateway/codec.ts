// Bytes and JSON at the edges of the pipeline, the same for every transport.
import secureJson from "secure-json-parse";
import type { HeadersInput, InvokeHeaders } from "./types.ts";

const EMPTY_HEADERS: InvokeHeaders = Object.freeze(Object.create(null));

/** Headers the gateway and the Tauri protocol use for themselves; a handler never sees them. */
function isOwnHeader(name: string): boolean {
  return name === "gateway-window" || name.startsWith("tauri-");
}

/** Lower-cased, read-only headers without the gateway's own (and without `omit`, e.g. the token). */
export function normalizeHeaders(input: HeadersInput | undefined, omit?: string): InvokeHeaders {
  if (!input) return EMPTY_HEADERS;
  const out: Record<string, string> = Object.create(null);
  let count = 0;
  if (Symbol.iterator in input) {
    for (const [name, value] of input as Iterable<readonly [string, string]>) count += putHeader(out, name, value, omit);
  } else {
    for (const name in input) count += putHeader(out, name, (input as Record<string, unknown>)[name], omit);
  }
  return count === 0 ? EMPTY_HEADERS : Object.freeze(out);
}

function putHeader(out: Record<string, string>, name: string, value: unknown, omit: string | undefined): number {
  if (value === undefined) return 0;
  const key = name.toLowerCase();
  if (isOwnHeader(key) || key === omit) return 0;
  out[key] = Array.isArray(value) ? value.join(", ") : String(value);
  return 1;
}

/** Without one header (the pyfunc routing header, say). */
export function withoutHeader(headers: InvokeHeaders, name: string): InvokeHeaders {
  if (!(name in headers)) return headers;
  const out: Record<string, string> = Object.create(null);
  for (const key in headers) if (key !== name) out[key] = headers[key]!;
  return Object.freeze(out);
}

/** Raw bytes from a Uint8Array (Buffer included), another typed array or view, or an ArrayBuffer. */
export function asBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  // By tag rather than instanceof: the bytes may come from another realm (a worker, jest's sandbox).
  if (Object.prototype.toString.call(value) === "[object ArrayBuffer]") return new Uint8Array(value as ArrayBuffer);
  return undefined;
}

export function isBytes(value: unknown): boolean {
  return ArrayBuffer.isView(value) || Object.prototype.toString.call(value) === "[object ArrayBuffer]";
}

const decoder = new TextDecoder("utf-8", { fatal: true });

export type ParsedJson = { ok: true; value: unknown } | { ok: false; message: string };

/**
 * JSON text or UTF-8 bytes to a value; empty means `{}` (what Tauri's invoke sends without args).
 * `__proto__` and `constructor.prototype` keys are refused, as Fastify does, so a body can never
 * reach an object's prototype when a handler merges it into another object.
 */
export function parseJson(input: string | Uint8Array): ParsedJson {
  let text: string;
  try {
    text = typeof input === "string" ? input : decoder.decode(input);
  } catch {
    return { ok: false, message: "body is not valid UTF-8" };
  }
  if (text.trim() === "") return { ok: true, value: {} };
  try {
    return { ok: true, value: secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" }) };
  } catch (error) {
    return { ok: false, message: `body is not valid JSON: ${(error as Error).message}` };
  }
}
