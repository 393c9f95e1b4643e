// The WebSocket /ipc/ws: one connection per page. It carries pushes to the page (channel
// messages, events, eval, replies) and invocations from it (the page's `plugin:event|*` calls,
// which is how pages listen and emit), through the same invoke pipeline as HTTP.
// Frames are documented in docs/protocol.md.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { rejections, type Rejection } from "../runtime/errors.ts";
import { parseJson, readHeader } from "../runtime/codec.ts";
import { newRequestId, requestIdFrom } from "../runtime/request-id.ts";
import { decodeBinaryFrame, decodeFrame, leadingRid, type InvokeFrame } from "../runtime/frames.ts";
import { closeReason, LOW_WATER_BYTES, Page } from "../runtime/pages.ts";
import { encodeResponse, endSocketWith } from "./encode.ts";
import type { HttpContext } from "./http.ts";
import type { Guard } from "./guard.ts";
import type { RefusalHints } from "./hints.ts";
import type { InvokeResponse, TraceSlot } from "../runtime/types.ts";
import { elapsedMs, type InvocationLog } from "../runtime/logger.ts";
import { invokedName } from "./invoked-name.ts";
import type { AuthOutcome, Credentials } from "../access/authenticate.ts";
import { credentialsOf } from "./credentials.ts";
import type { Caller } from "../access/principal.ts";

/** A page that answers no ping for this long is dropped (its listeners and channels with it). */
const PING_INTERVAL_MS = 30_000;
/** What a text frame may carry besides its body (type, rid, cmd, headers) within the body limit. */
const ENVELOPE_BYTES = 64 * 1024;
/**
 * Frames up to the body limit plus this are read and, when too large, answered 413 like HTTP;
 * larger ones close the socket (1009) before they are buffered.
 */
const FRAME_ALLOWANCE_BYTES = 1024 * 1024;

