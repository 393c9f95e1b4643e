// Watches a set of paths (files and folders, existing or not yet) through the folders that hold
// them: one watch per folder, not per file, so a big app needs a few watches and is watched at
// once. A folder's watch is also what sees a file replaced by rename (editors' "safe write"),
// deleted and created again, or a whole folder removed and put back (git checkout, git stash):
// a watch on the file itself would die with the old file.
import { statSync, watch, type FSWatcher, type Stats } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { Poller } from "./poller.ts";
import { watchLimitMessage } from "./watch-limit.ts";

export interface WatchEvents {
  /** `path` (a watched path, or an entry of a watched folder) may have changed. */
  changed(path: string): void;
  /** Some folders cannot be watched (a system limit) and are polled instead: said once, with the fix. */
  degraded(message: string): void;
}

/** What is known of a folder the watcher needs: watched, missing (its nearest existing parent stands in), or polled. */
type Folder = { state: "watched"; handle: FSWatcher; dev: number; ino: number } | { state: "missing" } | { state: "polled" };

const IGNORED = /(^|[/\\])(node_modules|\.git)([/\\]|$)/;
/** Paths stat'ed per turn of the event loop while checking new paths (requests are served in between). */
const CHUNK = 1000;

export class PathWatcher {
  private readonly wanted = new Set<string>();
  /** Wanted paths that are folders (discover folders): an entry added to or removed from one is a change. */
  private readonly wantedFolders = new Set<string>();
  private readonly folders = new Map<string, Folder>();
  private readonly poller: Poller;
  /** The error of the first refused watch; undefined while none was. */
  private refusal: { code: string | undefined } | undefined;
  private told = false;
  private closed = false;

  /** `root`: the app's folder; the folders between it and the watched ones are watched too, so that moving or removing any of them is seen. */
  constructor(
    private readonly root: string,
    private readonly events: WatchEvents,
  ) {
    this.poller = new Poller((path) => this.polledChange(path));
  }

  /**
   * Watch exactly `paths` from now on. `since`: when the build that named them began (epoch ms);
   * paths new to the watcher that changed after it count as changed (the build may have read them
   * before that). Resolves once every path is watched; never rejects.
   */
  async set(paths: ReadonlySet<string>, since: number): Promise<void> {
    try {
      await this.update(paths, since);
    } catch (error) {
      // Not expected (every file system call here is guarded); said rather than thrown at a caller that cannot act on it.
      this.events.degraded(`gateway: the file watcher failed (${error instanceof Error ? error.message : String(error)}); restart gateway dev if edits are not reloaded`);
    }
  }

  private async update(paths: ReadonlySet<string>, since: number): Promise<void> {
    if (this.closed) return;
    let removed = false;
    for (const path of this.wanted) {
      if (paths.has(path)) continue;
      this.wanted.delete(path);
      this.wantedFolders.delete(path);
      removed = true;
    }
    const check = new Set<string>();
    for (const path of paths) {
      if (this.wanted.has(path) || IGNORED.test(path)) continue;
      this.wanted.add(path);
      check.add(path);
    }
    // The same paths as before (most reloads): the folders are as they were; folders appearing
    // are seen by their parent's events, not here. Skipping this keeps a reload's cost flat.
    if (!removed && check.size === 0) return;
    const started = this.reconcile(false);
    // Paths already wanted, newly watched (their folder was missing a moment ago): checked too.
    if (started.size > 0) for (const path of this.wanted) if (started.has(this.hostOf(dirname(path)) ?? "")) check.add(path);
    if (check.size === 0) return;
    const folders = await this.check([...check], since);
    if (folders.length === 0 || this.closed) return;
    // Newly found folders are watched only now: an entry added between the check and now shows in their time.
    for (const folder of this.reconcile(false)) if (changedSince(folder, since)) this.events.changed(folder);
  }

  close(): void {
    this.closed = true;
    this.poller.close();
    for (const folder of this.folders.values()) if (folder.state === "watched") folder.handle.close();
    this.folders.clear();
  }

