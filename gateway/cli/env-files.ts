// --env-file: the files `${VAR}` is read from instead of the `.env` beside the manifest, for every
// verb that reads the manifest. Repeatable, later files winning, as with `node --env-file`.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { envLayers, type EnvLayers } from "../config/env-layers.ts";
import { reasonOf, Refusal, shown } from "./file-errors.ts";

export const ENV_FILE_OPTION = { "env-file": { type: "string", multiple: true } } as const;
export const ENV_FILE_DETAIL = `      --env-file <file> read \${VAR}s from this file instead of .env beside the manifest
                        (repeat for more: later files win; the environment wins over them all)`;

/**
 * createGateway's `envFile` from --env-file. Each file named is looked at now: a missing one stops
 * the verb before anything runs (`gateway <verb>: file: not found`, exit 1), rather than `gateway dev`
 * waiting for it as for a broken edit. (So far Node itself says so first, exit 9: it looks at
 * `--env-file` anywhere on its command line, nodejs/node#54232.)
 */
export function envFileOption(values: Record<string, unknown>): { envFile?: string[] } {
  const named = values["env-file"] as string[] | undefined;
  if (named === undefined) return {};
  const files = named.map((file) => resolve(file));
  for (const file of files) {
    try {
      statSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Refusal(`${shown(file)}: ${code === undefined ? String(error) : reasonOf(code)}`);
    }
  }
  return { envFile: files };
}

/** The variables for the verbs that build the manifest themselves (check, build, types, docs, explain). */
export function envFor(values: Record<string, unknown>, manifestFile: string): EnvLayers {
  return envLayers(envFileOption(values), manifestFile);
}
