// The shapes of what pages send: WebSocket frames and the event plugin's arguments. Each is one
// JSON Schema, compiled once; nothing reads a field of a frame or of the event plugin's
// arguments before its schema has passed. A refusal names the offending field.
import type { ErrorObject, ValidateFunction } from "ajv";
import { ajvLibrary } from "../config/ajv.ts";
import { CHANNEL_WIRE } from "../config/schemas.ts";
import { parseJson } from "./codec.ts";
import type { EventTarget } from "./types.ts";

/** A page's invocation over its WebSocket. */
export interface InvokeFrame {
  type: "invoke";
  /** The page's request id, echoed in the reply. */
  rid: number | string;
  cmd: string;
  body?: unknown;
  headers?: Record<string, string>;
}

const SAFE_ID = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const RID = { anyOf: [SAFE_ID, { type: "string", maxLength: 128 }] } as const;
const EVENT_NAME = { type: "string", minLength: 1, maxLength: 1024, pattern: "^[A-Za-z0-9/:_-]+$" } as const;
const LABEL = { type: "string", maxLength: 1024 } as const;
const TARGET = {
  oneOf: [
    { type: "object", required: ["kind"], properties: { kind: { enum: ["Any", "App"] } } },
    {
      type: "object",
      required: ["kind", "label"],
      properties: { kind: { enum: ["AnyLabel", "Window", "Webview", "WebviewWindow"] }, label: LABEL },
    },
  ],
} as const;

const INVOKE_FRAME = {
  type: "object",
  required: ["type", "rid", "cmd"],
  additionalProperties: false,
  properties: {
    type: { const: "invoke" },
    rid: RID,
    cmd: { type: "string", minLength: 1, maxLength: 1024 },
    body: true,
    headers: {
      type: "object",
      maxProperties: 256,
      propertyNames: { maxLength: 256 },
      additionalProperties: { type: "string", maxLength: 16384 },
    },
  },
} as const;

// The event plugin's arguments, as @tauri-apps/api sends them. Extra fields are allowed: they are
// Tauri's shapes, which may grow.
const EVENT_ARGS = {
  listen: {
    type: "object",
    required: ["event", "handler"],
    properties: { event: EVENT_NAME, target: TARGET, handler: SAFE_ID },
  },
  unlisten: {
    type: "object",
    required: ["event", "eventId"],
    properties: { event: EVENT_NAME, eventId: SAFE_ID },
  },
  emit: {
    type: "object",
    required: ["event"],
    properties: { event: EVENT_NAME },
  },
  emit_to: {
    type: "object",
    required: ["target", "event"],
    properties: { event: EVENT_NAME, target: { anyOf: [LABEL, TARGET] } },
  },
} as const;

export type EventPluginCommand = keyof typeof EVENT_ARGS;

export type EventArgs =
  | { command: "listen"; event: string; target?: EventTarget; handler: number }
  | { command: "unlisten"; event: string; eventId: number }
  | { command: "emit"; event: string; payload?: unknown }
  | { command: "emit_to"; event: string; target: EventTarget | string; payload?: unknown };

