// createGateway's `checkTypes` (`gateway dev --check-types`): after the start and after every good
// reload, the handlers are type-checked against their schemas as `gateway check --types` does,
// in a worker thread (describe/type-check-worker.ts), so that serving never waits for it. What it
// finds goes to the log, to the dev console (the gateway://type-check event; /__gateway/health's
// `typeCheck`) and to onProblems (`source: "types"`, for the Vite overlay).
//
// One check runs at a time. A reload while one runs makes it stale: its result is dropped and the
// newest files are checked as soon as it ends (the compiler's work cannot be interrupted midway,
// and ending the thread would lose what its builder keeps between checks).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { displayPath, formatProblem, type Problem } from "../config/problems.ts";
import type { Logger } from "../runtime/logger.ts";
import type { TypeCheckAnswer, TypeCheckRequest, TypeCheckSetup } from "./type-check-worker.ts";

/** A finding as pages see it (the shape of gateway://error's problems): the file relative to the manifest's folder. */
export interface TypeCheckProblem {
  file: string;
  line: number | null;
  column: number | null;
  message: string;
}

/** The newest check's outcome: gateway://type-check's payload and health's `typeCheck`. */
export interface TypeCheckResult {
  /** Every checked handler matches its schemas. */
  ok: boolean;
  /** How many handlers were checked (TypeScript ones; plain JavaScript is not). */
  checked: number;
  problems: TypeCheckProblem[];
}

export interface TypeCheckOptions extends TypeCheckSetup {
  logger: Logger;
  /** Each result, as the dev console gets it (gateway://type-check). */
  emit(result: TypeCheckResult): void;
  /** Each result's findings, with absolute paths (none: all match), for onProblems. */
  report(problems: Problem[]): void;
}

export class BackgroundTypeCheck {
  /** The newest check's result, once one has finished. */
  latest: TypeCheckResult | undefined;
  private worker: Worker | undefined;
  /** The newest request, and the one the thread is working on. */
  private asked = 0;
  private running: number | undefined;
  /** No TypeScript in the app (said once), or closed: no more checks. */
  private off = false;
  /** The findings as last logged ("" for none), so that an unchanged result is not logged again at every reload. */
  private logged: string | undefined;
  private failures = new Set<string>();
  private readonly dir: string;

  constructor(private readonly options: TypeCheckOptions) {
    this.dir = dirname(options.manifestFile);
  }

  /** Check the files as they are now (after a good build); supersedes a check under way. */
  run(): void {
    if (this.off) return;
    this.asked++;
    if (this.running === undefined) this.send();
  }

  async close(): Promise<void> {
    this.off = true;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private send(): void {
    this.running = this.asked;
    try {
      this.worker ??= this.start();
      this.worker.postMessage({ id: this.asked } satisfies TypeCheckRequest);
    } catch (error) {
      this.lost(error);
    }
  }

  private start(): Worker {
    const { manifestFile, env, cacheDir } = this.options;
    const workerData: TypeCheckSetup = { manifestFile, env: { ...env, ...(env.env ? { env: { ...env.env } } : {}) }, cacheDir };
    const worker = workerFor(workerData);
    // An embedder that never closes the gateway is not kept running by it.
    worker.unref();
    worker.on("message", (answer: TypeCheckAnswer) => this.answered(answer));
    worker.on("error", (error) => this.lost(error));
    worker.on("exit", () => {
      if (this.worker === worker) this.lost(new Error("its thread stopped"));
    });
    return worker;
  }

  /** The thread failed: said once per reason; the next run starts a new one. */
  private lost(error: unknown): void {
    const worker = this.worker;
    this.worker = undefined;
    this.running = undefined;
    void worker?.terminate();
    if (this.off) return;
    this.failed(String((error as Error | undefined)?.message ?? error).split("\n")[0]!);
  }

  private failed(message: string): void {
    if (this.failures.has(message)) return;
    this.failures.add(message);
    this.options.logger.error(`gateway: the type check failed: ${message}`);
  }

  private answered(answer: TypeCheckAnswer): void {
    this.running = undefined;
    if (this.off) return;
    if (answer.id === this.asked) this.take(answer);
    // Files changed while it ran: check them now.
    if (!this.off && answer.id !== this.asked) this.send();
  }

  private take(answer: TypeCheckAnswer): void {
    const { logger } = this.options;
    switch (answer.kind) {
      case "not-built":
        // Edited again since the gateway built them: the reload that follows says what is wrong.
        return logger.debug?.("gateway: type check skipped: the files do not build now");
      case "failed":
        return this.failed(answer.message);
      case "no-typescript":
        this.off = true;
        void this.close();
        return logger.warn(
          `gateway: handlers are not type-checked: TypeScript is not installed where ${displayPath(this.dir)} can find it (npm install --save-dev typescript, then restart)`,
        );
      case "checked":
        break;
    }
    const { problems, checked, typescript } = answer;
    const result: TypeCheckResult = {
      ok: problems.length === 0,
      checked,
      problems: problems.map((p) => ({ file: displayPath(p.file, this.dir), line: p.line ?? null, column: p.line === undefined ? null : (p.col ?? 1), message: p.message })),
    };
    this.latest = result;
    const lines = problems.map((p) => `gateway: type check: ${formatProblem(p, this.dir)}`);
    const text = lines.join("\n");
    if (text !== this.logged) {
      if (lines.length === 0) logger.info(`gateway: type check: ${checked === 0 ? "no TypeScript handler to check" : `all ${checked} TypeScript handlers match their schemas`} (TypeScript ${typescript})`);
      for (const line of lines) logger.warn(line);
      this.logged = text;
    }
    this.options.emit(result);
    this.options.report(problems);
  }
}

/**
 * The thread: dist/describe/type-check-worker.js as built; from the TypeScript sources (jest,
 * tsx), the .ts module, loaded after registering tsx's loader in the thread (a thread does not
 * inherit the loader hooks of the one that starts it, and tsx is what runs the sources).
 */
function workerFor(workerData: TypeCheckSetup): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./type-check-worker.js", import.meta.url), { workerData });
  const entry = new URL("./type-check-worker.ts", import.meta.url).href;
  const tsx = tsxLoader();
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/** tsx's ESM API (its package's `./esm/api` import entry), a development dependency of the gateway's own. */
function tsxLoader(): string {
  const packageFile = createRequire(import.meta.url).resolve("tsx/package.json");
  const { exports } = JSON.parse(readFileSync(packageFile, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(packageFile), exports["./esm/api"]!.import.default)).href;
}
