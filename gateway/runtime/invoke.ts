// The invoke pipeline: the only place a handler is called. Every transport (HTTP, WebSocket,
// in-process) hands an InvokeRequest to the pipeline made here and encodes what comes back.
//
//   1. take the current generation (an invocation finishes on the generation it started on)
//   2. route pyInvoke, find the command, check the window may call it
//   2b. check the caller's capabilities and rate limits (access/access.ts)
//   3. decode and validate the body
//   4. call the handler with { body, headers, window, app, signal, principal, requestId }, within its time limit
//      (a handler that holds the event loop past it is answered 504 too, and said: ops/event-loop.ts)
//   5. validate the return value
//
// It answers synchronously when it can (rejections before the handler, synchronous handlers), so
// callers pay for promises only where a handler is asynchronous. When an OpenTelemetry SDK is
// registered (ops/tracing.ts), all of it runs inside the call's span.
import { rejections, schemaErrorDetails, type Rejection } from "./errors.ts";
import { asBytes, describeThrown, isBytes, normalizeHeaders, parseJson, readHeader } from "./codec.ts";
import { DeadlineEntry, Deadlines } from "./deadlines.ts";
import { isInvokeError } from "./invoke-error.ts";
import { Channel, type ChannelCounts } from "./channels.ts";
import { channelId } from "./frames.ts";
import type { EventHub } from "./events.ts";
import type { CommandDef, Generation, Usage } from "./generation.ts";
import type { Logger } from "./logger.ts";
import type { Validator } from "../config/schemas.ts";
import type { PageLink } from "./pages.ts";
import type { AppHandle, CallerSignal, HeadersInput, Invoke, InvokeHandler, InvokeHeaders, InvokeRequest, InvokeResponse, TraceSlot, WindowHandle } from "./types.ts";
import { requestIdFrom } from "./request-id.ts";
import type { CallInfo, Tracing } from "../ops/tracing.ts";
import { isKnownMethod } from "../ops/rpc-method.ts";
import { ANONYMOUS_LOCAL, type Caller, type Principal } from "../access/principal.ts";
import type { AccessControl } from "../access/access.ts";

/** pytauri's `pyInvoke(name, body)` calls this command with the function's name in header `pyfunc`. */
export const PYFUNC_COMMAND = "plugin:pytauri|pyfunc";
/** Tauri's event plugin: `listen`, `unlisten`, `emit`, `emit_to` from @tauri-apps/api/event. */
const EVENT_PLUGIN = "plugin:event|";
const WITHOUT_TOKEN = ["authorization"] as const;
const WITHOUT_PYFUNC = ["pyfunc"] as const;
/**
 * An answer this late past its deadline, with no sweep of the deadlines since, means the loop was
 * held: a turn under load may take some milliseconds more than a sweep's interval, never this.
 */
const HELD_MARGIN_MS = 100;

export interface PipelineHost {
  /** The generation new invocations start on. */
  current(): Generation;
  readonly events: EventHub;
  /** `gateway dev`: internal errors carry the original message to the caller. */
  readonly dev: boolean;
  readonly logger: Logger;
  /** Capabilities and limits (who may call what, how often). */
  readonly access: AccessControl;
  /** Present when the app's folder has @opentelemetry/api (ops/tracing.ts): calls are traced while an SDK is registered. */
  readonly tracing?: Tracing | undefined;
  /**
   * A handler held the event loop past its command's time limit (answered 504 timeout): during
   * its call (`call`), or a later turn kept its answer from being timed out (`turn`).
   */
  heldLoop?(command: CommandDef, heldMs: number, turn: "call" | "turn", requestId: string | undefined): void;
  /** Channel messages, counted for metrics (plain numbers read when scraped). */
  readonly channelCounts?: ChannelCounts;
}

/** Where a transport wants the answer of an asynchronous handler delivered (instead of a promise). */
export interface ResponseSink {
  respond(response: InvokeResponse): void;
}

