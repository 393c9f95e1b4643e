// createGateway: a manifest turned into a running gateway that transports and embedders call.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { EventHub } from "./runtime/events.ts";
import { GenerationBuilder, notReadyGeneration, type BuildResult } from "./reload/builder.ts";
import { buildCatalog, catalogJson, type Catalog } from "./describe/catalog.ts";
import { principalsDocument } from "./describe/access.ts";
import { checkOpenInEditor, handlerSource, type DevDescription } from "./describe/handler-source.ts";
import type { Generation, ValueSpec } from "./runtime/generation.ts";
import { createPipeline, type ResponseSink } from "./runtime/invoke.ts";
import { createLogger, type InvocationLog, type LogFormat, type LogLevel, type Logger } from "./runtime/logger.ts";
import { Pages } from "./runtime/pages.ts";
import { ModuleLifecycle } from "./reload/lifecycle.ts";
import { ConfigError, displayPath, formatProblem, type Problem } from "./config/problems.ts";
import { SourceDoc, type Position } from "./config/source-doc.ts";
import { readRegularFile } from "./config/regular-file.ts";
import { holdCompiler } from "./reload/compile.ts";
import { fileClockNow } from "./reload/file-clock.ts";
import { attachHttp, listenHttp, type AttachTarget, type Attached, type HttpContext, type ListenOptions, type Listening } from "./transports/http.ts";
import { CONSOLE_DIR } from "./transports/console.ts";
import type { BusSettings, Env } from "./config/manifest.ts";
import { envLayers } from "./config/env-layers.ts";
import type { Bus } from "./runtime/bus.ts";
import type { AppHandle, HeadersInput, InvokeHandler, InvokeResponse } from "./runtime/types.ts";
import { AccessControl } from "./access/access.ts";
import { isPrincipalInput, makePrincipal, type Caller, type PrincipalInput } from "./access/principal.ts";
import { rejections } from "./runtime/errors.ts";
import { normalizeHeaders, readHeader } from "./runtime/codec.ts";
import { requestIdFrom } from "./runtime/request-id.ts";
import { drainWork } from "./ops/drain.ts";
import type { GatewayMetrics } from "./ops/metrics.ts";
import { loadTracing } from "./ops/tracing.ts";
import { Problems } from "./ops/problems.ts";
import { LoopWatch } from "./ops/event-loop.ts";
import { DescriptorWatch } from "./ops/descriptors.ts";
import type { ChannelCounts } from "./runtime/channels.ts";
import { kindOf } from "./transports/encode.ts";
import { invokedName } from "./transports/invoked-name.ts";
import { elapsedMs } from "./runtime/logger.ts";

/** What to serve: a manifest (`config`), or a folder `gateway build` wrote (`from`). */
export type GatewayOptions = GatewaySettings &
  (
    | {
        /** Path of the manifest (gateway.yaml). */
        config: string;
        from?: undefined;
      }
    | {
        /**
         * A folder `gateway build` wrote: served as built, without the sources, without compiling
         * anything and without writing to disk (`gateway serve --from`). Not with `watch`.
         */
        from: string;
        config?: undefined;
      }
  );

