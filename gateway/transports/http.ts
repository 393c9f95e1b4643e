// HTTP: Tauri's IPC protocol over HTTP (POST /ipc/<cmd>), the gateway's own routes
// (/__gateway/*), the WebSocket upgrade, and an optional static folder. A thin adapter: requests
// are decoded, checked (Host, Origin, token) and handed to the invoke pipeline.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { rejections, type Rejection } from "../runtime/errors.ts";
import { parseJson } from "../runtime/codec.ts";
import { encodeRejection, encodeResponse, endSocketWith } from "./encode.ts";
import { RefusalHints } from "./hints.ts";
import type { Pipeline, ResponseSink } from "../runtime/invoke.ts";
import { elapsedMs, type InvocationLog, type Logger } from "../runtime/logger.ts";
import type { Generation } from "../runtime/generation.ts";
import type { PageLink, Pages } from "../runtime/pages.ts";
import { BusUnavailable, type BusStatus } from "../runtime/bus.ts";
import type { AbortListener, CallerSignal, InvokeResponse, TraceSlot } from "../runtime/types.ts";
import { Guard, hostPort, isLoopback, isWildcard } from "./guard.ts";
import { WebSocketTransport } from "./ws.ts";
import { serveStatic } from "./static.ts";
import { CONSOLE_PAGE_HEADERS, CONSOLE_PATH, isConsolePath, readConsoleFile } from "./console.ts";
import { invokedName } from "./invoked-name.ts";
import type { AccessControl } from "../access/access.ts";
import type { AuthOutcome } from "../access/authenticate.ts";
import { credentialsOf } from "./credentials.ts";
import { clientIp } from "../access/client-ip.ts";
import { requestIdFrom } from "../runtime/request-id.ts";
import { bearerOf, tokenMatches } from "../access/bearer.ts";
import type { Caller } from "../access/principal.ts";

export interface ListenOptions {
  /** Defaults to the manifest's server.port; 0 picks a free port. */
  port?: number;
  /** Defaults to the manifest's server.host. */
  host?: string;
}

export interface Listening {
  url: string;
  host: string;
  port: number;
  /**
   * Start draining (the gateway is stopping): everything is still served, answers say
   * `connection: close`, new WebSockets are refused (503 shutting-down) and each page's socket
   * is closed (1012) once its own calls are answered.
   */
  drain(): void;
  /** HTTP requests to /ipc/ not answered yet (their bodies being read included). */
  readonly inFlight: number;
  /** Stop taking requests, finish those in flight, close pages' sockets. */
  close(): Promise<void>;
}

/** GET /readyz's answer: `reason` says why not ready (starting, not-ready, bus, draining). */
export interface Readiness {
  ok: boolean;
  reason?: "starting" | "not-ready" | "bus" | "draining";
  [detail: string]: unknown;
}

export interface HttpContext {
  pipeline: Pipeline;
  /** Who calls (auth:, server.token) and what they may do. */
  access: AccessControl;
  current(): Generation;
  pages: Pages;
  logger: Logger;
  /**
   * Told of every answered invocation (its log line, the dev console's feed); absent when nobody
   * wants them, and then transports skip the bookkeeping.
   */
  invocations?: ((entry: InvocationLog) => void) | undefined;
  /** `ok` is false while the app does not build (`gateway dev` started on broken files): answered 503. */
  /** GET /metrics (server.metrics): undefined while metrics are off. */
  metrics?: (() => { readonly contentType: string; render(): Promise<string> } | undefined) | undefined;
  health(): { ok: boolean; generation: number; lastError: string | null; pages: number; listeners: number; bus?: BusStatus; problems: unknown[] };
  /** GET /readyz: 200 when `ok`, else 503 (needs no credential, like /livez). */
  readiness(): Readiness;
  /** With server.bus: a page connected to another instance (a Gateway-Page header naming it). */
  findPage?: (id: string) => Promise<PageLink | undefined>;
  /** An error of the listening server (accept() failing): said, never the end of the process. */
  serverError?: (error: NodeJS.ErrnoException) => void;
  /**
   * The JSON documents served under /__gateway/ (token-protected like health): route path ->
   * the document for the current generation (manifest.json, catalog.json ...), or a promise of it.
   */
  documents: Readonly<Record<string, () => unknown>>;
  clientScript(): string;
  /**
   * The dev console's folder (its index.html and assets), served at /__gateway/ under `dev`;
   * absent, those routes are 404.
   */
  consoleDir?: string | undefined;
}

const JSON_TYPE = "application/json";
const HEADERS_TIMEOUT_MS = 10_000;
const BYTES_TYPE = "application/octet-stream";

