// The bus over Redis (server.bus: redis://...), with the `redis` client (node-redis v5).
//
// Keys, under the prefix (default "ipc-gateway"):
//   <prefix>:events            a stream every instance appends to and reads: emits, window.eval,
//                              listener targets in use, pages gone. Trimmed to `history` entries.
//   <prefix>:inbox:<instance>  a stream per instance: channel frames and listener events for its
//                              pages from other instances, acknowledgements of its own frames, and
//                              links given up. Trimmed as it is read; expires a minute after its
//                              instance stops.
//   <prefix>:page:<id>         where page <id> is connected (instance, label, origin); expires
//                              pageTimeout after its instance last refreshed it.
//   <prefix>:instance:<id>     the highest page number instance <id> has announced (every page of
//                              it up to that number that is still open is registered), written
//                              with them in one transaction; "stopped" once it stopped.
//   <prefix>:targets           listener targets in use on any instance (for emitFilter), scored by
//                              when an instance last had a listener with it.
//   <prefix>:epoch             changes when Redis loses its data (a restart without persistence).
//   <prefix>:limit:<bucket>    a rate-limit bucket shared by every instance (see redis-buckets.ts).
//
// Every entry an instance writes to the events stream carries its number in that instance's
// sequence: a receiver that sees a number skipped knows entries were lost (the stream was trimmed
// past a slow reader, Redis lost data) and says so with `gateway://bus-gap`. What waits while
// Redis is away waits here, in order, and is written when it is back: events up to
// MAX_WAITING_EVENTS (older ones are dropped, and a "d" entry tells the others how many), channel
// frames without a limit of their own since channels wait for room (see remote-page.ts).
//
// The state (health's bus.state) is `connected` while the connection is up and checked, writes go
// through and reads do. Redis may refuse a command with the connection up (maxmemory reached, a
// key of the wrong type): nothing then reconnects, so refused writes are tried again with a
// growing pause, and the first that goes through makes the instance connected again.
//
// A page's id is `<instance>.<page number>.<random>`. An instance that cannot find a page's
// registration asks the page's instance's announcement: a page number up to the announced one is
// a page that went away (400, as on one instance); a higher one, or no announcement, is a page
// whose instance has not been able to reach Redis since it connected (503 bus-unavailable).
import { randomBytes } from "node:crypto";
import type { RedisClientType } from "redis";
import { parseJson } from "../runtime/codec.ts";
import type { Logger } from "../runtime/logger.ts";
import type { Page, PageLink } from "../runtime/pages.ts";
import type { EventTarget } from "../runtime/types.ts";
import type { BusSettings } from "../config/manifest.ts";
import { BusUnavailable, targetKey, type Bus, type BusEvent, type BusHost, type BusStatus } from "../runtime/bus.ts";
import { Inflow } from "./inflow.ts";
import { RedisBuckets } from "./redis-buckets.ts";
import type { SharedBuckets } from "../access/limits.ts";
import { RemotePage } from "./remote-page.ts";
import type { Problems } from "../ops/problems.ts";

/** Events waiting for Redis (an outage, or a burst faster than Redis) beyond which the oldest are dropped. */
export const MAX_WAITING_EVENTS = 100_000;
/** ... and their bytes. */
export const MAX_WAITING_EVENT_BYTES = 64 * 1024 * 1024;
/** server.bus.pageTimeout: how long a page's registration outlives its instance's last refresh. */
export const DEFAULT_PAGE_TIMEOUT_MS = 15_000;
const MIN_PAGE_TIMEOUT_MS = 1_000;
/** Registrations are refreshed three times per pageTimeout, at least every 5 s. */
const MAX_HEARTBEAT_MS = 5_000;
const INBOX_TTL_MS = 60_000;
/** How long the others remember that an instance stopped (its pages' ids are then unknown, not away). */
const STOPPED_TTL_MS = 3_600_000;
const STOPPED = "stopped";
/** Listener targets are marked live about every TARGET_REFRESH_MS, and forgotten TARGET_TTL_MS after the last. */
const TARGET_REFRESH_MS = 60_000;
const TARGET_TTL_MS = 180_000;
/** Entries taken per read, and written per round trip. */
const BATCH = 512;
/** Channel frames packed into one inbox entry, at most (count, bytes). */
const PACK_FRAMES = 256;
const PACK_BYTES = 256 * 1024;
/** How long a blocking read waits before it is repeated (it is interrupted on close anyway). */
const READ_BLOCK_MS = 5_000;
/** How long the start waits for a first connection before serving without it. */
const FIRST_CONNECT_MS = 3_000;
/** The longest pause between reconnection attempts, and between tries of a refused write. */
const MAX_RECONNECT_DELAY_MS = 1_000;
const FIRST_RETRY_MS = 50;
/** The pause before a refused read is tried again. */
const READ_RETRY_MS = 250;
/**
 * Redis is asked PING this often while connected; one unanswered for STALL_MS makes the bus
 * stalled. A Redis that is stopped (SIGSTOP, a frozen VM) keeps its connections up and answers
 * nothing: without this the state stays connected while everything waits.
 */
const PROBE_EVERY_MS = 1_000;
export const STALL_MS = 2_000;

