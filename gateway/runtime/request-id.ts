// Request ids (CONTRACT §9.1): the caller's `x-request-id` when it is 1 to 128 printable ASCII
// characters (0x21-0x7e: no space, no control character, nothing a log line could be split or
// forged with), else one made here. Every invocation has one: handlers read it as `requestId`,
// every log line of the call carries it, and HTTP and WebSocket answers return it.
import { randomBytes } from "node:crypto";

/** The longest id kept as given; a longer one is replaced, not cut (a cut id would match nothing upstream). */
export const MAX_REQUEST_ID = 128;

/**
 * Made ids are this process's random prefix and a counter: unique across instances (48 random
 * bits per process) and cheap (a string concatenation, where crypto.randomUUID() costs several
 * times more per call; bench figures in docs/protocol.md). Being a counter, they also say the
 * order in which one instance received its calls.
 */
const PREFIX = randomBytes(6).toString("hex") + "-";
let counter = 0;

/** A new id, made here. */
export function newRequestId(): string {
  return PREFIX + ++counter; // decimal: half the cost of toString(36)
}

/** Is this a request id the gateway keeps as given? */
export function isValidRequestId(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const length = value.length;
  if (length === 0 || length > MAX_REQUEST_ID) return false;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/** The caller's id when it may be kept, else a new one (`given` is a header's value, or anything). */
export function requestIdFrom(given: unknown): string {
  return isValidRequestId(given) ? given : newRequestId();
}