export async function listenHttp(context: HttpContext, options: ListenOptions): Promise<Listening> {
  const settings = context.current().settings;
  const host = options.host ?? settings.host;
  const requestedPort = options.port ?? settings.port;
  // Off loopback, someone must decide who calls: the shared token, or auth: with capabilities
  // (deny by default; anonymous callers get only what a capability gives them).
  if (!isLoopback(host) && !callersDecided(context)) {
    throw new Error(`refusing to listen on ${host} without server.token (or auth: together with capabilities:): anyone on the network could call every command`);
  }
  // Deliberate limits for slow clients (Node's defaults let a slow-loris hold a connection for
  // 60-90 s and then answer 400): a request must arrive whole within server.requestTimeout, its
  // headers within the first 10 s of it, checked every second; either answers 408.
  const server = createServer({
    keepAliveTimeout: 5_000,
    requestTimeout: settings.requestTimeoutMs,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, settings.requestTimeoutMs),
    connectionsCheckingInterval: 1_000,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(requestedPort, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  // Unheard, a server's 'error' (accept() failing with EMFILE once libuv's reserve is spent) would end the process.
  server.on("error", (error: NodeJS.ErrnoException) => {
    try {
      if (context.serverError) context.serverError(error);
      else context.logger.error(`gateway: the HTTP server reported an error (${error.code ?? error.message})`);
    } catch {
      // nothing more to do: the server goes on accepting
    }
  });
  const transport = new HttpTransport(context, new Guard({ host, port }, () => context.current().settings), server);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => transport.request(req, res));
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => transport.upgrade(req, socket, head));
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => clientError(error, socket));
  const shownHost = isWildcard(host) ? host : hostPort(host, port).replace(/:\d+$/, "");
  return {
    url: `http://${shownHost}:${port}`,
    host,
    port,
    drain: () => transport.drain(),
    get inFlight() {
      return transport.inFlight;
    },
    close: () => transport.close(),
  };
}

/** server.token, or auth: with capabilities: something decides who may call from other machines. */
function callersDecided(context: HttpContext): boolean {
  const generation = context.current();
  const access = generation.access;
  return generation.settings.token !== undefined || (access?.spec.auth !== undefined && access.capabilities !== undefined);
}

/** A server of someone else's (Vite's dev server) that the gateway's routes are served on. */
export interface AttachTarget {
  /**
   * The server itself: its 'upgrade' events carry the pages' sockets (/ipc/ws), and its address
   * (once it listens) is the gateway's own origin. Absent (a server in middleware mode), pages
   * get no socket: `upgrade` can be called from the owner's own 'upgrade' listener instead.
   */
  server?: Server | undefined;
  /** The owner serves https: its pages' origin is https://<host>. */
  secure?: boolean;
  /**
   * The Host headers the owner admits (Vite's server.allowedHosts): each is the gateway's own
   * too, and a page of that host is same-origin. Absent: the server's address (and localhost).
   */
  hostAllowed?: (host: string) => boolean;
}

/** The gateway's routes on a server it does not own; see Gateway.attach. */
export interface Attached {
  /** Connect/Express-style: answers the gateway's routes (/ipc/, /__gateway/) and passes anything else to `next`. */
  middleware(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void;
  /** For an 'upgrade' event: handles the gateway's socket (/ipc/ws) and says true; any other is left alone. */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): boolean;
  /** Stop answering (every route then passes to `next`); pages' sockets are closed. Not the server. */
  close(): Promise<void>;
}

/** The paths the gateway answers on a server it shares: its invocations, its socket and its own documents. */
function isGatewayRoute(path: string): boolean {
  return path.startsWith("/ipc/") || path === "/__gateway" || path.startsWith("/__gateway/");
}

/**
 * The gateway's routes on `target`'s server, which keeps everything else (Vite's pages and HMR).
 * The transport is made at the first request, when the server's address (its port may have moved
 * from the one configured) is known.
 */