export interface Pipeline {
  /**
   * The response: synchronously when no asynchronous handler is involved; otherwise a promise,
   * or, when `sink` is given, undefined now and `sink.respond(response)` later (one promise and
   * two microtask hops fewer per request, for transports that write the answer themselves).
   */
  execute(request: InvokeRequest): InvokeResponse | Promise<InvokeResponse>;
  execute(request: InvokeRequest, sink: ResponseSink): InvokeResponse | undefined;
  /** The same, always as a promise: Tauri's invoke handler shape, for transports. */
  invokeHandler: InvokeHandler;
  /** Stop the time-limit timer (the gateway is closing). */
  stop(): void;
  /** Asynchronous invocations running now (every transport, in-process calls too). */
  readonly inFlight: number;
  /**
   * The drain time passed: every invocation still running is answered 503 `shutting-down` now
   * (its channels end with that reason and its handler's signal aborts); returns how many.
   */
  cutOff(drainMs: number): number;
}

export function createPipeline(host: PipelineHost): Pipeline {
  const deadlines = new Deadlines();
  /** Asynchronous invocations running now, on every generation (server.maxInFlight caps it). */
  const load: Load = { inFlight: 0 };

  function execute(request: InvokeRequest, sink?: ResponseSink): InvokeResponse | Promise<InvokeResponse> | undefined {
    const tracer = host.tracing?.tracer();
    if (tracer === undefined) return executeCall(request, sink, undefined);
    return traced(request, sink, tracer);
  }

  /** execute(), inside the call's span (an OpenTelemetry SDK is registered). */
  function traced(request: InvokeRequest, sink: ResponseSink | undefined, tracer: NonNullable<ReturnType<Tracing["tracer"]>>): InvokeResponse | Promise<InvokeResponse> | undefined {
    let call: InvokeRequest;
    let info: CallInfo;
    try {
      // The span carries the request id: one made now is the one the handler and the log see.
      call = request.requestId === undefined ? { ...request, requestId: requestIdFrom(readHeader(request.headers, "x-request-id")) } : request;
      const name = call.cmd === PYFUNC_COMMAND ? readHeader(call.headers, "pyfunc") || call.cmd : call.cmd;
      const known = isKnownMethod(name, host.current().commands);
      info = { method: known ? name : undefined, name, transport: call.transport ?? "in-process", window: call.window || "main", requestId: call.requestId!, headers: call.headers };
    } catch {
      // Headers an in-process caller made to throw when read: the call goes on untraced, as it would without a tracer.
      return executeCall(request, sink, undefined);
    }
    return host.tracing!.run(tracer, info, call, executeCall, sink, call.traced);
  }

  /** Steps 1 to 5; `trace`: the call's span ids when it is traced (its log lines carry them). */
  function executeCall(request: InvokeRequest, sink: ResponseSink | undefined, trace: TraceSlot | undefined): InvokeResponse | Promise<InvokeResponse> | undefined {
    const generation = host.current();
    let name = request.cmd;
    // With a token configured, Authorization carries the gateway's token: not the handler's business.
    let omitHeaders: readonly string[] | undefined = generation.settings.token === undefined && generation.access?.spec.auth === undefined ? undefined : WITHOUT_TOKEN;
    if (name === PYFUNC_COMMAND) {
      const target = readHeader(request.headers, "pyfunc");
      if (!target) return rejections.badRequest(`${PYFUNC_COMMAND} needs the function name in header "pyfunc"`);
      name = target;
      omitHeaders = omitHeaders === undefined ? WITHOUT_PYFUNC : [...omitHeaders, ...WITHOUT_PYFUNC];
    }
    const command = generation.commands.get(name);
    if (command === undefined) {
      // Pages may listen while the app is not ready: that is how they hear gateway://reload.
      if (name.startsWith(EVENT_PLUGIN)) return eventCommand(name.slice(EVENT_PLUGIN.length), request);
      if (generation.notReady !== undefined) return rejections.notReady(generation.notReady);
      return rejections.unknownCommand(name);
    }
    const windowLabel = request.window || "main";
    if (command.windows !== undefined && !command.windows.has(windowLabel)) return rejections.notAllowed(name, windowLabel);
    if (generation.access !== undefined) {
      const refused = host.access.admitCall(generation, request.caller ?? ANONYMOUS_LOCAL, windowLabel, name);
      if (refused instanceof Promise) {
        // Limits kept in Redis: the rest of the pipeline runs once the bucket has answered.
        const later = refused.then((r) => r ?? run(request, generation, command, name, windowLabel, omitHeaders, sink, trace));
        if (sink === undefined) return later as Promise<InvokeResponse>;
        later.then((r) => r !== undefined && sink.respond(r), (error: unknown) => sink.respond(failure(error, command, host, request)));
        return undefined;
      }
      if (refused !== undefined) return refused;
    }
    return run(request, generation, command, name, windowLabel, omitHeaders, sink, trace);
  }

  /** Steps 3 to 5, for a call that may go ahead. */
  function run(
    request: InvokeRequest,
    generation: Generation,
    command: CommandDef,
    name: string,
    windowLabel: string,
    omitHeaders: readonly string[] | undefined,
    sink: ResponseSink | undefined,
    trace: TraceSlot | undefined,
  ): InvokeResponse | Promise<InvokeResponse> | undefined {
    const settings = generation.settings;
    if (load.inFlight >= settings.maxInFlight) return rejections.overloaded(settings.maxInFlight);

    let body = request.body;
    if (command.body.kind === "binary") {
      body = asBytes(body);
      if (body === undefined) return rejections.badRequest(`"${name}" takes a binary body (application/octet-stream)`);
    } else {
      if (body === undefined) body = {};
      else if (isBytes(body)) {
        const parsed = jsonFromBytes(body, settings.maxDepth);
        if (!parsed.ok) return parsed;
        body = parsed.value;
      }
      const validate = command.body.validate;
      if (validate !== undefined) {
        const refused = validateBody(validate, body, name);
        if (refused !== undefined) return refused;
      }
    }

    let channels: Channel[] | undefined;
    if (command.channelFields.size > 0) {
      const page = request.page;
      if (page === undefined || !page.open) return rejections.badRequest(`"${name}" streams on a channel, which needs the page's WebSocket (load /__gateway/tauri.js)`);
      channels = [];
      body = withChannels(body, command, page, generation, channels, host.channelCounts);
    }

    const invocation = new Invocation(body, request.headers, omitHeaders, windowLabel, command, host, channels, request.caller?.principal ?? null, request.requestId, trace);
    if (channels !== undefined) invocation.abortWhenGone(request.page!);
    let result: unknown;
    let threw = false;
    // Two clock reads per call: the only way to see a handler that holds the loop, since no
    // timer (and so no time limit) can run until it returns.
    const started = performance.now();
    try {
      result = command.handler(invocation);
    } catch (thrown) {
      threw = true;
      result = thrown;
    }
    const heldMs = performance.now() - started;
    if (heldMs > command.timeoutMs) return heldPastLimit(invocation, command, host, result, threw, heldMs);
    if (threw) {
      invocation.closeChannels();
      return failure(result, command, host, invocation);
    }
    // A synchronous handler is done before any reload can retire its generation: no bookkeeping.
    let thenable: boolean;
    try {
      thenable = isThenable(result);
    } catch (thrown) {
      thenable = false; // a Proxy whose `then` getter throws: a value like any other, which validation judges
    }
    if (!thenable) {
      invocation.closeChannels();
      return completeSafely(result, command, host, invocation);
    }
    return invocation.await(result as PromiseLike<unknown>, deadlines, request.signal, generation.usage, load, sink, started);
  }

  function eventCommand(command: string, request: InvokeRequest): InvokeResponse {
    const generation = host.current();
    let args: unknown = request.body ?? {};
    if (isBytes(args)) {
      const parsed = jsonFromBytes(args, generation.settings.maxDepth);
      if (!parsed.ok) return parsed;
      args = parsed.value;
    }
    const caller = request.caller ?? ANONYMOUS_LOCAL;
    const window = request.window || "main";
    const admit = generation.access === undefined ? undefined : (action: "listen" | "emit", event: string) => host.access.admitEvent(generation, caller, window, action, event);
    // The caller and window go with a page's listener: asked again when events are delivered to
    // it. A call on the page's own socket is the page's caller, which a reload may update (new
    // roles: AccessControl.recheck), so the listener reads it from the page.
    const page = request.page as { caller?: Caller } | undefined;
    const owner = page !== undefined && page.caller === caller ? { get caller() { return page.caller!; }, window } : { caller, window };
    return host.events.command(command, args, request.page, admit, owner);
  }

  return {
    execute: execute as Pipeline["execute"],
    invokeHandler: (request) => Promise.resolve(execute(request) as InvokeResponse | Promise<InvokeResponse>),
    stop: () => deadlines.stop(),
    get inFlight() {
      return load.inFlight;
    },
    cutOff(drainMs: number): number {
      // Every asynchronous invocation still running is in a deadline list until it answers.
      const running = deadlines.takeAll() as Invocation[];
      for (const invocation of running) invocation.cutOff(drainMs);
      return running.length;
    },
  };
}

