// Running a compiled app module's top-level code, with a time limit. The code is compiled with
// `new Function` (in the realm of the gateway's own code, so values a handler returns are the
// caller's own objects, also under jest) and called from a tiny `vm.Script` run with `timeout`:
// V8's watchdog then ends a loop that never finishes (`while (true) {}` left by a slip while
// editing) instead of the gateway. Only the outermost evaluation is timed; modules it requires
// run inside the same limit.
import vm from "node:vm";

/** The CommonJS wrapper's parameters, in order. */
export type ModuleFactory = (
  this: unknown,
  exports: unknown,
  require: (specifier: string) => unknown,
  module: { exports: unknown },
  filename: string,
  dirname: string,
  importMetaUrl: string,
) => void;

export function moduleFactory(code: string, url: string): ModuleFactory {
  return new Function("exports", "require", "module", "__filename", "__dirname", "__importMetaUrl", `${code}\n//# sourceURL=${url}`) as ModuleFactory;
}

/** Thrown (from the outermost evaluation) when top-level code runs past its limit. */
export class EvaluationTimeout extends Error {
  constructor(readonly limitMs: number) {
    super(`its top-level code was stopped after ${formatMs(limitMs)} (a loop that never ends? server.loadTimeout sets the limit)`);
    this.name = "EvaluationTimeout";
  }
}

/** A context of its own that calls `run`: made at the first evaluation (a warm start may have none). */
let timed: { runner: { run: undefined | (() => unknown) }; callRun: vm.Script } | undefined;
let depth = 0;

/** `fn()`, ended by V8 if it runs longer than `limitMs` (when not already inside a timed run). */
export function withTimeLimit<T>(fn: () => T, limitMs: number): T {
  if (depth > 0) return fn();
  timed ??= { runner: vm.createContext({ run: undefined }) as { run: undefined | (() => unknown) }, callRun: new vm.Script("run()", { filename: "ipc-gateway:evaluate" }) };
  const { runner, callRun } = timed;
  depth++;
  runner.run = fn;
  try {
    // displayErrors: false, or Node prefixes the stack with a source line of its own choosing.
    return callRun.runInContext(runner as vm.Context, { timeout: limitMs, displayErrors: false }) as T;
  } catch (error) {
    // Node's own error, from the context's realm: recognised by its code.
    if ((error as { code?: unknown } | null)?.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") throw new EvaluationTimeout(limitMs);
    throw error;
  } finally {
    runner.run = undefined;
    depth--;
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
