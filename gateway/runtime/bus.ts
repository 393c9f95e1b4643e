// The bus joins gateway instances (server.bus): events reach listeners on every instance, a
// page's channels and listeners work from whichever instance runs the handler, and
// `window.eval` reaches a label's pages wherever they are connected. Without server.bus there is
// no bus: one instance, everything in-process.
import type { Page, PageLink } from "./pages.ts";
import type { EventTarget } from "./types.ts";
import type { SharedBuckets } from "../access/limits.ts";

/** An emit, as it travels to the other instances. */
export interface BusEvent {
  event: string;
  /** The payload as JSON text (validated and serialized once, by the emitting instance). */
  payloadText: string;
  /** emit_to's target; absent for emit and emitFilter. */
  to?: EventTarget;
  /** emitFilter's answer: the listener targets (cluster-wide) that the filter accepted. */
  targets?: EventTarget[];
  /** `emitTo({ principal })`: only the pages connected as this principal (whatever their listeners' targets). */
  principal?: string;
  /** The payload parsed (on the receiving side, for handlers' listeners). */
  payload?: unknown;
}

/** `gateway://bus-gap`'s payload: what a page may have missed, when the bus could not fill a gap. */
export interface BusGap {
  /** "events": emits from other instances; "channel": frames of channels streaming to this page. */
  scope: "events" | "channel";
  /** The instance whose entries are missing, when known. */
  instance?: string;
  /** How many entries are missing, when known. */
  missed?: number;
  /**
   * The page's channel (its callback id, `Channel.id` in @tauri-apps/api) whose stream was stopped
   * on the handler's instance and that ended here without its last messages: its end marker follows.
   */
  channel?: number;
  reason: string;
}

export interface BusStatus {
  kind: "redis";
  /**
   * connected; connecting (never connected yet); degraded (lost, reconnecting); stalled (the
   * connection is up but Redis has not answered within a bound: stopped, or stuck on something).
   */
  state: "connected" | "connecting" | "degraded" | "stalled";
  /** The last PING's round trip in ms, or how long the one still unanswered has waited when that is longer. */
  lagMs?: number;
  /** This instance's id on the bus (in logs and in the page registry). */
  instance: string;
  /** When the state last changed (ISO time). */
  since: string;
  /** Events and channel frames waiting to be written to Redis (they go once it is back). */
  waiting: { events: number; frames: number };
  /** Events dropped since start because more waited than the outage buffer holds. */
  droppedEvents: number;
  /** The last connection error, while not connected. */
  error?: string;
}

/** What the bus calls back into: the instance's event hub and pages. */
export interface BusHost {
  /** An emit from another instance: deliver it to this instance's matching listeners. */
  deliverEvent(event: BusEvent): void;
  /** `window.eval` from another instance. */
  evalScript(label: string, script: string): void;
  /** Tell listeners of `gateway://bus-gap` (only `page`'s, when given) what could not be delivered. */
  gap(gap: BusGap, page?: Page): void;
  /** A page connected to this instance. */
  localPage(id: string): Page | undefined;
  /** Every page connected to this instance. */
  localPages(): Iterable<Page>;
  /** The distinct targets of this instance's listeners (other than Any). */
  liveTargets(): EventTarget[];
}

export interface Bus {
  publishEvent(event: BusEvent): void;
  publishEval(label: string, script: string): void;
  /** A listener target in use on this instance (for other instances' emitFilter). */
  announceTarget(target: EventTarget): void;
  /** Listener targets in use on any instance. */
  knownTargets(): Iterable<EventTarget>;
  /**
   * The page with this id on another instance (undefined: no such page); throws BusUnavailable when
   * the bus cannot tell: Redis is away from this instance, or from the page's.
   */
  findPage(id: string): Promise<PageLink | undefined>;
  /** The start of a new page's id: this instance and the page's number here (how others tell "unknown" from "not announced yet"). */
  pageIdPrefix(): string;
  /** Resolves once other instances can find the page (undefined: nothing to wait for). */
  pageOpened(page: Page): Promise<void> | undefined;
  pageClosed(page: Page): void;
  status(): BusStatus;
  /** Rate-limit buckets shared by every instance on this bus (limits:), over the bus's own connection. */
  buckets(): SharedBuckets;
  close(): Promise<void>;
}

/** The bus cannot be asked right now (Redis is away). */
export class BusUnavailable extends Error {}

/** A stable text key for a target (Tauri's targets are a kind and, for some, a label). */
export function targetKey(target: EventTarget): string {
  return "label" in target ? `${target.kind}:${target.label}` : target.kind;
}