/** How to serve it. */
export interface GatewaySettings {
  /** Rebuild on file changes (gateway dev). */
  watch?: boolean;
  /**
   * Development mode: internal errors carry the handler's original message to the caller, every
   * invocation is emitted as `gateway://invocation`, and the dev console is served at /__gateway/.
   * Defaults to `watch`.
   */
  dev?: boolean;
  /**
   * Where `${VAR}` in the manifest is read from. Default: `process.env` over the `.env` file beside
   * the manifest (the environment wins; no file is fine). Given, only this object is read, unless
   * `envFile` names files too.
   */
  env?: Env;
  /**
   * Env files of NAME=value lines for `${VAR}` (relative to the working directory; of several, the
   * later wins), read under `env` (or process.env), which wins; each must exist. False: none.
   * Default: `.env` beside the manifest (for `from`, beside the app's manifest), unless `env` is given.
   * With `watch`, an edit of one reloads. They fill in the manifest only: process.env is unchanged.
   */
  envFile?: string | readonly string[] | false;
  /**
   * Where compiled validators and modules are kept between runs (false: nowhere).
   * Default: <nearest node_modules>/.cache/ipc-gateway/, none when there is no node_modules above.
   */
  cacheDir?: string | false;
  /** Where the gateway logs. Default: pino on stderr (see `logLevel`, `logFormat`). */
  logger?: Logger;
  /** The default logger's level. Default: the manifest's `server.log`, else info with `watch` and warn without. */
  logLevel?: LogLevel;
  /** The default logger's format. Default: pretty when stderr is a terminal, JSON otherwise. */
  logFormat?: LogFormat;
  /**
   * With `watch`: how long a rebuild may take, in milliseconds, before it is given up so that the
   * next edit builds (a compile stuck on something outside the gateway). Default 60,000.
   */
  reloadTimeout?: number;
  /**
   * With `watch`: files that do not build at start do not throw; the gateway serves every
   * command as `not-ready` (503, naming the mistakes) until they are fixed (`gateway dev`).
   */
  serveWhileBroken?: boolean;
  /**
   * Told whenever what is wrong with the app's files changes (for tools that show it, such as
   * the Vite plugin's error overlay). `source: "build"`: under `watch`, after every rebuild (its
   * mistakes, or none once the files build again), and once after start when the first build
   * failed (`serveWhileBroken`). Files are absolute paths.
   */
  onProblems?: (report: ProblemReport) => void;
  /**
   * A URL that opens a file in the editor when given `?file=<absolute path>:<line>:<col>`, e.g.
   * Vite's `/__open-in-editor`; the dev console links handler files through it. A path (same
   * origin as the console) or an http(s) URL, without `?` or `#`. Under `dev` only.
   */
  openInEditor?: string;
  /**
   * Type-check the TypeScript handlers against their schemas (as `gateway check --types`, with the
   * app's own TypeScript) in a worker thread after the start and after every good reload, without
   * holding up serving. Findings are logged, emitted as `gateway://type-check`, shown in
   * /__gateway/health as `typeCheck` and told to `onProblems` (`source: "types"`). With `config` only.
   */
  checkTypes?: boolean;
}

/** What `onProblems` is told: the mistakes one source finds now (none: that source is good again). */
export interface ProblemReport {
  source: "build" | "types";
  problems: readonly Problem[];
}

export interface InvokeOptions {
  /** The calling window's label; "main" by default. */
  window?: string;
  headers?: HeadersInput;
  /** Aborting it aborts the handler's `signal`. */
  signal?: AbortSignal;
  /**
   * Call as this principal (`{ id, roles?, claims? }`), or null for an anonymous caller; its
   * capabilities and limits apply as over HTTP. Absent: the credential in `headers`
   * (Authorization, auth.jwt's cookie) is authenticated as over HTTP, and without one the call is
   * anonymous.
   */
  principal?: PrincipalInput | null;
  /**
   * The call's request id (the handler's `requestId`, on its log lines), kept when it is 1 to 128
   * printable ASCII characters, else replaced by one made here. Absent: `x-request-id` in
   * `headers`, checked the same, else a new one.
   */
  requestId?: string;
}

export interface Gateway {
  /** Call a command in-process: resolves with its value or rejects with exactly what HTTP would send. */
  invoke<T = unknown>(cmd: string, body?: unknown, options?: InvokeOptions): Promise<T>;
  /** Tauri-style request -> response, for transports of your own. */
  readonly invokeHandler: InvokeHandler;
  /** The generation new invocations start on. */
  readonly generation: Generation;
  /** Events from the backend side, as handlers get it. */
  readonly app: AppHandle;
  /** Serve HTTP and WebSocket (port 0 picks a free port). */
  listen(options?: ListenOptions): Promise<Listening>;
  /**
   * Serve the gateway's routes (/ipc/, /ipc/ws, /__gateway/) on a server of your own, beside its
   * other routes (what the Vite plugin does with Vite's dev server): `middleware` for its request
   * chain (connect, Express), and the pages' sockets through the server's 'upgrade' events. The
   * server's own pages are same-origin: no `origins:` needed. Off loopback, other machines are
   * answered only with server.token (or auth: together with capabilities:).
   */
  attach(target?: AttachTarget): Attached;
  /** With `watch`: resolves once the file watcher is ready (edits made before may be missed). */
  readonly watching: Promise<void>;
  /** The last broken edit's mistakes (`path:line:col: message`), or null once the files are good again. */
  readonly lastError: string | null;
  /** False while a gateway started on broken files (`serveWhileBroken`) waits for them to be fixed. */
  readonly ready: boolean;
  /** Where this gateway logs (the `logger` option, or the default one it made). */
  readonly logger: Logger;
  /**
   * Stop serving and release everything. First a drain: /readyz answers 503 and new work is
   * still served until nothing is in flight or `drainMs` (default: the manifest's `server.drain`,
   * 10 s) has passed; calls still running then are answered 503 `shutting-down` (their channels
   * end with that reason), and each page's socket is closed (1012) once its own calls are answered.
   * `close({ drainMs: 0 })` cuts off at once. Calling it again returns the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /** How long calls in flight may take to finish, in milliseconds (default: server.drain). */
  drainMs?: number;
}

