// createGateway: a manifest turned into a running gateway that transports and embedders call.
import { resolve } from "node:path";
import { EventHub } from "./events.ts";
import { GenerationBuilder, type Generation } from "./generation.ts";
import { createPipeline, type Logger } from "./invoke.ts";
import { ConfigError } from "./problems.ts";
import type { Env } from "./manifest.ts";
import type { AppHandle, HeadersInput, InvokeHandler, InvokeResponse } from "./types.ts";

export interface GatewayOptions {
  /** Path of the manifest (gateway.yaml). */
  config: string;
  /** Rebuild on file changes (gateway dev). */
  watch?: boolean;
  /** Internal errors carry the handler's original message to the caller. Defaults to `watch`. */
  dev?: boolean;
  /** Where `${VAR}` in the manifest is read from. Defaults to `process.env`. */
  env?: Env;
  logger?: Logger;
}

export interface InvokeOptions {
  /** The calling window's label; "main" by default. */
  window?: string;
  headers?: HeadersInput;
  /** Aborting it aborts the handler's `signal`. */
  signal?: AbortSignal;
}

export interface Gateway {
  /** Call a command in-process: resolves with its value or rejects with exactly what HTTP would send. */
  invoke<T = unknown>(cmd: string, body?: unknown, options?: InvokeOptions): Promise<T>;
  /** Tauri-style request -> response, for transports of your own. */
  readonly invokeHandler: InvokeHandler;
  /** The generation new invocations start on. */
  readonly generation: Generation;
  /** Events from the backend side, as handlers get it. */
  readonly app: AppHandle;
  close(): Promise<void>;
}

export const consoleLogger: Logger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message, error) => (error === undefined ? console.error(message) : console.error(message, error)),
};

/** Build the first generation (throwing a ConfigError that lists every mistake) and serve it. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  if (options.watch) throw new Error("createGateway: watch is not available yet");
  const builder = new GenerationBuilder(resolve(options.config), options.env);
  const first = await builder.build();
  if (!first.ok) throw new ConfigError(first.problems);
  let current = first.generation;
  const hub = new EventHub();
  const pipeline = createPipeline({
    current: () => current,
    window: (label) => hub.window(label),
    app: hub.app,
    dev: options.dev ?? options.watch ?? false,
    logger: options.logger ?? consoleLogger,
  });
  return {
    invoke<T>(cmd: string, body?: unknown, invokeOptions?: InvokeOptions): Promise<T> {
      const response = pipeline.execute({ cmd, body, window: invokeOptions?.window, headers: invokeOptions?.headers, signal: invokeOptions?.signal });
      if (response instanceof Promise) return response.then(settled<T>);
      return response.ok ? Promise.resolve(response.value as T) : Promise.reject(response.error);
    },
    invokeHandler: pipeline.invokeHandler,
    get generation() {
      return current;
    },
    app: hub.app,
    async close() {
      pipeline.stop();
    },
  };
}

/** An invocation's outcome as a promise settles: the value, or a rejection with exactly the error value. */
function settled<T>(response: InvokeResponse): T {
  if (response.ok) return response.value as T;
  throw response.error;
}
