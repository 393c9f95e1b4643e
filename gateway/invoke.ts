// The invoke pipeline: the only place a handler is called. Every transport (HTTP, WebSocket,
// in-process) hands an InvokeRequest to the function made here and encodes what comes back.
//
//   1. take the current generation (an invocation finishes on the generation it started on)
//   2. route pyInvoke, find the command, check the window may call it
//   3. decode and validate the body
//   4. call the handler with { body, headers, window, app, signal }, within its time limit
//   5. validate the return value
import { rejections, schemaErrorDetails, type Rejection } from "./errors.ts";
import { asBytes, isBytes, normalizeHeaders, parseJson, withoutHeader } from "./codec.ts";
import { isInvokeError } from "./invoke-error.ts";
import type { CommandDef, Generation } from "./generation.ts";
import type { AppHandle, Invoke, InvokeHandler, InvokeHeaders, InvokeRequest, InvokeResponse, WindowHandle } from "./types.ts";

/** pytauri's `pyInvoke(name, body)` calls this command with the function's name in header `pyfunc`. */
export const PYFUNC_COMMAND = "plugin:pytauri|pyfunc";

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface PipelineHost {
  /** The generation new invocations start on. */
  current(): Generation;
  window(label: string): WindowHandle;
  readonly app: AppHandle;
  /** `gateway dev`: internal errors carry the original message to the caller. */
  readonly dev: boolean;
  readonly logger: Logger;
}

export function createInvokeHandler(host: PipelineHost): InvokeHandler {
  return async function invokeHandler(request: InvokeRequest): Promise<InvokeResponse> {
    const generation = host.current();
    let name = request.cmd;
    let headers = normalizeHeaders(request.headers);
    if (name === PYFUNC_COMMAND) {
      const target = headers.pyfunc;
      if (!target) return rejections.badRequest(`${PYFUNC_COMMAND} needs the function name in header "pyfunc"`);
      name = target;
      headers = withoutHeader(headers, "pyfunc");
    }
    const command = generation.commands.get(name);
    if (command === undefined) return rejections.unknownCommand(name);
    const windowLabel = request.window || "main";
    if (command.windows !== undefined && !command.windows.has(windowLabel)) return rejections.notAllowed(name, windowLabel);

    let body = request.body;
    if (command.body.kind === "binary") {
      body = asBytes(body);
      if (body === undefined) return rejections.badRequest(`"${name}" takes a binary body (application/octet-stream)`);
    } else {
      if (body === undefined) body = {};
      else if (isBytes(body)) {
        const parsed = parseJson(asBytes(body)!);
        if (!parsed.ok) return rejections.badRequest(parsed.message);
        body = parsed.value;
      }
      const validate = command.body.validate;
      if (validate !== undefined && !validate(body)) return rejections.invalidBody(name, schemaErrorDetails(validate.errors));
    }

    const invocation = new Invocation(body, headers, windowLabel, host);
    const onCallerGone = request.signal && (() => invocation.abort(new DOMException("the caller went away", "AbortError")));
    if (onCallerGone) request.signal!.addEventListener("abort", onCallerGone, { once: true });
    let value: unknown;
    try {
      value = await call(command, invocation);
    } catch (thrown) {
      return failure(thrown, command, host);
    } finally {
      if (onCallerGone) request.signal!.removeEventListener("abort", onCallerGone);
    }

    if (value === undefined) value = null;
    const returns = command.returns;
    if (returns.kind === "binary") {
      const bytes = asBytes(value);
      if (bytes === undefined) {
        return rejections.invalidReturn(name, [{ instancePath: "", keyword: "binary", message: "must be bytes (a Uint8Array)", params: {} }]);
      }
      return { ok: true, value: bytes };
    }
    const validate = returns.validate;
    if (validate !== undefined && !validate(value)) {
      const errors = schemaErrorDetails(validate.errors);
      host.logger.error(`command "${name}" returned a value that does not match its returns schema: ${errors[0]?.instancePath || "(root)"} ${errors[0]?.message}`);
      return rejections.invalidReturn(name, errors);
    }
    return { ok: true, value };
  };
}

/** The handler's one argument. Costly parts (the AbortSignal, window and app handles) are built on first use. */
class Invocation implements Invoke<unknown> {
  private controller: AbortController | undefined;
  private abortReason: unknown;

  constructor(
    readonly body: unknown,
    readonly headers: InvokeHeaders,
    private readonly windowLabel: string,
    private readonly host: PipelineHost,
  ) {}

  get window(): WindowHandle {
    return this.host.window(this.windowLabel);
  }

  get app(): AppHandle {
    return this.host.app;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

/** Marks a handler that ran past its time limit. */
class TimedOut {
  constructor(readonly limitMs: number) {}
}

function call(command: CommandDef, invocation: Invocation): unknown {
  const result = command.handler(invocation);
  if (!isThenable(result)) return result; // a synchronous handler needs no timer
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      invocation.abort(new DOMException(`"${command.name}" timed out`, "TimeoutError"));
      reject(new TimedOut(command.timeoutMs));
    }, command.timeoutMs);
    result.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function failure(thrown: unknown, command: CommandDef, host: PipelineHost): Rejection {
  if (isInvokeError(thrown)) return rejections.invokeError(thrown.value);
  if (thrown instanceof TimedOut) return rejections.timeout(command.name, thrown.limitMs);
  host.logger.error(`command "${command.name}" (${command.source}) threw`, thrown);
  const detail = host.dev ? (thrown instanceof Error ? thrown.message : String(thrown)) : undefined;
  return rejections.internal(command.name, detail);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}
