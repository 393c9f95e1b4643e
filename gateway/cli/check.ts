// gateway check: the manifest and everything it names, checked without serving.
import { resolve } from "node:path";
import { formatProblem } from "../config/problems.ts";
import { GenerationBuilder } from "../reload/builder.ts";
import type { Generation } from "../runtime/generation.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, type Verb } from "./verb.ts";
import { ENV_FILE_DETAIL, ENV_FILE_OPTION, envFor } from "./env-files.ts";

export const check: Verb = {
  name: "check",
  summary: "check the manifest and everything it names, then exit 0 or 1",
  synopsis: "check [--config gateway.yaml] [--env-file file]... [--types]",
  details: `Prints a summary on stdout and exits 0, or prints one path:line:col: message line per
mistake on stderr (all of them, in one run) and exits 1. What the gateway ignores (a Tauri
permission it does not know, such as core:default) is printed as a warning: line on stderr and
is not a mistake.

${CONFIG_DETAIL}
${ENV_FILE_DETAIL}
      --types           also type-check every TypeScript handler against its command's schemas
                        (its body and return types, and the handler files' own type errors), with
                        the app's own typescript package`,
  options: { ...CONFIG_OPTION, ...ENV_FILE_OPTION, types: { type: "boolean" } },
  async run(values) {
    const config = values.config as string;
    const builder = new GenerationBuilder(resolve(config), envFor(values, resolve(config)));
    // What the app has that the gateway ignores (a Tauri permission it does not know): not a mistake.
    builder.warnTo((warning) => console.error(`warning: ${formatProblem(warning)}`));
    const result = await builder.build();
    await builder.cache.flush();
    if (!result.ok) {
      for (const problem of result.problems) console.error(formatProblem(problem));
      return 1;
    }
    if (!values.types) {
      console.log(`${config}: ${summary(result.generation)}`);
      return 0;
    }
    const { checkHandlerTypes } = await import("../describe/check-handlers.ts");
    const typed = checkHandlerTypes(result.generation);
    if (!typed.ok) {
      console.error(`${config}: ${typed.message}`);
      return 1;
    }
    for (const problem of typed.problems) console.error(formatProblem(problem));
    if (typed.problems.length > 0) return 1;
    const skipped = typed.skipped.length > 0 ? `; not TypeScript, not checked: ${typed.skipped.join(", ")}` : "";
    console.log(`${config}: ${summary(result.generation)}; ${typed.checked} handlers match their schemas (TypeScript ${typed.typescript})${skipped}`);
    return 0;
  },
};

export function summary(generation: Generation): string {
  const base = `${generation.commands.size} commands, ${generation.channels.size} channels, ${generation.events.size} events`;
  // Who may call what is part of what was checked: said when the app has it.
  const access = generation.access?.spec;
  if (access === undefined) return base;
  const parts: string[] = [];
  if (access.auth !== undefined) parts.push(`auth: ${[access.auth.tokens.length > 0 ? `${access.auth.tokens.length} tokens` : "", access.auth.jwt ? "jwt" : "", access.auth.handler ? "handler" : ""].filter(Boolean).join(", ") || "none"}`);
  if (access.capabilities !== undefined) parts.push(`${access.capabilities.length} capabilities`);
  if (access.limits.length > 0) parts.push(`${access.limits.length} limits`);
  return parts.length > 0 ? `${base}, ${parts.join(", ")}` : base;
}
