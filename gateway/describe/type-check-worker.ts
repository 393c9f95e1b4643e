// The background type check's thread (createGateway's `checkTypes`, `gateway dev --check-types`):
// what `gateway check --types` does, run where it cannot hold up serving. Type-checking a
// thousand handlers takes seconds of synchronous compiler work; here that blocks only this thread.
//
// A generation holds functions (validators, handlers), which do not cross threads: this thread
// builds its own from the manifest and its schemas alone (describe/manifest-only.ts: no handler
// module is compiled or run, so an app's top-level code runs only in the gateway), with the same
// ${VAR}s and the same disk cache (read, and written, never pruned), and keeps its builder, so each
// check after the first reuses what the last one compiled. The handler files are read by the
// check itself, as they are on disk when it runs.
import { parentPort, workerData } from "node:worker_threads";
import { envLayers, type EnvOptions } from "../config/env-layers.ts";
import type { Problem } from "../config/problems.ts";
import { checkHandlerTypes } from "./check-handlers.ts";
import { manifestOnlyBuilder } from "./manifest-only.ts";

/** What the gateway gives the thread when it starts it. */
export interface TypeCheckSetup {
  manifestFile: string;
  env: EnvOptions;
  cacheDir: string | false | undefined;
}

/** Asked of the thread: check now (`id` names the request the answer is for). */
export interface TypeCheckRequest {
  id: number;
}

/** What the thread answers. */
export type TypeCheckAnswer = { id: number } & (
  | { kind: "checked"; problems: Problem[]; checked: number; typescript: string }
  /** The app has no TypeScript where its manifest's folder can find it. */
  | { kind: "no-typescript"; message: string }
  /** The files do not build now (edited again since the gateway built them): the gateway says why, not this. */
  | { kind: "not-built" }
  /** The check itself failed (a bug, or a TypeScript that throws): said once, in one line. */
  | { kind: "failed"; message: string }
);

const setup = workerData as TypeCheckSetup;
const builder = manifestOnlyBuilder(setup.manifestFile, envLayers(setup.env, setup.manifestFile), setup.cacheDir);

async function check(id: number): Promise<TypeCheckAnswer> {
  try {
    const built = await builder.build();
    await builder.cache.flush();
    if (!built.ok) return { id, kind: "not-built" };
    const result = checkHandlerTypes(built.generation);
    if (!result.ok) return { id, kind: "no-typescript", message: result.message };
    return { id, kind: "checked", problems: result.problems, checked: result.checked, typescript: result.typescript };
  } catch (error) {
    return { id, kind: "failed", message: String((error as Error | undefined)?.message ?? error).split("\n")[0]! };
  }
}

// One check at a time, in the order asked (the gateway sends a request only when none is running).
let queue = Promise.resolve();
parentPort!.on("message", (request: TypeCheckRequest) => {
  queue = queue.then(async () => parentPort!.postMessage(await check(request.id)));
});
