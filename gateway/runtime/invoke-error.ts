// Thrown by a handler to reject the caller's promise with exactly `value`, as pytauri's
// InvokeException and Tauri's `Err(value)` do.
import type { ErrorOf } from "./types.ts";

// A registered symbol rather than `instanceof` alone: an app may end up with two copies of this
// package (or a handler may be evaluated in another realm), and the rejection must still be
// recognised.
const INVOKE_ERROR = Symbol.for("ipc-gateway.InvokeError");

/**
 * Blocks inference: `new InvokeError(value)` keeps `E` at its default (`unknown`: anything goes,
 * `.value` is unknown) instead of taking it from `value`, whose type could be read as a command's
 * name (`new InvokeError(reason)` with `reason: "divide"` would then demand divide's error type).
 * (Not the built-in `NoInfer`, which needs TypeScript 5.4.)
 */
type Given<T> = [T][T extends unknown ? 0 : never];

/**
 * `throw new InvokeError(value)`: the caller's promise rejects with exactly `value`.
 * `new InvokeError<"divide">(value)` types `value` by the command's `errors:` schema (through the
 * declarations `gateway types --handlers` writes; `unknown` for a command without one), and
 * `new InvokeError<{ code: number }>(value)` by the type given.
 */
export class InvokeError<E = unknown> extends Error {
  readonly value: ErrorOf<E>;

  constructor(value: Given<ErrorOf<E>>) {
    super(typeof value === "string" ? value : shown(value));
    this.name = "InvokeError";
    this.value = value as ErrorOf<E>;
  }

  static {
    Object.defineProperty(this.prototype, INVOKE_ERROR, { value: true });
  }
}

export function isInvokeError(thrown: unknown): thrown is InvokeError {
  return typeof thrown === "object" && thrown !== null && (thrown as Record<symbol, unknown>)[INVOKE_ERROR] === true;
}

/** The value as the error's message (for logs): its JSON when it has one, never a throw. */
function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    // circular, a BigInt, too deep: the caller's problem is reported when the value is sent
    return "(a value that cannot be shown as JSON)";
  }
}