export function attachHttp(context: HttpContext, target: AttachTarget): Attached & { drain(): void; readonly inFlight: number } {
  let transport: HttpTransport | undefined;
  let closed = false;
  const ready = (req: IncomingMessage): HttpTransport => {
    if (transport !== undefined) return transport;
    const address = target.server?.address() ?? req.socket.address();
    const bound = typeof address === "object" && address !== null && "port" in address ? { host: (address as AddressInfo).address, port: (address as AddressInfo).port } : { host: "127.0.0.1", port: 0 };
    const guard = new Guard(bound, () => context.current().settings, { secure: target.secure ?? false, hostAllowed: target.hostAllowed });
    return (transport = new HttpTransport(context, guard));
  };
  const upgrade = (req: IncomingMessage, socket: Socket, head: Buffer): boolean => {
    if (closed || pathOf(req.url) !== "/ipc/ws") return false;
    const answering = ready(req);
    if (!fromThisMachine(req) && !callersDecided(context)) endSocketWith(socket, rejections.onlyThisMachine(hostOf(req) ?? "(none)"));
    else answering.upgrade(req, socket, head);
    return true;
  };
  const listener = (req: IncomingMessage, socket: Socket, head: Buffer) => void upgrade(req, socket, head);
  target.server?.on("upgrade", listener);
  return {
    middleware(req, res, next) {
      if (closed || !isGatewayRoute(pathOf(req.url))) return next();
      const answering = ready(req);
      // Served on the network (vite --host) with nothing deciding who calls: this machine only,
      // as listenHttp refuses to listen there at all.
      if (!fromThisMachine(req) && !callersDecided(context)) return answering.refuse(res, rejections.onlyThisMachine(hostOf(req) ?? "(none)"));
      answering.request(req, res);
    },
    upgrade,
    drain: () => transport?.drain(),
    get inFlight() {
      return transport?.inFlight ?? 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      target.server?.off("upgrade", listener);
      await transport?.close();
    },
  };
}

/**
 * The host the request names: its Host header, or over HTTP/2 (Vite's https server, through
 * Node's compatibility API) its :authority, which takes Host's place there.
 */
function hostOf(req: IncomingMessage): string | undefined {
  const authority = req.headers[":authority"];
  return req.headers.host ?? (typeof authority === "string" ? authority : undefined);
}

/** The request came over loopback (an IPv4-mapped 127.x too: clientIp unwraps it). */
function fromThisMachine(req: IncomingMessage): boolean {
  return isLoopback(clientIp(req.socket.remoteAddress, undefined, false) ?? "");
}

function pathOf(url: string | undefined): string {
  const query = (url ?? "/").indexOf("?");
  return query === -1 ? (url ?? "/") : url!.slice(0, query);
}

class HttpTransport {
  inFlight = 0;
  /** Each answered invocation's outcome, for its log line (only while invocations are logged). */
  private readonly outcomes = new WeakMap<ServerResponse, string>();
  /** Each invocation's principal id once authenticated, for its log line (only while invocations are logged). */
  private readonly principals = new WeakMap<ServerResponse, string>();
  private readonly hints: RefusalHints;
  private idle: (() => void) | undefined;
  /** Draining or closed: answers say `connection: close`. */
  private closing = false;
  private stopped = false;
  private readonly ws: WebSocketTransport;

  constructor(
    private readonly context: HttpContext,
    private readonly guard: Guard,
    /** The server this transport owns (listenHttp's), which it closes; none when attached to another's. */
    private readonly server?: Server,
  ) {
    this.hints = new RefusalHints(context.logger, () => context.current());
    this.ws = new WebSocketTransport(context, guard, this.hints);
  }

