// gateway dev: watch what the running generation was built from, rebuild on change, swap in
// the new generation only when all of it is good. Bursts of editor events (write, rename,
// chmod ...) are coalesced into one rebuild; rebuilds never overlap.
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import type { BuildFailure, GenerationBuilder } from "./builder.ts";
import type { Generation } from "../runtime/generation.ts";
import { PathWatcher } from "./watcher.ts";
import { fileClockNow } from "./file-clock.ts";

/** A rebuild starts once files have been quiet this long (a save touching several files is one rebuild) ... */
const QUIET_MS = 10;
/** ... or this long after the first change, whichever comes first. */
const MAX_DELAY_MS = 200;

export interface ReloadHandlers {
  /** A new generation is built and good: serve it. */
  swap(next: Generation, changed: string[], buildMs: number): void;
  /** The edit is broken: keep serving the old generation, report why. */
  failed(failure: BuildFailure): void;
  /**
   * The watcher works in a degraded way (some folders polled: the system's limit on watches is
   * reached); said once, with the fix. Without it, a process warning says it.
   */
  notice?(message: string): void;
}

export class Reloader {
  private readonly watcher: PathWatcher;
  private readonly changed = new Set<string>();
  private quietTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private building = false;
  private pending = false;
  private closed = false;
  private serving: ReadonlySet<string>;
  /** What the watcher watches: the serving generation's files and the last attempt's. */
  private watching: ReadonlySet<string>;
  /**
   * Watched paths that did not exist when watching began (an optional file: `.env` beside the
   * manifest). Reported again while still absent (a sibling removed, a folder's event naming no
   * entry), such a path has not changed: nothing was there, and nothing is.
   */
  private absent: ReadonlySet<string>;
  /** Resolves once every file is watched: an edit made from then on is seen. */
  readonly ready: Promise<void>;
  private degraded: string | undefined;

  /**
   * `since`: when the initial generation's build started (epoch ms, as file times). A big app's watcher takes
   * a while to be ready; once it is, files modified since then are rebuilt as if seen changing,
   * so no edit made after the build began is lost, however early.
   */
  constructor(
    private readonly builder: GenerationBuilder,
    initial: Generation,
    private readonly handlers: ReloadHandlers,
    since: number = fileClockNow(),
  ) {
    this.serving = initial.files;
    this.watching = initial.files;
    this.absent = absentOf(this.watching);
    this.watcher = new PathWatcher(dirname(initial.manifestFile), {
      changed: (path) => this.touched(path),
      degraded: (message) => {
        this.degraded = message;
        try {
          if (handlers.notice) handlers.notice(message);
          else process.emitWarning(message, { code: "IPC_GATEWAY_WATCH" });
        } catch {
          // Nowhere left to say it; `note` still holds it.
        }
      },
    });
    this.ready = this.watcher.set(this.watching, since);
  }

  /** What is wrong with watching, once something is (see ReloadHandlers.notice); undefined while all is watched. */
  get note(): string | undefined {
    return this.degraded;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.quietTimer);
    clearTimeout(this.deadlineTimer);
    this.watcher.close();
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
    // An entry of a watched folder that is gone again and was never read (an editor's temp file,
    // renamed into place or removed) is nothing a build reads: it takes no part, nor a build of its own.
    const changed = [...this.changed].filter((path) => (existsSync(path) ? true : this.watching.has(path) && !this.absent.has(path)));
    this.changed.clear();
    if (changed.length === 0) return;
    this.building = true;
    const started = performance.now();
    const startedAt = fileClockNow();
    try {
      let result: Awaited<ReturnType<GenerationBuilder["build"]>>;
      try {
        result = await this.builder.build(new Set(changed));
      } catch (error) {
        // Not expected (a build reports mistakes, it does not throw): still an edit that did not take.
        const message = `the rebuild failed: ${error instanceof Error ? error.message : String(error)}`;
        result = { ok: false, problems: [{ file: this.builder.manifestFile, message }], files: new Set() };
      }
      if (this.closed) return;
      if (result.ok) this.serving = result.generation.files;
      // Watch the running generation's files and the last attempt's (a broken edit may name new
      // ones); a good build's files are the serving generation's.
      this.watching = result.ok ? result.files : new Set([...this.serving, ...result.files]);
      this.absent = absentOf(this.watching);
      void this.watcher.set(this.watching, startedAt);
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

/** The paths of `files` that do not exist now (a few optional files: the stat is per watched path, per build). */
function absentOf(files: ReadonlySet<string>): ReadonlySet<string> {
  const absent = new Set<string>();
  for (const file of files) if (!existsSync(file)) absent.add(file);
  return absent;
}
