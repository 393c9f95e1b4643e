// Where the gateway says what it does. Every part logs through the small `Logger` interface (so
// an embedding app can pass its own); the default is pino, pretty in a terminal and JSON lines
// otherwise, written to stderr (stdout carries the CLI's listening line).
import { createRequire } from "node:module";
import { pino, type Logger as Pino } from "pino";
import type PinoPretty from "pino-pretty";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFormat = "pretty" | "json";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/** One answered invocation, as `gateway dev` logs it. */
export interface InvocationLog {
  cmd: string;
  window: string;
  transport: "http" | "ws";
  status: number;
  /** "ok", the error's kind, or "invoke-error" for a handler's InvokeError. */
  outcome: string;
  /** From the request's arrival to its answer, to 0.1 ms (elapsedMs). */
  ms: number;
  /** Who called: the principal's id (`auth:`), or null for an anonymous caller (and one refused before it was known). */
  principal: string | null;
  /** The call's request id (the caller's `x-request-id` when valid, else made here): what the answer returned. */
  requestId: string;
  /** When the call was traced (an OpenTelemetry SDK registered): its trace's id and its span's, W3C hex. */
  traceId?: string;
  spanId?: string;
}

/** Milliseconds since `started` (a performance.now()), to 0.1 ms: the digits past it are the clock's float noise. */
export function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  /**
   * `fields`: what the line is about, for loggers that keep fields (a line about one call
   * carries its `requestId`); a logger that takes only (message, error) still works.
   */
  error(message: string, error?: unknown, fields?: Record<string, unknown>): void;
  /** Debug detail (absent: not wanted). */
  debug?(message: string, fields?: Record<string, unknown>): void;
  /** One line per invocation; absent when not wanted (transports then skip the bookkeeping). */
  invocation?(entry: InvocationLog): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Default: pretty when stderr is a terminal, JSON otherwise. */
  format?: LogFormat | undefined;
}

/** The default logger: pino on stderr. */
export function createLogger(options: LoggerOptions): Logger {
  const format = options.format ?? (process.stderr.isTTY ? "pretty" : "json");
  const destination =
    format === "pretty"
      ? prettyStream(2, process.stderr.isTTY)
      : pino.destination({ fd: 2, sync: true });
  return fromPino(pino({ level: options.level, base: undefined, serializers: { err: pino.stdSerializers.err } }, destination));
}

/** pino-pretty's stream: `destination` a file descriptor (or, in tests, a stream). */
export function prettyStream(destination: number | NodeJS.WritableStream, colorize: boolean): NodeJS.WritableStream {
  return prettyPrinter()({ destination: destination as number, sync: true, colorize, translateTime: "HH:MM:ss.l", ignore: "pid,hostname,invocation,requestId,traceId,spanId", messageFormat: prettyMessage });
}

/**
 * A pretty line's text: a line about one call names its request, the invocation line inside its
 * parentheses. (Only here: in JSON, `requestId` is a field of its own and `msg` stays as it was.)
 */
function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const message = String(log[messageKey] ?? "");
  if (typeof log.requestId !== "string") return message;
  // A trace id is 32 hex digits (the span's, with it, is in the JSON line).
  const id = shownId(log.requestId) + (typeof log.traceId === "string" ? `, trace ${shownId(log.traceId)}` : "");
  return log.invocation !== undefined && message.endsWith(")") ? `${message.slice(0, -1)}, request ${id})` : `${message} (request ${id})`;
}

/** pino-pretty, loaded only for a terminal (it and its dependencies take a while to load). */
function prettyPrinter(): typeof PinoPretty {
  const loaded = createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty & { default?: typeof PinoPretty };
  return loaded.default ?? loaded;
}

/** A Logger over a pino logger (an embedding app's own, say). */
export function fromPino(log: Pino): Logger {
  const logger: Logger = {
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
    error: (message, error, fields) => (error === undefined ? log.error(fields ?? {}, message) : log.error({ ...fields, err: error }, message)),
  };
  if (log.isLevelEnabled("debug")) logger.debug = (message, fields) => log.debug(fields ?? {}, message);
  if (log.isLevelEnabled("info")) {
    // The fields go under `invocation` for JSON consumers; the pretty line already says it all.
    // `requestId` (and a traced call's `traceId` and `spanId`) are also at the top, where every
    // other line of the call has them: one query finds them all. The pretty line shows them (prettyMessage).
    logger.invocation = (entry) =>
      log.info(
        entry.traceId === undefined ? { requestId: entry.requestId, invocation: entry } : { requestId: entry.requestId, traceId: entry.traceId, spanId: entry.spanId, invocation: entry },
        `${entry.cmd} ${entry.status} ${entry.outcome} ${entry.ms.toFixed(1)} ms${entry.principal === null ? "" : ` ${shownId(entry.principal)}`} (${entry.transport}, window ${entry.window})`,
      );
  }
  return logger;
}

/**
 * A principal's (or request's) id in a pretty line: as it is when it is one plain word, else quoted as JSON. An
 * id comes from a token's claim or an auth handler; a line break in it must not start a line.
 */
function shownId(id: string): string {
  return /^[\x21-\x7e]+$/.test(id) && !id.startsWith('"') ? id : JSON.stringify(id);
}

/** For tests and embedders that want plain console output. */
export const consoleLogger: Logger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message, error, fields) => {
    const line =
      fields?.requestId === undefined ? message : `${message} (request ${String(fields.requestId)}${fields.traceId === undefined ? "" : `, trace ${String(fields.traceId)}`})`;
    if (error === undefined) console.error(line);
    else console.error(line, error);
  },
};
