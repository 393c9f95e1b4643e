// The tracing bench's SDK set-up, loaded into a `gateway serve` child with --import: every call
// sampled (AlwaysOnSampler), each span recorded and ended, then dropped by a processor that only
// counts them, so the figure is the gateway's tracing and the SDK's span bookkeeping, not an
// exporter's I/O. The count is written at exit to $BENCH_SPAN_COUNT_FILE, for the bench to check.
import { writeFileSync } from "node:fs";
import { AlwaysOnSampler, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

let ended = 0;
const counting = {
  onStart() {},
  onEnd() {
    ended++;
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};
new NodeTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [counting] }).register();
process.on("exit", () => {
  if (process.env.BENCH_SPAN_COUNT_FILE) writeFileSync(process.env.BENCH_SPAN_COUNT_FILE, String(ended));
});
