// What is wrong with this instance right now, in one place: each problem is logged once when it
// begins (saying what and what to do) and once when it clears, listed in /__gateway/health and
// shown as gateway_problem in /metrics. Without it, each of these went unsaid (issue 20): the
// process ran out of descriptors (new connections were reset), the disk cache could not be
// written (every start was cold), Redis stopped answering (health said connected), a handler
// held the event loop past its time limit (every other call's timeout came late).
import type { Logger } from "../runtime/logger.ts";

/** A fixed set: each is one label value of gateway_problem. */
export const PROBLEMS = ["descriptors", "cache", "bus-stalled", "event-loop"] as const;
export type ProblemName = (typeof PROBLEMS)[number];

/** A problem as health lists it. */
export interface ProblemReport {
  problem: ProblemName;
  /** When it began (ISO time). */
  since: string;
  message: string;
}

export class Problems {
  private readonly current = new Map<ProblemName, ProblemReport>();

  constructor(private readonly logger: Logger) {}

  /**
   * `name` is a problem now. Logged (at `level`) only when it begins; while it lasts, a new
   * `message` replaces the one health shows without another log line. `logged`: the caller has
   * said it already (a line of its own, with more detail), so nothing is logged here.
   */
  begin(name: ProblemName, message: string, options: { level?: "error" | "warn"; logged?: boolean } = {}): void {
    const known = this.current.get(name);
    if (known !== undefined) {
      known.message = message;
      return;
    }
    this.current.set(name, { problem: name, since: new Date().toISOString(), message });
    if (options.logged) return;
    try {
      if (options.level === "warn") this.logger.warn(message, { problem: name });
      else this.logger.error(message, undefined, { problem: name });
    } catch {
      // a logger that throws must not turn a report into a failure of what reported it
    }
  }

  /** `name` is over: `note` (what happened) is logged once, if it was a problem. */
  clear(name: ProblemName, note: string): void {
    if (!this.current.delete(name)) return;
    try {
      this.logger.info(note, { problem: name });
    } catch {
      // as in begin
    }
  }

  has(name: ProblemName): boolean {
    return this.current.has(name);
  }

  /** The problems now, oldest first (a copy: health serializes it). */
  list(): ProblemReport[] {
    return [...this.current.values()].map((report) => ({ ...report }));
  }
}
