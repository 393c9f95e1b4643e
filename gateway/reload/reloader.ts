// gateway dev: watch what the running generation was built from, rebuild on change, swap in
// the new generation only when all of it is good. Bursts of editor events (write, rename,
// chmod ...) are coalesced into one rebuild; rebuilds never overlap.
import { watch, type FSWatcher } from "chokidar";
import { stat } from "node:fs/promises";
import type { BuildFailure, GenerationBuilder } from "./builder.ts";
import type { Generation } from "../runtime/generation.ts";

/** A rebuild starts once files have been quiet this long (a save touching several files is one rebuild) ... */
const QUIET_MS = 10;
/** ... or this long after the first change, whichever comes first. */
const MAX_DELAY_MS = 200;

export interface ReloadHandlers {
  /** A new generation is built and good: serve it. */
  swap(next: Generation, changed: string[], buildMs: number): void;
  /** The edit is broken: keep serving the old generation, report why. */
  failed(failure: BuildFailure): void;
}

export class Reloader {
  private readonly watcher: FSWatcher;
  private readonly watched = new Set<string>();
  private readonly changed = new Set<string>();
  private quietTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private building = false;
  private pending = false;
  private closed = false;
  private serving: ReadonlySet<string>;
  readonly ready: Promise<void>;

  /**
   * `since`: when the initial generation's build started (epoch ms, as file times). A big app's watcher takes
   * a while to be ready; once it is, files modified since then are rebuilt as if seen changing,
   * so no edit made after the build began is lost, however early.
   */
  constructor(
    private readonly builder: GenerationBuilder,
    initial: Generation,
    private readonly handlers: ReloadHandlers,
    since: number = performance.timeOrigin + performance.now(),
  ) {
    this.serving = initial.files;
    // The initial files are given to watch() itself, so "ready" means they are all watched: an
    // edit made once `ready` resolves is seen.
    for (const file of initial.files) this.watched.add(file);
    this.watcher = watch([...initial.files], {
      ignoreInitial: true,
      // A discover folder reports files added and removed in it, not in subfolders (helpers
      // there are watched as the inputs of the handlers that import them).
      depth: 0,
      // Without it chokidar drops a file's second change within 50 ms of the first (its change
      // throttle has no trailing edge), so a quick second save (format-on-save) would be lost.
      // With it, a file's events are debounced until it has been stable for 20 ms.
      awaitWriteFinish: { stabilityThreshold: 20, pollInterval: 10 },
      ignored: (path) => /(^|[/\\])(node_modules|\.git)([/\\]|$)/.test(path),
    });
    this.watcher.on("all", (_event, path) => this.touched(path));
    this.ready = new Promise<void>((resolve) => this.watcher.once("ready", () => resolve())).then(() => this.sweep(initial.files, since));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.quietTimer);
    clearTimeout(this.deadlineTimer);
    await this.watcher.close();
  }

  /** Treat files modified since `since` as changed (see the constructor). */
  private async sweep(files: ReadonlySet<string>, since: number): Promise<void> {
    await Promise.all(
      [...files].map(async (file) => {
        try {
          if ((await stat(file)).mtimeMs > since) this.touched(file);
        } catch {
          // gone: the watcher reports it
        }
      }),
    );
  }

  /** Watch the running generation's files and the last attempt's (a broken edit may name new ones). */
  private follow(attempted: ReadonlySet<string>): void {
    const wanted = new Set([...this.serving, ...attempted]);
    const add = [...wanted].filter((f) => !this.watched.has(f));
    const remove = [...this.watched].filter((f) => !wanted.has(f));
    for (const file of add) this.watched.add(file);
    for (const file of remove) this.watched.delete(file);
    if (add.length) this.watcher.add(add);
    if (remove.length) this.watcher.unwatch(remove);
  }

  private touched(path: string): void {
    if (this.closed) return;
    this.changed.add(path);
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.rebuild(), QUIET_MS);
    this.deadlineTimer ??= setTimeout(() => this.rebuild(), MAX_DELAY_MS);
  }

  private async rebuild(): Promise<void> {
    clearTimeout(this.quietTimer);
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (this.closed) return;
    if (this.building) {
      this.pending = true; // one more build once this one is done, for the changes since it began
      return;
    }
    this.building = true;
    const changed = [...this.changed];
    this.changed.clear();
    const started = performance.now();
    try {
      const result = await this.builder.build(new Set(changed));
      if (this.closed) return;
      if (result.ok) this.serving = result.generation.files;
      this.follow(result.files);
      if (result.ok) this.handlers.swap(result.generation, changed, performance.now() - started);
      else this.handlers.failed(result);
    } finally {
      this.building = false;
      if (this.pending && !this.closed) {
        this.pending = false;
        void this.rebuild();
      }
    }
  }
}