export class WebSocketTransport {
  private readonly server = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: true });
  private readonly alive = new WeakSet<WebSocket>();
  private readonly pageOf = new WeakMap<WebSocket, Page>();
  private readonly pinger: NodeJS.Timeout;
  private draining = false;

  constructor(
    private readonly context: HttpContext,
    private readonly guard: Guard,
    private readonly hints: RefusalHints,
  ) {
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // Node hands the socket over without its own error listener: a client that resets the
    // connection while we answer must not become an unhandled 'error'.
    socket.on("error", ignore);
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://gateway");
    } catch {
      return endSocketWith(socket, rejections.badRequest("the request's URL is not valid"));
    }
    if (url.pathname !== "/ipc/ws") return endSocketWith(socket, rejections.notFound(url.pathname));
    if (this.draining) return endSocketWith(socket, rejections.shuttingDown());
    const host = req.headers.host;
    if (!this.guard.hostAllowed(host)) {
      this.hints.refusedHost(host);
      return endSocketWith(socket, rejections.forbiddenHost(host ?? "(none)"));
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.guard.originAllowed(origin, host)) {
      this.hints.refusedOrigin(origin);
      return endSocketWith(socket, rejections.forbiddenOrigin(origin));
    }
    const label = url.searchParams.get("window") || "main";
    // Who the page is, checked once for the connection. Browsers cannot set Authorization on a
    // WebSocket: the credential may come as ?token= (or in auth.jwt's cookie).
    const credentials = credentialsOf(req, this.guard, this.context.current().settings.trustProxy, label, url.searchParams.get("token"));
    const auth = this.context.access.authenticate(this.context.current(), credentials);
    if (auth instanceof Promise) {
      auth.then(
        (outcome) => this.accept(req, socket, head, label, origin, outcome, credentials),
        (error: unknown) => {
          this.context.logger.error("gateway: authenticating a page's WebSocket failed", error);
          endSocketWith(socket, rejections.internal("(gateway)"));
        },
      );
    } else this.accept(req, socket, head, label, origin, auth, credentials);
  }

  private accept(req: IncomingMessage, socket: Socket, head: Buffer, label: string, origin: string | undefined, auth: AuthOutcome, credentials: Credentials): void {
    if (socket.destroyed) return;
    if (!auth.ok) {
      // A browser cannot read the status of a refused upgrade (it sees a socket that failed, as
      // when the gateway is down): a page (it sends Origin) gets the socket, closed at once with
      // 4401/4403 and the reason, so tauri.js can tell its caller. Other clients get the HTTP answer.
      if (origin === undefined || (auth.status !== 401 && auth.status !== 403)) return endSocketWith(socket, auth);
      this.server.handleUpgrade(req, socket, head, (ws) => ws.close(4000 + auth.status, refusalReason(auth)));
      return;
    }
    // Read when the connection is made: a reload's new body limit applies to the pages that connect after it.
    this.server.options.maxPayload = this.context.current().settings.bodyLimit + FRAME_ALLOWANCE_BYTES;
    this.server.handleUpgrade(req, socket, head, (ws) => this.connected(ws, label, origin, auth.caller, credentials));
  }

  /**
   * The gateway is draining: new sockets are refused (503 shutting-down: tauri.js retries, and
   * reaches another instance), and each page is closed once its own calls are answered.
   */
  drain(): void {
    this.draining = true;
    for (const ws of this.server.clients) {
      const page = this.pageOf.get(ws);
      if (page !== undefined) page.closeWhenIdle();
      else ws.close(1012, "gateway restarting; reconnect");
    }
  }

  /**
   * Close every page's socket (the gateway is stopping). After a drain their calls are answered
   * (or cut off with shutting-down); 1012 "service restart" is what tauri.js reconnects from.
   */
  close(): void {
    clearInterval(this.pinger);
    for (const ws of this.server.clients) ws.close(1012, "gateway restarting; reconnect");
  }

  private connected(ws: WebSocket, label: string, origin: string | undefined, caller: Caller, credentials: Credentials): void {
    const page = new Page(ws, label, origin, caller, credentials);
    const registered = this.context.pages.add(page);
    this.pageOf.set(ws, page);
    this.alive.add(ws);
    ws.on("pong", () => this.alive.add(ws));
    ws.on("error", (error) => this.context.logger.warn(`page ${label}: ${error.message}`));
    const debug = this.context.logger.debug;
    if (debug) {
      debug(`ws: page ${page.id} connected (window ${label}${origin === undefined ? "" : `, origin ${origin}`})`, { page: page.id, window: label, origin: origin ?? null });
      ws.once("close", (code: number) => this.context.logger.debug?.(`ws: page ${page.id} closed (${code})`, { page: page.id, window: label, code }));
    }
    ws.on("message", (data: RawData, isBinary: boolean) => {
      // Whatever a frame holds, the frame handler is where it stops.
      try {
        this.received(page, data, isBinary);
      } catch (error) {
        this.context.logger.error(`gateway: a frame from page ${page.id} (${label}) could not be handled`, error);
        refuseFrame(page, rejections.badRequest("the frame could not be handled"));
      }
    });
    const hello = () => page.send({ type: "hello", page: page.id, window: label, generation: this.context.current().id });
    // With a bus, the page's id goes out once other instances can find it (an HTTP invocation
    // naming it may land on any of them).
    if (registered === undefined) hello();
    else void registered.then(hello);
  }

  private received(page: Page, data: RawData, isBinary: boolean): void {
    const settings = this.context.current().settings;
    const buffer = data as Buffer;
    let frame: InvokeFrame;
    if (isBinary) {
      const decoded = decodeBinaryFrame(buffer, settings.maxDepth);
      if (!decoded.ok) return this.refuse(page, decoded);
      frame = decoded.value;
      // The same limit as over HTTP, on the bytes.
      if ((frame.body as Uint8Array).byteLength > settings.bodyLimit) {
        return reply(page, frame.rid, rejections.payloadTooLarge(settings.bodyLimit), frame.cmd, this.context, undefined, requestIdFrom(readHeader(frame.headers, "x-request-id")));
      }
    } else {
      if (buffer.length > settings.bodyLimit + ENVELOPE_BYTES) {
        // Not parsed (that is the point): the rid is read from where tauri.js writes it.
        const rid = leadingRid(buffer);
        const refused = rejections.payloadTooLarge(settings.bodyLimit);
        return rid === undefined ? refuseFrame(page, refused) : reply(page, rid, refused, "(frame)", this.context, undefined, newRequestId());
      }
      // The frame's own object wraps the body: a body as deep as HTTP accepts is accepted here.
      const parsed = parseJson(buffer, settings.maxDepth, 1, true);
      if (!parsed.ok) {
        this.context.logger.debug?.(`ws: a text frame from page ${page.id} (${buffer.length} bytes) is not usable JSON: ${parsed.message}`, { page: page.id, bytes: buffer.length });
        // Text that cannot be taken as JSON (a number past a double, a __proto__ key ...) may
        // still start as tauri.js writes it: its rid is then answered, so the page's promise settles.
        const rid = leadingRid(buffer);
        const refused = rejections.badRequest(parsed.message);
        return rid === undefined ? refuseFrame(page, refused) : reply(page, rid, refused, "(frame)", this.context, undefined, newRequestId());
      }
      const decoded = decodeFrame(parsed.value);
      if (!decoded.ok) return this.refuse(page, decoded);
      frame = decoded.value;
    }
    this.context.logger.debug?.(`ws: invoke frame from page ${page.id}: rid ${JSON.stringify(frame.rid)}, ${frame.cmd}, ${buffer.length} bytes${isBinary ? " (binary)" : ""}`, {
      page: page.id,
      rid: frame.rid,
      cmd: frame.cmd,
      bytes: buffer.length,
      binary: isBinary,
    });
    const started = this.context.invocations ? performance.now() : 0;
    // As over HTTP: the frame's own x-request-id header when valid, else one made here; the reply carries it.
    const requestId = requestIdFrom(readHeader(frame.headers, "x-request-id"));
    page.invocationStarted();
    // Where a traced call's ids are put for its log entry (only when there is an entry to make).
    const traced: TraceSlot | undefined = started ? { traceId: undefined, spanId: undefined } : undefined;
    const response = this.context.pipeline.execute({ cmd: frame.cmd, body: frame.body, headers: frame.headers, window: page.label, page, caller: page.caller, requestId, transport: "ws", traced });
    if (response instanceof Promise) response.then((r) => reply(page, frame.rid, r, frame.cmd, this.context, started, requestId, frame.headers, traced));
    else reply(page, frame.rid, response, frame.cmd, this.context, started, requestId, frame.headers, traced);
  }

  /** A frame the schema refused: a reply when its rid can be trusted, an error frame otherwise. */
  private refuse(page: Page, decoded: { field: string; message: string; rid?: number | string }): void {
    this.context.logger.debug?.(`ws: refused a frame from page ${page.id}: ${decoded.message}`, { page: page.id, rid: decoded.rid ?? null });
    const refused = rejections.badRequest(decoded.message, { field: decoded.field });
    if (decoded.rid === undefined) refuseFrame(page, refused);
    else reply(page, decoded.rid, refused, "(frame)", this.context, undefined, newRequestId());
  }

  private ping(): void {
    for (const ws of this.server.clients) {
      if (!this.alive.has(ws) && !this.heldBack(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  /**
   * A page whose reading the gateway paused cannot be heard answering pings. It is alive if the
   * pause is the gateway's doing (its handlers are slow), or if it is taking its replies.
   */
  private heldBack(ws: WebSocket): boolean {
    const page = this.pageOf.get(ws);
    if (page === undefined || !page.paused) return false;
    return page.buffered < LOW_WATER_BYTES || page.progressed();
  }
}

/**
 * The answer to an invoke frame, with the call's request id. `started`: when the frame arrived (0
 * when invocations are not logged), for a frame counted in the page's running invocations;
 * undefined for a refused frame.
 */
function reply(page: Page, rid: number | string, response: InvokeResponse, cmd: string, context: HttpContext, started: number | undefined, requestId: string, headers?: Record<string, string>, traced?: TraceSlot): void {
  if (started !== undefined) page.invocationFinished();
  try {
    write(page, rid, response, cmd, context, started, requestId, headers, traced);
  } finally {
    // After the reply is written: a draining page's close frame must follow it.
    page.settled();
  }
}

function write(page: Page, rid: number | string, response: InvokeResponse, cmd: string, context: HttpContext, started: number | undefined, requestId: string, headers?: Record<string, string>, traced?: TraceSlot): void {
  // JSON, as the id may hold a quote or a backslash (printable ASCII).
  const head = `{"type":"reply","rid":${JSON.stringify(rid)},"requestId":${JSON.stringify(requestId)}`;
  try {
    const encoded = encodeResponse(response, cmd, context.current().settings.maxDepth, context.logger);
    if (started) {
      const entry: InvocationLog = { cmd: invokedName(cmd, headers), window: page.label, transport: "ws", status: encoded.status, outcome: encoded.outcome, ms: elapsedMs(started), principal: page.principalId, requestId };
      if (traced?.traceId !== undefined) {
        entry.traceId = traced.traceId;
        entry.spanId = traced.spanId;
      }
      context.invocations!(entry);
    }
    if (encoded.bytes !== undefined) page.sendBinary({ type: "reply", rid, requestId, ok: true }, encoded.bytes);
    else if (encoded.ok) page.sendText(`${head},"ok":true,"value":${encoded.json}}`);
    else page.sendText(`${head},"ok":false,"status":${encoded.status},"error":${encoded.json}}`);
  } catch (error) {
    // Only a logger that throws gets here; the page's promise must still settle.
    page.sendText(`${head},"ok":false,"status":500,"error":${JSON.stringify(rejections.internal(cmd).error)}}`);
  }
}

/** A refusal's message as a close reason. */
function refusalReason(rejection: Rejection): string {
  const error = rejection.error as { message?: unknown };
  return closeReason(typeof error?.message === "string" ? error.message : "refused");
}

/** A frame the gateway cannot use, without a sound rid to answer. */
function refuseFrame(page: Page, rejection: Rejection): void {
  page.send({ type: "error", error: rejection.error });
}

function ignore(): void {}
