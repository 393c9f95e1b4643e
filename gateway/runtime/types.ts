// The types handler authors and embedders see.
import type { Rejection } from "./errors.ts";
import type { PageLink } from "./pages.ts";
import type { Caller, Principal } from "../access/principal.ts";

/** Request headers as a handler sees them: lower-cased names, read-only. */
export type InvokeHeaders = Readonly<Record<string, string>>;

/** Headers as a caller may give them: a plain object (Node's `req.headers` included), a `Headers`, or pairs. */
export type HeadersInput =
  | Record<string, string | readonly string[] | undefined>
  | Headers
  | Iterable<readonly [string, string]>;

/** Who an event is addressed to, as Tauri's `EventTarget`. A plain string means `{ kind: "AnyLabel", label }`. */
export type EventTarget =
  | { kind: "Any" }
  | { kind: "AnyLabel"; label: string }
  | { kind: "App" }
  | { kind: "Window"; label: string }
  | { kind: "Webview"; label: string }
  | { kind: "WebviewWindow"; label: string };

/**
 * `app.emitTo({ principal: "u42" }, ...)`: every page connected as that principal (`auth:`), on
 * every instance, whatever target its listeners gave; no other page, and no handler's listener.
 */
export interface PrincipalTarget {
  principal: string;
}

export interface EventMessage<T = unknown> {
  event: string;
  id: number;
  payload: T;
}

export type EventCallback<T = unknown> = (event: EventMessage<T>) => void;

/** The window that called a command. */
export interface WindowHandle {
  readonly label: string;
  /** Emit an event to every listener, as Tauri's `Window::emit`. */
  emit(event: string, payload?: unknown): void;
  /** Run a script in this window's page (fire and forget). */
  eval(script: string): void;
}

/** The application: events in every direction. */
export interface AppHandle {
  emit(event: string, payload?: unknown): void;
  /** To listeners with that target (a string is `AnyLabel`), or to one principal's pages (`{ principal }`). */
  emitTo(target: EventTarget | string | PrincipalTarget, event: string, payload?: unknown): void;
  emitFilter(event: string, payload: unknown, filter: (target: EventTarget) => boolean): void;
  listen<T = unknown>(event: string, handler: EventCallback<T>): number;
  once<T = unknown>(event: string, handler: EventCallback<T>): number;
  unlisten(id: number): void;
}

/**
 * Every command's types, by command name: `{ body, returns, error }`. Empty here; the declarations
 * `gateway types --handlers <file.d.ts>` writes augment it from the manifest's schemas
 * (`declare module "ipc-gateway" { interface Commands { greet: { body: GreetBody; ... } } }`), so
 * that `Invoke<"greet">` and `Handler<"greet">` type a handler from its command's schemas.
 */
export interface Commands {}

/** The names of the commands `Commands` declares. */
export type CommandName = keyof Commands & string;

/** A command's body type, from its schema (`unknown` without one; `Uint8Array` for binary). */
export type CommandBody<Name extends keyof Commands> = Commands[Name] extends { body: infer Body } ? Body : unknown;

/** A command's return type, from its `returns` schema (`unknown` without one). */
export type CommandReturns<Name extends keyof Commands> = Commands[Name] extends { returns: infer Returns } ? Returns : unknown;

/**
 * What a command's handler may reject with (`throw new InvokeError<"divide">(value)`): its
 * `errors:` type, `unknown` without one (any value goes, as at run time).
 */
export type CommandError<Name extends keyof Commands> = Commands[Name] extends { error: infer Thrown } ? Thrown : unknown;

/**
 * `InvokeError`'s value: a command name that `Commands` declares stands for that command's
 * declared errors; anything else is the value's type itself (`InvokeError<{ code: number }>`).
 */
export type ErrorOf<E> = E extends keyof Commands ? CommandError<E> : E;

/**
 * What a command's handler may return: its `returns` type, and `undefined` too where that allows
 * `null` (the gateway sends `undefined` as `null`).
 */
export type HandlerResult<Name extends keyof Commands> =
  | CommandReturns<Name>
  | (null extends CommandReturns<Name> ? undefined | void : never);

