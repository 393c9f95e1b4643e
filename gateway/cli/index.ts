// The `gateway` command line: one module per verb; this one parses arguments, answers --help
// (for every verb) and --version, and reports usage mistakes with exit code 2 and refusals (a
// verb's own, or the file system's on a path it was given) with exit code 1, in one line each.
import { parseArgs } from "node:util";
import { packageVersion } from "../config/package-info.ts";
import { stopCompiler } from "../reload/compile.ts";
import { build } from "./build.ts";
import { check } from "./check.ts";
import { docs } from "./docs.ts";
import { explain } from "./explain.ts";
import { init } from "./init.ts";
import { newVerb } from "./new.ts";
import { dev, serveVerb } from "./serve.ts";
import { typesVerb } from "./types.ts";
import { fileErrorLine, isFileError, Refusal } from "./file-errors.ts";
import { nearest } from "./nearest.ts";
import { UsageError, type Verb } from "./verb.ts";

const VERBS: Verb[] = [dev, serveVerb, build, check, explain, typesVerb, init, newVerb, docs];

function overview(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  return `usage: gateway <command> [options]

commands:
${VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join("\n")}

gateway <command> --help tells more; gateway --version prints the version.`;
}

function help(verb: Verb): string {
  return `usage: gateway ${verb.synopsis}\n\n${verb.summary}.\n\n${verb.details}\n  -h, --help            this help`;
}

/** Runs the command line; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(packageVersion());
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  const verb = VERBS.find((v) => v.name === name);
  if (verb === undefined) {
    const guess = nearest(name, VERBS.map((v) => v.name));
    console.error(guess === undefined ? `gateway: unknown command "${name}"\n\n${overview()}` : `gateway: unknown command "${name}": did you mean ${guess}? (gateway --help lists every command)`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...verb.options, help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "v" } },
      allowPositionals: (verb.positionals ?? 0) > 0,
      strict: true,
    });
    if (values.help) {
      console.log(help(verb));
      return 0;
    }
    if (values.version) {
      console.log(packageVersion());
      return 0;
    }
    if (positionals.length > (verb.positionals ?? 0)) throw new UsageError(`unexpected argument "${positionals[verb.positionals ?? 0]}"`);
    return await verb.run(values as Record<string, string | boolean | undefined>, positionals).finally(stopCompiler);
  } catch (error) {
    if (error instanceof Refusal || isFileError(error)) {
      console.error(`gateway ${verb.name}: ${error instanceof Refusal ? error.message : fileErrorLine(error)}`);
      return 1;
    }
    if (!(error instanceof UsageError) && !(error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) throw error;
    console.error(`gateway ${verb.name}: ${usageMessage(verb, error as Error)}\n\nusage: gateway ${verb.synopsis}\n(gateway ${verb.name} --help tells more)`);
    return 2;
  }
}

/** The usage mistake in words; an unknown option with the verb's option it is nearest to. */
function usageMessage(verb: Verb, error: Error): string {
  if ((error as { code?: string }).code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") return error.message;
  const given = /'(-[^']*)'/.exec(error.message)?.[1];
  if (given === undefined) return error.message;
  const options = Object.keys(verb.options).map((o) => `--${o}`);
  const guess = nearest(given.replace(/=.*/, ""), [...options, "--help", "--version"]);
  return guess === undefined ? error.message : `unknown option ${given}: did you mean ${guess}?`;
}
