// Draining: what the gateway does between SIGTERM (or close()) and stopping. New work is still
// served while the load balancer takes this instance out (/readyz already says 503); the wait ends
// as soon as nothing is in flight, or at server.drain, when what still runs is cut off with
// 503 shutting-down, so that no caller is left without an answer.

/** How often the wait looks at what is in flight: a drain ends at most this much after its last call. */
const LOOK_EVERY_MS = 20;

export interface DrainWork {
  /** Calls in flight now, over every transport (HTTP requests being read included). */
  inFlight(): number;
  /** Answer everything still running with shutting-down; returns how many there were. */
  cutOff(): number;
}

/**
 * Wait until `work` has nothing in flight or `drainMs` has passed, then cut off what remains.
 * Resolves with how many calls were cut off (0 when everything finished in time).
 */
export async function drainWork(work: DrainWork, drainMs: number): Promise<number> {
  const deadline = performance.now() + drainMs;
  // Polled rather than signalled: in-flight counts live in several places (the pipeline, each
  // HTTP server's requests whose bodies are still arriving), and a drain happens once per process.
  while (work.inFlight() > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(LOOK_EVERY_MS, Math.max(1, deadline - performance.now()))));
  }
  return work.inFlight() > 0 ? work.cutOff() : 0;
}
