// gateway check | serve | dev
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { GenerationBuilder, type Generation } from "./generation.ts";
import { formatProblem } from "./problems.ts";

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

export function summary(generation: Generation): string {
  return `${generation.commands.size} commands, ${generation.channels.size} channels, ${generation.events.size} events`;
}