  request(req: IncomingMessage, res: ServerResponse): void {
    // No request may end the process; a mistake of ours answers 500 and is logged.
    try {
      this.route(req, res);
    } catch (error) {
      this.context.logger.error(`gateway: ${req.method} ${req.url} failed`, error);
      if (!res.headersSent) this.reject(res, rejections.internal("(gateway)"), false, undefined);
      else res.destroy();
    }
  }

  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.ws.upgrade(req, socket, head);
  }

  /** A refusal before routing (an attached server's own rule): to an invocation as one, with its request id. */
  refuse(res: ServerResponse, rejection: Rejection): void {
    const isInvoke = pathOf(res.req.url).startsWith("/ipc/");
    this.reject(res, rejection, isInvoke, undefined, isInvoke ? idHeader(requestIdFrom(res.req.headers["x-request-id"])) : undefined);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    const isInvoke = path.startsWith("/ipc/");
    // Only a POST is an invocation (a preflight, or a GET answered 405, is not). It has its
    // request id from here on: every answer to it returns the id, refusals included.
    const requestId = isInvoke && req.method === "POST" ? requestIdFrom(req.headers["x-request-id"]) : undefined;
    // An invocation's log entry (and metrics) is made when its answer is done: from the close
    // listener its body reading has anyway, or right after an early refusal. (A listener of its
    // own on every response measured 6% of a call.)
    const started = requestId !== undefined && this.context.invocations ? performance.now() : 0;
    if (requestId === undefined && this.context.logger.debug) this.logRequestWhenAnswered(req, res, path);
    this.context.logger.debug?.(`http: ${req.method} ${path}`, { method: req.method, path, origin: req.headers.origin ?? null });
    // Probes first: a load balancer or kubelet calls them with its own Host (the pod's address)
    // and no credential; they tell nothing but whether to send traffic here.
    if ((path === "/livez" || path === "/readyz") && (req.method === "GET" || req.method === "HEAD")) return this.probe(res, path);
    const host = hostOf(req);
    if (!this.guard.hostAllowed(host)) {
      this.hints.refusedHost(host);
      if (requestId !== undefined) return this.refuseInvocation(req, res, path, rejections.forbiddenHost(host ?? "(none)"), undefined, requestId, started);
      return this.reject(res, rejections.forbiddenHost(host ?? "(none)"), isInvoke, undefined);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.guard.originAllowed(origin, host)) {
      this.hints.refusedOrigin(origin);
      if (requestId !== undefined) return this.refuseInvocation(req, res, path, rejections.forbiddenOrigin(origin), undefined, requestId, started);
      return this.reject(res, rejections.forbiddenOrigin(origin), isInvoke, undefined);
    }
    const cors = origin !== undefined && this.guard.isCrossOrigin(origin) ? origin : undefined;
    if (req.method === "OPTIONS") return this.preflight(req, res, cors);

    if (isInvoke) {
      if (requestId === undefined) return this.methodNotAllowed(res, "POST, OPTIONS");
      // Who calls is known before the body is read: a refused caller's body is never read.
      const windowHeader = req.headers["gateway-window"];
      const auth = this.context.access.authenticate(this.context.current(), credentialsOf(req, this.guard, this.context.current().settings.trustProxy, typeof windowHeader === "string" ? windowHeader : "main"));
      if (!(auth instanceof Promise) && !auth.ok) return this.refuseInvocation(req, res, path, auth, cors, requestId, started);
      return this.invoke(req, res, path, cors, auth, requestId, started);
    }
    if (req.method !== "GET" && req.method !== "HEAD") return this.methodNotAllowed(res, "GET, HEAD");
    switch (path) {
      case "/__gateway/tauri.js":
        return this.send(res, 200, "text/javascript; charset=utf-8", this.context.clientScript(), cors, NO_CACHE_DOCUMENT);
      case "/metrics":
        return this.scrape(req, res, cors);
      case "/__gateway/health": {
        if (!this.guard.authorized(req.headers.authorization)) return this.reject(res, rejections.unauthorized(), false, cors);
        const health = this.context.health();
        return this.send(res, health.ok ? 200 : 503, JSON_TYPE, JSON.stringify(health), cors, NO_STORE_DOCUMENT);
      }
    }
    const document = Object.hasOwn(this.context.documents, path) ? this.context.documents[path] : undefined;
    if (document !== undefined) {
      if (!this.guard.authorized(req.headers.authorization)) return this.reject(res, rejections.unauthorized(), false, cors);
      const generation = this.context.current();
      // With auth: under serve, the API's description (its capabilities, roles, windows) is for
      // signed-in callers only; under dev the console reads it as the gateway's own page.
      const signedIn =
        this.context.consoleDir === undefined && generation.access?.spec.auth !== undefined
          ? Promise.resolve(this.context.access.authenticate(generation, credentialsOf(req, this.guard, generation.settings.trustProxy, "main"))).then((outcome) =>
              !outcome.ok ? outcome : outcome.caller.principal === null ? rejections.unauthorized("the API's documents need a signed-in caller (auth:)") : undefined,
            )
          : Promise.resolve(undefined);
      signedIn
        .then((refused) => {
          if (refused !== undefined) throw refused;
          return document();
        })
        .then(
          (value) => this.send(res, 200, JSON_TYPE, JSON.stringify(value), cors, NO_STORE_DOCUMENT),
          (error: unknown) => {
            if (isRejection(error)) return this.reject(res, error, false, cors);
            this.context.logger.error(`gateway: ${path} failed`, error);
            this.reject(res, rejections.internal("(gateway)"), false, cors);
          },
        );
      return;
    }
    if (isConsolePath(path)) return this.devConsole(res, path, query === -1 ? "" : url.slice(query), cors);
    const folder = this.context.current().settings.static;
    if (folder === undefined) return this.reject(res, rejections.notFound(path), false, cors);
    serveStatic(folder, path, req, res).then(
      (served) => served || this.reject(res, rejections.notFound(path), false, cors),
      (error: unknown) => {
        this.context.logger.error(`gateway: serving ${path} failed`, error);
        if (!res.headersSent) this.reject(res, rejections.notFound(path), false, cors);
        else res.destroy();
      },
    );
  }

  /** /livez: the process answers. /readyz: whether to send it traffic (503 with the reason when not). */
  private probe(res: ServerResponse, path: string): void {
    if (path === "/livez") return this.send(res, 200, JSON_TYPE, '{"ok":true}', undefined, NO_STORE_DOCUMENT);
    const readiness = this.context.readiness();
    this.send(res, readiness.ok ? 200 : 503, JSON_TYPE, JSON.stringify(readiness), undefined, NO_STORE_DOCUMENT);
  }

  /** GET /metrics: 404 with server.metrics false, its own token with { token } (not server.token). */
  private scrape(req: IncomingMessage, res: ServerResponse, cors: string | undefined): void {
    const setting = this.context.current().settings.metrics;
    const metrics = setting === false ? undefined : this.context.metrics?.();
    if (metrics === undefined) return this.reject(res, rejections.notFound("/metrics"), false, cors);
    if (typeof setting === "object" && !tokenMatches(bearerOf(req.headers.authorization), setting.token)) return this.reject(res, rejections.unauthorized(), false, cors);
    metrics.render().then(
      (text) => this.send(res, 200, metrics.contentType, text, cors, NO_STORE_DOCUMENT),
      (error: unknown) => {
        this.context.logger.error("gateway: /metrics failed", error);
        this.reject(res, rejections.internal("(gateway)"), false, cors);
      },
    );
  }

  /** The dev console's page and assets: public, like tauri.js (what it calls needs the token). */
  private devConsole(res: ServerResponse, path: string, search: string, cors: string | undefined): void {
    const dir = this.context.consoleDir;
    if (dir === undefined) return this.reject(res, rejections.notFound(path), false, cors);
    if (path === "/__gateway") {
      // Relative asset URLs need the slash; the query (?window=, ?token=) goes along.
      const location = CONSOLE_PATH + (/^\?[\x21-\x7e]*$/.test(search) ? search : "");
      return this.send(res, 308, "text/plain; charset=utf-8", "", cors, { ...NOT_FRAMED, location });
    }
    readConsoleFile(dir, path).then(
      (file) => {
        // The page with the console's own policy; its assets like the gateway's other documents.
        if (file !== undefined) return this.send(res, 200, file.type, file.body, cors, path === CONSOLE_PATH ? CONSOLE_PAGE_HEADERS : NO_CACHE_DOCUMENT);
        if (path === CONSOLE_PATH) this.context.logger.warn(`gateway: the dev console is not built (no index.html in ${dir}); run: node scripts/build.js`);
        this.reject(res, rejections.notFound(path), false, cors);
      },
      (error: unknown) => {
        this.context.logger.error(`gateway: serving ${path} failed`, error);
        if (!res.headersSent) this.reject(res, rejections.notFound(path), false, cors);
        else res.destroy();
      },
    );
  }

  private invoke(req: IncomingMessage, res: ServerResponse, path: string, cors: string | undefined, auth: AuthOutcome | Promise<AuthOutcome>, requestId: string, started: number): void {
    let cmd = path.slice(5);
    if (cmd.includes("%")) {
      try {
        cmd = decodeURIComponent(cmd);
      } catch {
        return this.refuseInvocation(req, res, path, rejections.badRequest("the command name in the URL is not valid percent-encoding"), cors, requestId, started);
      }
    }
    const contentType = req.headers["content-type"];
    const mediaType = contentType === undefined || contentType === JSON_TYPE ? contentType : contentType.split(";", 1)[0]!.trim().toLowerCase();
    const length = req.headers["content-length"];
    const hasBody = (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
    if (mediaType === undefined ? hasBody : mediaType !== JSON_TYPE && mediaType !== BYTES_TYPE) {
      return this.refuseInvocation(req, res, path, rejections.unsupportedMediaType(contentType ?? "(none)"), cors, requestId, started);
    }
    const limit = this.context.current().settings.bodyLimit;
    if (length !== undefined && Number(length) > limit) {
      this.tooLarge(req, res, limit, cors, requestId);
      if (started) this.logInvocation(req, res, cmd, requestId, started);
      return;
    }

    // Small closures over the per-request state. (Storing the state on req/res and using shared
    // listener functions measured slower: new properties on Node's own objects change their shapes.)
    this.inFlight++;
    const reading = new BodyReading(this, req, res, cmd, mediaType === BYTES_TYPE, cors, limit, auth, requestId, started);
    res.on("close", () => reading.closed()); // "close" comes once; on() spares once()'s wrapper
    req.on("data", (chunk: Buffer) => reading.data(chunk));
    req.on("end", () => reading.end());
  }

  /** The body is read: decode it and hand the invocation to the pipeline (once the caller is known). */
  dispatch(reading: BodyReading): void {
    const auth = reading.auth;
    if (auth instanceof Promise) {
      auth.then(
        (outcome) => {
          reading.auth = outcome;
          this.dispatch(reading);
        },
        (error: unknown) => this.dispatchFailed(reading, error),
      );
      return;
    }
    if (!auth.ok) return this.answer(reading.res, auth, reading.cors, reading.cmd, reading.requestId);
    try {
      this.dispatchNow(reading, auth.caller);
    } catch (error) {
      this.dispatchFailed(reading, error);
    }
  }

  /** A mistake of ours must still answer, not leave the caller waiting. */
  private dispatchFailed(reading: BodyReading, error: unknown): void {
    this.context.logger.error(`gateway: invoking "${reading.cmd}" failed`, error, { requestId: reading.requestId });
    if (!reading.res.headersSent) this.reject(reading.res, rejections.internal(reading.cmd), true, reading.cors, idHeader(reading.requestId));
  }

  private dispatchNow(reading: BodyReading, caller: Caller): void {
    const req = reading.req;
    const { res, cmd, cors, requestId } = reading;
    if (caller.principal !== null && this.context.invocations) this.principals.set(res, caller.principal.id);
    const bytes = reading.chunks.length === 1 ? reading.chunks[0]! : Buffer.concat(reading.chunks);
    let body: unknown = bytes;
    if (!reading.raw) {
      const parsed = parseJson(bytes, this.context.current().settings.maxDepth);
      if (!parsed.ok) return this.answer(res, rejections.badRequest(parsed.message), cors, cmd, requestId);
      body = parsed.value;
    }
    const pageId = req.headers["gateway-page"];
    const page = typeof pageId === "string" ? this.context.pages.get(pageId) : undefined;
    if (page === undefined && typeof pageId === "string" && this.context.findPage !== undefined) {
      // A page connected to another instance: ask the bus where it is, then invoke.
      this.context.findPage(pageId).then(
        (remote) => this.execute(reading, body, remote, caller),
        (error: unknown) => {
          if (!(error instanceof BusUnavailable)) throw error;
          // Only what streams to the page or listens for it needs to know where it is; a plain
          // call runs here without it, as it does on the page's own instance.
          if (!this.needsPage(cmd)) return this.execute(reading, body, undefined, caller);
          this.answer(res, rejections.busUnavailable(error.message), cors, cmd, requestId);
        },
      ).catch((error: unknown) => this.dispatchFailed(reading, error));
      return;
    }
    this.execute(reading, body, page, caller);
  }

  /** Does this invocation reach its page (a channel in its body, or a listener for it)? */
  private needsPage(cmd: string): boolean {
    if (cmd.startsWith("plugin:event|")) return cmd === "plugin:event|listen";
    return (this.context.current().commands.get(cmd)?.channelFields.size ?? 0) > 0;
  }

  private execute(reading: BodyReading, body: unknown, page: PageLink | undefined, caller: Caller): void {
    const { req, res, cmd, cors, requestId } = reading;
    // A page id speaks for that page only from that page's own origin, and for its own principal.
    const trustedPage = page !== undefined && page.origin === req.headers.origin && page.principalId === (caller.principal?.id ?? null) ? page : undefined;
    const windowHeader = req.headers["gateway-window"];
    const response = this.context.pipeline.execute({
      cmd,
      body,
      headers: req.headers,
      window: typeof windowHeader === "string" ? windowHeader : trustedPage?.label,
      signal: reading,
      page: trustedPage,
      caller,
      requestId,
      transport: "http",
      traced: reading,
    }, reading);
    if (response !== undefined) this.answer(res, response, cors, cmd, requestId);
  }

  /** An invocation's response is done (sent, or the connection went away). */
  finished(): void {
    if (--this.inFlight === 0 && this.idle) this.idle();
  }

  answer(res: ServerResponse, response: InvokeResponse, cors: string | undefined, cmd: string, requestId: string): void {
    if (res.destroyed) return;
    const encoded = encodeResponse(response, cmd, this.context.current().settings.maxDepth, this.context.logger);
    // A value sent is "ok" in the log entry already (logInvocation); only a refusal's kind is kept.
    if (!encoded.ok && this.context.invocations) this.outcomes.set(res, encoded.outcome);
    if (encoded.bytes !== undefined) return this.send(res, 200, BYTES_TYPE, encoded.bytes, cors, { ...TAURI_OK, "x-request-id": requestId });
    if (!encoded.ok) return this.send(res, encoded.status, JSON_TYPE, encoded.json, cors, withRejectionHeaders({ ...TAURI_ERROR, "x-request-id": requestId }, response as Rejection));
    const text = encoded.json;
    if (cors !== undefined || this.closing) return this.send(res, 200, JSON_TYPE, text, cors, { ...TAURI_OK, "x-request-id": requestId });
    // The common case, without building headers from parts.
    res.writeHead(200, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(text), "tauri-response": "ok", "x-request-id": requestId });
    res.end(text);
  }

  /**
   * One of the gateway's own rejections (not a handler's value: those go through answer()). Not
   * to an invocation, it is a document of the gateway's like the others: not to be framed.
   */
  private reject(res: ServerResponse, rejection: Rejection, isInvoke: boolean, cors: string | undefined, extra?: Record<string, string>): void {
    const headers = withRejectionHeaders(isInvoke ? { ...TAURI_ERROR, ...extra } : { ...NOT_FRAMED, ...extra }, rejection);
    const encoded = encodeRejection(rejection);
    if (isInvoke && this.context.invocations) this.outcomes.set(res, encoded.outcome);
    this.send(res, rejection.status, JSON_TYPE, encoded.json, cors, headers);
  }

  /** An invocation refused before its body is read: answered, then its log entry (and metrics). */
  private refuseInvocation(req: IncomingMessage, res: ServerResponse, path: string, rejection: Rejection, cors: string | undefined, requestId: string, started: number): void {
    this.reject(res, rejection, true, cors, idHeader(requestId));
    if (started) this.logInvocation(req, res, decodedCommand(path), requestId, started);
  }

  /**
   * An invocation's log entry (`gateway dev`'s line, the dev console, metrics), once its answer is
   * done or the caller went away; `traced`: its span's ids, when the pipeline traced it.
   */
  logInvocation(req: IncomingMessage, res: ServerResponse, cmd: string, requestId: string, started: number, traced?: TraceSlot): void {
    const window = req.headers["gateway-window"];
    const entry: InvocationLog = {
      cmd: invokedName(cmd, req.headers),
      window: typeof window === "string" ? window : "main",
      transport: "http",
      status: res.statusCode,
      outcome: this.outcomes.get(res) ?? (res.writableFinished ? "ok" : "caller-went-away"),
      ms: elapsedMs(started),
      principal: this.principals.get(res) ?? null,
      requestId,
    };
    if (traced?.traceId !== undefined) {
      entry.traceId = traced.traceId;
      entry.spanId = traced.spanId;
    }
    this.context.invocations!(entry);
  }

  /** At debug level, a request that is no invocation: its status once answered. */
  private logRequestWhenAnswered(req: IncomingMessage, res: ServerResponse, path: string): void {
    const started = performance.now();
    res.once("close", () => {
      const ms = elapsedMs(started);
      const status = res.writableFinished ? res.statusCode : "caller-went-away";
      this.context.logger.debug?.(`http: ${req.method} ${path} ${status} ${ms.toFixed(1)} ms`, { method: req.method, path, status, ms });
    });
  }

  tooLarge(req: IncomingMessage, res: ServerResponse, limit: number, cors: string | undefined, requestId: string): void {
    // The rest of the body is not read: answer, then drop the connection. (Over HTTP/2 the
    // connection carries other streams: the stream alone ends with its answer.)
    if (req.httpVersionMajor >= 2) return this.reject(res, rejections.payloadTooLarge(limit), true, cors, { "x-request-id": requestId });
    this.reject(res, rejections.payloadTooLarge(limit), true, cors, { connection: "close", "x-request-id": requestId });
    res.once("finish", () => req.socket.destroySoon?.() ?? req.socket.destroy());
  }

  private preflight(req: IncomingMessage, res: ServerResponse, cors: string | undefined): void {
    const headers: Record<string, string> = { allow: "GET, HEAD, POST, OPTIONS" };
    if (cors !== undefined) {
      headers["access-control-allow-origin"] = cors;
      headers["access-control-allow-methods"] = "GET, POST, OPTIONS";
      headers["access-control-allow-headers"] = req.headers["access-control-request-headers"] ?? "content-type";
      headers["access-control-max-age"] = "600";
      headers.vary = "Origin, Access-Control-Request-Headers";
    }
    res.writeHead(204, headers);
    res.end();
  }

  private methodNotAllowed(res: ServerResponse, allow: string): void {
    this.reject(res, rejections.methodNotAllowed(allow), false, undefined, { allow });
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, cors: string | undefined, extra?: Record<string, string>): void {
    const headers: Record<string, string | number> = {
      "content-type": type,
      "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
      ...extra,
    };
    if (cors !== undefined) {
      headers["access-control-allow-origin"] = cors;
      headers["access-control-expose-headers"] = "Tauri-Response, Retry-After, X-Request-Id";
      headers.vary = "Origin";
    }
    // HTTP/2 has no Connection header (Node refuses one): there the stream just ends.
    if (this.closing && res.req.httpVersionMajor < 2) headers.connection = "close";
    res.writeHead(status, headers);
    res.end(body);
  }

  /** See Listening.drain. */
  drain(): void {
    if (this.closing) return;
    this.closing = true;
    this.server?.closeIdleConnections();
    this.ws.drain();
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.closing = true;
    const server = this.server;
    const closed = server === undefined ? undefined : new Promise<void>((resolve) => server.close(() => resolve()));
    server?.closeIdleConnections();
    this.ws.close();
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    server?.closeAllConnections();
    await closed;
  }
}

