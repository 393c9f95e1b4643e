// Channels: a handler's ordered stream to the page that called it (Tauri's ipc::Channel).
//
// Back-pressure policy: send() hands the message to the page's socket at once while that page's
// send queue is below 1 MiB; above, messages wait in the channel (in order) and send() resolves
// when its message has been handed over (a page whose socket is closing rejects it), so
// `await channel.send(x)` paces a handler to the page.
// At most MAX_WAITING messages wait per channel: a handler that sends without awaiting past that
// gets a `channel-full` error rather than the gateway buffering without bound.
import { asError, rejections, schemaErrorDetails } from "./errors.ts";
import { asBytes, toJson } from "./codec.ts";
import type { ChannelDef } from "./generation.ts";
import { HIGH_WATER_BYTES, type PageLink } from "./pages.ts";

export const MAX_WAITING = 1024;

/**
 * Channel messages, counted for metrics as plain numbers (read when scraped): handed to a page's
 * socket (`sent`), made to wait because the page's socket had no room (`heldBack`), accepted by
 * send() but never delivered because the page went away or the channel ended (`dropped`).
 */
export interface ChannelCounts {
  sent: number;
  heldBack: number;
  dropped: number;
}

/** Where channels count when nobody reads the figures. */
const UNCOUNTED: ChannelCounts = { sent: 0, heldBack: 0, dropped: 0 };

/** A channel's end marker: the page's Channel ends once it has had `index` messages (0 .. index - 1). */
export function channelEndFrame(channel: number, index: number): string {
  return `{"type":"channel-end","channel":${channel},"index":${index}}`;
}

const CHANNEL_HEAD = /^\{"type":"channel(-end)?","channel":(\d+),"index":(\d+)[,}]/;

/**
 * The channel and index of a frame a Channel wrote (text, or binary as encodeBinaryFrame makes
 * it, with the header `send` builds); undefined for any other frame. For the bus, which relays
 * frames to a page without parsing them and must end the page's channels when their stream is
 * stopped on another instance.
 */
export function readChannelHead(frame: string | Buffer): { channel: number; index: number; end: boolean } | undefined {
  let head: string;
  if (typeof frame === "string") head = frame.slice(0, 96);
  else if (frame.length >= 4) head = frame.toString("utf8", 4, 4 + Math.min(frame.readUInt32BE(0), 96));
  else return undefined;
  const match = CHANNEL_HEAD.exec(head);
  return match ? { channel: Number(match[2]), index: Number(match[3]), end: match[1] !== undefined } : undefined;
}