const CLIENT_SCRIPT = new URL("./client/tauri.js", import.meta.url);
let clientScript: string | undefined;

/** Build the first generation (throwing a ConfigError that lists every mistake) and serve it. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  if ((options.config === undefined) === (options.from === undefined)) throw new TypeError("createGateway: give either config (a manifest) or from (a gateway build folder)");
  if (options.from !== undefined && options.watch) throw new TypeError("createGateway: a build folder (from) is served as built; it is not watched");
  if (options.from !== undefined && options.checkTypes) throw new TypeError("createGateway: a build folder (from) has no handler sources to type-check (checkTypes)");
  const openInEditor = checkOpenInEditor(options.openInEditor);
  const releaseCompiler = holdCompiler();
  const buildStarted = fileClockNow(); // edits after it are seen even before the watcher is ready
  const envOptions = { ...(options.env !== undefined ? { env: options.env } : {}), ...(options.envFile !== undefined ? { envFile: options.envFile } : {}) };
  const builder = options.config !== undefined ? new GenerationBuilder(resolve(options.config), envLayers(envOptions, resolve(options.config)), options.cacheDir) : undefined;
  if (builder && options.reloadTimeout !== undefined) builder.reloadTimeLimitMs = options.reloadTimeout;
  // Only `serve --from` reads a build folder, and only `dev` watches: the others never load that code.
  const first = builder ? await builder.build() : await (await import("./build/load.ts")).loadBuild(resolve(options.from!), envOptions);
  if (!first.ok && !(builder && options.watch && options.serveWhileBroken)) {
    await releaseCompiler();
    throw new ConfigError(first.problems);
  }
  let current = first.ok ? first.generation : notReadyGeneration(builder!.manifestFile, first, (first as BuildResult).files);
  // What a cold start compiled is on disk before the gateway serves: a process stopped right
  // after start-up still leaves the next start warm.
  await builder?.cache.flush();
  // The level applies from the start: a later edit of server.log takes effect at the next start.
  const logger =
    options.logger ?? createLogger({ level: options.logLevel ?? current.settings.log ?? (options.watch ? "info" : "warn"), format: options.logFormat });
  // What is wrong with this instance (each said once when it begins and when it ends): health and metrics show it.
  const problems = new Problems(logger);
  builder?.cache.logTo((level, message) => {
    if (level === "unwritable") problems.begin("cache", message, { level: "warn" });
    else if (level === "writable") problems.clear("cache", message);
    else logger.debug?.(message);
  });
  builder?.warnTo((warning) => logger.warn(`gateway: ${formatProblem(warning, dirname(builder.manifestFile))}`));
  let lastError: string | null = current.notReady ?? null;
  const pages = new Pages();
  const events = new EventHub(() => current.events, pages, logger, () => current.settings.maxDepth);
  // server.bus applies at start (like server.port): instances join the bus before they serve.
  const bus = await startBus(current.manifestFile, current.settings.bus, events, pages, logger, () => current.settings.maxDepth, problems);
  const access = new AccessControl({ dev: options.dev ?? options.watch ?? false, logger });
  // With server.bus a limit is one budget for every instance, counted in Redis (here while it is away).
  if (bus !== undefined) access.shared = bus.buckets();
  // A page's listener hears an event only while its owner may listen to it: a capability revoked
  // by a reload, or a credential that expired, ends its deliveries (decided once per listener and generation).
  events.guard = {
    policy: () => current.access,
    mayListen: (owner, event) => access.admitEvent(current, owner.caller, owner.window, "listen", event) === undefined,
  };
  // Traces: only when the app's folder has @opentelemetry/api (else nothing of it is loaded), and
  // then only while an SDK is registered (checked per call: it may register after this).
  const tracing = await loadTracing(dirname(current.manifestFile), logger);
  const loop = new LoopWatch(problems, (message, fields) => logger.error(message, undefined, fields));
  const descriptors = new DescriptorWatch(problems);
  const channelCounts: ChannelCounts = { sent: 0, heldBack: 0, dropped: 0 };
  /** The kinds of error the HTTP servers reported (each logged once). */
  const serverErrors = new Set<string>();
  const pipeline = createPipeline({
    current: () => current,
    events,
    dev: options.dev ?? options.watch ?? false,
    logger,
    access,
    tracing,
    heldLoop: (command, heldMs, turn, requestId) => loop.held(command, heldMs, turn, requestId),
    channelCounts,
  });
  const servers = new Set<Listening>();
  /** The gateway's routes on servers of others (attach). */
  const attachments = new Set<ReturnType<typeof attachHttp>>();
  /** Until the first listen() is done; then while close() drains. */
  let started = false;
  let closing: Promise<void> | undefined;
  // Each answered invocation: a log line (a page's event-plugin calls only at debug level) and,
  // under `dev`, the gateway://invocation event that the dev console shows as its live log.
  const feed = options.dev ?? options.watch ?? false;
  // server.metrics (on by default) counts every answered invocation, with or without logging;
  // prom-client is loaded at the first listen(): an embedder that never listens never loads it.
  let metrics: GatewayMetrics | undefined;
  const metricsOn = current.settings.metrics !== false;
  const invocations =
    logger.invocation || feed || metricsOn
      ? (entry: InvocationLog) => {
          metrics?.call(entry);
          if (entry.cmd.startsWith("plugin:event|")) logger.debug?.(`${entry.cmd} ${entry.status} ${entry.outcome}`, { invocation: entry });
          else logger.invocation?.(entry);
          if (feed && !entry.cmd.startsWith("plugin:event|")) events.emitGatewayEvent("invocation", entry);
        }
      : undefined;
  /** onProblems, whose mistakes never reach the gateway: a tool's bug is logged, not thrown into a reload. */
  const report = (problemReport: ProblemReport) => {
    try {
      options.onProblems?.(problemReport);
    } catch (error) {
      logger.error("gateway: onProblems threw", error);
    }
  };
  if (!first.ok) {
    const problems = first.problems;
    queueMicrotask(() => report({ source: "build", problems }));
  }
  // checkTypes: in a thread of its own (describe/type-check.ts), after each good build; only then loaded.
  const typeCheck =
    builder && options.checkTypes
      ? new (await import("./describe/type-check.ts")).BackgroundTypeCheck({
          manifestFile: builder.manifestFile,
          env: envOptions,
          cacheDir: options.cacheDir,
          logger,
          emit: (result) => events.emitGatewayEvent("type-check", result),
          report: (found) => report({ source: "types", problems: found }),
        })
      : undefined;
  if (first.ok) typeCheck?.run();
  const lifecycle = new ModuleLifecycle(events, logger);
  lifecycle.activate(current);
  /** Older generations still answering invocations that started on them. */
  const draining = new Set<Generation>();

  const retireWhenIdle = (old: Generation) => {
    const retire = () => {
      draining.delete(old);
      void lifecycle.retire([current, ...draining]);
    };
    if (old.usage.inFlight === 0) return retire();
    draining.add(old);
    old.usage.idle = retire;
  };

  const reloader = builder && options.watch
    ? new (await import("./reload/reloader.ts")).Reloader(builder, current, {
        swap(next, changed, buildMs) {
          const old = current;
          if (next.settings.port !== old.settings.port || next.settings.host !== old.settings.host) {
            logger.warn("gateway: server.host and server.port apply at the next start");
          }
          if (JSON.stringify(next.settings.bus) !== JSON.stringify(old.settings.bus)) logger.warn("gateway: server.bus applies at the next start");
          current = next; // the one reference every new invocation reads
          access.recheck(old, next, pages.values());
          lifecycle.activate(next);
          retireWhenIdle(old);
          lastError = null;
          report({ source: "build", problems: [] });
          typeCheck?.run();
          const evaluated = (next.evaluated ?? []).map((f) => relativeTo(next, f));
          metrics?.reloaded(buildMs);
          logger.info(`gateway: reloaded in ${Math.round(buildMs)} ms (generation ${next.id}${describeChanges(changed, next)}${describeEvaluated(evaluated)})`);
          events.emitGatewayEvent("reload", { generation: next.id, changed: changed.map((f) => relativeTo(next, f)), evaluated });
        },
        notice(message) {
          logger.warn(message);
        },
        failed(failure) {
          // Paths relative to the app's folder (the manifest's), the same wherever the gateway runs from.
          lastError = failure.problems.map((p) => formatProblem(p, dirname(current.manifestFile))).join("\n");
          metrics?.reloadFailed();
          report({ source: "build", problems: failure.problems });
          if (current.notReady !== undefined) {
            // Still not ready: invocations are answered with the newest mistakes.
            current = notReadyGeneration(current.manifestFile, failure, current.files);
            logger.error(`gateway: the app still does not build:\n${lastError}`);
          } else logger.error(`gateway: the edit is broken; still serving generation ${current.id}:\n${lastError}`);
          events.emitGatewayEvent("error", {
            message: lastError,
            problems: failure.problems.map((p) => ({ file: relativeTo(current, p.file), line: p.line ?? null, column: p.line === undefined ? null : (p.col ?? 1), message: p.message })),
          });
        },
      }, buildStarted)
    : undefined;

  /** prom-client, loaded when the gateway first serves (an embedder that never does never loads it). */
  const startMetrics = async () => {
    if (!metricsOn || metrics !== undefined) return;
    const { GatewayMetrics } = await import("./ops/metrics.ts");
    metrics ??= new GatewayMetrics({
      knows: (cmd) => current.commands.has(cmd),
      inFlight: () => [current, ...draining].reduce((sum, generation) => sum + generation.usage.inFlight, 0),
      pages: () => pages.size,
      ...(bus ? { bus: () => bus.status() } : {}),
      problem: (name) => problems.has(name),
      loopHeld: () => loop.counts,
      channels: () => channelCounts,
      rateLimited: () => access.refusedByLimit,
    });
    events.delivered = (listeners) => metrics!.event(listeners);
  };
  let transportContext: HttpContext | undefined;
  /** What the HTTP transports (listen's and attach's) serve from. */
  const httpContext = (): HttpContext =>
    (transportContext ??= {
      pipeline,
      access,
      current: () => current,
      pages,
      logger,
      invocations,
      metrics: () => metrics,
      health: () => ({
        ok: current.notReady === undefined,
        generation: current.id,
        lastError,
        pages: pages.size,
        listeners: events.listenerCount,
        ...(bus ? { bus: bus.status() } : {}),
        // What is wrong now (each also logged once, and in metrics as gateway_problem); `ok` stays about the app.
        problems: problems.list(),
        ...optional("eventLoop", loop.delay()),
        ...optional("descriptors", descriptors.last),
        ...optional("typeCheck", typeCheck?.latest),
        // Edits are still reloaded (polled), but the user should know why it is slower.
        ...(reloader?.note ? { watcher: reloader.note } : {}),
      }),
      readiness: () => {
        if (closing !== undefined) return { ok: false, reason: "draining" };
        if (!started) return { ok: false, reason: "starting" };
        // Under dev a broken edit keeps the last good generation serving (ready); files that
        // never built yet answer every command not-ready.
        if (current.notReady !== undefined) return { ok: false, reason: "not-ready", generation: current.id };
        const busState = bus?.status().state;
        if (busState !== undefined && busState !== "connected") return { ok: false, reason: "bus", bus: busState };
        return { ok: true, generation: current.id };
      },
      findPage: bus ? (id) => bus.findPage(id) : undefined,
      serverError: (error) => {
        // accept() failing: when libuv's reserve descriptor is gone too, Node reports it here.
        if (error.code === "EMFILE" || error.code === "ENFILE") return void descriptors.look();
        // Anything else once per kind: an error that repeats at every connection must not flood the log.
        const kind = error.code ?? error.message;
        if (serverErrors.has(kind)) return;
        serverErrors.add(kind);
        logger.error(`gateway: the HTTP server reported an error (${kind}); it goes on accepting connections`);
      },
      documents: {
        // Under dev it says where each handler is (never under serve: those are the server's files).
        "/__gateway/manifest.json": () => describe(current, feed ? { openInEditor } : undefined),
        "/__gateway/catalog.json": () => catalogJson(catalogOf(current)),
        // Their generators load on the first request: most runs never ask.
        "/__gateway/openapi.json": async () => (await import("./describe/openapi.ts")).openApiDocument(current, catalogOf(current), { addresses: [...servers] }),
        "/__gateway/asyncapi.json": async () => (await import("./describe/asyncapi.ts")).asyncApiDocument(current, catalogOf(current), { addresses: [...servers] }),
        // The dev console's "call as" choices (principal ids and roles, never a token): under dev only.
        ...(feed ? { "/__gateway/principals.json": () => principalsDocument(current) } : {}),
      },
      clientScript: () => (clientScript ??= readFileSync(CLIENT_SCRIPT, "utf8")),
      consoleDir: feed ? CONSOLE_DIR : undefined, // the dev console at /__gateway/, under dev only
    });

  return {
    invoke<T>(cmd: string, body?: unknown, invokeOptions?: InvokeOptions): Promise<T> {
      if (invokeOptions?.principal !== undefined) {
        const principal = invokeOptions.principal;
        if (principal !== null && !isPrincipalInput(principal)) {
          return Promise.reject(rejections.badRequest("invoke's principal option must be { id: string, roles?: string[], claims?: object } or null").error);
        }
        return invokeAs<T>(pipeline, cmd, body, invokeOptions, { principal: principal === null ? null : makePrincipal(principal), local: true }, metrics);
      }
      // With auth:, a credential in the headers is checked as over HTTP (server.token guards transports only).
      if (invokeOptions?.headers === undefined || current.access?.spec.auth === undefined) return invokeAs<T>(pipeline, cmd, body, invokeOptions, undefined, metrics);
      // What authentication reads of the headers; all of them only for an auth handler (or dev's call-as header).
      const given = invokeOptions.headers;
      const everything = current.access.authHandler !== undefined || (options.dev ?? options.watch);
      const headers = everything
        ? normalizeHeaders(given)
        : { authorization: readHeader(given, "authorization"), cookie: current.access.spec.auth.jwt?.cookie === undefined ? undefined : readHeader(given, "cookie") };
      const auth = access.authenticate(current, { headers, local: true, url: everything ? `/ipc/${cmd}` : "", window: invokeOptions.window || "main" });
      if (!(auth instanceof Promise)) return auth.ok ? invokeAs<T>(pipeline, cmd, body, invokeOptions, auth.caller, metrics) : Promise.reject(auth.error);
      return auth.then((outcome) => (outcome.ok ? invokeAs<T>(pipeline, cmd, body, invokeOptions, outcome.caller, metrics) : Promise.reject(outcome.error)));
    },
    invokeHandler: pipeline.invokeHandler,
    get generation() {
      return current;
    },
    get lastError() {
      return lastError;
    },
    get ready() {
      return current.notReady === undefined;
    },
    logger,
    watching: reloader?.ready ?? Promise.resolve(),
    app: events.app,
    async listen(listenOptions: ListenOptions = {}) {
      await startMetrics();
      // Watched while serving: an embedder that only calls invoke() has no connections to lose.
      loop.start();
      descriptors.start();
      const listening = await listenHttp(httpContext(), listenOptions);
      servers.add(listening);
      started = true;
      const close = listening.close;
      return {
        url: listening.url,
        host: listening.host,
        port: listening.port,
        drain: () => listening.drain(),
        get inFlight() {
          return listening.inFlight;
        },
        close: async () => (servers.delete(listening), close()),
      };
    },
    attach(target: AttachTarget = {}) {
      void startMetrics().catch((error: unknown) => logger.error("gateway: metrics could not start", error));
      loop.start();
      descriptors.start();
      const attached = attachHttp(httpContext(), target);
      attachments.add(attached);
      started = true;
      return {
        middleware: attached.middleware,
        upgrade: attached.upgrade,
        close: async () => (attachments.delete(attached), attached.close()),
      };
    },
    close(closeOptions?: CloseOptions) {
      return (closing ??= stop(closeOptions?.drainMs ?? current.settings.drainMs));
    },
  };

  async function stop(drainMs: number): Promise<void> {
    for (const server of servers) server.drain();
    for (const attached of attachments) attached.drain();
    const cut = await drainWork(
      {
        inFlight: () => {
          let count = pipeline.inFlight;
          for (const server of servers) count += server.inFlight;
          for (const attached of attachments) count += attached.inFlight;
          return count;
        },
        cutOff: () => pipeline.cutOff(drainMs),
      },
      drainMs,
    );
    if (cut > 0) logger.warn(`gateway: ${cut} call${cut === 1 ? "" : "s"} still running after server.drain (${drainMs} ms) answered 503 shutting-down`);
    await reloader?.close();
    await typeCheck?.close();
    await Promise.all([...servers, ...attachments].map((s) => s.close()));
    servers.clear();
    attachments.clear();
    pipeline.stop();
    loop.stop();
    descriptors.stop();
    await bus?.close();
    await lifecycle.retire([]);
    await builder?.cache.flush();
    await releaseCompiler();
  }
}

