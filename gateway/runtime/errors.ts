// The one catalogue of rejections the gateway itself produces (CONTRACT §3). Every transport
// turns a Rejection into its wire form; nothing else builds error values.
import type { ErrorObject } from "ajv";

export const ERROR_STATUS = {
  "unknown-command": 404,
  "invalid-body": 422,
  "invalid-return": 500,
  "invalid-error": 500,
  "bad-request": 400,
  "unsupported-media-type": 415,
  "payload-too-large": 413,
  "not-allowed": 403,
  "forbidden-origin": 403,
  "forbidden-host": 403,
  unauthorized: 401,
  timeout: 504,
  internal: 500,
  "unknown-event": 404,
  "invalid-payload": 422,
  "event-not-allowed": 403,
  "invalid-message": 500,
  "channel-closed": 500,
  "channel-full": 500,
  overloaded: 503,
  "not-ready": 503,
  "headers-too-large": 431,
  "request-timeout": 408,
  "not-found": 404,
  "method-not-allowed": 405,
  "bus-unavailable": 503,
  forbidden: 403,
  "rate-limited": 429,
  "shutting-down": 503,
  // Made by tauri.js in the page, never sent by the gateway: the call got no answer from it (not
  // running, refused the page's origin, or a proxy answered in its place; 502 is such a proxy's).
  unreachable: 502,
} as const;

export type ErrorKind = keyof typeof ERROR_STATUS;

/** The JSON value a caller's promise rejects with for the gateway's own errors. */
export interface GatewayErrorValue {
  kind: ErrorKind;
  message: string;
  [field: string]: unknown;
}

/** A rejected invocation as transports see it: the HTTP status and the exact rejection value. */
export interface Rejection {
  ok: false;
  status: number;
  error: unknown;
  /** The handler's own InvokeError (its value may look like anything, a `kind` field included). */
  fromHandler?: true;
}

/** The status an `InvokeError` thrown by a handler is sent with. */
export const INVOKE_ERROR_STATUS = 400;

/** One validation problem, as much of ajv's error object as callers need. */
export interface SchemaErrorDetail {
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

/** An error a handler can catch (a refused emit, a channel message that fails its schema). */
export class GatewayError extends Error {
  readonly kind: ErrorKind;
  readonly details: GatewayErrorValue;

