// Frames from other instances for pages connected here (the receiving end of remote-page.ts).
//
// Per (sending instance, page): frames are taken in their number order, duplicates (sent again
// after a reconnection) dropped, and a jump in the numbers reported to the page as a gap. A frame
// is handed to the page only while the page's send queue is below the high-water mark, and
// acknowledged once handed over: a page that reads slowly holds back the sender's channel.
import { HIGH_WATER_BYTES, type Page } from "../runtime/pages.ts";

export interface IncomingFrame {
  sender: string;
  page: string;
  seq: number;
  /** A text frame, or an encoded binary frame. */
  data: string | Buffer;
}

interface Flow {
  page: Page;
  /** The highest number taken (delivered or queued). */
  accepted: number;
  queue: IncomingFrame[];
  pumping: boolean;
}

export interface InflowHost {
  localPage(id: string): Page | undefined;
  /** Every frame up to `seq` from `sender` for `page` is handed to the page. */
  acknowledge(sender: string, page: string, seq: number): void;
  /** Frames from `sender` for `page` are missing and will not come. */
  gap(page: Page, sender: string, missed: number): void;
  /** A frame for a page that is not here (it went away). */
  unknownPage(page: string): void;
}

export class Inflow {
  private readonly flows = new Map<string, Flow>();

  constructor(private readonly host: InflowHost) {}

  receive(frame: IncomingFrame): void {
    const key = `${frame.sender} ${frame.page}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      const page = this.host.localPage(frame.page);
      if (page === undefined || !page.open) return this.host.unknownPage(frame.page);
      flow = { page, accepted: 0, queue: [], pumping: false };
      this.flows.set(key, flow);
      page.onClose(() => this.flows.delete(key));
    }
    if (frame.seq <= flow.accepted) {
      // Sent again after a reconnection: already here. Acknowledge again (the first ack may be lost).
      if (flow.queue.length === 0) this.host.acknowledge(frame.sender, frame.page, flow.accepted);
      return;
    }
    if (frame.seq > flow.accepted + 1) this.host.gap(flow.page, frame.sender, frame.seq - flow.accepted - 1);
    flow.accepted = frame.seq;
    flow.queue.push(frame);
    if (!flow.pumping) void this.pump(flow);
  }

  private async pump(flow: Flow): Promise<void> {
    flow.pumping = true;
    try {
      while (flow.queue.length > 0 && flow.page.open) {
        await flow.page.writable();
        // Everything that can go now goes in one turn (and one acknowledgement).
        let last: IncomingFrame | undefined;
        while (flow.queue.length > 0 && flow.page.open) {
          const frame = flow.queue.shift()!;
          if (typeof frame.data === "string") flow.page.sendText(frame.data);
          else flow.page.sendBinaryFrame(frame.data);
          last = frame;
          if (flow.page.buffered >= HIGH_WATER_BYTES) break;
        }
        if (last !== undefined) this.host.acknowledge(last.sender, last.page, last.seq);
      }
    } finally {
      flow.pumping = false;
    }
  }
}
