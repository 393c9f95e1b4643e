// GET /metrics: the gateway's figures in Prometheus text format (CONTRACT §9.1), in a registry of
// its own (an app's prom-client metrics on the global registry are not mixed in, and two gateways
// in one process do not collide). Loaded only when server.metrics is on and the gateway listens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { InvocationLog } from "../runtime/logger.ts";
import type { BusStatus } from "../runtime/bus.ts";
import { isKnownMethod, OTHER_METHOD } from "./rpc-method.ts";
import type { ChannelCounts } from "../runtime/channels.ts";
import { PROBLEMS, type ProblemName } from "./problems.ts";

/** What the gauges read when scraped (nothing is counted per call for them). */
export interface MetricsSource {
  /** Is `cmd` a command of the generation serving now (else it is counted as `_OTHER`)? */
  knows(cmd: string): boolean;
  /** Invocations whose handlers are running, on every generation. */
  inFlight(): number;
  /** Pages connected over WebSocket to this instance. */
  pages(): number;
  /** Present with server.bus. */
  bus?(): BusStatus;
  /** Is this problem current (ops/problems.ts)? */
  problem(name: ProblemName): boolean;
  /** Per command: how often its handler held the event loop past its time limit. */
  loopHeld(): ReadonlyMap<string, number>;
  /** Channel messages sent, held back, dropped. */
  channels(): ChannelCounts;
  /** Calls refused, by limit name. */
  rateLimited(): ReadonlyMap<string, number>;
}

/** A call over `gateway.invoke()`, counted like the transports' (see GatewayMetrics.call). */
export type CallTransport = InvocationLog["transport"] | "in-process";


