// ipc-gateway/vite: the gateway inside Vite's dev server. Page and gateway share Vite's origin
// (no CORS, no `origins:`), the page gets the gateway's script without a tag of its own, the
// frontend's types are rewritten as the schemas change, and a broken edit shows in Vite's error
// overlay. One process: `vite` (or `npm run dev`) is all there is to run.
//
// Vite is an optional peer of ipc-gateway: only this module names it, and only for its types.
import { resolve } from "node:path";
import type { HtmlTagDescriptor, IndexHtmlTransformContext, Logger as ViteLogger, Plugin, PreviewServer, ProxyOptions, ResolvedConfig, UserConfig, ViteDevServer } from "vite";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { createGateway, type Gateway, type GatewaySettings, type ProblemReport } from "../gateway.ts";
import { ConfigError, formatProblem, type Problem } from "../config/problems.ts";
import { keepTypesWritten } from "../cli/type-files.ts";
import { outputs, refuseTargets } from "../cli/types.ts";
import { Refusal } from "../cli/file-errors.ts";
import { logStrayErrors } from "../runtime/stray-errors.ts";
import type { Logger } from "../runtime/logger.ts";
import { overlayError } from "./overlay.ts";
import { viteHostCheck } from "./hosts.ts";

export interface GatewayPluginOptions {
  /** The manifest, relative to Vite's root. Default: gateway.yaml. */
  config?: string;
  /**
   * The frontend's bindings (what `gateway types --out <file>` writes), relative to Vite's root:
   * written when the dev server starts and again whenever a manifest or schema edit changes them.
   */
  types?: string;
  /** The handlers' declarations (`gateway types --handlers <file>`), kept written the same way. */
  handlers?: string;
  /**
   * Env files for `${VAR}` in the manifest (relative to Vite's root); default: the `.env` beside
   * the manifest. The process environment wins.
   */
  envFile?: string | string[];
  /**
   * Type-check the handlers against their schemas in the background after every good reload
   * (`gateway dev --check-types`), with findings in Vite's overlay and log and the dev console.
   * Needs the app's own `typescript`. Default: false.
   */
  checkTypes?: boolean;
  /**
   * A gateway that runs elsewhere (`gateway dev` in another terminal, another machine):
   * Vite proxies /ipc/, /ipc/ws and /__gateway/ to it instead of running one. Page requests keep
   * Vite's origin: a page of Vite's own host reaches the gateway as one of its own pages.
   */
  proxy?: string;
  /**
   * Where the page built by `vite build` loads the gateway's script from. Default
   * "/__gateway/tauri.js": the gateway that serves the built page (`server.static`). An absolute
   * URL makes the page call the gateway at that URL's origin (which must list the page's origin
   * in `server.origins`).
   */
  script?: string;
}

const SCRIPT_PATH = "/__gateway/tauri.js";
const PLUGIN_NAME = "ipc-gateway";

/** What the plugin needs of Vite's dev server and of its preview server alike. */
type ViteServer = Pick<ViteDevServer | PreviewServer, "config" | "middlewares" | "httpServer">;

