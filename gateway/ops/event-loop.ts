// A handler that holds the event loop past its command's time limit: the one call the pipeline
// cannot time out (no timer runs while the loop is held), and every other call waits with it.
// The pipeline measures it (runtime/invoke.ts) and tells this, which says it once per command
// and generation, counts it per command (gateway_event_loop_blocked_total), and keeps the
// `event-loop` problem while it keeps happening. Also the loop's delay over the last minute,
// for health (read from perf_hooks' histogram, which samples in C++: nothing per call).
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { CommandDef } from "../runtime/generation.ts";
import type { Problems } from "./problems.ts";

/** After this long without another held loop, the problem is over. */
export const QUIET_MS = 60_000;
/** The delay health shows is over windows this long. */
const WINDOW_MS = 60_000;

export interface LoopDelay {
  /** The loop's delay over the window: 99th percentile and maximum, in ms. */
  p99Ms: number;
  maxMs: number;
  /** When the window began (ISO time). */
  since: string;
}

export class LoopWatch {
  /** Per command name: how often its handler held the loop past its time limit (read at scrape time). */
  readonly counts = new Map<string, number>();
  /** Said once per command and generation (a fixed handler, after a reload, is said again if it still blocks). */
  private readonly said = new WeakSet<CommandDef>();
  private quiet: NodeJS.Timeout | undefined;
  private histogram: IntervalHistogram | undefined;
  private window: NodeJS.Timeout | undefined;
  private windowStart = new Date();
  /** The last complete window, shown until the current one has a minute of samples. */
  private last: LoopDelay | undefined;

  constructor(private readonly problems: Problems, private readonly log: (message: string, fields: Record<string, unknown>) => void) {}

  /**
   * `command`'s handler held the loop for `heldMs` (its synchronous run) or its call was answered
   * `heldMs` after it began with the loop held past its time limit (`turn`: a later turn of an
   * asynchronous handler). The caller has answered it 504 timeout.
   */
  held(command: CommandDef, heldMs: number, turn: "call" | "turn", requestId: string | undefined): void {
    this.counts.set(command.name, (this.counts.get(command.name) ?? 0) + 1);
    const seconds = (heldMs / 1000).toFixed(1);
    const limit = command.timeoutMs >= 1000 ? `${command.timeoutMs / 1000} s` : `${command.timeoutMs} ms`;
    const what =
      turn === "call"
        ? `command "${command.name}" held the event loop for ${seconds} s, past its ${limit} time limit`
        : `command "${command.name}" answered ${seconds} s after it began, past its ${limit} time limit, the event loop held meanwhile (by its code after an await, or by code running beside it)`;
    const message = `gateway: ${what}; every other call waited with it. It was answered 504 timeout. Move the blocking work off the event loop (a worker thread, a child process, or an asynchronous API) (${command.source})`;
    if (!this.said.has(command)) {
      this.said.add(command);
      try {
        this.log(message, { problem: "event-loop", command: command.name, heldMs: Math.round(heldMs), ...(requestId === undefined ? {} : { requestId }) });
      } catch {
        // a logger that throws must not take the answer with it
      }
    }
    this.problems.begin("event-loop", message, { logged: true });
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.problems.clear("event-loop", `gateway: no handler held the event loop past its time limit for ${QUIET_MS / 1000} s`), QUIET_MS);
    this.quiet.unref();
  }

  /** Sample the loop's delay (while the gateway listens; prom-client's own lag figures are separate). */
  start(): void {
    if (this.histogram !== undefined) return;
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
    this.windowStart = new Date();
    this.window = setInterval(() => {
      this.last = this.delay();
      this.histogram!.reset();
      this.windowStart = new Date();
    }, WINDOW_MS);
    this.window.unref();
  }

  /** The loop's delay in the current window (or the last whole one, when the current one is young). */
  delay(): LoopDelay | undefined {
    const histogram = this.histogram;
    if (histogram === undefined) return undefined;
    if (this.last !== undefined && histogram.count === 0) return this.last;
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    return { p99Ms: histogram.count === 0 ? 0 : ms(histogram.percentile(99)), maxMs: histogram.count === 0 ? 0 : ms(histogram.max), since: this.windowStart.toISOString() };
  }

  stop(): void {
    clearTimeout(this.quiet);
    clearInterval(this.window);
    this.histogram?.disable();
    this.histogram = undefined;
  }
}