/** Seconds: the call histogram's buckets, from a cached answer (1 ms) to a slow handler (10 s). */
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RELOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BUS_STATES = ["connected", "connecting", "degraded", "stalled"] as const;

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;
  private readonly calls: CallHistogram;
  private readonly events: Counter;
  private readonly deliveries: Counter;
  private readonly reloads: Counter<"outcome">;
  private readonly reloadDuration: Histogram;

  /** The commands as source.knows tells them, made once (asked at every call). */
  private readonly commands: { has(cmd: string): boolean };

  constructor(private readonly source: MetricsSource) {
    this.commands = { has: (cmd) => source.knows(cmd) };
    const registers = [this.registry];
    this.calls = new CallHistogram(
      "rpc_server_call_duration_seconds",
      "Invocations answered, from the request's arrival to its answer, by command (_OTHER: not a command), transport and outcome (ok or the rejection's kind).",
      CALL_BUCKETS,
    );
    this.registry.registerMetric(this.calls as unknown as Parameters<Registry["registerMetric"]>[0]);
    new Gauge({
      name: "gateway_calls_in_flight",
      help: "Invocations whose handlers are running now.",
      registers,
      collect() {
        this.set(source.inFlight());
      },
    });
    new Gauge({
      name: "gateway_pages_connected",
      help: "Pages connected over WebSocket to this instance.",
      registers,
      collect() {
        this.set(source.pages());
      },
    });
    this.events = new Counter({ name: "gateway_events_total", help: "Events handled by this instance: emitted by a handler or a page here, or received from another instance over the bus.", registers });
    this.deliveries = new Counter({ name: "gateway_event_deliveries_total", help: "Listeners here that an event reached (a page's listener or the backend's).", registers });
    this.reloads = new Counter({ name: "gateway_reloads_total", help: "Rebuilds after an edit (gateway dev): reloaded or failed.", labelNames: ["outcome"], registers });
    this.reloadDuration = new Histogram({ name: "gateway_reload_duration_seconds", help: "How long a successful rebuild took.", buckets: RELOAD_BUCKETS, registers });
    new Gauge({
      name: "gateway_problem",
      help: "1 while the problem is current (descriptors: out of file descriptors; cache: the disk cache cannot be written; bus-stalled: Redis does not answer; event-loop: a handler held the event loop past its time limit in the last minute), else 0.",
      labelNames: ["problem"],
      registers,
      collect() {
        for (const problem of PROBLEMS) this.set({ problem }, source.problem(problem) ? 1 : 0);
      },
    });
    const counters: [name: string, help: string, label: string, read: () => Iterable<[string, number]>][] = [
      [
        "gateway_event_loop_blocked_total",
        "Calls whose handler held the event loop past the command's time limit (answered 504 timeout), by command.",
        "rpc_method",
        () => source.loopHeld(),
      ],
      ["gateway_rate_limited_total", "Calls refused by a limit (429 rate-limited), by the limit's name.", "limit", () => source.rateLimited()],
    ];
    for (const [name, help, label, read] of counters) this.registry.registerMetric(new ReadCounter(name, help, () => [...read()].map(([value, count]) => ({ labels: { [label]: value }, value: count }))) as unknown as Parameters<Registry["registerMetric"]>[0]);
    const channel = (name: string, help: string, read: (counts: ChannelCounts) => number) =>
      this.registry.registerMetric(new ReadCounter(name, help, () => [{ labels: {}, value: read(source.channels()) }]) as unknown as Parameters<Registry["registerMetric"]>[0]);
    channel("gateway_channel_messages_total", "Channel messages handed to a page's socket (or, with server.bus, to the bus for a page on another instance).", (c) => c.sent);
    channel("gateway_channel_messages_held_total", "Channel messages that had to wait because the page's socket had no room (back-pressure: a slow page).", (c) => c.heldBack);
    channel("gateway_channel_messages_dropped_total", "Channel messages accepted by send() but never delivered: the page went away (or the channel ended) first.", (c) => c.dropped);
    if (source.bus !== undefined) {
      const bus = source.bus;
      new Gauge({
        name: "gateway_bus_lag_seconds",
        help: "server.bus: the last PING's round trip to Redis, or how long the one still unanswered has waited when that is longer.",
        registers,
        collect() {
          const { lagMs } = bus();
          this.set(lagMs === undefined ? 0 : lagMs / 1000);
        },
      });
      new Gauge({
        name: "gateway_bus_state",
        help: "server.bus: 1 for the state the Redis connection is in (connected, connecting, degraded, stalled), 0 for the others.",
        labelNames: ["state"],
        registers,
        collect() {
          const status = bus();
          for (const state of BUS_STATES) this.set({ state }, status.state === state ? 1 : 0);
        },
      });
      new Gauge({
        name: "gateway_bus_waiting",
        help: "server.bus: events and channel frames waiting to be written to Redis.",
        labelNames: ["kind"],
        registers,
        collect() {
          const { waiting } = bus();
          this.set({ kind: "events" }, waiting.events);
          this.set({ kind: "frames" }, waiting.frames);
        },
      });
    }
    // process_* and nodejs_* (CPU, memory, descriptors, event-loop lag, GC).
    collectDefaultMetrics({ register: this.registry });
  }

  /** One answered invocation (the gateway's per-invocation hook, and in-process calls). */
  call(entry: Pick<InvocationLog, "cmd" | "outcome" | "ms"> & { transport: CallTransport }): void {
    const method = isKnownMethod(entry.cmd, this.commands) ? entry.cmd : OTHER_METHOD;
    this.calls.observe(method, entry.transport, entry.outcome, entry.ms / 1000);
  }

  /** One event handled here, and how many listeners it reached. */
  event(listeners: number): void {
    this.events.inc();
    if (listeners > 0) this.deliveries.inc(listeners);
  }

  reloaded(ms: number): void {
    this.reloads.inc({ outcome: "reloaded" });
    this.reloadDuration.observe(ms / 1000);
  }

  reloadFailed(): void {
    this.reloads.inc({ outcome: "failed" });
  }

  /** The text a scrape gets. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}


interface Series {
  labels: Record<string, string>;
  /** Per bucket (not cumulative), the last one past every bound (+Inf). */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * The call histogram, counted here and formatted by the registry. prom-client's Histogram checks
 * and hashes its labels on every observe(), even through a labelled child: on the hot path that
 * measured several percent of an HTTP call. Here a call is one Map lookup and a few additions;
 * the work of a Prometheus histogram (cumulative buckets, +Inf, _sum, _count) is done at scrape time.
 */
class CallHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  /**
   * method -> outcome -> transport -> series. Nested maps rather than one map under a joined key:
   * joining makes a new string per call that must be flattened and hashed, while the names here
   * are hashed once (a command's name already was, when it was looked up).
   */
  private readonly series = new Map<string, Map<string, Map<string, Series>>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  observe(method: string, transport: string, outcome: string, seconds: number): void {
    let byOutcome = this.series.get(method);
    if (byOutcome === undefined) this.series.set(method, (byOutcome = new Map()));
    let byTransport = byOutcome.get(outcome);
    if (byTransport === undefined) byOutcome.set(outcome, (byTransport = new Map()));
    let series = byTransport.get(transport);
    if (series === undefined) {
      series = { labels: { rpc_method: method, transport, outcome }, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      byTransport.set(transport, series);
    }
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > this.bounds[bucket]!) bucket++;
    series.counts[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  private *all(): Iterable<Series> {
    for (const byOutcome of this.series.values()) for (const byTransport of byOutcome.values()) yield* byTransport.values();
  }

  /** What the registry formats: cumulative buckets (with +Inf), _sum and _count per series. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] }> {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, counts, sum, count } of this.all()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: this.bounds[i]! }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

/**
 * A counter whose values are kept elsewhere as plain numbers (incremented where things happen,
 * without prom-client's per-increment label checks) and read when scraped.
 */
class ReadCounter {
  readonly type = "counter";
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => { labels: Record<string, string>; value: number }[],
  ) {}

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string>; value: number }[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }

  reset(): void {}
}
