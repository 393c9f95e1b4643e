// gateway check | serve | dev
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { GenerationBuilder } from "../reload/builder.ts";
import type { Generation } from "../runtime/generation.ts";
import { createGateway, type Gateway } from "../gateway.ts";
import { consoleLogger } from "../runtime/logger.ts";
import { logStrayErrors } from "../runtime/stray-errors.ts";
import { ConfigError, formatProblem } from "../config/problems.ts";

const USAGE = `usage: gateway <command> [options]

commands:
  dev     serve with hot reload       [--config gateway.yaml] [--port N]
  serve   serve without watching      [--config gateway.yaml] [--port N] [--host H]
  check   check the manifest and everything it names, then exit
                                      [--config gateway.yaml]`;

/** Runs the command line; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let options: { config: string; port?: string; host?: string };
  try {
    const parsed = parseArgs({
      args: rest,
      options: {
        config: { type: "string", short: "c", default: "gateway.yaml" },
        port: { type: "string", short: "p" },
        host: { type: "string" },
      },
      strict: true,
    });
    options = parsed.values as typeof options;
  } catch (error) {
    console.error(`gateway: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  switch (command) {
    case "check":
      return check(options.config);
    case "serve":
    case "dev": {
      const port = options.port === undefined ? undefined : Number(options.port);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
        console.error(`gateway: --port must be a port number from 0 to 65535, not "${options.port}"`);
        return 2;
      }
      return serve(options.config, { dev: command === "dev", port, host: options.host });
    }
    case "help":
    case "--help":
    case "-h":
    case undefined:
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`gateway: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function check(config: string): Promise<number> {
  const result = await new GenerationBuilder(resolve(config)).build();
  if (!result.ok) {
    for (const problem of result.problems) console.log(formatProblem(problem));
    return 1;
  }
  console.log(`${config}: ${summary(result.generation)}`);
  return 0;
}

/**
 * Serve until SIGINT/SIGTERM, then stop taking requests, let those in flight finish and exit 0.
 * A second signal exits at once.
 */
async function serve(config: string, options: { dev: boolean; port?: number; host?: string }): Promise<number> {
  let gateway: Gateway;
  try {
    gateway = await createGateway({ config, dev: options.dev, watch: options.dev });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(formatProblem(problem));
    return 1;
  }
  let url: string;
  try {
    ({ url } = await gateway.listen({ port: options.port, host: options.host }));
  } catch (error) {
    await gateway.close();
    const code = (error as NodeJS.ErrnoException).code;
    console.error(`gateway: ${code === "EADDRINUSE" ? `the port is in use (--port picks another, 0 any free one)` : (error as Error).message}`);
    return 1;
  }
  logStrayErrors(() => gateway.generation, consoleLogger);
  console.log(`gateway listening on ${url}`);
  return new Promise<number>((resolvePromise) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(1);
      stopping = true;
      void gateway.close().then(() => resolvePromise(0));
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export function summary(generation: Generation): string {
  return `${generation.commands.size} commands, ${generation.channels.size} channels, ${generation.events.size} events`;
}