type Fields = Record<string, string | Buffer>;
type Entry = { id: string; message: Record<string, Buffer> };

interface Waiting {
  fields: Fields;
  size: number;
}

/** A link given up (see forgetPage), to be told to the page's instance. */
interface LinkEnd {
  instance: string;
  page: string;
  link: number;
}

const TARGET_KINDS = new Set(["Any", "AnyLabel", "App", "Window", "Webview", "WebviewWindow"]);

export async function startRedisBus(settings: BusSettings, host: BusHost, logger: Logger, maxDepth: () => number, problems: Problems): Promise<Bus> {
  let redis: typeof import("redis");
  try {
    redis = await import("redis"); // an optional peer dependency: only apps with server.bus need it
  } catch {
    throw new Error("server.bus needs the redis client, which is not installed: npm install redis");
  }
  const bus = new RedisBus(redis, settings, host, logger, maxDepth, problems);
  await bus.start();
  return bus;
}

class RedisBus implements Bus {
  readonly instance = randomBytes(9).toString("base64url");
  private readonly main: RedisClientType;
  private readonly reader: RedisClientType;
  private readonly keys: {
    events: string;
    targets: string;
    epoch: string;
    inbox: (instance: string) => string;
    page: (id: string) => string;
    instance: (id: string) => string;
  };
  private readonly pageTimeoutMs: number;
  private readonly heartbeatMs: number;
  private state: BusStatus["state"] = "connecting";
  private since = new Date();
  /** The last connection error. */
  private lastError: string | undefined;
  private closing = false;
  /** close() has begun: this instance's pages are not announced anymore. */
  private stopping = false;

  /** The current connection is checked (what Redis kept, where to read from): reading and writing may go on. */
  private linked = false;
  private linking = false;
  /** Connections made so far (a check that saw the connection change meanwhile starts over). */
  private connections = 0;
  /** A write went through since the link (the first carries this instance's announcement). */
  private written = false;
  /** Redis refused the last write, or the last read, with the connection up. */
  private writeRefused: string | undefined;
  private readRefused: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = FIRST_RETRY_MS;

  /** Read positions; undefined until the first connection tells where the events stream ends. */
  private eventsId: string | undefined;
  /** When this instance's bus was made (performance.now()): where its first read of the events stream starts. */
  private readonly createdAt = performance.now();
  private inboxId = "0-0";
  private epoch: string | undefined;
  /** This instance's entries in the events stream are numbered 1, 2, ... */
  private eventSeq = 0;
  /** The last number seen from each other instance. */
  private readonly seen = new Map<string, number>();

  /** Entries for the events stream not yet written; the first `inFlight` are being written. */
  private readonly outbox: Waiting[] = [];
  private outboxBytes = 0;
  private inFlight = 0;
  private droppedEvents = 0;
  /** Dropped and not yet told to the other instances (a "d" entry in front of what survived). */
  private droppedUnsaid = 0;
  private readonly acks = new Map<string, { sender: string; page: string; link: number; seq: number }>();
  private readonly framesWaiting = new Set<RemotePage>();
  private linkEnds: LinkEnd[] = [];
  /** This instance's pages (and its announcement, and its inbox's expiry) are to be written again. */
  private announceDue = true;
  /** Pages named so far on this instance (their ids carry their number). */
  private pagesNamed = 0;
  private flushing = false;
  private flushScheduled = false;

  /** Listener targets in use on any instance (as of the last refresh, plus those announced since). */
  private targets = new Map<string, EventTarget>();
  private beats = 0;
  private beating = false;
  private links = 0;
  private readonly remotePages = new Map<string, RemotePage>();
  private readonly lookups = new Map<string, Promise<PageLink | undefined>>();
  /** Remote pages whose registration was missing at the last heartbeat. */
  private readonly missing = new Set<string>();
  private readonly inflow: Inflow;
  private heartbeat: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private prober: NodeJS.Timeout | undefined;
  /** When the PING still unanswered was sent (performance.now()), if one is. */
  private probeSent: number | undefined;
  /** The last PING's round trip, in ms. */
  private lastLagMs: number | undefined;
  /** Redis has not answered a PING within STALL_MS (the connection up). */
  private stalled = false;
  private sharedBuckets: RedisBuckets | undefined;

