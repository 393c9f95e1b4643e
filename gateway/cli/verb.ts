// One verb of the command line (`gateway dev`, `gateway check` ...): its options and help, and
// what it does. cli/index.ts parses the arguments and answers --help for every verb the same way.
import type { ParseArgsConfig } from "node:util";

export interface Verb {
  name: string;
  /** One line for `gateway --help`. */
  summary: string;
  /** The synopsis after "usage: gateway", e.g. "dev [--config gateway.yaml] [--port N]". */
  synopsis: string;
  /** What each option means, one line each, for `gateway <verb> --help`. */
  details: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** How many positional arguments it takes at most (0 when none). */
  positionals?: number;
  /** Resolves with the exit code. */
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

/** A usage mistake: printed with the verb's usage, exit code 2. */
export class UsageError extends Error {}

export const CONFIG_OPTION = { config: { type: "string", short: "c", default: "gateway.yaml" } } as const;
export const CONFIG_DETAIL = "  -c, --config <file>   the manifest (default gateway.yaml)";
