// GET /metrics: the gateway's figures in Prometheus text format (CONTRACT §9.1), in a registry of
// its own (an app's prom-client metrics on the global registry are not mixed in, and two gateways
// in one process do not collide). Loaded only when server.metrics is on and the gateway listens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { InvocationLog } from "../runtime/logger.ts";
import type { BusStatus } from "../runtime/bus.ts";

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
}

/** An unknown command is one label value, not one per name a caller sends. */
export const OTHER_METHOD = "_OTHER";

/** The event plugin's commands (a page's listen/emit calls), a fixed set. */
const EVENT_PLUGIN = new Set(["plugin:event|listen", "plugin:event|unlisten", "plugin:event|emit", "plugin:event|emit_to"]);

/** Seconds: the call histogram's buckets, from a cached answer (1 ms) to a slow handler (10 s). */
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RELOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BUS_STATES = ["connected", "connecting", "degraded"] as const;

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;
  private readonly calls: Histogram<"rpc_method" | "transport" | "outcome">;
  private readonly events: Counter;
  private readonly deliveries: Counter;
  private readonly reloads: Counter<"outcome">;
  private readonly reloadDuration: Histogram;
  /** The call histogram's series by label values (bounded: see call()). */
  private readonly series = new Map<string, { observe(seconds: number): void }>();

  constructor(private readonly source: MetricsSource) {
    const registers = [this.registry];
    this.calls = new Histogram({
      name: "rpc_server_call_duration_seconds",
      help: "Invocations answered, from the request's arrival to its answer, by command (_OTHER: not a command), transport and outcome (ok or the rejection's kind).",
      labelNames: ["rpc_method", "transport", "outcome"],
      buckets: CALL_BUCKETS,
      registers,
    });
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
    if (source.bus !== undefined) {
      const bus = source.bus;
      new Gauge({
        name: "gateway_bus_state",
        help: "server.bus: 1 for the state the Redis connection is in (connected, connecting, degraded), 0 for the others.",
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

  /** One answered invocation (the gateway's per-invocation hook). */
  call(entry: Pick<InvocationLog, "cmd" | "transport" | "outcome" | "ms">): void {
    const method = EVENT_PLUGIN.has(entry.cmd) || this.source.knows(entry.cmd) ? entry.cmd : OTHER_METHOD;
    // prom-client hashes a labels object on every observe(); the series' child, kept per label
    // values, skips that (a Map lookup on a short string per call instead).
    const key = `${method}\n${entry.transport}\n${entry.outcome}`;
    let series = this.series.get(key);
    if (series === undefined) this.series.set(key, (series = this.calls.labels({ rpc_method: method, transport: entry.transport, outcome: entry.outcome })));
    series.observe(entry.ms / 1000);
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

