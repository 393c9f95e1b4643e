// The bus over Redis (server.bus: redis://...), with the `redis` client (node-redis v5).
//
// Keys, under the prefix (default "ipc-gateway"):
//   <prefix>:events           a stream every instance appends to and reads: emits, window.eval,
//                             listener targets in use, pages gone. Trimmed to `history` entries.
//   <prefix>:inbox:<instance> a stream per instance: channel frames and listener events for its
//                             pages from other instances, and acknowledgements of its own frames.
//                             Trimmed as it is read; expires a minute after its instance stops.
//   <prefix>:page:<id>        where page <id> is connected (instance, label, origin); expires
//                             15 s after its instance stops refreshing it.
//   <prefix>:targets          listener targets in use on any instance (for emitFilter), scored by
//                             when an instance last had a listener with it.
//   <prefix>:epoch            changes when Redis loses its data (a restart without persistence).
//
// Every entry an instance writes to the events stream carries its number in that instance's
// sequence: a receiver that sees a number skipped knows entries were lost (the stream was trimmed
// past a slow reader, Redis lost data) and says so with `gateway://bus-gap`. What waits while
// Redis is away waits here, in order, and is written when it is back: events up to
// MAX_WAITING_EVENTS (older ones are dropped, and a "d" entry tells the others how many), channel
// frames without a limit of their own since channels wait for room (see remote-page.ts).
import { randomBytes } from "node:crypto";
import type { RedisClientType } from "redis";
import { parseJson } from "../runtime/codec.ts";
import type { Logger } from "../runtime/logger.ts";
import type { Page, PageLink } from "../runtime/pages.ts";
import type { EventTarget } from "../runtime/types.ts";
import type { BusSettings } from "../config/manifest.ts";
import { BusUnavailable, targetKey, type Bus, type BusEvent, type BusHost, type BusStatus } from "../runtime/bus.ts";
import { Inflow } from "./inflow.ts";
import { RemotePage } from "./remote-page.ts";