/**
 * With server.bus: join the other instances (events, channels and listeners of their pages).
 * Without the redis package (an optional peer dependency), a ConfigError at server.bus.
 */
async function startBus(manifestFile: string, settings: BusSettings | undefined, events: EventHub, pages: Pages, logger: Logger, maxDepth: () => number, problems: Problems): Promise<Bus | undefined> {
  if (settings === undefined) return undefined;
  try {
    await import("redis"); // apps without a bus never load the client
  } catch (error) {
    throw redisMissing(manifestFile, error);
  }
  const { startRedisBus } = await import("./bus/redis-bus.ts");
  const bus = await startRedisBus(
    settings,
    {
      deliverEvent: (event) => events.receive(event),
      evalScript: (label, script) => events.evalScript(label, script),
      gap: (gap, page) => events.gap(gap, page),
      localPage: (id) => pages.get(id),
      localPages: () => pages.values(),
      liveTargets: () => events.liveTargets(),
    },
    logger,
    maxDepth,
    problems,
  );
  events.bus = bus;
  pages.observer = bus;
  return bus;
}

/** The redis package could not be loaded: one line at server.bus saying what to install. */
function redisMissing(manifestFile: string, error: unknown): ConfigError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = String((error as Error | undefined)?.message ?? error).split("\n")[0];
  // Not found: the package itself or one of its own (@redis/client, ...); anything else is a broken install.
  const notFound = (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && /['"](redis|@redis\/[^'"]+)['"]/.test(message);
  let at: Position | undefined;
  try {
    // Only on this path: the manifest read again for the place of server.bus (settings carry no positions).
    at = new SourceDoc(manifestFile, readRegularFile(manifestFile, "utf8")).valuePosition(["server", "bus"]);
  } catch {
    // (a build served without its sources) the manifest's name alone
  }
  const why = notFound ? "which is not installed" : `which does not load (${message})`;
  return new ConfigError([{ file: manifestFile, ...at, message: `server.bus needs the redis package, ${why}: npm install redis` }]);
}