  constructor(
    redis: typeof import("redis"),
    private readonly settings: BusSettings,
    private readonly host: BusHost,
    private readonly logger: Logger,
    private readonly maxDepth: () => number,
    private readonly problems: Problems,
  ) {
    const p = settings.prefix;
    this.keys = {
      events: `${p}:events`,
      targets: `${p}:targets`,
      epoch: `${p}:epoch`,
      inbox: (instance) => `${p}:inbox:${instance}`,
      page: (id) => `${p}:page:${id}`,
      instance: (id) => `${p}:instance:${id}`,
    };
    this.pageTimeoutMs = Math.max(MIN_PAGE_TIMEOUT_MS, settings.pageTimeoutMs ?? DEFAULT_PAGE_TIMEOUT_MS);
    this.heartbeatMs = Math.min(MAX_HEARTBEAT_MS, Math.floor(this.pageTimeoutMs / 3));
    const options = {
      url: settings.url,
      // Nothing queues inside the client while Redis is away: what waits, waits here, bounded.
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS), connectTimeout: 5_000 },
    };
    this.main = redis.createClient(options) as RedisClientType;
    // Blocking reads get their own connection; binary frames come back as Buffers.
    this.reader = redis.createClient(options).withTypeMapping({ [redis.RESP_TYPES.BLOB_STRING]: Buffer }) as unknown as RedisClientType;
    this.main.on("ready", () => {
      this.connections++;
      void this.link();
    });
    // The client reports a lost connection (or a failed attempt) here, and keeps trying.
    this.main.on("error", (error: Error) => this.disconnected(error));
    this.reader.on("error", () => {}); // the main connection reports; the read loop retries
    this.inflow = new Inflow({
      localPage: (id) => host.localPage(id),
      acknowledge: (sender, page, link, seq) => {
        this.acks.set(`${sender} ${page} ${link}`, { sender, page, link, seq });
        this.scheduleFlush();
      },
      gap: (page, sender, missed) =>
        host.gap({ scope: "channel", instance: sender, missed, reason: "channel frames from another instance were lost" }, page),
      cutShort: (page, sender, channel) =>
        host.gap(
          {
            scope: "channel",
            instance: sender,
            channel,
            reason: "the handler streaming on this channel was stopped on its instance while this page's instance could not reach Redis",
          },
          page,
        ),
    });
  }

  async start(): Promise<void> {
    this.main.connect().catch(() => {}); // connection errors arrive as "error" events; the client keeps trying
    this.reader.connect().catch(() => {});
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    this.prober = setInterval(() => this.probe(), PROBE_EVERY_MS);
    this.prober.unref();
    this.reading = this.readLoop();
    // Wait a little for the first connection, so that an instance that starts with Redis up is on
    // the bus when it serves; one that starts while Redis is away serves anyway (degraded).
    const deadline = Date.now() + FIRST_CONNECT_MS;
    while (this.state !== "connected" && Date.now() < deadline) await sleep(20);
    if (this.state !== "connected") {
      this.logger.warn(`gateway: the bus (${redactedUrl(this.settings.url)}) is not reachable yet (${this.problem() ?? "no answer"}); serving, and connecting in the background`);
    }
  }

  // ---- Bus -----------------------------------------------------------------------------------

  publishEvent(event: BusEvent): void {
    const fields: Fields = { k: "e", ev: event.event, pl: event.payloadText };
    if (event.to) fields.to = JSON.stringify(event.to);
    if (event.targets) fields.tg = JSON.stringify(event.targets);
    if (event.principal !== undefined) fields.pr = event.principal;
    this.append(fields);
  }

  publishEval(label: string, script: string): void {
    this.append({ k: "x", l: label, sc: script });
  }

  announceTarget(target: EventTarget): void {
    const key = targetKey(target);
    if (this.targets.has(key)) return;
    this.targets.set(key, target);
    const text = JSON.stringify(target);
    this.append({ k: "t", tg: text });
    if (this.main.isReady) this.main.zAdd(this.keys.targets, { score: Date.now(), value: text }).catch(() => {});
  }

  knownTargets(): Iterable<EventTarget> {
    return this.targets.values();
  }

  findPage(id: string): Promise<PageLink | undefined> {
    const known = this.remotePages.get(id);
    if (known !== undefined) return Promise.resolve(known.open ? known : undefined);
    // One lookup per page at a time: two RemotePages for one page would number frames twice.
    let lookup = this.lookups.get(id);
    if (lookup === undefined) {
      lookup = this.lookUp(id).finally(() => this.lookups.delete(id));
      this.lookups.set(id, lookup);
    }
    return lookup;
  }

  pageIdPrefix(): string {
    return `${this.instance}.${(++this.pagesNamed).toString(36)}.`;
  }

  pageOpened(page: Page): Promise<void> | undefined {
    if (!this.linked || !this.main.isReady) return undefined; // announced when the bus is back
    // Waited for (by the page's hello) at most a second: a Redis that hangs does not hold pages.
    return Promise.race([this.registerPage(page).then(noop, noop), sleep(1_000)]);
  }

  pageClosed(page: Page): void {
    if (this.main.isReady) this.main.del(this.keys.page(page.id)).catch(() => {});
    this.append({ k: "g", p: page.id });
  }

  buckets(): SharedBuckets {
    return (this.sharedBuckets ??= new RedisBuckets(this.main, `${this.settings.prefix}:limit:`));
  }

  status(): BusStatus {
    let frames = 0;
    for (const page of this.remotePages.values()) for (const frame of page.unacked) if (frame.seq > page.sentSeq) frames++;
    const problem = this.state !== "connected" ? this.problem() : undefined;
    const waitedMs = this.probeSent === undefined ? undefined : performance.now() - this.probeSent;
    const lagMs = waitedMs !== undefined && (this.lastLagMs === undefined || waitedMs > this.lastLagMs) ? waitedMs : this.lastLagMs;
    return {
      kind: "redis",
      state: this.state,
      ...(lagMs === undefined ? {} : { lagMs: Math.round(lagMs * 10) / 10 }),
      instance: this.instance,
      since: this.since.toISOString(),
      waiting: { events: this.outbox.length, frames },
      droppedEvents: this.droppedEvents,
      ...(problem ? { error: problem } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    clearInterval(this.heartbeat);
    clearInterval(this.prober);
    clearTimeout(this.retryTimer);
    this.sharedBuckets?.close();
    this.stopping = true;
    // This instance's pages go with it: the others forget them.
    for (const page of this.host.localPages()) this.pageClosed(page);
    // What this instance still has to say (pages gone, last events) goes out if Redis takes it.
    const deadline = Date.now() + 2_000;
    while (this.linked && this.main.isReady && this.writeRefused === undefined && this.hasWaiting() && Date.now() < deadline) {
      await this.flush();
      if (this.hasWaiting()) await sleep(10);
    }
    this.closing = true;
    // After everything it wrote: its pages' ids are unknown from now on (400), not away (503).
    if (this.main.isReady) await this.main.set(this.keys.instance(this.instance), STOPPED, { PX: STOPPED_TTL_MS }).catch(noop);
    for (const page of this.remotePages.values()) page.close();
    this.reader.destroy();
    await this.reading;
    if (this.main.isReady) {
      await this.main.close().catch(() => this.main.destroy());
    } else this.main.destroy();
  }

  // ---- connection ------------------------------------------------------------------------------

  /** What is wrong, when something is. */
  private problem(): string | undefined {
    if (this.linked && this.stalled && this.probeSent !== undefined) return `Redis has not answered a PING for ${((performance.now() - this.probeSent) / 1000).toFixed(1)} s`;
    return this.linked ? (this.writeRefused ?? this.readRefused ?? this.lastError) : this.lastError;
  }

  /**
   * A PING while the connection is up, one at a time. Replies come in order, so a PING answered
   * means everything sent before it was too; one unanswered for STALL_MS means Redis is stalled.
   */
  private probe(): void {
    if (this.closing) return;
    if (this.probeSent !== undefined) {
      if (!this.stalled && performance.now() - this.probeSent > STALL_MS) {
        this.stalled = true;
        this.updateState();
        this.problems.begin(
          "bus-stalled",
          `gateway: the bus (${redactedUrl(this.settings.url)}) has not answered for ${STALL_MS / 1000} s though its connection is up: Redis is stalled (stopped, out of memory and swapping, or busy with a slow command). ` +
            "Events and channel frames for other instances wait, calls naming a page on another instance wait with them, and rate limits are counted per instance until it answers. Check the Redis server.",
        );
      }
      return;
    }
    if (!this.main.isReady || !this.linked) return;
    const sent = performance.now();
    this.probeSent = sent;
    this.main.ping().then(
      () => this.probed(sent, true),
      () => this.probed(sent, false),
    );
  }

  /** The PING sent at `sent` was answered (`answered`), or failed (the connection went: "error" says so). */
  private probed(sent: number, answered: boolean): void {
    if (this.probeSent !== sent || this.stopping) return; // (closing drops the connection: nothing to say)
    this.probeSent = undefined;
    if (answered) this.lastLagMs = performance.now() - sent;
    if (!this.stalled) return;
    this.stalled = false;
    this.updateState();
    const waited = ((performance.now() - sent) / 1000).toFixed(1);
    this.problems.clear(
      "bus-stalled",
      answered ? `gateway: the bus answers again (after ${waited} s); writing what waited` : `gateway: the stalled bus's connection was dropped after ${waited} s; reconnecting`,
    );
  }

  /** The connection went (or an attempt failed): the client reconnects, and "ready" links again. */
  private disconnected(error: Error): void {
    this.lastError = error.message || String(error);
    this.linked = false;
    this.updateState();
  }

  /**
   * connected, once linked and the last write and read went through; degraded when that stops;
   * stalled while linked and a PING goes unanswered (logged by the probe, as a problem).
   */
  private updateState(): void {
    if (this.closing) return;
    const ok = this.linked && this.written && this.writeRefused === undefined && this.readRefused === undefined;
    if (this.stalled && this.linked && (ok || this.state === "connected" || this.state === "stalled")) {
      this.setState("stalled");
      return;
    }
    if (ok && this.state === "stalled") {
      this.setState("connected");
      return;
    }
    if (!ok && this.state === "stalled") this.setState("connected"); // then degraded below, with its warning
    if (ok && this.state !== "connected") {
      const wasDegraded = this.state === "degraded";
      this.setState("connected");
      if (wasDegraded) this.logger.info("gateway: the bus is back; writing what waited");
    } else if (!ok && this.state === "connected") {
      this.setState("degraded");
      this.logger.warn(
        `gateway: lost the bus (${this.problem()}); invocations go on here, events and channel frames for other instances wait until it is back`,
      );
    }
  }

  private setState(state: BusStatus["state"]): void {
    if (state === this.state) return;
    this.state = state;
    this.since = new Date();
  }

  /** Every (re)connection: find out what Redis kept, then write what waited, this instance's pages first. */
  private async link(): Promise<void> {
    if (this.linking || this.closing) return;
    this.linking = true;
    const connection = this.connections;
    try {
      let epoch = await this.main.get(this.keys.epoch);
      if (epoch === null) {
        await this.main.set(this.keys.epoch, randomBytes(9).toString("base64url"), { NX: true });
        epoch = await this.main.get(this.keys.epoch);
      }
      const lostData = this.epoch !== undefined && epoch !== this.epoch;
      this.epoch = epoch ?? undefined;
      if (lostData) {
        // A new stream: read it from its start. What other instances wrote before is gone.
        this.eventsId = "0-0";
        this.inboxId = "0-0";
        this.host.gap({ scope: "events", reason: "Redis restarted without its data: events emitted on other instances just before may be lost" });
      } else if (this.eventsId === undefined) {
        // From when this instance was made, on Redis's clock (its TIME less how long this one has
        // waited, measured here: no two clocks compared). An instance that started while Redis was
        // away has pages listening already; what the others wrote meanwhile, the events that waited
        // on them for Redis included, is for those pages too. Starting at the stream's end instead
        // lost whatever another instance wrote just before this one's first connection.
        const [seconds, micros] = (await this.main.sendCommand(["TIME"])) as [string, string];
        const redisNowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
        this.eventsId = `${Math.max(0, redisNowMs - Math.ceil(performance.now() - this.createdAt))}-0`;
      }
      await this.refreshTargets().catch(noop); // refused writes (maxmemory) are no reason to wait: the heartbeat tries again
      if (connection !== this.connections || !this.main.isReady) return; // the connection changed meanwhile: again
      // Redis may have lost frames written before: the pages' instances drop what they have.
      for (const page of this.remotePages.values()) page.resend();
      this.linked = true;
      this.written = false;
      this.writeRefused = undefined;
      this.readRefused = undefined;
      this.retryDelay = FIRST_RETRY_MS;
      this.announceDue = true;
      this.scheduleFlush();
    } catch (error) {
      this.lastError = errorText(error);
    } finally {
      this.linking = false;
      // Refused for now (LOADING its data after a restart, say), or the connection changed: again.
      if (!this.linked && !this.closing && this.main.isReady) setTimeout(() => void this.link(), 100).unref();
    }
  }

  private registerPage(page: Page): Promise<unknown> {
    return this.main.set(this.keys.page(page.id), pageInfo(this.instance, page), { PX: this.pageTimeoutMs });
  }

  /**
   * Listener targets in use: this instance's are marked live (a sorted set scored by time), those
   * no instance marked for TARGET_TTL_MS are removed, and the rest is what emitFilter considers.
   * Targets come and go with pages' labels: nothing keeps the ones nobody listens with anymore.
   */
  private async refreshTargets(): Promise<void> {
    const now = Date.now();
    const live = this.host.liveTargets().map((target) => ({ score: now, value: JSON.stringify(target) }));
    if (live.length > 0) await this.main.zAdd(this.keys.targets, live);
    await this.main.zRemRangeByScore(this.keys.targets, "-inf", now - TARGET_TTL_MS);
    const known = new Map<string, EventTarget>();
    for (const text of await this.main.zRange(this.keys.targets, 0, -1)) {
      const target = decodeTarget(text);
      if (target) known.set(targetKey(target), target);
    }
    for (const target of this.host.liveTargets()) known.set(targetKey(target), target);
    this.targets = known;
  }

  /** Announce this instance's pages again (with the next write); give up on remote pages whose registration is gone. */
  private async beat(): Promise<void> {
    this.announceDue = true;
    this.scheduleFlush();
    if (this.state !== "connected" || this.beating) return;
    this.beating = true;
    try {
      const refresh = ++this.beats % Math.max(1, Math.round(TARGET_REFRESH_MS / this.heartbeatMs)) === 0 ? this.refreshTargets() : undefined;
      const remote = [...this.remotePages.values()];
      const found = await Promise.all(remote.map((page) => this.main.exists(this.keys.page(page.id))));
      await refresh;
      remote.forEach((page, i) => {
        if (this.remotePages.get(page.id) !== page) return;
        // Missing twice running: once could be Redis just restarted empty, before the page's
        // instance has registered its pages again.
        if (found[i] !== 0) this.missing.delete(page.id);
        else if (this.missing.has(page.id)) this.forgetPage(page.id, true);
        else this.missing.add(page.id);
      });
    } catch {
      // Redis went away meanwhile: the next beat after it is back does this.
    } finally {
      this.beating = false;
    }
  }

  private async lookUp(id: string): Promise<PageLink | undefined> {
    if (!this.linked || !this.main.isReady) throw new BusUnavailable(`the bus is unavailable (${this.problem() ?? "connecting"})`);
    const home = pageHome(id);
    const elsewhere = home !== undefined && home.instance !== this.instance;
    let text: string | null;
    let announced: string | null = null;
    try {
      // The announcement first: a page registered by it is then found by the second read.
      const announcement = elsewhere ? this.main.get(this.keys.instance(home.instance)) : Promise.resolve(null);
      const registration = this.main.get(this.keys.page(id));
      [announced, text] = await Promise.all([announcement, registration]);
    } catch (error) {
      throw new BusUnavailable(`the bus is unavailable (${errorText(error)})`);
    }
    const info = text === null ? undefined : decodePageInfo(text);
    if (info !== undefined) {
      if (info.instance === this.instance) return undefined;
      const page = new RemotePage(id, info.instance, ++this.links, info.label, info.origin, info.principal, (p) => this.framesPending(p));
      this.remotePages.set(id, page);
      return page;
    }
    if (!elsewhere) return undefined;
    if (announced === STOPPED || (announced !== null && home.number <= Number(announced))) return undefined; // it went away
    throw new BusUnavailable(
      announced === null ? "its instance cannot reach the bus right now" : "its instance has not been able to announce it on the bus yet",
    );
  }

  /**
   * A remote page is no more: its instance said it went away (`tell` false), or its registration
   * expired. Then its instance may only be cut off from Redis, the page still there: the page's
   * instance is told, to end the page's channels this instance was streaming on.
   */
  private forgetPage(id: string, tell: boolean): void {
    const page = this.remotePages.get(id);
    if (page === undefined) return;
    this.remotePages.delete(id);
    this.missing.delete(id);
    this.framesWaiting.delete(page);
    if (tell && page.numbered > 0) {
      this.linkEnds.push({ instance: page.instance, page: id, link: page.link });
      this.scheduleFlush();
    }
    page.close();
  }

  // ---- writing ---------------------------------------------------------------------------------

  /** An entry for the events stream; waits (bounded) while Redis is away. */
  private append(fields: Fields): void {
    fields.from = this.instance;
    let size = 0;
    for (const key in fields) size += fields[key]!.length;
    this.outbox.push({ fields, size });
    this.outboxBytes += size;
    // Past the bounds, the oldest entries not being written go; the next write says how many.
    while ((this.outbox.length > MAX_WAITING_EVENTS || this.outboxBytes > MAX_WAITING_EVENT_BYTES) && this.outbox.length > this.inFlight + 1) {
      const [dropped] = this.outbox.splice(this.inFlight, 1);
      this.outboxBytes -= dropped!.size;
      this.droppedEvents++;
      this.droppedUnsaid++;
    }
    this.scheduleFlush();
  }

  private framesPending(page: RemotePage): void {
    this.framesWaiting.add(page);
    this.scheduleFlush();
  }

  private hasWaiting(): boolean {
    return this.outbox.length > 0 || this.acks.size > 0 || this.framesWaiting.size > 0 || this.linkEnds.length > 0 || (this.announceDue && !this.stopping);
  }

  /** Soon, unless Redis refuses writes: then the retry timer writes (see retryLater). */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.closing || this.writeRefused !== undefined) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined || this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RECONNECT_DELAY_MS);
  }

  /** Write what waits, in order, a batch per round trip (the client pipelines the commands). */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.linked && this.main.isReady && this.hasWaiting()) {
        const failed = await this.writeBatch();
        if (failed === undefined) {
          if (!this.written || this.writeRefused !== undefined) {
            this.written = true;
            this.writeRefused = undefined;
            this.retryDelay = FIRST_RETRY_MS;
            this.updateState();
          }
          continue;
        }
        // Redis answered with a refusal (it was not the connection: "error" reports that, and
        // "ready" links again). Nothing will say when it passes: try again until a write goes through.
        if (this.linked && this.main.isReady) {
          this.writeRefused = errorText(failed);
          this.updateState();
          this.retryLater();
        }
        break;
      }
    } finally {
      this.flushing = false;
      this.inFlight = 0;
    }
  }

  /** One batch of what waits; what does not go through waits on, to be written again (receivers drop what they have, by number). */
  private async writeBatch(): Promise<unknown> {
    const writes: Promise<unknown>[] = [];
    const announcing = this.announceDue && !this.stopping;
    if (announcing) {
      // Every open page of this instance, and the highest page number among them, at once: an
      // instance that reads the number then finds each of those pages still open.
      this.announceDue = false;
      const transaction = this.main.multi();
      for (const page of this.host.localPages()) transaction.set(this.keys.page(page.id), pageInfo(this.instance, page), { PX: this.pageTimeoutMs });
      // Expires a little before the pages: whoever reads it still finds them.
      const announcementTtl = this.pageTimeoutMs - Math.min(1_000, Math.floor(this.pageTimeoutMs / 4));
      transaction.set(this.keys.instance(this.instance), String(this.pagesNamed), { PX: announcementTtl });
      writes.push(transaction.exec());
      writes.push(this.main.pExpire(this.keys.inbox(this.instance), INBOX_TTL_MS));
    }
    if (this.droppedUnsaid > 0) {
      this.outbox.unshift({ fields: { k: "d", n: String(this.droppedUnsaid), from: this.instance }, size: 0 });
      this.droppedUnsaid = 0;
    }
    this.inFlight = Math.min(this.outbox.length, BATCH);
    // Numbered when first written (and kept on a retry), so that what was dropped before
    // leaves no hole: a hole means Redis lost entries.
    for (let i = 0; i < this.inFlight; i++) this.outbox[i]!.fields.s ??= String(++this.eventSeq);
    const trim = { TRIM: { strategy: "MAXLEN" as const, strategyModifier: "~" as const, threshold: this.settings.history } };
    for (let i = 0; i < this.inFlight; i++) writes.push(this.main.xAdd(this.keys.events, "*", this.outbox[i]!.fields as never, trim));
    // Another instance's inbox written here expires like its own (should that instance be gone).
    const inboxes = new Set<string>();
    // Links given up go before any frame of a later link to the same page.
    const ends = this.linkEnds;
    this.linkEnds = [];
    for (const end of ends) {
      writes.push(this.main.xAdd(this.keys.inbox(end.instance), "*", { k: "c", from: this.instance, p: end.page, l: String(end.link) }));
      inboxes.add(end.instance);
    }
    const acks = [...this.acks.values()];
    this.acks.clear();
    for (const ack of acks) {
      writes.push(this.main.xAdd(this.keys.inbox(ack.sender), "*", { k: "a", p: ack.page, l: String(ack.link), s: String(ack.seq) }));
      inboxes.add(ack.sender);
    }
    const pages = [...this.framesWaiting];
    this.framesWaiting.clear();
    const through: number[] = [];
    for (const page of pages) {
      // Consecutive frames for one page travel packed in one entry: one command, one read.
      let last = page.sentSeq;
      let pack: Buffer[] = [];
      let packBytes = 0;
      let first = 0;
      const flushPack = () => {
        if (pack.length === 0) return;
        const fields = { k: "m", from: this.instance, p: page.id, l: String(page.link), s: String(first), d: Buffer.concat(pack, packBytes) };
        writes.push(this.main.xAdd(this.keys.inbox(page.instance), "*", fields as never));
        pack = [];
        packBytes = 0;
      };
      let n = 0;
      for (const frame of page.unacked) {
        if (frame.seq <= page.sentSeq) continue;
        if (n++ === BATCH * 8) break;
        if (pack.length === 0) first = frame.seq;
        const packed = packFrame(frame.data);
        pack.push(packed);
        packBytes += packed.length;
        last = frame.seq;
        if (pack.length === PACK_FRAMES || packBytes >= PACK_BYTES) flushPack();
      }
      flushPack();
      through.push(last);
      inboxes.add(page.instance);
    }
    for (const instance of inboxes) writes.push(this.main.pExpire(this.keys.inbox(instance), INBOX_TTL_MS));
    const results = await Promise.allSettled(writes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed === undefined) {
      for (const entry of this.outbox.splice(0, this.inFlight)) this.outboxBytes -= entry.size;
      this.inFlight = 0;
      pages.forEach((page, i) => {
        page.sentSeq = Math.max(page.sentSeq, through[i]!);
        if (page.open && page.unacked.some((f) => f.seq > page.sentSeq)) this.framesWaiting.add(page);
      });
      return undefined;
    }
    this.inFlight = 0;
    if (announcing) this.announceDue = true;
    this.linkEnds = [...ends, ...this.linkEnds];
    for (const ack of acks) {
      const key = `${ack.sender} ${ack.page} ${ack.link}`;
      if (!this.acks.has(key)) this.acks.set(key, ack);
    }
    for (const page of pages) if (page.open) this.framesWaiting.add(page);
    return failed.reason ?? new Error("a write failed");
  }

  // ---- reading ---------------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    const inbox = this.keys.inbox(this.instance);
    while (!this.closing) {
      if (!this.reader.isReady || !this.linked || this.eventsId === undefined) {
        await sleep(25);
        continue;
      }
      type Reply = { name: Buffer; messages: Entry[] }[] | null;
      let reply: Reply;
      try {
        reply = (await this.reader.xRead(
          [
            { key: this.keys.events, id: this.eventsId },
            { key: inbox, id: this.inboxId },
          ],
          { COUNT: BATCH, BLOCK: READ_BLOCK_MS },
        )) as unknown as Reply;
      } catch (error) {
        if (this.closing) break;
        if (this.reader.isReady) {
          // Redis refused the read (the events key is not a stream, say): not a lost connection.
          if (this.readRefused === undefined) {
            this.readRefused = errorText(error);
            this.updateState();
          }
          await sleep(READ_RETRY_MS);
        } else await sleep(50);
        continue;
      }
      if (this.readRefused !== undefined) {
        this.readRefused = undefined;
        this.updateState();
      }
      if (reply === null) continue;
      for (const stream of reply) {
        const isInbox = stream.name.toString() === inbox;
        for (const entry of stream.messages) {
          const id = entry.id.toString();
          try {
            if (isInbox) this.fromInbox(entry.message);
            else this.fromEvents(entry.message);
          } catch (error) {
            this.logger.warn(`gateway: skipped a malformed bus entry ${id}: ${(error as Error).message}`);
          }
          if (isInbox) this.inboxId = id;
          else this.eventsId = id;
        }
        // The inbox holds only what is not read yet.
        if (isInbox && stream.messages.length > 0) this.main.xTrim(inbox, "MINID", this.inboxId).catch(() => {});
      }
    }
  }

  private fromEvents(m: Record<string, Buffer>): void {
    const from = text(m, "from");
    if (from === this.instance) return;
    const seq = Number(text(m, "s"));
    const last = this.seen.get(from);
    if (last !== undefined) {
      if (seq <= last) return; // written twice (a batch retried after Redis went away)
      if (seq > last + 1) {
        this.host.gap({ scope: "events", instance: from, missed: seq - last - 1, reason: "events from another instance were lost" });
      }
    }
    this.seen.set(from, seq);
    switch (text(m, "k")) {
      case "e": {
        const payloadText = text(m, "pl");
        const parsed = parseJson(Buffer.from(payloadText), this.maxDepth());
        if (!parsed.ok) throw new Error(`its payload is not JSON: ${parsed.message}`);
        const to = m.to === undefined ? undefined : decodeTarget(m.to.toString());
        const targets = m.tg === undefined ? undefined : decodeTargets(m.tg.toString());
        if ((m.to !== undefined && to === undefined) || (m.tg !== undefined && targets === undefined)) throw new Error("its target is malformed");
        const principal = m.pr?.toString();
        if (principal === "") throw new Error("its principal is empty");
        this.host.deliverEvent({ event: text(m, "ev"), payloadText, payload: parsed.value, to, targets, ...(principal !== undefined ? { principal } : {}) });
        return;
      }
      case "x":
        return this.host.evalScript(text(m, "l"), text(m, "sc"));
      case "t": {
        const target = decodeTarget(text(m, "tg"));
        if (target) this.targets.set(targetKey(target), target);
        return;
      }
      case "g":
        return this.forgetPage(text(m, "p"), false);
      case "d":
        return this.host.gap({ scope: "events", instance: from, missed: Number(text(m, "n")), reason: "events from another instance were dropped while Redis was away" });
      default:
        throw new Error("unknown kind");
    }
  }

  private fromInbox(m: Record<string, Buffer>): void {
    const kind = text(m, "k");
    const link = m.l === undefined ? 0 : Number(m.l.toString()); // 0: a sender from before links were numbered
    if (!Number.isSafeInteger(link) || link < 0) throw new Error("its link is malformed");
    if (kind === "c") return this.inflow.end(text(m, "from"), text(m, "p"), link);
    const seq = Number(text(m, "s"));
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Error("its number is malformed");
    if (kind === "a") {
      const page = this.remotePages.get(text(m, "p"));
      if (page !== undefined && page.link === link) page.acknowledged(seq);
      return;
    }
    if (kind !== "m") throw new Error("unknown kind");
    const data = m.d;
    if (data === undefined) throw new Error("it has no frames");
    const sender = text(m, "from");
    const page = text(m, "p");
    let at = 0;
    for (let i = 0; at < data.length; i++) {
      if (at + 5 > data.length) throw new Error("its frames are truncated");
      const isText = data[at] === 0;
      const length = data.readUInt32BE(at + 1);
      if (at + 5 + length > data.length) throw new Error("its frames are truncated");
      const bytes = data.subarray(at + 5, at + 5 + length);
      at += 5 + length;
      this.inflow.receive({ sender, page, link, seq: seq + i, data: isText ? bytes.toString() : Buffer.from(bytes) });
    }
  }
}

