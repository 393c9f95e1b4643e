// Where the manifest's `${VAR}`s come from: the process's environment over env files, as
// `node --env-file`, Vite and docker compose have it (the environment wins; of several files the
// later wins). By default the one file is `.env` beside the manifest, and need not exist. The files
// only fill in the manifest: process.env is left as it is (docker compose's `.env` does the same for
// its YAML), so a start's environment is exactly what the process was given.
import { dirname, join, resolve } from "node:path";
import type { Env } from "./manifest.ts";
import type { Problems } from "./problems.ts";
import { readEnvFile } from "./env-file.ts";

export const DEFAULT_ENV_FILE = ".env";

/** createGateway's say in it (and the command line's --env-file). */
export interface EnvOptions {
  /** The variables instead of process.env. Given alone, only these: no env file is read. */
  env?: Env;
  /** Env files (relative to the working directory), later ones winning; false: none. Default: `.env` beside the manifest unless `env` is given. */
  envFile?: string | readonly string[] | false;
}

export class EnvLayers {
  /**
   * `files`: read at every build (under `gateway dev`, an edit of one is a reload), watched with
   * the app's files. `named`: the user named them, so a missing one is a mistake.
   */
  constructor(
    private readonly base: Env,
    readonly files: readonly string[],
    private readonly named: boolean,
  ) {}

  /** The variables now, and a key that differs whenever they may (the files as read). */
  read(problems: Problems): { env: Env; key: string } {
    if (this.files.length === 0) return { env: this.base, key: "" };
    // No prototype: `${__proto__}` is a variable like any other, unset unless a file sets it.
    const env: Record<string, string> = Object.create(null) as Record<string, string>;
    const seen: string[] = [];
    for (const file of this.files) {
      const read = readEnvFile(file, this.named);
      if (read.kind !== "absent") for (const problem of read.problems) problems.add(problem);
      if (read.kind === "read") Object.assign(env, read.values);
      seen.push(read.kind === "read" ? read.text : read.kind);
    }
    for (const [name, value] of Object.entries(this.base)) if (value !== undefined) env[name] = value;
    return { env, key: JSON.stringify(seen) };
  }
}

/** The layers for a manifest (for a build folder: the app's manifest, where the build found it). */
export function envLayers(options: EnvOptions, manifestFile: string): EnvLayers {
  const { env, envFile } = options;
  if (envFile === false || (envFile === undefined && env !== undefined)) return new EnvLayers(env ?? process.env, [], false);
  if (envFile === undefined) return new EnvLayers(process.env, [join(dirname(manifestFile), DEFAULT_ENV_FILE)], false);
  const files = typeof envFile === "string" ? [envFile] : envFile;
  return new EnvLayers(env ?? process.env, files.map((file) => resolve(file)), true);
}

/** The layers as given, or made from a plain environment (only it), or the default ones. */
export function asEnvLayers(env: Env | EnvLayers | undefined, manifestFile: string): EnvLayers {
  if (env instanceof EnvLayers) return env;
  return envLayers(env === undefined ? {} : { env }, manifestFile);
}
