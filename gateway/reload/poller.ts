// The fallback for folders the system refuses to watch (its limit on watches is reached): their
// files are stat'ed, and their entries listed, over and over. A cycle's cost grows with the number
// of polled paths, so the pause between cycles grows with it too (polling never takes more than
// a fifth of a core).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The shortest pause between two polls of the same path. */
const POLL_MS = 300;
/** Paths stat'ed per turn of the event loop (requests are served in between). */
const CHUNK = 500;

export class Poller {
  /** Polled paths -> what they looked like at the last poll. */
  private readonly files = new Map<string, string>();
  /** Polled folders -> their entries at the last poll. */
  private readonly folders = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;

  /** `changed` gets each path seen changing (a polled file, or an entry added to or removed from a polled folder). */
  constructor(private readonly changed: (path: string) => void) {}

  get size(): number {
    return this.files.size + this.folders.size;
  }

  /**
   * Poll exactly these files (and the entries of these folders) from now on. A path new to the
   * poller is compared with how it looks now: whoever hands it over has covered the time before.
   */
  set(files: ReadonlySet<string>, folders: ReadonlySet<string>): void {
    for (const path of this.files.keys()) if (!files.has(path)) this.files.delete(path);
    for (const path of this.folders.keys()) if (!folders.has(path)) this.folders.delete(path);
    for (const path of files) if (!this.files.has(path)) this.files.set(path, signature(path));
    for (const path of folders) if (!this.folders.has(path)) this.folders.set(path, entries(path));
    if (this.size > 0 && !this.running && this.timer === undefined && !this.closed) this.timer = setTimeout(() => void this.cycle(), POLL_MS);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async cycle(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    const started = performance.now();
    let busy = 0;
    try {
      let done = 0;
      for (const [path, before] of [...this.files]) {
        if (this.closed) return;
        if (!this.files.has(path)) continue; // dropped by set() between two chunks
        const now = signature(path);
        if (now !== before) {
          this.files.set(path, now);
          this.changed(path);
        }
        if (++done % CHUNK === 0) busy += await this.yieldTurn();
      }
      for (const [folder, before] of [...this.folders]) {
        if (this.closed) return;
        if (!this.folders.has(folder)) continue;
        const now = entries(folder);
        this.folders.set(folder, now);
        for (const name of now) if (!before.has(name)) this.changed(join(folder, name));
        for (const name of before) if (!now.has(name)) this.changed(join(folder, name));
        if (++done % CHUNK === 0) busy += await this.yieldTurn();
      }
    } finally {
      this.running = false;
    }
    if (this.closed || this.size === 0) return;
    const spent = performance.now() - started - busy;
    this.timer = setTimeout(() => void this.cycle(), Math.max(POLL_MS, 4 * spent));
  }

  /** Lets the event loop run; returns how long that took (time not spent polling). */
  private async yieldTurn(): Promise<number> {
    const before = performance.now();
    await new Promise((resolve) => setImmediate(resolve));
    return performance.now() - before;
  }
}

/** What a path looks like: its identity, size and times, or "missing". A file replaced by rename has a new inode. */
function signature(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return "missing";
  }
}

function entries(folder: string): Set<string> {
  try {
    return new Set(readdirSync(folder));
  } catch {
    return new Set();
  }
}