interface Waiting {
  /** A JSON text frame, or the header of a binary frame (with `bytes`). */
  frame: string | { type: "channel"; channel: number; index: number };
  bytes?: Uint8Array;
  /** A message (counted), not the end marker. */
  message: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class Channel<T = unknown> {
  readonly #page: PageLink;
  readonly #def: ChannelDef;
  readonly #id: number;
  readonly #maxDepth: number;
  #index = 0;
  #ended = false;
  #closedWhy: string | undefined;
  readonly #waiting: Waiting[] = [];
  #pumping = false;
  /** Lets a draining page close once this channel's end is written (PageLink.hold). */
  readonly #release: (() => void) | undefined;
  readonly #counts: ChannelCounts;

  constructor(page: PageLink, id: number, def: ChannelDef, maxDepth: number, counts: ChannelCounts = UNCOUNTED) {
    this.#page = page;
    this.#counts = counts;
    this.#id = id;
    this.#def = def;
    this.#maxDepth = maxDepth;
    this.#release = page.hold?.();
    page.onClose(() => this.#fail("the page went away"));
  }

  /** The page's callback id for this channel. */
  get id(): number {
    return this.#id;
  }

  /** The manifest's name of the channel. */
  get name(): string {
    return this.#def.name;
  }

  /** Messages sent so far (the next message's index). */
  get sent(): number {
    return this.#index;
  }

  get closed(): boolean {
    return this.#ended || this.#closedWhy !== undefined;
  }

  /**
   * Validate `message` against the channel's schema and deliver it, in order. Rejects (and sends
   * nothing) when the message is invalid or the channel is closed; resolves once the message is
   * handed to the page's socket.
   */
  send(message: T): Promise<void> {
    if (this.#closedWhy !== undefined) return Promise.reject(asError(rejections.channelClosed(this.name, this.#closedWhy)));
    if (this.#ended) return Promise.reject(asError(rejections.channelClosed(this.name, "close() was called")));
    const spec = this.#def.message;
    let bytes: Uint8Array | undefined;
    if (spec.kind === "binary") {
      bytes = asBytes(message);
      if (!bytes) {
        const errors = [{ instancePath: "", keyword: "binary", message: "must be bytes (a Uint8Array)", params: {} }];
        return Promise.reject(asError(rejections.invalidMessage(this.name, errors)));
      }
    } else if (spec.validate && !spec.validate(message)) {
      return Promise.reject(asError(rejections.invalidMessage(this.name, schemaErrorDetails(spec.validate.errors))));
    }
    let text: string | undefined;
    if (!bytes) {
      const json = toJson(message, this.#maxDepth);
      if (!json.ok) {
        const errors = [{ instancePath: "", keyword: "json", message: `cannot be sent as JSON: ${json.reason}`, params: {} }];
        return Promise.reject(asError(rejections.invalidMessage(this.name, errors)));
      }
      text = json.text;
    }
    if (this.#waiting.length >= MAX_WAITING) return Promise.reject(asError(rejections.channelFull(this.name, MAX_WAITING)));
    const index = this.#index++;
    // These two shapes (key order included) are what readChannelHead reads.
    if (bytes) return this.#enqueue({ type: "channel", channel: this.#id, index }, bytes, true);
    return this.#enqueue(`{"type":"channel","channel":${this.#id},"index":${index},"message":${text}}`, undefined, true);
  }

  /** Send the end marker `{ end: true, index: <count> }` after the messages already sent. Idempotent. */
  close(): Promise<void> {
    if (this.#ended || this.#closedWhy !== undefined) return Promise.resolve();
    this.#ended = true;
    // A page gone meanwhile has nothing to end (its channels failed with that reason): resolved.
    const release = this.#release ?? ignore;
    return this.#enqueue(channelEndFrame(this.#id, this.#index), undefined, false).then(release, release);
  }

  /**
   * End the channel because the gateway is stopping: the end marker goes after what was sent,
   * and later sends reject with `why` (not "close() was called": the handler did not close it).
   */
  end(why: string): void {
    if (this.#ended || this.#closedWhy !== undefined) return;
    this.close().catch(ignore); // a page already gone has its channels failed with that reason
    this.#closedWhy = why;
  }

  #enqueue(frame: Waiting["frame"], bytes: Uint8Array | undefined, message: boolean): Promise<void> {
    // The fast path: nothing waiting and room in the page's queue. A page whose socket is
    // closing takes nothing: send() must not resolve for a message the page never gets.
    if (this.#waiting.length === 0 && this.#page.buffered < HIGH_WATER_BYTES) {
      if (this.#write(frame, bytes)) {
        if (message) this.#counts.sent++;
        return Promise.resolve();
      }
      if (message) this.#counts.dropped++;
      this.#fail("the page went away");
      return Promise.reject(asError(rejections.channelClosed(this.name, this.#closedWhy!)));
    }
    if (message) this.#counts.heldBack++;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ frame, bytes, message, resolve, reject });
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waiting.length > 0 && this.#closedWhy === undefined) {
        await this.#page.writable();
        if (this.#closedWhy !== undefined) break;
        const next = this.#waiting.shift()!;
        if (this.#write(next.frame, next.bytes)) {
          if (next.message) this.#counts.sent++;
          next.resolve();
        } else {
          // Rejected here, not put back: the write itself may have found the page closing and
          // failed the channel already (its waiting list emptied without this one), and a send
          // left unsettled would hold its handler forever.
          this.#fail("the page went away");
          if (next.message) this.#counts.dropped++;
          next.reject(asError(rejections.channelClosed(this.name, this.#closedWhy!)));
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** False when the page's socket is no longer open (nothing was written). */
  #write(frame: Waiting["frame"], bytes: Uint8Array | undefined): boolean {
    if (typeof frame === "string") return this.#page.sendText(frame);
    return this.#page.sendBinary(frame, bytes!);
  }

  #fail(why: string): void {
    if (this.#closedWhy !== undefined) return;
    this.#closedWhy = why;
    this.#release?.();
    const waiting = this.#waiting.splice(0);
    for (const w of waiting) {
      if (w.message) this.#counts.dropped++;
      w.reject(asError(rejections.channelClosed(this.name, why)));
    }
  }
}

function ignore(): void {}