  /**
   * Stat `paths` (watched already): those changed since `since` are reported; returns the ones
   * found to be folders, newly known as such.
   */
  private async check(paths: string[], since: number): Promise<string[]> {
    const folders: string[] = [];
    for (let i = 0; i < paths.length; i += CHUNK) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      if (this.closed) return [];
      for (const path of paths.slice(i, i + CHUNK)) {
        if (!this.wanted.has(path)) continue;
        const stats = statOf(path);
        if (stats === undefined) {
          // Missing now: it may have been removed since the build read it, which changed its folder.
          const host = existingAncestor(dirname(path));
          if (host === undefined || changedSince(host, since)) this.events.changed(path);
          continue;
        }
        if (stats.isDirectory() && !this.wantedFolders.has(path)) {
          this.wantedFolders.add(path);
          folders.push(path);
        }
        if (Math.max(stats.mtimeMs, stats.ctimeMs) > since) this.events.changed(path);
      }
    }
    return folders;
  }

  /**
   * Watch the folders the wanted paths need, stop watching the others. `appeared`: called on an
   * event, so a folder watched for the first time has just appeared. A folder that appears (or
   * reappears, replaced) has every wanted path in it reported: they are all new. Returns the
   * folders newly watched or polled.
   */
  private reconcile(appeared: boolean): Set<string> {
    const needed = new Set<string>();
    for (const path of this.wanted) needed.add(dirname(path));
    for (const folder of this.wantedFolders) needed.add(folder);
    for (const folder of [...needed]) {
      for (let up = folder; isUnder(up, this.root) && up !== this.root; ) {
        up = dirname(up);
        needed.add(up);
      }
    }
    // The app's folder and those nearest it first: when the system's limit is near, they matter most.
    const queue = [...needed].sort((a, b) => a.length - b.length);
    const started = new Set<string>();
    for (let i = 0; i < queue.length; i++) {
      const path = queue[i]!;
      const before = this.folders.get(path);
      if (before !== undefined && before.state !== "missing") continue;
      const now = this.watchFolder(path);
      this.folders.set(path, now);
      if (now.state === "missing") {
        // Its nearest existing parent stands in: creating it is an entry added there.
        const parent = dirname(path);
        if (parent !== path && !needed.has(parent)) {
          needed.add(parent);
          queue.push(parent);
        }
        continue;
      }
      started.add(path);
      if (before !== undefined || appeared) this.reportUnder(path);
    }
    for (const [path, folder] of this.folders) {
      if (needed.has(path)) continue;
      if (folder.state === "watched") folder.handle.close();
      this.folders.delete(path);
    }
    this.updatePoller();
    return started;
  }

  private watchFolder(path: string): Folder {
    const stats = statOf(path);
    if (stats === undefined || !stats.isDirectory()) return { state: "missing" };
    try {
      const handle = watch(path, { persistent: true }, (type, name) => this.onEvent(path, type, name));
      // A watch that fails later is treated as a folder gone: it is watched again, or its parent stands in.
      handle.on("error", () => this.lost(path));
      return { state: "watched", handle, dev: stats.dev, ino: stats.ino };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return { state: "missing" };
      this.refusal ??= { code };
      return { state: "polled" };
    }
  }

  private onEvent(folder: string, type: string, name: string | Buffer | null): void {
    if (this.closed || this.folders.get(folder)?.state !== "watched") return;
    try {
      if (name === null) {
        // No entry named: anything in it may have changed.
        this.verify(folder);
        this.reportUnder(folder);
        return;
      }
      const entry = String(name);
      // The folder itself removed or moved reports its own name (which may also be an entry's).
      if (type === "rename" && entry === basename(folder) && this.verify(folder)) return;
      const path = join(folder, entry);
      // In a wanted folder, an entry added or removed is a change; an entry's content is one only
      // if a build read it (then it is wanted itself, and checked for changes since that build began).
      if (!IGNORED.test(entry) && (this.wanted.has(path) || (type === "rename" && this.wanted.has(folder)))) this.events.changed(path);
      if (type === "rename") this.renamed(path);
    } catch {
      // A watcher's failure must never end the process: the next event or build tries again.
    }
  }

  /** An entry appeared, disappeared or moved: it may be (or hold) a folder watched or awaited, or a wanted path that became a folder. */
  private renamed(path: string): void {
    let again = false;
    if (this.wanted.has(path)) {
      const isFolder = statOf(path)?.isDirectory() ?? false;
      if (isFolder !== this.wantedFolders.has(path)) {
        if (isFolder) this.wantedFolders.add(path);
        else this.wantedFolders.delete(path);
        again = true;
      }
    }
    for (const [folder, state] of this.folders) {
      if (folder !== path && !isUnder(folder, path)) continue;
      if (state.state === "missing") again = true;
      else if (state.state === "watched" && !this.stillThere(folder, state)) {
        state.handle.close();
        this.folders.set(folder, { state: "missing" });
        this.reportUnder(folder);
        again = true;
      }
    }
    if (again) this.reconcile(true);
  }

  /** A watched folder gone or replaced is watched again where it is now (or its parent stands in); true if it was. */
  private verify(folder: string): boolean {
    const state = this.folders.get(folder);
    if (state?.state !== "watched" || this.stillThere(folder, state)) return false;
    this.lost(folder);
    return true;
  }

  /** The folder's watch no longer reports what is at its path: what it held is reported, and it is watched again. */
  private lost(folder: string): void {
    if (this.closed) return;
    const state = this.folders.get(folder);
    if (state?.state === "watched") state.handle.close();
    if (state !== undefined) this.folders.set(folder, { state: "missing" });
    this.reportUnder(folder);
    this.reconcile(true);
  }

  private stillThere(folder: string, state: { dev: number; ino: number }): boolean {
    const stats = statOf(folder);
    return stats !== undefined && stats.isDirectory() && stats.dev === state.dev && stats.ino === state.ino;
  }

  /** Report every wanted path at or under `folder`. */
  private reportUnder(folder: string): void {
    for (const path of this.wanted) if (path === folder || isUnder(path, folder)) this.events.changed(path);
  }

  /** The folder that reports changes of entries of `folder`: itself, or its nearest existing parent. */
  private hostOf(folder: string): string | undefined {
    for (let path = folder; ; path = dirname(path)) {
      const state = this.folders.get(path);
      if (state !== undefined && state.state !== "missing") return path;
      if (dirname(path) === path) return undefined;
    }
  }

  /** Poll the wanted paths whose folder (or its stand-in) is polled, and the entries of polled wanted folders. */
  private updatePoller(): void {
    const files = new Set<string>();
    const folders = new Set<string>();
    let polled = 0;
    for (const [path, state] of this.folders) {
      if (state.state !== "polled") continue;
      polled++;
      if (this.wanted.has(path)) folders.add(path);
    }
    if (polled > 0) {
      for (const path of this.wanted) {
        const host = this.hostOf(dirname(path));
        if (host !== undefined && this.folders.get(host)?.state === "polled") files.add(path);
      }
    }
    this.poller.set(files, folders);
    if (polled > 0 && !this.told) {
      this.told = true;
      this.events.degraded(watchLimitMessage(this.refusal?.code, polled));
    }
  }

  private polledChange(path: string): void {
    if (this.closed) return;
    try {
      this.events.changed(path);
      this.renamed(path);
    } catch {
      // as in onEvent
    }
  }
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function existingAncestor(path: string): string | undefined {
  for (let up = path; ; up = dirname(up)) {
    if (statOf(up)?.isDirectory()) return up;
    if (dirname(up) === up) return undefined;
  }
}

/** Entries added to or removed from the folder (or the file written) after `since`. */
function changedSince(path: string, since: number): boolean {
  const stats = statOf(path);
  return stats === undefined || Math.max(stats.mtimeMs, stats.ctimeMs) > since;
}

function isUnder(path: string, folder: string): boolean {
  return path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}