/**
 * A request Node could not parse, or that came too slowly: 431 for headers (or a URL) over Node's
 * limit and 408 for a request past its time limit (as Node and Fastify answer), 400 otherwise.
 */
function clientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || error.code === "ECONNRESET") return void socket.destroy();
  const rejection =
    error.code === "HPE_HEADER_OVERFLOW"
      ? rejections.headersTooLarge()
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? rejections.requestTimeout()
        : rejections.badRequest("the request could not be parsed as HTTP/1.1");
  endSocketWith(socket, rejection);
}

const TAURI_OK = { "tauri-response": "ok" };
/**
 * On every answer of the gateway's own that a browser could show (tauri.js, health, the JSON
 * documents, the console's files, its refusals of other routes): no other page may frame it, and
 * nothing is sniffed into another type. Invocation answers are data for fetch and go without;
 * static files are the app's (static.ts).
 */
const NOT_FRAMED = { "x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'", "x-content-type-options": "nosniff" };
const NO_STORE_DOCUMENT = { ...NOT_FRAMED, "cache-control": "no-store" };
const NO_CACHE_DOCUMENT = { ...NOT_FRAMED, "cache-control": "no-cache" };
const TAURI_ERROR = { "tauri-response": "error" };

/** An invocation's request id as a header of its answer (none for a request that is no invocation). */
function idHeader(requestId: string | undefined): Record<string, string> | undefined {
  return requestId === undefined ? undefined : { "x-request-id": requestId };
}

