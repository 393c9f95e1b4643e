// Bytes and JSON at the edges of the pipeline, the same for every transport. Every value that
// comes in as JSON text goes through parseJson, and every value that goes out as JSON text goes
// through toJson: nothing else in the gateway parses or serializes what crosses the wire.
import { isUtf8 } from "node:buffer";
import { inspect } from "node:util";
import secureJson from "secure-json-parse";
import type { HeadersInput, InvokeHeaders } from "./types.ts";


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
 * reach an object's prototype when a handler merges it into another object. Text nested deeper
 * than `maxDepth` is refused before it is parsed, so nothing recursive (a validator, a
 * serializer) ever meets it; numbers too large for a double (which JSON.parse turns into
 * Infinity, not JSON) are refused too. `envelopeLevels`: levels the text wraps the body in (a
 * WebSocket frame's own object), so a body may be as deep there as over HTTP. `utf8Checked`: the
 * bytes are known to be UTF-8 (a WebSocket text frame: the `ws` library checked it).
 */
export function parseJson(input: string | Uint8Array, maxDepth: number, envelopeLevels = 0, utf8Checked = false): ParsedJson {
  let text: string;
  if (typeof input === "string") text = input;
  else {
    if (!utf8Checked && !isUtf8(input)) return { ok: false, message: "body is not valid UTF-8" };
    text = (Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)).toString("utf8");
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark, as secure-json-parse allows it
  if (text.trim() === "") return { ok: true, value: {} };
  if (tooDeep(text, maxDepth + envelopeLevels)) return { ok: false, message: `body is nested deeper than ${maxDepth} levels (server.maxDepth)` };
  let value: unknown;
  try {
    // Only text that names __proto__ or constructor (or hides a name behind a \u escape) can
    // carry what secure-json-parse refuses; the rest, nearly every body, needs no second look.
    value =
      text.includes("__proto__") || text.includes("constructor") || text.includes("\\u")
        ? secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" })
        : JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `body is not valid JSON: ${(error as Error).message}` };
  }
  // Only text with a 3-digit exponent (after a digit), or 200 digits in a row (a 2-digit exponent
  // needs 210 before it to overflow), can hold such a number: the walk is rare.
  if (HUGE_NUMBER_HINT.test(text) && holdsNonFinite(value)) {
    return { ok: false, message: "body holds a number too large to represent (it would be Infinity)" };
  }
  return { ok: true, value };
}

const HUGE_NUMBER_HINT = /\d[eE]\+?\d{3}|\d{200}/;

/** Does any number in this parsed JSON value overflow to ±Infinity? (Iterative: any depth.) */
function holdsNonFinite(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return true;
    } else if (typeof value === "object" && value !== null) {
      for (const key in value) stack.push((value as Record<string, unknown>)[key]);
    }
  }
  return false;
}

/**
 * Is this JSON text nested deeper than `limit`? One pass over the text, brackets outside strings
 * counted. Text shorter than twice the limit cannot be (each level takes two brackets), so the
 * common small body costs a length comparison.
 */
export function tooDeep(text: string, limit: number): boolean {
  if (text.length <= 2 * limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

export type JsonText = { ok: true; text: string } | { ok: false; reason: string };

/**
 * The one way a value becomes JSON text for the wire. Never throws: a value that cannot be sent
 * (a circular reference, a BigInt, nesting deeper than `maxDepth`, a toJSON or getter that
 * throws) comes back as a reason, which callers turn into an error for the caller and a log
 * line. `undefined` (and functions, symbols) become `null`, as Tauri sends a unit value.
 */
export function toJson(value: unknown, maxDepth: number): JsonText {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return { ok: false, reason: unsendableReason(error) };
  }
  if (text === undefined) return { ok: true, text: "null" };
  if (tooDeep(text, maxDepth)) return { ok: false, reason: `it is nested deeper than ${maxDepth} levels (server.maxDepth)` };
  return { ok: true, text };
}

function unsendableReason(error: unknown): string {
  if (error instanceof RangeError && /call stack/i.test(error.message)) return "it is nested too deeply to serialize";
  if (error instanceof TypeError) {
    if (/circular/i.test(error.message)) return "it contains a circular reference";
    if (/BigInt/i.test(error.message)) return "it contains a BigInt (send it as a string or number)";
  }
  return `serializing it threw: ${describeThrown(error)}`;
}

/**
 * A thrown value as one line of text, whatever it is: an Error, a string, an object without a
 * prototype, one whose toString throws, a revoked Proxy. Never throws itself.
 */
export function describeThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
    if (typeof thrown === "string") return thrown;
    if (typeof thrown !== "object" && typeof thrown !== "function") return String(thrown);
  } catch {
    // fall through to inspect
  }
  try {
    return inspect(thrown, { depth: 2, breakLength: Infinity, customInspect: false });
  } catch {
    return "(a value that cannot be described)";
  }
}
