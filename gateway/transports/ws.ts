// The WebSocket /ipc/ws: one connection per page. It carries pushes to the page (channel
// messages, events, eval, replies) and invocations from it (the page's `plugin:event|*` calls,
// which is how pages listen and emit), through the same invoke pipeline as HTTP.
// Frames are documented in docs/protocol.md.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { STATUS_CODES } from "node:http";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { rejections, type Rejection } from "../errors.ts";
import { isBytes, asBytes, parseJson } from "../codec.ts";
import { Page } from "../pages.ts";
import type { HttpContext } from "./http.ts";
import type { Guard } from "./guard.ts";
import type { InvokeResponse } from "../types.ts";

/** A page that answers no ping for this long is dropped (its listeners and channels with it). */
const PING_INTERVAL_MS = 30_000;
/** Largest frame a page may send. */
const MAX_FRAME_BYTES = 1024 * 1024;

export class WebSocketTransport {
  private readonly server = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES, clientTracking: true });
  private readonly alive = new WeakSet<WebSocket>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly context: HttpContext,
    private readonly guard: Guard,
  ) {
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://gateway");
    if (url.pathname !== "/ipc/ws") return refuse(socket, 404, { kind: "not-found", message: `no WebSocket at ${url.pathname}` });
    const host = req.headers.host;
    if (!this.guard.hostAllowed(host)) return refuse(socket, rejections.forbiddenHost(host ?? "(none)"));
    const origin = req.headers.origin;
    if (origin !== undefined && !this.guard.originAllowed(origin, host)) return refuse(socket, rejections.forbiddenOrigin(origin));
    // Browsers cannot set Authorization on a WebSocket: the token may come as ?token=.
    if (!this.guard.authorized(req.headers.authorization, url.searchParams.get("token"))) return refuse(socket, rejections.unauthorized());
    const label = url.searchParams.get("window") || "main";
    this.server.handleUpgrade(req, socket, head, (ws) => this.connected(ws, label, origin));
  }

  /** Close every page's socket (the gateway is stopping). */
  close(): void {
    clearInterval(this.pinger);
    for (const ws of this.server.clients) ws.close(1001, "gateway stopping");
  }

  private connected(ws: WebSocket, label: string, origin: string | undefined): void {
    const page = new Page(ws, label, origin);
    this.context.pages.add(page);
    this.alive.add(ws);
    ws.on("pong", () => this.alive.add(ws));
    ws.on("error", (error) => this.context.logger.warn(`page ${label}: ${error.message}`));
    ws.on("message", (data: RawData, isBinary: boolean) => this.received(page, data, isBinary));
    page.send({ type: "hello", page: page.id, window: label, generation: this.context.current().id });
  }

  private received(page: Page, data: RawData, isBinary: boolean): void {
    if (isBinary) return void page.send({ type: "error", error: rejections.badRequest("binary frames are not accepted from pages").error });
    const parsed = parseJson(data as Buffer);
    const frame = parsed.ok ? (parsed.value as Record<string, unknown>) : undefined;
    if (!frame || typeof frame !== "object" || frame.type !== "invoke" || typeof frame.cmd !== "string") {
      return void page.send({ type: "error", error: rejections.badRequest(parsed.ok ? 'a frame is { "type": "invoke", "rid", "cmd", "body" }' : parsed.message).error });
    }
    const rid = frame.rid;
    const response = this.context.pipeline.execute({
      cmd: frame.cmd,
      body: frame.body,
      headers: typeof frame.headers === "object" && frame.headers !== null ? (frame.headers as Record<string, string>) : undefined,
      window: page.label,
      page,
    });
    if (response instanceof Promise) response.then((r) => reply(page, rid, r));
    else reply(page, rid, response);
  }

  private ping(): void {
    for (const ws of this.server.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }
}

function reply(page: Page, rid: unknown, response: InvokeResponse): void {
  if (!response.ok) return void page.send({ type: "reply", rid, ok: false, status: response.status, error: response.error });
  if (isBytes(response.value)) return void page.sendBinary({ type: "reply", rid, ok: true }, asBytes(response.value)!);
  page.send({ type: "reply", rid, ok: true, value: response.value ?? null });
}

function refuse(socket: Socket, rejection: Rejection | number, body?: unknown): void {
  const status = typeof rejection === "number" ? rejection : rejection.status;
  const text = JSON.stringify(typeof rejection === "number" ? body : rejection.error);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
