// Thrown by a handler to reject the caller's promise with exactly `value`, as pytauri's
// InvokeException and Tauri's `Err(value)` do.

// A registered symbol rather than `instanceof` alone: an app may end up with two copies of this
// package (or a handler may be evaluated in another realm), and the rejection must still be
// recognised.
const INVOKE_ERROR = Symbol.for("ipc-gateway.InvokeError");

export class InvokeError extends Error {
  readonly value: unknown;

  constructor(value: unknown) {
    super(typeof value === "string" ? value : shown(value));
    this.name = "InvokeError";
    this.value = value;
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