/** Events waiting for Redis (an outage, or a burst faster than Redis) beyond which the oldest are dropped. */
export const MAX_WAITING_EVENTS = 100_000;
/** ... and their bytes. */
export const MAX_WAITING_EVENT_BYTES = 64 * 1024 * 1024;
const HEARTBEAT_MS = 5_000;
const PAGE_TTL_MS = 15_000;
const INBOX_TTL_MS = 60_000;
/** Listener targets are marked live every TARGET_REFRESH_BEATS heartbeats, and forgotten TARGET_TTL_MS after the last. */
const TARGET_REFRESH_BEATS = 12;
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
/** The longest pause between reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 1_000;

type Fields = Record<string, string | Buffer>;
type Entry = { id: string; message: Record<string, Buffer> };

interface Waiting {
  fields: Fields;
  size: number;
}

const TARGET_KINDS = new Set(["Any", "AnyLabel", "App", "Window", "Webview", "WebviewWindow"]);

export async function startRedisBus(settings: BusSettings, host: BusHost, logger: Logger, maxDepth: () => number): Promise<Bus> {
  let redis: typeof import("redis");
  try {
    redis = await import("redis"); // an optional peer dependency: only apps with server.bus need it
  } catch {
    throw new Error("server.bus needs the redis client, which is not installed: npm install redis");
  }
  const bus = new RedisBus(redis, settings, host, logger, maxDepth);
  await bus.start();
  return bus;
}

class RedisBus implements Bus {
  readonly instance = randomBytes(9).toString("base64url");
  private readonly main: RedisClientType;
  private readonly reader: RedisClientType;
  private readonly keys: { events: string; targets: string; epoch: string; inbox: (instance: string) => string; page: (id: string) => string };
  private state: BusStatus["state"] = "connecting";
  private since = new Date();
  private lastError: string | undefined;
  private closing = false;

  /** Read positions; undefined until the first connection tells where the events stream ends. */
  private eventsId: string | undefined;
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
  private readonly acks = new Map<string, { sender: string; page: string; seq: number }>();
  private readonly framesWaiting = new Set<RemotePage>();
  private flushing = false;
  private flushScheduled = false;

  /** Listener targets in use on any instance (as of the last refresh, plus those announced since). */
  private targets = new Map<string, EventTarget>();
  private beats = 0;
  private readonly remotePages = new Map<string, RemotePage>();
  private readonly lookups = new Map<string, Promise<PageLink | undefined>>();
  /** Remote pages whose registration was missing at the last heartbeat. */
  private readonly missing = new Set<string>();
  private readonly inflow: Inflow;
  private heartbeat: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    redis: typeof import("redis"),
    private readonly settings: BusSettings,
    private readonly host: BusHost,
    private readonly logger: Logger,
    private readonly maxDepth: () => number,
  ) {
    const p = settings.prefix;
    this.keys = {
      events: `${p}:events`,
      targets: `${p}:targets`,
      epoch: `${p}:epoch`,
      inbox: (instance) => `${p}:inbox:${instance}`,
      page: (id) => `${p}:page:${id}`,
    };
    const options = {
      url: settings.url,
      // Nothing queues inside the client while Redis is away: what waits, waits here, bounded.
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS), connectTimeout: 5_000 },
    };
    this.main = redis.createClient(options) as RedisClientType;
    // Blocking reads get their own connection; binary frames come back as Buffers.
    this.reader = redis.createClient(options).withTypeMapping({ [redis.RESP_TYPES.BLOB_STRING]: Buffer }) as unknown as RedisClientType;
    this.main.on("ready", () => void this.connected());
    this.main.on("error", (error: Error) => this.lost(error));
    this.reader.on("error", () => {}); // the main connection reports; the read loop retries
    this.inflow = new Inflow({
      localPage: (id) => host.localPage(id),
      acknowledge: (sender, page, seq) => {
        this.acks.set(`${sender} ${page}`, { sender, page, seq });
        this.scheduleFlush();
      },
      gap: (page, sender, missed) =>
        host.gap({ scope: "channel", instance: sender, missed, reason: "channel frames from another instance were lost" }, page),
      unknownPage: () => {}, // the page went away; its instance told everyone, senders close their side
    });
  }

  async start(): Promise<void> {
    this.main.connect().catch(() => {}); // connection errors arrive as "error" events; the client keeps trying
    this.reader.connect().catch(() => {});
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.reading = this.readLoop();
    // Wait a little for the first connection, so that an instance that starts with Redis up is on
    // the bus when it serves; one that starts while Redis is away serves anyway (degraded).
    const deadline = Date.now() + FIRST_CONNECT_MS;
    while (this.state !== "connected" && Date.now() < deadline) await sleep(20);
    if (this.state !== "connected") {
      this.logger.warn(`gateway: the bus (${redactedUrl(this.settings.url)}) is not reachable yet (${this.lastError ?? "no answer"}); serving, and connecting in the background`);
    }
  }

  // ---- Bus -----------------------------------------------------------------------------------

  publishEvent(event: BusEvent): void {
    const fields: Fields = { k: "e", ev: event.event, pl: event.payloadText };
    if (event.to) fields.to = JSON.stringify(event.to);
    if (event.targets) fields.tg = JSON.stringify(event.targets);
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

  pageOpened(page: Page): Promise<void> | undefined {
    if (!this.main.isReady) return undefined; // registered when the bus is back
    // Waited for (by the page's hello) at most a second: a Redis that hangs does not hold pages.
    return Promise.race([this.registerPage(page).then(noop, noop), sleep(1_000)]);
  }

  pageClosed(page: Page): void {
    if (this.main.isReady) this.main.del(this.keys.page(page.id)).catch(() => {});
    this.append({ k: "g", p: page.id });
  }

  status(): BusStatus {
    let frames = 0;
    for (const page of this.remotePages.values()) for (const frame of page.unacked) if (frame.seq > page.sentSeq) frames++;
    return {
      kind: "redis",
      state: this.state,
      instance: this.instance,
      since: this.since.toISOString(),
      waiting: { events: this.outbox.length, frames },
      droppedEvents: this.droppedEvents,
      ...(this.state !== "connected" && this.lastError ? { error: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    clearInterval(this.heartbeat);
    // What this instance still has to say (pages gone, last events) goes out if Redis is there.
    const deadline = Date.now() + 2_000;
    while (this.main.isReady && this.hasWaiting() && Date.now() < deadline) {
      await this.flush();
      if (this.hasWaiting()) await sleep(10);
    }
    this.closing = true;
    for (const page of this.remotePages.values()) page.close();
    this.reader.destroy();
    await this.reading;
    if (this.main.isReady) {
      await this.main.close().catch(() => this.main.destroy());
    } else this.main.destroy();
  }

  // ---- connection ------------------------------------------------------------------------------

  private lost(error: Error): void {
    this.lastError = error.message || String(error);
    if (this.state === "connected" && !this.closing) {
      this.setState("degraded");
      this.logger.warn(
        `gateway: lost the bus (${this.lastError}); invocations go on here, events and channel frames for other instances wait until it is back`,
      );
    }
  }

  /** Every (re)connection: find out what Redis kept, tell it what this instance holds, write what waited. */
  private async connected(): Promise<void> {
    try {
      await this.main.set(this.keys.epoch, randomBytes(9).toString("base64url"), { NX: true });
      const epoch = await this.main.get(this.keys.epoch);
      const lostData = this.epoch !== undefined && epoch !== this.epoch;
      this.epoch = epoch ?? undefined;
      if (lostData) {
        // A new stream: read it from its start. What other instances wrote before is gone.
        this.eventsId = "0-0";
        this.inboxId = "0-0";
        this.host.gap({ scope: "events", reason: "Redis restarted without its data: events emitted on other instances just before may be lost" });
      } else if (this.eventsId === undefined) {
        const last = await this.main.xRevRange(this.keys.events, "+", "-", { COUNT: 1 });
        this.eventsId = last[0]?.id ?? "0-0";
      }
      await Promise.all([...[...this.host.localPages()].map((page) => this.registerPage(page)), this.refreshTargets()]);
      // Redis may have lost frames written before: the pages' instances drop what they have.
      for (const page of this.remotePages.values()) page.resend();
      const wasDown = this.state === "degraded";
      this.setState("connected");
      if (wasDown) this.logger.info("gateway: the bus is back; writing what waited");
      this.scheduleFlush();
    } catch (error) {
      this.lastError = (error as Error).message;
      // The connection went again (the next "ready" starts over), or Redis refused for now
      // (LOADING its data after a restart, say): try again while the connection stays up.
      setTimeout(() => {
        if (!this.closing && this.main.isReady && this.state !== "connected") void this.connected();
      }, 100);
    }
  }

  private setState(state: BusStatus["state"]): void {
    if (state === this.state) return;
    this.state = state;
    this.since = new Date();
  }

  private registerPage(page: Page): Promise<unknown> {
    const info = JSON.stringify({ i: this.instance, l: page.label, o: page.origin ?? null });
    return this.main.set(this.keys.page(page.id), info, { PX: PAGE_TTL_MS });
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

  /** Keep this instance's pages and inbox alive in Redis; close remote pages whose page is gone. */
  private async beat(): Promise<void> {
    if (!this.main.isReady || this.state !== "connected") return;
    try {
      const writes: Promise<unknown>[] = [...this.host.localPages()].map((page) => this.registerPage(page));
      if (++this.beats % TARGET_REFRESH_BEATS === 0) writes.push(this.refreshTargets());
      writes.push(this.main.pExpire(this.keys.inbox(this.instance), INBOX_TTL_MS));
      const remote = [...this.remotePages.values()];
      const exists = remote.map((page) => this.main.exists(this.keys.page(page.id)));
      await Promise.all(writes);
      const found = await Promise.all(exists);
      remote.forEach((page, i) => {
        // Missing twice running: once could be Redis just restarted empty, before the page's
        // instance has registered its pages again.
        if (found[i] !== 0) this.missing.delete(page.id);
        else if (this.missing.has(page.id)) this.forgetPage(page.id);
        else this.missing.add(page.id);
      });
    } catch {
      // Redis went away meanwhile: the next beat after it is back does this.
    }
  }

  private async lookUp(id: string): Promise<PageLink | undefined> {
    if (!this.main.isReady) throw new BusUnavailable(`the bus is unavailable (${this.lastError ?? "connecting"})`);
    let text: string | null;
    try {
      text = await this.main.get(this.keys.page(id));
    } catch (error) {
      throw new BusUnavailable(`the bus is unavailable (${(error as Error).message})`);
    }
    const info = text === null ? undefined : decodePageInfo(text);
    if (info === undefined || info.instance === this.instance) return undefined;
    const page = new RemotePage(id, info.instance, info.label, info.origin, (p) => this.framesPending(p));
    this.remotePages.set(id, page);
    return page;
  }

  private forgetPage(id: string): void {
    const page = this.remotePages.get(id);
    if (page === undefined) return;
    this.remotePages.delete(id);
    this.missing.delete(id);
    this.framesWaiting.delete(page);
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
    return this.outbox.length > 0 || this.acks.size > 0 || this.framesWaiting.size > 0;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** Write what waits, in order, a batch per round trip (the client pipelines the commands). */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.main.isReady && this.state === "connected" && this.hasWaiting()) {
        const writes: Promise<unknown>[] = [];
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
        const acks = [...this.acks.values()];
        this.acks.clear();
        for (const ack of acks) {
          writes.push(this.main.xAdd(this.keys.inbox(ack.sender), "*", { k: "a", p: ack.page, s: String(ack.seq) }));
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
            const fields = { k: "m", from: this.instance, p: page.id, s: String(first), d: Buffer.concat(pack, packBytes) };
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
          continue;
        }
        // Redis went away mid-batch: everything is written again once it is back (receivers drop
        // what they already have, by number).
        this.inFlight = 0;
        for (const ack of acks) if (!this.acks.has(`${ack.sender} ${ack.page}`)) this.acks.set(`${ack.sender} ${ack.page}`, ack);
        for (const page of pages) if (page.open) this.framesWaiting.add(page);
        this.lost(failed.reason as Error);
        break;
      }
    } finally {
      this.flushing = false;
      this.inFlight = 0;
    }
  }

  // ---- reading ---------------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    const inbox = this.keys.inbox(this.instance);
    while (!this.closing) {
      if (!this.reader.isReady || this.eventsId === undefined || this.state !== "connected") {
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
      } catch {
        if (!this.closing) await sleep(50);
        continue;
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
        this.host.deliverEvent({ event: text(m, "ev"), payloadText, payload: parsed.value, to, targets });
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
        return this.forgetPage(text(m, "p"));
      case "d":
        return this.host.gap({ scope: "events", instance: from, missed: Number(text(m, "n")), reason: "events from another instance were dropped while Redis was away" });
      default:
        throw new Error("unknown kind");
    }
  }

  private fromInbox(m: Record<string, Buffer>): void {
    const kind = text(m, "k");
    const seq = Number(text(m, "s"));
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Error("its number is malformed");
    if (kind === "a") {
      this.remotePages.get(text(m, "p"))?.acknowledged(seq);
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
      this.inflow.receive({ sender, page, seq: seq + i, data: isText ? bytes.toString() : Buffer.from(bytes) });
    }
  }
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

function decodePageInfo(text: string): { instance: string; label: string; origin: string | undefined } | undefined {
  try {
    const { i, l, o } = JSON.parse(text) as { i?: unknown; l?: unknown; o?: unknown };
    if (typeof i !== "string" || typeof l !== "string" || (o !== null && typeof o !== "string")) return undefined;
    return { instance: i, label: l, origin: o ?? undefined };
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
