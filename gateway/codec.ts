// Bytes and JSON at the edges of the pipeline, the same for every transport.
import { isUtf8 } from "node:buffer";
import secureJson from "secure-json-parse";
import type { HeadersInput, InvokeHeaders } from "./types.ts";

/** The wire form of a frontend Channel in a body: "__CHANNEL__:<id>" (Tauri's `Channel.toJSON`). */
export const CHANNEL_WIRE = /^__CHANNEL__:(\d+)$/;

const EMPTY_HEADERS: InvokeHeaders = Object.freeze(Object.create(null));

/** Headers the gateway and the Tauri protocol use for themselves; a handler never sees them. */
function isOwnHeader(name: string): boolean {
  return name === "gateway-window" || name.startsWith("tauri-");
}

/** Lower-cased, read-only headers without the gateway's own (and without `omit`, e.g. the token). */
export function normalizeHeaders(input: HeadersInput | undefined, omit?: readonly string[]): InvokeHeaders {
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

function putHeader(out: Record<string, string>, name: string, value: unknown, omit: readonly string[] | undefined): number {
  if (value === undefined) return 0;
  const key = name.toLowerCase();
  if (isOwnHeader(key) || (omit !== undefined && omit.includes(key))) return 0;
  out[key] = Array.isArray(value) ? value.join(", ") : String(value);
  return 1;
}

/** One header's value from any form of headers (name in lower case). */
export function readHeader(input: HeadersInput | undefined, name: string): string | undefined {
  if (!input) return undefined;
  if (typeof (input as Headers).get === "function" && typeof (input as Headers).has === "function") return (input as Headers).get(name) ?? undefined;
  if (Symbol.iterator in input) {
    for (const [key, value] of input as Iterable<readonly [string, string]>) if (key.toLowerCase() === name) return value;
    return undefined;
  }
  const record = input as Record<string, unknown>;
  const direct = record[name];
  if (direct !== undefined) return Array.isArray(direct) ? direct.join(", ") : String(direct);
  for (const key in record) if (key.toLowerCase() === name && record[key] !== undefined) return String(record[key]);
  return undefined;
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
  if (typeof value !== "object" || value === null) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  // An ArrayBuffer from another realm (a worker, jest's sandbox) still carries its tag; the
  // byteLength test spares ordinary objects the slower tag lookup.
  return typeof (value as { byteLength?: unknown }).byteLength === "number" && Object.prototype.toString.call(value) === "[object ArrayBuffer]";
}

export type ParsedJson = { ok: true; value: unknown } | { ok: false; message: string };

/**
 * JSON text or UTF-8 bytes to a value; empty means `{}` (what Tauri's invoke sends without args).
 * `__proto__` and `constructor.prototype` keys are refused, as Fastify does, so a body can never
 * reach an object's prototype when a handler merges it into another object.
 */
export function parseJson(input: string | Uint8Array): ParsedJson {
  let text: string;
  if (typeof input === "string") text = input;
  else {
    if (!isUtf8(input)) return { ok: false, message: "body is not valid UTF-8" };
    text = (Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)).toString("utf8");
  }
  if (text.trim() === "") return { ok: true, value: {} };
  try {
    return { ok: true, value: secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" }) };
  } catch (error) {
    return { ok: false, message: `body is not valid JSON: ${(error as Error).message}` };
  }
}
