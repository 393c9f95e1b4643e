// gateway dev | serve: build the gateway, listen, and stop gracefully on SIGINT/SIGTERM.
import { resolve } from "node:path";
import { ConfigError, formatProblem } from "../config/problems.ts";
import { createGateway, type Gateway } from "../gateway.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "../runtime/logger.ts";
import { logStrayErrors } from "../runtime/stray-errors.ts";
import { reasonOf } from "./file-errors.ts";
import { keepTypesWritten } from "./type-files.ts";
import { outputs, refuseTargets } from "./types.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, UsageError, type Verb } from "./verb.ts";
import { ENV_FILE_DETAIL, ENV_FILE_OPTION, envFileOption } from "./env-files.ts";
import { CONSOLE_PATH } from "../transports/console.ts";

const PORT_DETAIL = "  -p, --port <n>        the port (default: the manifest's server.port, 1430); 0 picks a free one";
const LOG_DETAIL = `      --log-level <l>   debug, info, warn, error or silent (default: the manifest's server.log,
                        else info for dev and warn for serve)
      --log-format <f>  pretty or json (default: pretty when stderr is a terminal, json otherwise)`;
const LOG_OPTIONS = { "log-level": { type: "string" }, "log-format": { type: "string" } } as const;

export const dev: Verb = {
  name: "dev",
  summary: "serve with hot reload (edits to the manifest, handlers and schemas apply live)",
  synopsis: "dev [--config gateway.yaml] [--env-file file]... [--port N] [--types file] [--handlers file.d.ts] [--check-types]",
  details: `Serves the manifest and rebuilds on every change to it, its handlers (and their local
imports), its schemas and its env files (.env, or --env-file). A broken edit keeps the last
good version serving and says why. Prints the listening line, then the dev console's address
(gateway dev console: http://127.0.0.1:1430/__gateway/).

${CONFIG_DETAIL}
${ENV_FILE_DETAIL}
${PORT_DETAIL}
      --types <file>    write the frontend's TypeScript (as gateway types --out <file>) at start
                        and again after every reload that changes it
      --handlers <file> the same for the handlers' declarations (gateway types --handlers <file>)
      --check-types     type-check the TypeScript handlers against their schemas (as gateway
                        check --types, with the app's own typescript) in the background, at
                        start and after every good reload: findings are logged (warn), shown by
                        the dev console and Vite's overlay; serving never waits for it
${LOG_DETAIL}`,
  options: {
    ...CONFIG_OPTION,
    ...ENV_FILE_OPTION,
    port: { type: "string", short: "p" },
    types: { type: "string" },
    handlers: { type: "string" },
    "check-types": { type: "boolean" },
    ...LOG_OPTIONS,
  },
  run: (values) => {
    const typesFile = values.types !== undefined ? resolve(values.types as string) : undefined;
    const handlersFile = values.handlers !== undefined ? resolve(values.handlers as string) : undefined;
    const port = portOf(values.port);
    const logging = logOptions(values);
    // Before serving: --types naming the manifest, a folder or a file of the user's ends here.
    refuseTargets(outputs(typesFile, handlersFile, "--types"), resolve(values.config as string));
    return serve({ config: values.config as string, ...envFileOption(values) }, {
      dev: true,
      port,
      ...logging,
      ...(typesFile !== undefined ? { typesFile } : {}),
      ...(handlersFile !== undefined ? { handlersFile } : {}),
      ...(values["check-types"] ? { checkTypes: true } : {}),
    });
  },
};

export const serveVerb: Verb = {
  name: "serve",
  summary: "serve without watching (production)",
  synopsis: "serve [--config gateway.yaml | --from DIR] [--env-file file]... [--port N] [--host H]",
  details: `Serves the manifest as it is; exits 1 if it is broken.

${CONFIG_DETAIL}
      --from <dir>      serve a folder gateway build wrote instead: no sources, no esbuild, no
                        schema compiled, nothing written; its server: settings (and their
                        \${VAR}s) are read at start, with the .env in the app's folder (beside
                        the manifest the build was made from), not one in DIR
${ENV_FILE_DETAIL}
${PORT_DETAIL}
      --host <h>        the address to bind (default: the manifest's server.host, 127.0.0.1);
                        any other than loopback needs server.token
${LOG_DETAIL}`,
  options: { config: { type: "string", short: "c" }, from: { type: "string" }, ...ENV_FILE_OPTION, port: { type: "string", short: "p" }, host: { type: "string" }, ...LOG_OPTIONS },
  run: (values) => {
    if (values.from !== undefined && values.config !== undefined) throw new UsageError("--from serves a build folder, which holds its manifest: give --from or --config, not both");
    const manifest = values.from !== undefined ? { from: values.from as string } : { config: (values.config as string | undefined) ?? "gateway.yaml" };
    const source = { ...manifest, ...envFileOption(values) };
    return serve(source, { dev: false, port: portOf(values.port), host: values.host as string | undefined, ...logOptions(values) });
  },
};