/** The Vite plugin: `plugins: [gateway({ config: "gateway.yaml", types: "src/ipc.ts" })]`. */
export default function gateway(options: GatewayPluginOptions = {}): Plugin {
  const proxyTarget = options.proxy === undefined ? undefined : targetOrigin(options.proxy);
  let config: ResolvedConfig;
  /** The gateway of the server Vite runs now (a restart makes a new one), and its stray-error handler. */
  let running: Gateway | undefined;
  let uninstall: (() => void) | undefined;

  /** Closes `gateway` (again: the same promise); the old server's close after a restart leaves the new one be. */
  const stop = (gateway: Gateway) => {
    if (running === gateway) {
      running = undefined;
      uninstall?.();
      uninstall = undefined;
    }
    return gateway.close({ drainMs: 0 });
  };
  const manifestOf = (root: string) => resolve(root, options.config ?? "gateway.yaml");

  /** The gateway for Vite's dev or preview server, on that server's routes, closing with it. */
  const start = async (server: ViteServer, serverOptions: { https?: unknown; allowedHosts?: string[] | true }, logger: Logger, settings: GatewaySettings): Promise<Gateway> => {
    const root = server.config.root;
    let gatewayStarted: Gateway;
    try {
      gatewayStarted = await createGateway({
        config: manifestOf(root),
        logger,
        ...settings,
        ...(options.envFile !== undefined ? { envFile: [options.envFile].flat().map((f) => resolve(root, f)) } : {}),
      });
    } catch (error) {
      // Mistakes a gateway does not serve past (server.bus without redis; any, for preview): Vite stops with them.
      if (error instanceof ConfigError) throw new Error(`[${PLUGIN_NAME}] ${error.problems.map((p) => formatProblem(p)).join("\n")}`);
      throw error;
    }
    running = gatewayStarted;
    const https = Boolean(serverOptions.https);
    const attached = gatewayStarted.attach({
      server: (server.httpServer ?? undefined) as HttpServer | undefined,
      secure: https,
      hostAllowed: viteHostCheck(serverOptions.allowedHosts, https),
    });
    // Before Vite's own middlewares (its transforms, static files and SPA fallback): the gateway's routes are its alone.
    server.middlewares.use(attached.middleware);
    // A handler's stray throw (in its own timer) would end Vite's process: logged instead, as gateway dev does.
    uninstall?.();
    uninstall = logStrayErrors(() => gatewayStarted.generation, logger);
    server.httpServer?.once("close", () => void stop(gatewayStarted));
    return gatewayStarted;
  };

  return {
    name: PLUGIN_NAME,

    config(_user: UserConfig, { command }): UserConfig | undefined {
      if (proxyTarget === undefined || command !== "serve") return undefined;
      return { server: { proxy: gatewayProxy(proxyTarget) } };
    },

    configResolved(resolved) {
      config = resolved;
    },

    async configureServer(server: ViteDevServer) {
      const logger = viteLogger(server.config.logger);
      if (proxyTarget !== undefined) {
        logger.info(`gateway: /ipc/ and /__gateway/ go to the gateway at ${proxyTarget}`);
        return;
      }
      const root = server.config.root;
      const typesFile = options.types === undefined ? undefined : resolve(root, options.types);
      const handlersFile = options.handlers === undefined ? undefined : resolve(root, options.handlers);
      try {
        // As `gateway dev` refuses them: the manifest, a schema, a folder, a file it did not write.
        refuseTargets(outputs(typesFile, handlersFile, "types"), manifestOf(root));
      } catch (error) {
        throw new Error(`[${PLUGIN_NAME}] ${error instanceof Refusal ? error.message : String(error)}`);
      }
      const overlay = new Overlay(server);
      const started = await start(server, server.config.server, logger, {
        watch: true,
        dev: true,
        serveWhileBroken: true,
        onProblems: (report) => overlay.report(report),
        // The dev console's handler links open files through Vite's own editor launcher.
        openInEditor: `${server.config.base}__open-in-editor`,
        checkTypes: options.checkTypes ?? false,
      });
      if (!started.ready) logger.error(`gateway: the app does not build yet; every command answers 503 not-ready until this is fixed:\n${started.lastError}`);
      if (server.httpServer === null) logger.warn("gateway: Vite runs in middleware mode: pages get no socket (/ipc/ws), so channels and events do not reach them; invoke still works over HTTP");
      if (typesFile !== undefined || handlersFile !== undefined) keepTypesWritten(started, typesFile, handlersFile);
      // A page that connects (or reconnects) while the files are broken sees the overlay too.
      server.ws.on("connection", () => overlay.show());
    },

    async configurePreviewServer(server: PreviewServer) {
      // `vite preview` serves the build as production would: the gateway as `gateway serve` runs it.
      if (proxyTarget !== undefined) return;
      await start(server, server.config.preview, viteLogger(server.config.logger), { watch: false });
    },

    transformIndexHtml: {
      order: "pre",
      handler(html: string, context: IndexHtmlTransformContext): HtmlTagDescriptor[] {
        // A page that loads the script itself (written before the plugin) keeps its own tag.
        if (html.includes(SCRIPT_PATH)) return [];
        const built = context.server === undefined;
        // A classic script before the page's modules: window.__TAURI_INTERNALS__ exists when they run.
        return [{ tag: "script", attrs: { src: built ? (options.script ?? SCRIPT_PATH) : SCRIPT_PATH }, injectTo: "head-prepend" }];
      },
    },

    async closeBundle() {
      // The dev server closes (a restart, or Vite exiting): the gateway with it. (A build runs none.)
      if (config?.command === "serve" && running !== undefined) await stop(running);
    },
  };
}

