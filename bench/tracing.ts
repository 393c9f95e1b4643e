// What tracing costs (issue 20 item 3): the example app's `greet` over HTTP on two `gateway serve`
// child processes of the same app, one with an OpenTelemetry SDK registered (--import
// bench/otel-setup.mjs: every call sampled, spans recorded, ended and dropped by a counting
// processor) and one without (the app has @opentelemetry/api, so the gateway loads it and checks
// per call whether an SDK is registered: the "off" figure includes that check). Autocannon takes
// turns on them (10 rounds of 2 s); the ratio is the median of on / off over neighbouring rounds.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Figure } from "./measure.ts";
import { greetRound, pairedRounds, startGateway, stopQuietly, type Server } from "./http.ts";

export async function benchTracing(): Promise<Figure[]> {
  const scratch = mkdtempSync(join(tmpdir(), "bench-tracing-"));
  const countFile = join(scratch, "spans");
  const started = await Promise.allSettled([
    startGateway("gateway.yaml", "tracing-on", { nodeArgs: ["--import", "./bench/otel-setup.mjs"], env: { BENCH_SPAN_COUNT_FILE: countFile } }),
    startGateway("gateway.yaml", "tracing-off"),
  ]);
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [on, off] = servers as [Server, Server];
    const rounds = await pairedRounds(() => greetRound(off), () => greetRound(on));
    await Promise.all(servers.map(stopQuietly));
    // The traced server really made a span per call (it writes its count at exit).
    const spans = Number(readFileSync(countFile, "utf8"));
    if (!(spans >= 1000)) throw new Error(`tracing bench: the traced gateway ended only ${spans} spans`);
    console.log(`  spans ended by the traced gateway: ${spans}`);
    return [
      { name: "tracing: http greet, no SDK registered (median)", value: rounds.a.rate, unit: "req/s" },
      { name: "tracing: http greet, SDK registered, 100% sampled (median)", value: rounds.b.rate, unit: "req/s" },
      { name: "tracing: http on / off (median of paired rounds)", value: rounds.rateRatio, unit: "ratio" },
      { name: "tracing: http server CPU per call, no SDK (median)", value: rounds.a.cpuUsPerCall, unit: "µs" },
      { name: "tracing: http server CPU per call, 100% sampled (median)", value: rounds.b.cpuUsPerCall, unit: "µs" },
      { name: "tracing: http CPU per call off / on (median of paired rounds)", value: rounds.cpuRatio, unit: "ratio" },
    ];
  } finally {
    await Promise.all(servers.map(stopQuietly));
    rmSync(scratch, { recursive: true, force: true });
  }
}