/** The command named by /ipc/<cmd>, percent-decoded when it can be (else as sent). */
function decodedCommand(path: string): string {
  const cmd = path.slice(5);
  try {
    return decodeURIComponent(cmd);
  } catch {
    return cmd;
  }
}

function isRejection(value: unknown): value is Rejection {
  return typeof value === "object" && value !== null && (value as Rejection).ok === false && typeof (value as Rejection).status === "number";
}

/**
 * A refusal's own headers: 429 says when to come back (whole seconds, at least 1; the value's
 * `retryAfter` has the milliseconds), 401 which scheme it wants (RFC 6750).
 */
function withRejectionHeaders(headers: Record<string, string>, rejection: Rejection): Record<string, string> {
  if (rejection.status === 429 && !rejection.fromHandler) {
    const ms = (rejection.error as { retryAfter?: unknown }).retryAfter;
    return { ...headers, "retry-after": String(Math.max(1, Math.ceil((typeof ms === "number" ? ms : 1000) / 1000))) };
  }
  if (rejection.status === 401) return { ...headers, "www-authenticate": 'Bearer realm="ipc-gateway"' };
  return headers;
}

/**
 * One invocation over HTTP while its body is read and its handler runs: the body's chunks, the
 * answer's destination (a ResponseSink for the pipeline), and the caller's
 * signal for the pipeline (the response closing before it finished means the caller went away):
 * cheaper than an AbortController per request, which costs ~3 µs.
 */