/** An Invocation's span ids (a #private field, out of the handler's sight); set by its class. */
let traceOf: (call: object) => TraceSlot | undefined;

/**
 * The handler's one argument, and the invocation's bookkeeping while its handler runs. The
 * bookkeeping's state is in #private fields, out of the way of a handler that spreads or logs
 * its argument.
 */
class Invocation extends DeadlineEntry implements Invoke<unknown> {
  readonly body: unknown;
  #headers: InvokeHeaders | undefined;
  readonly #rawHeaders: HeadersInput | undefined;
  readonly #omitHeaders: readonly string[] | undefined;
  readonly #windowLabel: string;
  readonly #command: CommandDef;
  readonly #host: PipelineHost;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  /** Who gets the answer: a promise's resolve, or a transport's sink. */
  #resolve: ((response: InvokeResponse) => void) | undefined;
  #sink: ResponseSink | undefined;
  #answered = false;
  #deadlines: Deadlines | undefined;
  #callerSignal: CallerSignal | undefined;
  #usage: Usage | undefined;
  #load: Load | undefined;
  readonly #channels: Channel[] | undefined;
  #forgetPage: (() => void) | undefined;
  /** When its handler was called (performance.now()): the deadlines' own clock may be a held turn behind. */
  #started = 0;
  readonly principal: Principal | null;
  #requestId: string | undefined;
  /** The call's span ids when it is traced, for its log lines. */
  readonly #trace: TraceSlot | undefined;

