// A page connected to another instance, as this instance's channels and listeners write to it.
//
// Frames go to the page's instance's inbox stream, numbered per (this instance, page). That
// instance hands them to the page's socket in order and acknowledges them once handed over,
// which it does only while the page's own send queue is below the high-water mark. Frames stay
// here until acknowledged: `buffered` counts them, so a channel waits (send() resolves later)
// when the page, or the path to it, is slow, exactly as for a page on this instance. After a
// reconnection to Redis the unacknowledged frames are sent again (Redis may have lost them); the
// page's instance drops the ones it already has by their number.
import { encodeBinaryFrame, LOW_WATER_BYTES, PageLinkBase, type PageLink } from "../runtime/pages.ts";

export interface OutgoingFrame {
  seq: number;
  /** A text frame, or an encoded binary frame. */
  data: string | Buffer;
  size: number;
}

export class RemotePage extends PageLinkBase implements PageLink {
  private seq = 0;
  /** Sent or waiting to be sent, not yet acknowledged; in order. */
  readonly unacked: OutgoingFrame[] = [];
  /** The highest number written to Redis (frames above it wait to be written). */
  sentSeq = 0;
  private unackedBytes = 0;

  constructor(
    readonly id: string,
    /** The instance the page is connected to. */
    readonly instance: string,
    /**
     * This link's number on this instance: frames and acknowledgements carry it, so that a link
     * made again after one was given up (see RedisBus.forgetPage) is numbered afresh.
     */
    readonly link: number,
    readonly label: string,
    readonly origin: string | undefined,
    /** The id of the principal the page's connection was authenticated as (null: anonymous). */
    readonly principalId: string | null,
    /** Called when there are frames to write to Redis. */
    private readonly pending: (page: RemotePage) => void,
  ) {
    super();
  }

  get open(): boolean {
    return !this.isClosed;
  }

  get buffered(): number {
    return this.unackedBytes;
  }

  /** Frames numbered so far (sent, acknowledged or not). */
  get numbered(): number {
    return this.seq;
  }

  sendText(json: string): boolean {
    return this.push(json, Buffer.byteLength(json));
  }

  sendBinary(header: object, bytes: Uint8Array): boolean {
    const frame = encodeBinaryFrame(header, bytes);
    return this.push(frame, frame.length);
  }

  /** The page's instance has handed every frame up to `seq` to the page. */
  acknowledged(seq: number): void {
    let removed = 0;
    while (removed < this.unacked.length && this.unacked[removed]!.seq <= seq) this.unackedBytes -= this.unacked[removed++]!.size;
    if (removed === 0) return;
    this.unacked.splice(0, removed);
    if (this.unackedBytes < LOW_WATER_BYTES) this.releaseWaiters();
  }

  /** Redis may have lost what was written: write every unacknowledged frame again. */
  resend(): void {
    this.sentSeq = 0;
    if (this.unacked.length > 0) this.pending(this);
  }

  /** The page went away (or its instance did): channels to it fail, handlers streaming to it are aborted. */
  close(): void {
    if (this.isClosed) return;
    this.unacked.length = 0;
    this.unackedBytes = 0;
    this.markClosed();
  }

  private push(data: string | Buffer, size: number): boolean {
    if (!this.open) return false;
    this.unacked.push({ seq: ++this.seq, data, size });
    this.unackedBytes += size;
    this.pending(this);
    return true;
  }
}