function relativeTo(generation: Generation, file: string): string {
  return displayPath(file, dirname(generation.manifestFile));
}

/** The modules a reload evaluated anew (the edited ones and their importers), as the log line says them. */
function describeEvaluated(files: string[]): string {
  if (files.length === 0) return "; no module re-evaluated";
  return `; re-evaluated ${files.slice(0, 5).join(", ")}${files.length > 5 ? ` and ${files.length - 5} more` : ""}`;
}

function describeChanges(changed: string[], generation: Generation): string {
  if (changed.length === 0) return "";
  const shown = changed.slice(0, 3).map((f) => relativeTo(generation, f));
  return `: ${shown.join(", ")}${changed.length > 3 ? ` and ${changed.length - 3} more` : ""}`;
}

/**
 * An in-process call through the pipeline, as `caller` (a function, not a closure per call: see
 * Settle); counted in `metrics` (when the gateway listens with metrics on) as transport in-process.
 */
function invokeAs<T>(
  pipeline: ReturnType<typeof createPipeline>,
  cmd: string,
  body: unknown,
  options: InvokeOptions | undefined,
  caller: Caller | undefined,
  metrics: GatewayMetrics | undefined,
): Promise<T> {
  const settle = new Settle<T>();
  if (metrics !== undefined) settle.count(metrics, invokedName(cmd, options?.headers));
  // Without the option the pipeline reads x-request-id from the headers (as for any InvokeRequest).
  const requestId = options?.requestId === undefined ? undefined : requestIdFrom(options.requestId);
  const response = pipeline.execute({ cmd, body, window: options?.window, headers: options?.headers, signal: options?.signal, caller, requestId }, settle);
  if (response === undefined) return settle.promise;
  settle.counted(response);
  return response.ok ? Promise.resolve(response.value as T) : Promise.reject(response.error);
}

