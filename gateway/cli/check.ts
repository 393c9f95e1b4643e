// gateway check: the manifest and everything it names, checked without serving.
import { resolve } from "node:path";
import { formatProblem } from "../config/problems.ts";
import { GenerationBuilder } from "../reload/builder.ts";
import type { Generation } from "../runtime/generation.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, type Verb } from "./verb.ts";

export const check: Verb = {
  name: "check",
  summary: "check the manifest and everything it names, then exit 0 or 1",
  synopsis: "check [--config gateway.yaml]",
  details: `Prints a summary and exits 0, or prints one path:line:col: message line per mistake (all of
them, in one run) and exits 1.

${CONFIG_DETAIL}`,
  options: CONFIG_OPTION,
  async run(values) {
    const config = values.config as string;
    const builder = new GenerationBuilder(resolve(config));
    const result = await builder.build();
    await builder.cache.flush();
    if (!result.ok) {
      for (const problem of result.problems) console.log(formatProblem(problem));
      return 1;
    }
    console.log(`${config}: ${summary(result.generation)}`);
    return 0;
  },
};

export function summary(generation: Generation): string {
  return `${generation.commands.size} commands, ${generation.channels.size} channels, ${generation.events.size} events`;
}