/** The proxy entries for a gateway elsewhere: its invocations, socket and documents. */
function gatewayProxy(target: string): Record<string, ProxyOptions> {
  const entry = (ws: boolean): ProxyOptions => ({
    target,
    ws,
    changeOrigin: true,
    configure(proxy) {
      proxy.on("proxyReq", (proxyReq, req) => ownPage(proxyReq, req, target));
      if (ws) proxy.on("proxyReqWs", (proxyReq, req) => ownPage(proxyReq, req, target));
    },
  });
  return { "^/ipc/": entry(true), "^/__gateway(/|$)": entry(false) };
}

/**
 * A page of Vite's own host (same-origin with the dev server) is a page of the gateway's own
 * behind the proxy: its Origin becomes the gateway's. Any other Origin is passed on as it is,
 * so the gateway still refuses other sites.
 */
function ownPage(proxyReq: { setHeader(name: string, value: string): unknown }, req: IncomingMessage, target: string): void {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin === undefined || host === undefined) return;
  const lower = origin.toLowerCase();
  if (lower === `http://${host.toLowerCase()}` || lower === `https://${host.toLowerCase()}`) proxyReq.setHeader("origin", target);
}

/** The proxy option's origin (scheme, host, port), checked once: a mistake there stops Vite with one line. */
function targetOrigin(proxy: string): string {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    throw new Error(`[${PLUGIN_NAME}] proxy must be the gateway's URL (e.g. http://127.0.0.1:1430), not ${JSON.stringify(proxy)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`[${PLUGIN_NAME}] proxy must be an http:// or https:// URL, not ${JSON.stringify(proxy)}`);
  return url.origin;
}

/** The gateway's log lines through Vite's logger (its level, its timestamps, its screen). */
function viteLogger(vite: ViteLogger): Logger {
  const options = { timestamp: true };
  return {
    info: (message) => vite.info(message, options),
    warn: (message) => vite.warn(message, options),
    error: (message, error) => vite.error(error === undefined ? message : `${message}\n${errorText(error)}`, { ...options, ...(error instanceof Error ? { error } : {}) }),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** What Vite's overlay shows: the files' mistakes first, else the handlers' type findings; nothing once both are good. */
class Overlay {
  private build: readonly Problem[] = [];
  private types: readonly Problem[] = [];
  private shown = false;

  constructor(private readonly server: ViteDevServer) {}

  report(report: ProblemReport): void {
    if (report.source === "build") this.build = report.problems;
    else this.types = report.problems;
    this.show();
  }

  show(): void {
    const error =
      this.build.length > 0
        ? overlayError(this.build, "gateway: the edit is broken; the last good version is still serving")
        : this.types.length > 0
          ? overlayError(this.types, "gateway: handlers do not match their schemas")
          : undefined;
    if (error !== undefined) {
      this.shown = true;
      this.server.ws.send({ type: "error", err: error });
    } else if (this.shown) {
      // An update with nothing in it: Vite's client takes the overlay away.
      this.shown = false;
      this.server.ws.send({ type: "update", updates: [] });
    }
  }
}