function logOptions(values: Record<string, unknown>): { logLevel?: LogLevel; logFormat?: LogFormat } {
  const level = values["log-level"];
  const format = values["log-format"];
  if (level !== undefined && !LOG_LEVELS.includes(level as LogLevel)) throw new UsageError(`--log-level is one of ${LOG_LEVELS.join(", ")}, not "${String(level)}"`);
  if (format !== undefined && format !== "pretty" && format !== "json") throw new UsageError(`--log-format is pretty or json, not "${String(format)}"`);
  return { ...(level !== undefined ? { logLevel: level as LogLevel } : {}), ...(format !== undefined ? { logFormat: format as LogFormat } : {}) };
}

function portOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--port must be a port number from 0 to 65535, not "${String(value)}"`);
  return port;
}

/**
 * Serve until SIGINT/SIGTERM, then drain (see Gateway.close: /readyz 503, work still served until
 * nothing is in flight or server.drain passes, late calls answered 503 shutting-down) and exit 0.
 * A second signal exits at once with status 1.
 */
async function serve(
  source: ({ config: string } | { from: string }) & { envFile?: string[] },
  options: {
    dev: boolean;
    port: number | undefined;
    host?: string | undefined;
    logLevel?: LogLevel;
    logFormat?: LogFormat;
    /** gateway dev --types / --handlers: files rewritten from every good generation. */
    typesFile?: string;
    handlersFile?: string;
    /** gateway dev --check-types: createGateway's checkTypes. */
    checkTypes?: boolean;
  },
): Promise<number> {
  let gateway: Gateway;
  try {
    // dev never gives up: broken files at start are served as not-ready until they are fixed.
    gateway = await createGateway({
      ...source,
      dev: options.dev,
      watch: options.dev,
      serveWhileBroken: options.dev,
      ...(options.checkTypes ? { checkTypes: true } : {}),
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      ...(options.logFormat ? { logFormat: options.logFormat } : {}),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(formatProblem(problem));
    return 1;
  }
  if (!gateway.ready) {
    console.error(`${gateway.lastError}\ngateway: the app does not build yet; every command answers 503 not-ready until the files above are fixed`);
  }
  let url: string;
  try {
    ({ url } = await gateway.listen({ port: options.port, host: options.host }));
  } catch (error) {
    await gateway.close();
    console.error(`gateway: ${listenFailure(error as NodeJS.ErrnoException & { address?: string; port?: number }, options.port, options.host)}`);
    return 1;
  }
  logStrayErrors(() => gateway.generation, gateway.logger);
  if (options.typesFile !== undefined || options.handlersFile !== undefined) keepTypesWritten(gateway, options.typesFile, options.handlersFile);
  return new Promise<number>((resolvePromise) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      // A second signal: the operator (or an orchestrator past its grace period) wants it gone now.
      if (stopping) {
        console.error(`gateway: ${signal} again; exiting now without finishing the drain`);
        process.exit(1);
      }
      stopping = true;
      const drainMs = gateway.generation.settings.drainMs;
      gateway.logger.warn(`gateway: ${signal}: draining (/readyz answers 503; calls in flight have up to ${drainMs} ms to finish)`);
      void gateway.close().then(() => resolvePromise(0));
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // Only now: a supervisor (or a test) may signal as soon as it reads this line, and a signal
    // before the handlers above would kill the process outright, dropping calls in flight.
    // No edit saved after this line (or since the build began) is lost: the watcher, once ready,
    // also rebuilds files modified since then (see reload/reloader.ts), so this line need not wait
    // for it (which, for a thousand files, takes a few hundred milliseconds).
    console.log(`gateway listening on ${url}`);
    // Its own line after it: whatever reads the listening line (tests, scripts) reads it unchanged.
    if (options.dev) console.log(`gateway dev console: ${url}${CONSOLE_PATH}`);
  });
}

/** Why listening failed, naming the port and the address it was tried on. */
function listenFailure(error: NodeJS.ErrnoException & { address?: string; port?: number }, port: number | undefined, host: string | undefined): string {
  const on = `port ${error.port ?? port ?? "?"} on ${error.address ?? host ?? "the manifest's host"}`;
  switch (error.code) {
    case "EADDRINUSE":
      return `${on} is in use (--port picks another, 0 any free one)`;
    case "EACCES":
      return `${on}: permission denied (ports below 1024 need privileges; --port picks another)`;
    case "EADDRNOTAVAIL":
      return `${on}: no network interface of this machine has that address (--host names another)`;
    default:
      return `${on}: ${error.code === undefined ? error.message : reasonOf(error.code)}`;
  }
}
