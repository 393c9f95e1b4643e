// What a module exports, as `typeof` each export: saved with its compiled code, so a later start
// knows without running the module whether it has setup()/dispose() (then it runs at start) and
// which exports are functions (stand-ins that evaluate it at their first call).
import type { Handler } from "../runtime/types.ts";

/** A module's exports as `typeof` each (or "callable": `module.exports` is itself a function). */
export type ExportShape = { callable: true } | { callable: false; types: Record<string, string>; esModule: boolean };

export function shapeOf(exports: unknown): ExportShape {
  if (typeof exports === "function") return { callable: true };
  const record = (exports ?? {}) as Record<string, unknown>;
  return { callable: false, types: Object.fromEntries(Object.keys(record).map((name) => [name, typeof record[name]])), esModule: record.__esModule === true };
}

/** A shape as read back from disk, or undefined when it is not one. */
export function asShape(value: unknown): ExportShape | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const shape = value as Record<string, unknown>;
  if (shape.callable === true) return { callable: true };
  if (shape.callable !== false || typeof shape.types !== "object" || shape.types === null || typeof shape.esModule !== "boolean") return undefined;
  if (!Object.values(shape.types).every((t) => typeof t === "string")) return undefined;
  return shape as ExportShape;
}

/** Whether a module of this shape has a lifecycle hook (so it runs when a generation starts). */
export function hasHooks(shape: ExportShape): boolean {
  return !shape.callable && (shape.types.setup !== undefined || shape.types.dispose !== undefined);
}

/** Marks a stand-in for a deferred module's function export: `[REAL]()` evaluates and returns the real one. */
export const REAL = Symbol("ipc-gateway.deferred-export");

/**
 * Stand-ins for a deferred module's exports: functions that evaluate the module at their first
 * call (builder.ts then puts the real function in the command's place), other values read
 * through getters.
 */
export function deferredExports(shape: Extract<ExportShape, { callable: false }>, load: () => Record<string, unknown>): Record<string, unknown> {
  const exports: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(shape.types)) {
    if (type === "function") {
      const resolve = () => load()[name] as (...args: unknown[]) => unknown;
      const stand = function (this: unknown, ...args: unknown[]) {
        return resolve().apply(this, args);
      };
      Object.defineProperty(stand, REAL, { value: resolve });
      exports[name] = stand;
    } else {
      Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });
    }
  }
  if (shape.esModule) Object.defineProperty(exports, "__esModule", { value: true });
  return exports;
}

/**
 * A command whose handler is a deferred module's stand-in: at the first call the real function
 * takes its place, so later calls pay nothing for the deferral.
 */
export function replaceOnFirstCall(command: { handler: Handler }): void {
  const resolve = (command.handler as { [REAL]?: () => Handler })[REAL];
  if (resolve === undefined) return;
  command.handler = (invoke) => {
    const real = resolve();
    command.handler = real;
    return real(invoke);
  };
}

/** The export a command calls: `default` (or the CommonJS `module.exports`) or a named one. */
export function pickExport(exports: Record<string, unknown>, name: string): unknown {
  if (name !== "default") return exports[name];
  if ("default" in exports) return exports.default;
  return exports.__esModule ? undefined : exports;
}