/** Compiled at the first frame, not at start-up (a gateway without pages never needs them). */
let compiled: { frame: ValidateFunction<InvokeFrame>; eventArgs: Record<EventPluginCommand, ValidateFunction> } | undefined;
function validators() {
  if (compiled) return compiled;
  const ajv = new (ajvLibrary().Ajv2020)({ allErrors: false, strict: true, strictTuples: false });
  const eventArgs = Object.fromEntries(Object.entries(EVENT_ARGS).map(([name, schema]) => [name, ajv.compile(schema)]));
  return (compiled = { frame: ajv.compile<InvokeFrame>(INVOKE_FRAME), eventArgs: eventArgs as Record<EventPluginCommand, ValidateFunction> });
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

/** A parsed text frame as an InvokeFrame, or what is wrong with it (and its rid, when that is sound). */
export function decodeFrame(value: unknown): Decoded<InvokeFrame> & { rid?: number | string } {
  const validateFrame = validators().frame;
  if (validateFrame(value)) return { ok: true, value };
  const refused = refusal("frame", validateFrame.errors);
  // A sound rid lets the page's promise reject instead of waiting for a reply that never comes.
  const rid = typeof value === "object" && value !== null ? (value as { rid?: unknown }).rid : undefined;
  // The same bounds as the schema's (which counts a string's length in code points).
  const ridOk = (typeof rid === "number" && Number.isSafeInteger(rid) && rid >= 0) || (typeof rid === "string" && [...rid].length <= 128);
  return ridOk ? { ...refused, rid: rid as number | string } : refused;
}

/** Largest header a binary frame may have. */
const MAX_BINARY_HEADER = 64 * 1024;

/**
 * A binary invoke frame: [u32 big-endian header length][header JSON][bytes], the header an
 * invoke frame without `body` (the bytes are the body, as application/octet-stream over HTTP).
 */
export function decodeBinaryFrame(data: Buffer, maxDepth: number): Decoded<InvokeFrame> & { rid?: number | string } {
  if (data.length < 4) return { ok: false, field: "", message: "a binary frame starts with its header's length (4 bytes)" };
  const length = data.readUInt32BE(0);
  if (length > MAX_BINARY_HEADER || 4 + length > data.length) return { ok: false, field: "", message: "a binary frame's header length does not fit the frame" };
  const header = parseJson(data.subarray(4, 4 + length), maxDepth);
  if (!header.ok) return { ok: false, field: "", message: `a binary frame's header: ${header.message}` };
  const decoded = decodeFrame(header.value);
  if (!decoded.ok) return decoded;
  if (decoded.value.body !== undefined) return { ok: false, field: "/body", message: "frame: /body is the bytes after the header of a binary frame", rid: decoded.value.rid };
  return { ok: true, value: { ...decoded.value, body: data.subarray(4 + length) } };
}

/** The rid of a text frame that starts as tauri.js writes it (`{"type":"invoke","rid":...`), without parsing the rest. */
export function leadingRid(data: Buffer): number | string | undefined {
  const match = /^\{"type":"invoke","rid":(\d{1,16}|"[^"\\]{0,128}")[,}]/.exec(data.subarray(0, 200).toString("latin1"));
  if (!match) return undefined;
  const rid: unknown = JSON.parse(match[1]!);
  return typeof rid === "number" && !Number.isSafeInteger(rid) ? undefined : (rid as number | string);
}

export function isEventPluginCommand(name: string): name is EventPluginCommand {
  return Object.hasOwn(EVENT_ARGS, name);
}

/** The arguments of `plugin:event|<command>`, checked against that command's schema. */
export function decodeEventArgs(command: EventPluginCommand, args: unknown): Decoded<EventArgs> {
  const validate = validators().eventArgs[command];
  if (!validate(args)) return refusal(`plugin:event|${command} arguments`, validate.errors);
  return { ok: true, value: { command, ...(args as object) } as EventArgs };
}

/** A channel field's callback id ("__CHANNEL__:<id>"), already checked by the body's schema. */
export function channelId(wire: unknown): number | undefined {
  const match = typeof wire === "string" ? CHANNEL_WIRE.exec(wire) : null;
  return match ? Number(match[1]) : undefined;
}

function refusal(what: string, errors: ErrorObject[] | null | undefined): { ok: false; field: string; message: string } {
  const error = errors?.[0];
  if (!error) return { ok: false, field: "", message: `${what} is not valid` };
  let field = error.instancePath;
  if (error.keyword === "required") field += `/${String(error.params.missingProperty)}`;
  else if (error.keyword === "additionalProperties") field += `/${String(error.params.additionalProperty)}`;
  const shown = field === "" ? "(root)" : field;
  const detail = error.keyword === "additionalProperties" ? "is not a known field" : error.keyword === "required" ? "is missing" : error.message;
  return { ok: false, field: field || "/", message: `${what}: ${shown} ${detail}` };
}