/** What a page's registration holds. */
function pageInfo(instance: string, page: Page): string {
  return JSON.stringify({ i: instance, l: page.label, o: page.origin ?? null, p: page.principalId });
}

/** The instance and number a page id carries (see pageIdPrefix); undefined for any other id. */
function pageHome(id: string): { instance: string; number: number } | undefined {
  const parts = id.split(".");
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]{1,64}$/.test(parts[0]!) || !/^[0-9a-z]{1,10}$/.test(parts[1]!)) return undefined;
  return { instance: parts[0]!, number: parseInt(parts[1]!, 36) };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** A frame in a pack: [0 text | 1 binary][4-byte big-endian length][bytes]. */
function packFrame(data: string | Buffer): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const head = Buffer.allocUnsafe(5);
  head[0] = typeof data === "string" ? 0 : 1;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** A field as text; a missing field makes the entry malformed. */
function text(m: Record<string, Buffer>, field: string): string {
  const value = m[field];
  if (value === undefined) throw new Error(`it has no "${field}"`);
  return value.toString();
}

function decodeTarget(text: string): EventTarget | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return asTarget(value);
}

function decodeTargets(text: string): EventTarget[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  const targets = value.map(asTarget);
  return targets.every((t) => t !== undefined) ? (targets as EventTarget[]) : undefined;
}

function asTarget(value: unknown): EventTarget | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { kind, label } = value as { kind?: unknown; label?: unknown };
  if (typeof kind !== "string" || !TARGET_KINDS.has(kind)) return undefined;
  if (kind === "Any" || kind === "App") return { kind } as EventTarget;
  return typeof label === "string" ? ({ kind, label } as EventTarget) : undefined;
}

function decodePageInfo(text: string): { instance: string; label: string; origin: string | undefined; principal: string | null } | undefined {
  try {
    const { i, l, o, p } = JSON.parse(text) as { i?: unknown; l?: unknown; o?: unknown; p?: unknown };
    if (typeof i !== "string" || typeof l !== "string" || (o !== null && typeof o !== "string")) return undefined;
    if (p !== undefined && p !== null && typeof p !== "string") return undefined;
    return { instance: i, label: l, origin: o ?? undefined, principal: p ?? null };
  } catch {
    return undefined;
  }
}

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "the configured URL";
  }
}

function noop(): void {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
