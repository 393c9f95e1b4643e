// The `gateway` command line: one module per verb; this one parses arguments, answers --help
// (for every verb) and --version, and reports usage mistakes with exit code 2.
import { parseArgs } from "node:util";
import { packageVersion } from "../config/package-info.ts";
import { stopCompiler } from "../reload/compile.ts";
import { build } from "./build.ts";
import { check } from "./check.ts";
import { docs } from "./docs.ts";
import { init } from "./init.ts";
import { newVerb } from "./new.ts";
import { dev, serveVerb } from "./serve.ts";
import { typesVerb } from "./types.ts";
import { UsageError, type Verb } from "./verb.ts";

const VERBS: Verb[] = [dev, serveVerb, build, check, typesVerb, init, newVerb, docs];


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
    console.error(`gateway: unknown command "${name}"\n\n${overview()}`);
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
    if (!(error instanceof UsageError) && !(error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) throw error;
    console.error(`gateway ${verb.name}: ${(error as Error).message}\n\nusage: gateway ${verb.synopsis}\n(gateway ${verb.name} --help tells more)`);
    return 2;
  }
}