/** `{ [key]: value }` when there is a value, else nothing (for spreading into a document). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

let capturedResolve: ((value: never) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * The promise `invoke` returns, settled straight from the pipeline's answer: the value, or a
 * rejection with exactly the error value (no intermediate promise; no closure per call).
 */
class Settle<T> implements ResponseSink {
  readonly promise: Promise<T>;
  private readonly resolve: (value: T) => void;
  private readonly reject: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<T>(capture);
    this.resolve = capturedResolve as (value: T) => void;
    this.reject = capturedReject!;
  }

  /** Where and as what the call is counted once answered (metrics on); and since when. */
  private metrics: GatewayMetrics | undefined;
  private cmd = "";
  private started = 0;

  count(metrics: GatewayMetrics, cmd: string): void {
    this.metrics = metrics;
    this.cmd = cmd;
    this.started = performance.now();
  }

  /** The call's answer, counted (when metrics are on). */
  counted(response: InvokeResponse): void {
    if (this.metrics === undefined) return;
    const outcome = response.ok ? "ok" : response.fromHandler ? "invoke-error" : kindOf(response.error);
    this.metrics.call({ cmd: this.cmd, transport: "in-process", outcome, ms: elapsedMs(this.started) });
  }

  respond(response: InvokeResponse): void {
    this.counted(response);
    if (response.ok) this.resolve(response.value as T);
    else this.reject(response.error);
  }
}

