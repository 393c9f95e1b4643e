// The browser pages connected over the WebSocket: what a window label, an event listener or a
// channel is delivered to.
//
// Nothing a page does can make the gateway buffer without bound. What waits to be written to a
// page is bounded: channel senders wait above HIGH_WATER_BYTES (see Page.writable), and the page's
// own invocations stop being read from its socket while their replies wait above it, or while
// MAX_PAGE_IN_FLIGHT of them are running; reading resumes below LOW_WATER_BYTES and the cap. A
// page that floods invocations without reading replies is thereby held back by TCP itself.
import { randomBytes } from "node:crypto";
import type { Caller } from "../access/principal.ts";
import type { Credentials } from "../access/authenticate.ts";

/**
 * The part of a `ws` WebSocket a page uses. Structural, so the runtime (and the package's public
 * declarations) do not depend on the `ws` library's types; transports/ws.ts hands in the real one.
 */
export interface PageSocket {
  readonly readyState: number;
  send(data: string | Buffer, callback: (error?: Error) => void): void;
  pause(): void;
  resume(): void;
  close(code?: number, reason?: string): void;
  once(event: "close", listener: () => void): unknown;
  /** The TCP socket under a `ws` WebSocket (see Page.write). */
  readonly _socket?: { cork(): void; uncork(): void; destroyed: boolean };
}

/**
 * A page as channels and event listeners write to it: a Page connected to this instance, or (with
 * `server.bus`) a page connected to another instance, reached through the bus (bus/remote-page.ts).
 * Both keep the same back-pressure contract: `buffered` bytes not yet taken by the page's socket,
 * and `writable()` resolving once that is below the low-water mark.
 */
export interface PageLink {
  readonly id: string;
  readonly label: string;
  readonly origin: string | undefined;
  /** The id of the principal the page's connection was authenticated as; null when anonymous. */
  readonly principalId: string | null;
  readonly open: boolean;
  readonly buffered: number;
  writable(): Promise<void>;
  sendText(json: string): boolean;
  sendBinary(header: object, bytes: Uint8Array): boolean;
  onClose(listener: () => void): () => void;
  /**
   * A channel to this page opened: a draining page stays open until the returned release is
   * called (after the channel's end marker is written). Pages on other instances do not drain here.
   */
  hold?(): () => void;
}

/**
 * Bytes with a JSON header in one binary frame:
 * [4-byte big-endian header length][header JSON, UTF-8][bytes].
 */
export function encodeBinaryFrame(header: object, bytes: Uint8Array): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const frame = Buffer.allocUnsafe(4 + head.length + bytes.byteLength);
  frame.writeUInt32BE(head.length, 0);
  head.copy(frame, 4);
  frame.set(bytes, 4 + head.length);
  return frame;
}

/** WebSocket.OPEN. */
const OPEN = 1;

/** Bytes queued for one page above which senders that respect back-pressure wait. */
export const HIGH_WATER_BYTES = 1024 * 1024;
/** ... and the level at which they resume. */
export const LOW_WATER_BYTES = 256 * 1024;
/** Invocations from one page running at once; past it, its further frames wait unread. */
export const MAX_PAGE_IN_FLIGHT = 256;

/**
 * What every PageLink keeps the same way: senders waiting for room in the page's queue (released
 * below the low-water mark, or when the page goes), and who is told when the page goes.
 */
export abstract class PageLinkBase {
  private drainWaiters: (() => void)[] = [];
  private readonly closeListeners = new Set<() => void>();
  protected isClosed = false;

  abstract readonly open: boolean;
  abstract readonly buffered: number;