  constructor(value: GatewayErrorValue) {
    super(value.message);
    this.name = "GatewayError";
    this.kind = value.kind;
    this.details = value;
  }
}

/** A rejection's value as a GatewayError (for APIs that throw rather than answer). */
export function asError(rejection: Rejection): GatewayError {
  return new GatewayError(rejection.error as GatewayErrorValue);
}

export function raise(rejection: Rejection): never {
  throw asError(rejection);
}

function reject(kind: ErrorKind, message: string, fields?: Record<string, unknown>): Rejection {
  return { ok: false, status: ERROR_STATUS[kind], error: { kind, message, ...fields } satisfies GatewayErrorValue };
}

export function schemaErrorDetails(errors: readonly ErrorObject[] | null | undefined): SchemaErrorDetail[] {
  return (errors ?? []).map((e) => ({
    instancePath: e.instancePath,
    keyword: e.keyword,
    message: e.message ?? e.keyword,
    params: e.params as Record<string, unknown>,
  }));
}

function describe(errors: SchemaErrorDetail[]): string {
  const first = errors[0];
  if (!first) return "";
  return `${first.instancePath || "(root)"} ${first.message}`;
}

export const rejections = {
  unknownCommand: (command: string) => reject("unknown-command", `no command named "${command}"`, { command }),
  invalidMessage: (channel: string, errors: SchemaErrorDetail[]) =>
    reject("invalid-message", `message for channel "${channel}" does not match its schema: ${describe(errors)}`, { channel, errors }),
  channelClosed: (channel: string, why: string) => reject("channel-closed", `channel "${channel}" is closed: ${why}`, { channel }),
  channelFull: (channel: string, limit: number) =>
    reject("channel-full", `channel "${channel}" has ${limit} messages waiting for a slow page; await send() to wait for room`, { channel, limit }),
  invalidBody: (command: string, errors: SchemaErrorDetail[]) =>
    reject("invalid-body", `body of "${command}" does not match its schema: ${describe(errors)}`, { command, errors }),
  invalidReturn: (command: string, errors: SchemaErrorDetail[]) =>
    reject("invalid-return", `"${command}" returned a value that does not match its returns schema: ${describe(errors)}`, {
      command,
      errors,
    }),
  /** `field`: the JSON pointer of the offending field of a frame or arguments, when there is one. */
  invalidError: (command: string, errors: SchemaErrorDetail[]) =>
    reject("invalid-error", `"${command}" rejected with an InvokeError value that its errors schema does not allow: ${describe(errors)}`, {
      command,
      errors,
    }),
  badRequest: (message: string, fields?: { field: string }) => reject("bad-request", message, fields),
  unsupportedMediaType: (contentType: string) =>
    reject(
      "unsupported-media-type",
      `Content-Type "${contentType}" is not supported; send application/json or application/octet-stream`,
    ),
  payloadTooLarge: (limit: number) => reject("payload-too-large", `body is larger than the limit of ${limit} bytes`, { limit }),
  notAllowed: (command: string, window: string) =>
    reject("not-allowed", `window "${window}" may not call "${command}"`, { command, window }),
  forbiddenOrigin: (origin: string) => reject("forbidden-origin", `origin ${origin} is not allowed`, { origin }),
  forbiddenHost: (host: string) => reject("forbidden-host", `host ${host} is not this gateway's`, { host }),
  /** A shared server (Vite's) listens on the network, and nothing says who may call from other machines. */
  onlyThisMachine: (host: string) =>
    reject("forbidden-host", "the gateway answers only this machine: its server listens on the network, and calls from other machines need server.token (or auth: together with capabilities:)", { host }),
  unauthorized: (message = "a valid bearer token is required") => reject("unauthorized", message),
  /** A capability does not allow the call. `why` (under `gateway dev`): what would allow it. */
  forbidden: (command: string, who: string, why?: string) =>
    reject("forbidden", `${who} may not call "${command}"${why ? `: ${why}` : ""}`, { command }),
  /** A capability does not allow listening to or emitting the event. */
  eventForbidden: (event: string, action: "listen" | "emit", who: string, why?: string) =>
    reject("event-not-allowed", `${who} may not ${action === "listen" ? "listen to" : "emit"} event "${event}"${why ? `: ${why}` : ""}`, { event, action }),
  /** Past a `limits:` budget: `retryAfterMs` until the next call would be allowed. */
  rateLimited: (command: string, limit: string, retryAfterMs: number) =>
    reject("rate-limited", `too many calls of "${command}" (limit "${limit}"); try again in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`, {
      command,
      limit,
      retryAfter: Math.max(0, Math.ceil(retryAfterMs)),
    }),
  timeout: (command: string, limitMs: number) =>
    reject("timeout", `"${command}" did not finish within ${limitMs} ms`, { command, limit: limitMs }),
  internal: (command: string, detail?: string) =>
    reject("internal", `"${command}" failed${detail ? `: ${detail}` : ""}`, { command }),
  unknownEvent: (event: string) => reject("unknown-event", `no event named "${event}" is declared in the manifest's events:`, { event }),
  invalidPayload: (event: string, errors: SchemaErrorDetail[]) =>
    reject("invalid-payload", `payload of event "${event}" does not match its schema: ${describe(errors)}`, { event, errors }),
  eventNotAllowed: (event: string, source: string) =>
    reject("event-not-allowed", `event "${event}" may not be emitted from the ${source}`, { event, from: source }),
  notReady: (mistakes: string) =>
    reject("not-ready", `the app does not build yet; gateway dev serves it as soon as these are fixed:\n${mistakes}`, { mistakes: mistakes.split("\n") }),
  overloaded: (limit: number) =>
    reject("overloaded", `the gateway is running ${limit} invocations (server.maxInFlight); try again shortly`, { limit }),
  /** A request names a page on another instance and the bus (Redis) cannot be asked where it is. */
  busUnavailable: (detail: string) => reject("bus-unavailable", `the page is connected to another instance and ${detail}; try again shortly`),
  /**
   * The gateway is stopping (SIGTERM): a call that did not finish within server.drain (it may or
   * may not have completed), or (without a command) a new socket refused while draining.
   */
  shuttingDown: (command?: string, drainMs?: number) =>
    command === undefined
      ? reject("shutting-down", "the gateway is shutting down; connect again (to another instance)")
      : reject("shutting-down", `the gateway is shutting down and "${command}" did not finish within server.drain (${drainMs} ms); it may or may not have completed`, { command }),
  headersTooLarge: () => reject("headers-too-large", "the request's headers (or its URL) are too large"),
  requestTimeout: () => reject("request-timeout", "the request did not arrive in time"),
  notFound: (path: string) => reject("not-found", `nothing at ${path}`),
  methodNotAllowed: (allow: string) => reject("method-not-allowed", `use ${allow}`),
  /** A value that cannot be sent as JSON (circular, BigInt, too deep). */
  unsendableReturn: (command: string, reason: string) =>
    reject("invalid-return", `"${command}" returned a value that cannot be sent as JSON: ${reason}`, {
      command,
      errors: [{ instancePath: "", keyword: "json", message: `cannot be sent as JSON: ${reason}`, params: {} }],
    }),
  /** A handler rejected with `InvokeError(value)`: the caller gets exactly `value`. */
  invokeError: (value: unknown): Rejection => ({ ok: false, status: INVOKE_ERROR_STATUS, error: value, fromHandler: true }),
};
