// An invocation's response as bytes for the wire, the same for HTTP and the WebSocket. A value
// that cannot be sent (circular, BigInt, too deep) never reaches a socket: the caller gets
// `invalid-return` (for a returned value) or `internal` (for an InvokeError's value), and the log
// names the command.
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { asBytes, isBytes, toJson } from "../runtime/codec.ts";
import { rejections, type Rejection } from "../runtime/errors.ts";
import type { Logger } from "../runtime/logger.ts";
import type { InvokeResponse } from "../runtime/types.ts";

export type EncodedResponse = (
  | { ok: boolean; status: number; json: string; bytes?: undefined }
  | { ok: true; status: 200; bytes: Uint8Array; json?: undefined }
) & {
  /** For the log: "ok", the gateway's error kind, or "invoke-error" for a handler's InvokeError. */
  outcome: string;
};

export function encodeResponse(response: InvokeResponse, cmd: string, maxDepth: number, logger: Logger): EncodedResponse {
  try {
    return encode(response, cmd, maxDepth, logger);
  } catch (error) {
    // A value that throws when merely looked at (a revoked Proxy): nothing of it can be sent.
    try {
      logger.error(`command "${cmd}" answered with a value that cannot be inspected`, error);
    } catch {
      // the logger failed too; the caller still gets an answer
    }
    return encodeRejection(rejections.internal(cmd, "its value cannot be sent"));
  }
}

function encode(response: InvokeResponse, cmd: string, maxDepth: number, logger: Logger): EncodedResponse {
  if (response.ok) {
    const value = response.value;
    if (isBytes(value)) return { ok: true, status: 200, bytes: asBytes(value)!, outcome: "ok" };
    const json = toJson(value, maxDepth);
    if (json.ok) return { ok: true, status: 200, json: json.text, outcome: "ok" };
    logger.error(`command "${cmd}" returned a value that cannot be sent as JSON: ${json.reason}`);
    return encodeRejection(rejections.unsendableReturn(cmd, json.reason));
  }
  const json = toJson(response.error, maxDepth);
  if (json.ok) return { ok: false, status: response.status, json: json.text, outcome: response.fromHandler ? "invoke-error" : kindOf(response.error) };
  logger.error(`command "${cmd}" rejected with a value that cannot be sent as JSON: ${json.reason}`);
  return encodeRejection(rejections.internal(cmd, `its InvokeError value cannot be sent as JSON: ${json.reason}`));
}

/** The gateway's own rejections are plain, shallow objects: always sendable. */
export function encodeRejection(rejection: Rejection): { ok: false; status: number; json: string; outcome: string } {
  return { ok: false, status: rejection.status, json: JSON.stringify(rejection.error), outcome: kindOf(rejection.error) };
}

/** The `kind` of one of the gateway's own rejection values. */
export function kindOf(error: unknown): string {
  const kind = typeof error === "object" && error !== null ? (error as { kind?: unknown }).kind : undefined;
  return typeof kind === "string" ? kind : "error";
}

/** Answer on a bare socket (a refused WebSocket upgrade, a request Node could not parse) and close it. */
export function endSocketWith(socket: Socket, rejection: Rejection): void {
  const text = encodeRejection(rejection).json;
  socket.end(
    `HTTP/1.1 ${rejection.status} ${STATUS_CODES[rejection.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