const catalogs = new WeakMap<Generation, Catalog>();

/** The generation's schemas as named definitions (built once per generation, on first use). */
export function catalogOf(generation: Generation): Catalog {
  let catalog = catalogs.get(generation);
  if (!catalog) catalogs.set(generation, (catalog = buildCatalog(generation)));
  return catalog;
}

/**
 * GET /__gateway/manifest.json: the commands, channels and events with their schemas as written;
 * under dev (`dev` given) also each handler's place and the editor link (`openInEditor`).
 */
function describe(generation: Generation, dev?: DevDescription): unknown {
  const schemaOf = (spec: ValueSpec) => (spec.kind === "binary" ? "binary" : (spec.schema ?? null));
  return {
    generation: generation.id,
    commands: Object.fromEntries(
      [...generation.commands.values()].map((c) => [
        c.name,
        {
          body: schemaOf(c.body),
          returns: schemaOf(c.returns),
          errors: schemaOf(c.errors),
          timeout: c.timeoutMs,
          ...(c.windows ? { windows: [...c.windows] } : {}),
          ...(dev ? { handler: handlerSource(generation, c) } : {}),
        },
      ]),
    ),
    channels: Object.fromEntries([...generation.channels.values()].map((c) => [c.name, { message: schemaOf(c.message) }])),
    events: Object.fromEntries(
      [...generation.events.values()].map((e) => [e.name, { payload: e.validate ? schemaOf({ kind: "json", validate: e.validate, schema: e.schema }) : null, from: [...e.from] }]),
    ),
    ...(dev ? { openInEditor: dev.openInEditor } : {}),
  };
}