class BodyReading implements CallerSignal, ResponseSink, TraceSlot {
  /** Bytes so far; -1 once over the limit (the rest is not read). */
  size = 0;
  chunks: Buffer[] = [];
  gone: AbortListener | undefined;
  /** Filled in by the pipeline when the call is traced, for its log entry. */
  traceId: string | undefined = undefined;
  spanId: string | undefined = undefined;

  constructor(
    readonly transport: HttpTransport,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly cmd: string,
    /** application/octet-stream: the bytes are the body. */
    readonly raw: boolean,
    readonly cors: string | undefined,
    readonly limit: number,
    /** Who calls, or the authentication still running. */
    public auth: AuthOutcome | Promise<AuthOutcome>,
    readonly requestId: string,
    /** When the request arrived (performance.now()), or 0 when invocations are not logged. */
    readonly started: number,
  ) {}

  get aborted(): boolean {
    return this.res.destroyed && !this.res.writableFinished;
  }

  addEventListener(_type: "abort", listener: AbortListener): void {
    this.gone = listener;
  }

  removeEventListener(): void {
    this.gone = undefined;
  }

  /** The answer of an asynchronous handler. */
  respond(response: InvokeResponse): void {
    this.transport.answer(this.res, response, this.cors, this.cmd, this.requestId);
  }

  data(chunk: Buffer): void {
    if (this.size < 0) return;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.size = -1;
      this.chunks = [];
      this.transport.tooLarge(this.req, this.res, this.limit, this.cors, this.requestId);
      return;
    }
    this.chunks.push(chunk);
  }

  end(): void {
    if (this.size >= 0) this.transport.dispatch(this);
  }

  /** The response is done: sent, or the connection closed before it could be (the caller went away). */
  closed(): void {
    this.transport.finished();
    if (!this.res.writableFinished) this.gone?.handleEvent(new Event("abort"));
    if (this.started) this.transport.logInvocation(this.req, this.res, this.cmd, this.requestId, this.started, this);
  }
}