/**
 * `Invoke`'s body: a command name that `Commands` declares stands for that command's body type;
 * anything else is the body type itself (`Invoke<{ name: string }>`, `Invoke<string>`).
 */
export type BodyOf<Body> = Body extends keyof Commands ? CommandBody<Body> : Body;

/**
 * The one argument of every handler. `Invoke<{ name: string }>` gives the body type directly;
 * `Invoke<"greet">` takes it from the command's schema (once `Commands` declares "greet").
 * (A type alias, so that `Invoke<"greet">` is `InvokeContext<GreetBody>` at once and compares
 * with other bodies by its body type.)
 */
export type Invoke<Body = unknown> = InvokeContext<BodyOf<Body>>;

/** What `Invoke<Body>` stands for: the handler's argument with its body type resolved. */
export interface InvokeContext<Body = unknown> {
  /** The validated body; a `Uint8Array` for `binary` commands. */
  readonly body: Body;
  readonly headers: InvokeHeaders;
  readonly window: WindowHandle;
  readonly app: AppHandle;
  /** Aborted when the command times out or its caller goes away. */
  readonly signal: AbortSignal;
  /** Who called (`auth:`): `{ id, roles, claims }`, or null for an anonymous caller. */
  readonly principal: Principal | null;
  /**
   * The call's request id: the caller's `x-request-id` when it is 1 to 128 printable ASCII
   * characters, else one the gateway made. Every log line of the call carries it, and HTTP and
   * WebSocket answers return it: pass it on to what the handler calls in turn.
   */
  readonly requestId: string;
}

/**
 * A handler: `Handler<{ name: string }, Greeting>`, or `Handler<"greet">`, whose body and return
 * types come from the command's schemas (once `Commands` declares "greet").
 */
export type Handler<Body = unknown, Result = Body extends keyof Commands ? HandlerResult<Body> : unknown> = (invoke: Invoke<Body>) => Result | Promise<Result>;

/**
 * One invocation as a transport hands it over (Tauri's InvokeRequest). `body` is a JSON value,
 * or raw bytes (`Uint8Array`) for binary bodies and for JSON sent as bytes (pyInvoke).
 */
export interface InvokeRequest {
  cmd: string;
  body?: unknown;
  headers?: HeadersInput;
  /** The calling window's label; "main" when absent. */
  window?: string;
  /** Aborted when the caller goes away (an AbortSignal, or anything with its abort event). */
  signal?: CallerSignal;
  /** The page the request comes from (its WebSocket): needed for channels and `plugin:event|listen`. */
  page?: PageLink;
  /** Who calls, as the transport authenticated them (absent: an anonymous caller without Origin, as in-process). */
  caller?: Caller;
  /**
   * The call's request id, kept as given (a transport checks the caller's with
   * request-id.ts's requestIdFrom, and returns it with the answer). Absent: the `x-request-id`
   * header when it is valid, else a new one.
   */
  requestId?: string;
  /** Which transport hands it over, for the call's trace span: `http`, `ws`; absent: `in-process`. */
  transport?: string;
  /**
   * Where the pipeline writes the call's trace and span ids when it is traced (OpenTelemetry),
   * so that the transport's log entry of the call carries them; left alone otherwise.
   */
  traced?: TraceSlot;
}

/** A traced call's ids (W3C hex): filled in by the pipeline, read by a transport's log entry. */
export interface TraceSlot {
  traceId: string | undefined;
  spanId: string | undefined;
}

/** The part of AbortSignal the pipeline uses; transports may pass something cheaper. */
export interface CallerSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: AbortListener): void;
}

/** An abort listener object (the DOM's EventListenerObject, which Node's own types do not declare globally). */
export interface AbortListener {
  handleEvent(event: Event): void;
}

/** The outcome: a JSON value or bytes, or a rejection with its HTTP status. */
export type InvokeResponse = { ok: true; value: unknown } | Rejection;

export type InvokeHandler = (request: InvokeRequest) => Promise<InvokeResponse>;