  /** Resolves once the send queue is below the low-water mark (at once if it already is, or the page is gone). */
  writable(): Promise<void> {
    if (this.buffered < HIGH_WATER_BYTES || !this.open) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Run `listener` when the page goes away; returns a function that removes it. */
  onClose(listener: () => void): () => void {
    if (this.isClosed) {
      listener();
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  protected releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** The page went away: waiting senders resume (and find it gone), listeners are told. False if it already had. */
  protected markClosed(): boolean {
    if (this.isClosed) return false;
    this.isClosed = true;
    this.releaseWaiters();
    for (const listener of [...this.closeListeners]) listener();
    this.closeListeners.clear();
    return true;
  }
}

export class Page extends PageLinkBase implements PageLink {
  /** Unguessable: a request naming this page (header Gateway-Page) speaks for it. */
  private pageId = randomBytes(16).toString("base64url");
  private pendingBytes = 0;
  /** Invocations from this page not answered yet. */
  private running = 0;
  private readingPaused = false;
  /** A write to the page completed since the pinger last asked (see progressed()). */
  private wrote = false;
  private corked = false;
  /** Draining: closed once its running invocations are answered (closeWhenIdle). */
  private closing = false;
  /** Open channels to this page (from its own calls or from HTTP calls naming it): see hold(). */
  private channels = 0;

  constructor(
    private readonly socket: PageSocket,
    /** The window label the page's script was loaded with. */
    readonly label: string,
    /** The Origin the page connected from, if any. */
    readonly origin: string | undefined,
    /**
     * Who the connection was authenticated as: checked when it connected, and again when a reload
     * changes `auth:` (a removed token, new roles; see AccessControl.recheck).
     */
    public caller: Caller = { principal: null, local: true },
    /** What it was authenticated from (its upgrade's headers, ?token=, window), for that check. */
    readonly credentials?: Credentials,
  ) {
    super();
    // Every frame of this page is this caller's: what is decided for it is kept with it.
    caller.stable = true;
    socket.once("close", () => this.markClosed());
  }

  get principalId(): string | null {
    return this.caller.principal?.id ?? null;
  }

  get id(): string {
    return this.pageId;
  }

  /** Pages.add, before the id is told to anyone: with a bus, the id starts with where the page is connected. */
  prefixId(prefix: string): void {
    this.pageId = prefix + this.pageId;
  }

  get open(): boolean {
    return !this.isClosed && this.socket.readyState === OPEN;
  }

  /** Bytes handed to the socket and not yet written out. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Send one of the gateway's own frames (plain values only; pages' data goes through toJson); false when the page is gone. */
  send(frame: object): boolean {
    return this.write(JSON.stringify(frame));
  }

  /** An invocation from this page started / was answered: reading from it pauses at the cap. */
  invocationStarted(): void {
    this.running++;
    this.updateFlow();
  }

  invocationFinished(): void {
    this.running--;
    this.updateFlow();
  }

  /**
   * The gateway is draining: close this page's socket (1012 "service restart", which tauri.js
   * reconnects from, to another instance) as soon as no invocation of its own is running. Called
   * again after each of its replies is written (settled()), so the close frame follows the last reply.
   */
  closeWhenIdle(): void {
    this.closing = true;
    this.settled();
  }

  /** A reply or a channel's end was written: a draining page with nothing left running or streaming is closed. */
  settled(): void {
    if (this.closing && this.running === 0 && this.channels === 0 && !this.isClosed) this.close(1012, "gateway restarting; reconnect");
  }

  hold(): () => void {
    this.channels++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.channels--;
      this.settled();
    };
  }

  /** Reading is paused (the page is held back; see the note at the top). */
  get paused(): boolean {
    return this.readingPaused;
  }

  /**
   * Has the page taken anything from its socket since the last call? A page whose reading the
   * gateway paused cannot be heard answering pings; progress on its replies shows it is alive.
   */
  progressed(): boolean {
    const wrote = this.wrote;
    this.wrote = false;
    return wrote;
  }

  /** Send a frame already serialized as JSON text. */
  sendText(json: string): boolean {
    return this.write(json);
  }

  /** Send bytes with a JSON header in one binary frame (see encodeBinaryFrame). */
  sendBinary(header: object, bytes: Uint8Array): boolean {
    return this.write(encodeBinaryFrame(header, bytes));
  }

  /** Send a binary frame already encoded (a channel's, relayed by the bus from another instance). */
  sendBinaryFrame(frame: Buffer): boolean {
    return this.write(frame);
  }

  close(code = 1001, reason = "gateway stopping"): void {
    this.socket.close(code, closeReason(reason));
  }

  private write(data: string | Buffer): boolean {
    if (!this.open) {
      // A socket that is closing takes nothing more: the page is gone for its listeners and
      // handlers now, before the socket's own close event (a handler's signal is aborted before
      // the send it awaits is refused).
      if (this.socket.readyState > OPEN) this.markClosed();
      return false;
    }
    this.corkUntilNextTick();
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    this.pendingBytes += size;
    if (this.pendingBytes >= HIGH_WATER_BYTES && !this.readingPaused) this.updateFlow();
    this.socket.send(data, (error) => {
      this.pendingBytes -= size;
      this.wrote = true;
      if (error || this.pendingBytes < LOW_WATER_BYTES) {
        this.releaseWaiters();
        if (this.readingPaused) this.updateFlow();
      }
    });
    return true;
  }

  /**
   * Everything written to the page in one turn of the event loop (the replies to all the frames
   * one read brought, say) goes out in one write: one system call instead of one per frame, and
   * one wake-up of the page's reader.
   */
  private corkUntilNextTick(): void {
    if (this.corked) return;
    const tcp = this.socket._socket;
    if (tcp === undefined || tcp.destroyed) return;
    this.corked = true;
    tcp.cork();
    process.nextTick(() => {
      this.corked = false;
      tcp.uncork();
    });
  }

  private updateFlow(): void {
    if (this.isClosed) return;
    if (!this.readingPaused) {
      if (this.pendingBytes >= HIGH_WATER_BYTES || this.running >= MAX_PAGE_IN_FLIGHT) {
        this.readingPaused = true;
        this.socket.pause();
      }
    } else if (this.pendingBytes < LOW_WATER_BYTES && this.running < MAX_PAGE_IN_FLIGHT) {
      this.readingPaused = false;
      this.socket.resume();
    }
  }

}

/** A close reason as RFC 6455 allows it: at most 123 bytes of UTF-8 (longer ones are cut, with "…"). */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 120);
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Told when pages connect and go away (the bus keeps the cluster's page registry with it). */
export interface PagesObserver {
  /** The start of a new page's id, once per page in the order pages connect (the bus's instance and a page number). */
  pageIdPrefix?(): string;
  /** May return a promise: the page is announced to others once it settles. */
  pageOpened(page: Page): Promise<void> | undefined;
  pageClosed(page: Page): void;
}

export class Pages {
  private readonly byId = new Map<string, Page>();
  observer: PagesObserver | undefined;

  /** Resolves (when there is something to wait for) once other instances can find the page. */
  add(page: Page): Promise<void> | undefined {
    const prefix = this.observer?.pageIdPrefix?.();
    if (prefix !== undefined) page.prefixId(prefix);
    this.byId.set(page.id, page);
    const registered = this.observer?.pageOpened(page);
    page.onClose(() => {
      this.byId.delete(page.id);
      this.observer?.pageClosed(page);
    });
    return registered;
  }

  values(): IterableIterator<Page> {
    return this.byId.values();
  }

  get(id: string): Page | undefined {
    return this.byId.get(id);
  }

  *withLabel(label: string): IterableIterator<Page> {
    for (const page of this.byId.values()) if (page.label === label) yield page;
  }

  get size(): number {
    return this.byId.size;
  }
}
