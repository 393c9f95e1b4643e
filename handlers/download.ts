import type { Channel, Invoke } from "ipc-gateway";

interface Progress {
  step: number;
  of: number;
  percent: number;
}

/** A long job that reports progress on the page's Channel; the page renders it as a progress bar. */
export default async function download({ body, signal }: Invoke<{ steps?: number; onProgress: Channel<Progress> }>) {
  const steps = body.steps ?? 20;
  for (let step = 1; step <= steps; step++) {
    await new Promise((resolve) => setTimeout(resolve, 50)); // the work
    if (signal.aborted) break; // the page went away
    // Awaiting send() paces the loop to the page: a slow page never makes the gateway buffer without bound.
    await body.onProgress.send({ step, of: steps, percent: Math.round((step / steps) * 100) });
  }
  return { steps }; // returning closes the channel: the page gets the end marker
}
