// What server.metrics costs (issue 20): the example app's `greet` over HTTP with metrics on (the
// default) against the same app with `server.metrics: false`, both `gateway serve` child
// processes, autocannon taking turns on them (10 rounds of 2 s). Target: at most 3% slower. Per
// call, metrics are one histogram observation (a label lookup and a bucket increment); the gauges
// and process figures are read only when /metrics is scraped, which this bench does not do.
import { rmSync, writeFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Figure } from "./measure.ts";
import { greetRound, pairedRounds, startGateway, stopQuietly, type Server } from "./http.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EXAMPLE = `${ROOT}gateway.yaml`;
/** Beside the example manifest: its relative paths (handlers/, schemas/) must resolve the same. */
const WITHOUT_METRICS = ".bench-metrics-off.gateway.yaml";

export async function benchMetrics(): Promise<Figure[]> {
  const example = readFileSync(EXAMPLE, "utf8");
  if (!/^server:\n/m.test(example)) throw new Error("metrics bench: the example manifest has no server: section");
  writeFileSync(`${ROOT}${WITHOUT_METRICS}`, example.replace(/^server:\n/m, "server:\n  metrics: false\n"));
  const started = await Promise.allSettled([startGateway("gateway.yaml", "metrics-on"), startGateway(WITHOUT_METRICS, "metrics-off")]);
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [on, off] = servers as [Server, Server];
    // The two really differ: one serves /metrics, the other answers 404.
    const [onStatus, offStatus] = await Promise.all([fetch(`${on.url}/metrics`), fetch(`${off.url}/metrics`)].map(async (r) => (await r).status));
    if (onStatus !== 200 || offStatus !== 404) throw new Error(`metrics bench: /metrics answered ${onStatus} (on) and ${offStatus} (off)`);
    const rounds = await pairedRounds(() => greetRound(off), () => greetRound(on));
    // Every call was counted: the scrape's ok count for greet over HTTP is what autocannon sent, at least.
    const text = await (await fetch(`${on.url}/metrics`)).text();
    const counted = Number(/^rpc_server_call_duration_seconds_count\{rpc_method="greet",transport="http",outcome="ok"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    if (counted < 1000) throw new Error(`metrics bench: only ${counted} greet calls counted`);
    const { rateRatio, cpuRatio } = rounds;
    return [
      { name: "metrics: http greet, server.metrics false (median)", value: rounds.a.rate, unit: "req/s" },
      { name: "metrics: http greet, metrics on (median)", value: rounds.b.rate, unit: "req/s" },
      { name: "metrics: http on / off (median of paired rounds)", value: rateRatio, unit: "ratio", target: ">= 0.97", pass: rateRatio >= 0.97 },
      { name: "metrics: http server CPU per call, metrics off (median)", value: rounds.a.cpuUsPerCall, unit: "µs" },
      { name: "metrics: http server CPU per call, metrics on (median)", value: rounds.b.cpuUsPerCall, unit: "µs" },
      // The server's own cost, whatever share of the cores autocannon and other work took.
      { name: "metrics: http CPU per call off / on (median of paired rounds)", value: cpuRatio, unit: "ratio", target: ">= 0.97", pass: cpuRatio >= 0.97 },
    ];
  } finally {
    await Promise.all(servers.map(stopQuietly));
    rmSync(`${ROOT}${WITHOUT_METRICS}`, { force: true });
  }
}