  static {
    traceOf = (call) => (#trace in call ? call.#trace : undefined);
  }

  constructor(
    body: unknown,
    headers: HeadersInput | undefined,
    omitHeaders: readonly string[] | undefined,
    windowLabel: string,
    command: CommandDef,
    host: PipelineHost,
    channels: Channel[] | undefined,
    principal: Principal | null,
    requestId: string | undefined,
    trace: TraceSlot | undefined,
  ) {
    super();
    this.principal = principal;
    this.#requestId = requestId;
    this.#trace = trace;
    this.body = body;
    this.#rawHeaders = headers;
    this.#omitHeaders = omitHeaders;
    this.#windowLabel = windowLabel;
    this.#command = command;
    this.#host = host;
    this.#channels = channels;
  }

  /** Normalized on first use: most handlers never look at them. */
  get headers(): InvokeHeaders {
    return (this.#headers ??= normalizeHeaders(this.#rawHeaders, this.#omitHeaders));
  }

  /**
   * HTTP and WebSocket give it (they return it, refusals before the pipeline included). Otherwise
   * (in-process without one, a transport of one's own) it is read from the headers or made on
   * first use: a call nobody asks about (no handler reading it, nothing logged) costs nothing.
   */
  get requestId(): string {
    return (this.#requestId ??= requestIdFrom(readHeader(this.#rawHeaders, "x-request-id")));
  }

  /** The request id when a transport gave one (a log line about the call names it), without making one; static: not on the handler's argument. */
  static requestIdOf(invocation: Invocation): string | undefined {
    return invocation.#requestId;
  }

  get window(): WindowHandle {
    return this.#host.events.window(this.#windowLabel);
  }

  get app(): AppHandle {
    return this.#host.events.app;
  }

  /** Built on first use: an AbortController costs ~3 µs, more than the whole pipeline. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** A page that goes away mid-stream aborts the handler (its channels reject further sends). */
  abortWhenGone(page: PageLink): void {
    this.#forgetPage = page.onClose(() => this.abort(new DOMException("the page went away", "AbortError")));
  }

  /** The handler is done: its channels send their end markers (after what they queued). */
  closeChannels(): void {
    if (this.#channels === undefined) return;
    this.#forgetPage?.();
    // A page gone meanwhile rejects the end marker; its channels already failed with that reason.
    for (const channel of this.#channels) channel.close().catch(ignoreGone);
  }

  /**
   * The response once the handler's promise settles, or a timeout at the command's time limit.
   * No closures here: tsx (which runs the gateway's source) names every closure it creates with
   * a defineProperty call, and on this path that cost more than everything else together.
   */
  await(
    result: PromiseLike<unknown>,
    deadlines: Deadlines,
    callerSignal: CallerSignal | undefined,
    usage: Usage,
    load: Load,
    sink: ResponseSink | undefined,
    started: number,
  ): Promise<InvokeResponse> | undefined {
    this.#started = started;
    let promise: Promise<InvokeResponse> | undefined;
    if (sink !== undefined) this.#sink = sink;
    else {
      promise = new Promise<InvokeResponse>(captureResolve);
      this.#resolve = capturedResolve;
    }
    this.#deadlines = deadlines;
    // The generation stays in use (its modules are not disposed) until this invocation answers.
    this.#usage = usage;
    usage.inFlight++;
    this.#load = load;
    load.inFlight++;
    deadlines.add(this, this.#command.timeoutMs);
    if (callerSignal !== undefined) {
      this.#callerSignal = callerSignal;
      callerSignal.addEventListener("abort", this, { once: true });
    }
    // Bound methods rather than an async function awaiting `result`: measurably cheaper here.
    try {
      result.then(this.#fulfilled.bind(this), this.#rejected.bind(this));
    } catch (thrown) {
      this.#rejected(thrown); // a thenable whose then() throws
    }
    return promise;
  }

  #fulfilled(value: unknown): void {
    this.#settled(completeSafely(value, this.#command, this.#host, this));
  }

  #rejected(thrown: unknown): void {
    this.#settled(failure(thrown, this.#command, this.#host, this));
  }

  #settled(response: InvokeResponse): void {
    if (this.#answered) return; // timed out already
    const deadlines = this.#deadlines!;
    deadlines.remove(this);
    this.#callerSignal?.removeEventListener("abort", this);
    // Well past its time limit with no sweep since (the loop did not turn, or the sweep would have
    // timed it out): the loop was held. Answered as the sweep would have answered it, and said.
    const command = this.#command;
    const now = performance.now();
    const deadline = this.#started + command.timeoutMs;
    if (now > deadline + HELD_MARGIN_MS && deadlines.sweptAt < deadline) {
      this.#host.heldLoop?.(command, now - this.#started, "turn", this.#requestId);
      this.abort(new DOMException(`"${command.name}" timed out`, "TimeoutError"));
      return this.#answer(rejections.timeout(command.name, command.timeoutMs));
    }
    this.#answer(response);
  }

  #answer(response: InvokeResponse): void {
    this.#answered = true;
    this.closeChannels();
    this.#load!.inFlight--;
    const usage = this.#usage!;
    if (--usage.inFlight === 0) usage.idle?.();
    if (this.#sink !== undefined) this.#sink.respond(response);
    else this.#resolve!(response);
  }

  /** The caller went away (this object is the EventListener, so no closure is made per invocation). */
  handleEvent(): void {
    this.abort(new DOMException("the caller went away", "AbortError"));
  }

  /** The gateway stopped and server.drain passed: answered 503 shutting-down, channels ended with that reason. */
  cutOff(drainMs: number): void {
    if (this.#answered) return;
    this.#callerSignal?.removeEventListener("abort", this);
    const why = "the gateway is shutting down";
    if (this.#channels !== undefined) {
      this.#forgetPage?.();
      for (const channel of this.#channels) channel.end(why);
    }
    this.abort(new DOMException(why, "AbortError"));
    this.#answer(rejections.shuttingDown(this.#command.name, drainMs));
  }

  override expire(): void {
    if (this.#answered) return;
    this.#callerSignal?.removeEventListener("abort", this);
    this.abort(new DOMException(`"${this.#command.name}" timed out`, "TimeoutError"));
    this.#answer(rejections.timeout(this.#command.name, this.#command.timeoutMs));
  }
}

let capturedResolve: ((response: InvokeResponse) => void) | undefined;
function captureResolve(resolve: (response: InvokeResponse) => void): void {
  capturedResolve = resolve;
}

/** How many asynchronous invocations are running, across generations. */
interface Load {
  inFlight: number;
}

/** JSON sent as bytes (pyInvoke sends its body so), or the bad-request it earns. */
function jsonFromBytes(bytes: unknown, maxDepth: number): { ok: true; value: unknown } | Rejection {
  const parsed = parseJson(asBytes(bytes)!, maxDepth);
  return parsed.ok ? parsed : rejections.badRequest(parsed.message);
}

/**
 * The body's schema applied, or the rejection. Over HTTP and WebSocket the body's depth is
 * bounded before it gets here; an in-process caller can pass anything (a value thousands of
 * levels deep, a getter that throws), and that must not escape as an exception.
 */
function validateBody(validate: Validator, body: unknown, command: string): Rejection | undefined {
  try {
    if (validate(body)) return undefined;
  } catch (thrown) {
    return rejections.badRequest(`the body of "${command}" could not be validated: ${describeThrown(thrown)}`);
  }
  return rejections.invalidBody(command, schemaErrorDetails(validate.errors));
}

/** The body with each channel field ("__CHANNEL__:<id>") replaced by a Channel to `page`. */
function withChannels(body: unknown, command: CommandDef, page: PageLink, generation: Generation, channels: Channel[], counts: ChannelCounts | undefined): unknown {
  const make = (wire: unknown, channelName: string) => {
    const channel = new Channel(page, channelId(wire)!, generation.channels.get(channelName)!, generation.settings.maxDepth, counts);
    channels.push(channel);
    return channel;
  };
  let result = body;
  for (const [field, channelName] of command.channelFields) {
    if (field === "") result = make(result, channelName);
    else if (typeof result === "object" && result !== null && field in result) {
      result = { ...(result as object), [field]: make((result as Record<string, unknown>)[field], channelName) };
    }
  }
  return result;
}

/** Validate what the handler returned and make it the response. */
function complete(value: unknown, command: CommandDef, host: PipelineHost, call: Call): InvokeResponse {
  if (value === undefined) value = null;
  const returns = command.returns;
  if (returns.kind === "binary") {
    const bytes = asBytes(value);
    if (bytes === undefined) {
      return rejections.invalidReturn(command.name, [{ instancePath: "", keyword: "binary", message: "must be bytes (a Uint8Array)", params: {} }]);
    }
    return { ok: true, value: bytes };
  }
  const validate = returns.validate;
  if (validate !== undefined && !validate(value)) {
    const errors = schemaErrorDetails(validate.errors);
    host.logger.error(`command "${command.name}" returned a value that does not match its returns schema: ${errors[0]?.instancePath || "(root)"} ${errors[0]?.message}`, undefined, fieldsOf(call));
    return rejections.invalidReturn(command.name, errors);
  }
  return { ok: true, value };
}

/**
 * The handler's own call held the event loop past the command's time limit: the caller gets what
 * a time limit gives (504 timeout, the signal aborted, channels ended), whatever the handler
 * returned or threw (a throw is still logged), and the host is told.
 */
function heldPastLimit(invocation: Invocation, command: CommandDef, host: PipelineHost, result: unknown, threw: boolean, heldMs: number): Rejection {
  host.heldLoop?.(command, heldMs, "call", Invocation.requestIdOf(invocation));
  if (threw) failure(result, command, host, invocation);
  else {
    try {
      // An async handler's promise, never awaited now: its rejection must not go unhandled.
      if (isThenable(result)) result.then(undefined, ignoreGone);
    } catch {
      // a thenable whose then() throws: nothing will settle
    }
  }
  invocation.abort(new DOMException(`"${command.name}" timed out`, "TimeoutError"));
  invocation.closeChannels();
  return rejections.timeout(command.name, command.timeoutMs);
}

/** complete(), with a returns validator that throws (a getter, a Proxy, a value too deep) made a rejection. */
function completeSafely(value: unknown, command: CommandDef, host: PipelineHost, call: Call): InvokeResponse {
  try {
    return complete(value, command, host, call);
  } catch (thrown) {
    return failure(thrown, command, host, call);
  }
}

/** What the caller gets for a throw. Whatever was thrown, this never throws itself. */
function failure(thrown: unknown, command: CommandDef, host: PipelineHost, call: Call): Rejection {
  let invokeError = false;
  try {
    invokeError = isInvokeError(thrown);
  } catch {
    // a Proxy that throws on property access: not an InvokeError
  }
  if (invokeError) return declaredError((thrown as { value: unknown }).value, command, host, call);
  const described = describeThrown(thrown);
  try {
    host.logger.error(`command "${command.name}" (${command.source}) threw`, thrown === undefined ? "undefined" : thrown, fieldsOf(call));
  } catch {
    safeLog(host, `command "${command.name}" (${command.source}) threw: ${described}`, call);
  }
  let detail: string | undefined;
  if (host.dev) {
    try {
      detail = thrown instanceof Error ? String(thrown.message) : described;
    } catch {
      detail = described;
    }
  }
  return rejections.internal(command.name, detail);
}

/** An InvokeError's value, checked against the command's `errors:` schema when it declares one. */
function declaredError(value: unknown, command: CommandDef, host: PipelineHost, call: Call): Rejection {
  const validate = command.errors.kind === "json" ? command.errors.validate : undefined;
  if (validate === undefined) return rejections.invokeError(value);
  let valid: boolean;
  try {
    valid = validate(value) as boolean;
  } catch (thrown) {
    safeLog(host, `command "${command.name}" rejected with a value its errors schema could not check: ${describeThrown(thrown)}`, call);
    return rejections.invalidError(command.name, [{ instancePath: "", keyword: "errors", message: "could not be checked", params: {} }]);
  }
  if (valid) return rejections.invokeError(value);
  const errors = schemaErrorDetails(validate.errors);
  safeLog(host, `command "${command.name}" rejected with an InvokeError value that its errors schema does not allow: ${errors[0]?.instancePath || "(root)"} ${errors[0]?.message}`, call);
  return rejections.invalidError(command.name, errors);
}

/** A logger that throws (a custom one, or console given an unprintable value) must not take the answer with it. */
function safeLog(host: PipelineHost, message: string, call: Call): void {
  try {
    host.logger.error(message, undefined, fieldsOf(call));
  } catch {
    // nothing left to tell
  }
}

/**
 * The call a log line is about: its Invocation, or (a throw before there is one, as the access
 * check's own) the request, whose id is then known only when its transport gave one.
 */
type Call = { readonly requestId?: string | undefined };

/** The log fields of a line about one call: its request id, and its trace's ids when it is traced. */
function fieldsOf(call: Call): { requestId: string; traceId?: string; spanId?: string } | undefined {
  const requestId = call.requestId;
  if (requestId === undefined) return undefined;
  const trace = traceOf(call) ?? (call as { traced?: TraceSlot }).traced;
  return trace?.traceId === undefined ? { requestId } : { requestId, traceId: trace.traceId, spanId: trace.spanId! };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}

function ignoreGone(): void {}
