// Running out of file descriptors. Node never says so: when accept() fails with EMFILE, libuv
// closes a descriptor it keeps in reserve, accepts the waiting connections, closes them at once
// (the clients see a reset) and takes its reserve back, without telling the server. So this
// looks: every few seconds, how many descriptors the process has open against its limit (Linux's
// /proc; elsewhere nothing is watched). Reading /proc/self/fd needs a descriptor itself: failing
// with EMFILE is the answer too.
import { readdir, readFile } from "node:fs/promises";
import type { Problems } from "./problems.ts";

const LOOK_EVERY_MS = 2_000;

/** Free descriptors below which new connections are about to be reset (or already are). */
export function lowWater(limit: number): number {
  return Math.max(4, Math.ceil(limit / 100));
}

export interface DescriptorCount {
  open: number;
  limit: number;
}

/** The process's open descriptors and its soft limit, or undefined where /proc does not tell. "exhausted": it could not even look. */
export async function countDescriptors(): Promise<DescriptorCount | "exhausted" | undefined> {
  let limit: number | undefined;
  let open: number;
  try {
    const limits = await readFile("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    limit = soft === undefined || soft === "unlimited" ? undefined : Number(soft);
    // (the descriptor this listing uses is counted too: it is one fewer for connections as well)
    open = (await readdir("/proc/self/fd")).length;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "EMFILE" || code === "ENFILE" ? "exhausted" : undefined;
  }
  return limit === undefined ? undefined : { open, limit };
}

export class DescriptorWatch {
  private timer: NodeJS.Timeout | undefined;
  private looking = false;
  /** The last count, for health. */
  last: DescriptorCount | undefined;

  constructor(private readonly problems: Problems) {}

  start(): void {
    if (this.timer !== undefined || process.platform !== "linux") return;
    this.timer = setInterval(() => void this.look(), LOOK_EVERY_MS);
    this.timer.unref();
    void this.look(); // health has a count from the start
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Look now (also when accept reports EMFILE itself). */
  async look(): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    try {
      const count = await countDescriptors();
      if (count === undefined) return;
      if (count !== "exhausted") this.last = count;
      const free = count === "exhausted" ? 0 : count.limit - count.open;
      const low = count === "exhausted" ? 0 : lowWater(count.limit);
      if (count === "exhausted" || free < low) {
        const shown = count === "exhausted" ? "every descriptor is in use" : `${count.open} of ${count.limit} descriptors are open`;
        this.problems.begin(
          "descriptors",
          `gateway: out of file descriptors (${shown}): new connections are being reset. ` +
            "Raise the limit (ulimit -n, systemd's LimitNOFILE, docker's --ulimit nofile) or find what holds them (connections that never close, files not closed).",
        );
      } else if (free >= 2 * low) {
        // Twice the margin before it is over: a count hovering at the edge is not said again and again.
        this.problems.clear("descriptors", `gateway: file descriptors are available again (${count.open} of ${count.limit} open)`);
      }
    } finally {
      this.looking = false;
    }
  }
}
