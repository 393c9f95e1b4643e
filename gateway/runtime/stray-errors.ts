// Errors that escape every handler's promise: a throw in a handler's own timer, a promise a
// handler dropped without catching. Node ends the process on them by default; a gateway serving
// many commands logs them, naming the command when the stack shows it, and keeps serving, as
// long-running servers do. `gateway serve` and `gateway dev` install this; an embedding app owns
// its process and decides for itself (it may install it too).
import { pathToFileURL } from "node:url";
import { describeThrown } from "./codec.ts";
import type { Generation } from "./generation.ts";
import type { Logger } from "./logger.ts";

/** Log errors no handler caught instead of exiting; returns a function that uninstalls the handlers. */
export function logStrayErrors(current: () => Generation, logger: Logger): () => void {
  const report = (kind: string) => (thrown: unknown) => {
    try {
      const commands = commandsIn(thrown, current());
      const origin = commands.length > 0 ? ` from command ${commands.map((c) => `"${c}"`).join(", ")}` : "";
      logger.error(`gateway: ${kind}${origin}; still serving`, thrown instanceof Error ? thrown : describeThrown(thrown));
    } catch {
      // The logger itself failed: there is nowhere left to report to, and exiting is what this prevents.
    }
  };
  const onException = report("an uncaught exception");
  const onRejection = report("an unhandled promise rejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

/** The commands whose handler files (or the local files they import) appear in the error's stack frames. */
function commandsIn(thrown: unknown, generation: Generation): string[] {
  let stack: string;
  try {
    // The frames only: a message may name a handler's file without coming from it (a file
    // system error about that path, say the watcher's "ENOSPC ... watch '<file>'").
    stack = thrown instanceof Error ? String(thrown.stack).split("\n").filter((line) => /^\s*at\s/.test(line)).join("\n") : "";
  } catch {
    return [];
  }
  if (stack === "") return [];
  const imports = new Map<string, ReadonlySet<string>>();
  for (const module of generation.modules) imports.set(module.file, module.imports);
  const inStack = (file: string) => stack.includes(file) || stack.includes(pathToFileURL(file).href);
  return [...generation.commands.values()].filter((c) => closure(c.file, imports).some(inStack)).map((c) => c.name);
}

/** A module's file and every app module it imports, transitively. */
function closure(file: string, imports: Map<string, ReadonlySet<string>>): string[] {
  const seen = new Set([file]);
  const stack = [file];
  while (stack.length > 0) {
    for (const imported of imports.get(stack.pop()!) ?? []) {
      if (seen.has(imported)) continue;
      seen.add(imported);
      stack.push(imported);
    }
  }
  return [...seen];
}
