// Frames from other instances for pages connected here (the receiving end of remote-page.ts).
//
// Per link (sending instance, page, the sender's link number): frames are taken in their number
// order, duplicates (sent again after a reconnection) dropped, and a jump in the numbers reported
// to the page as a gap. A frame is handed to the page only while the page's send queue is below
// the high-water mark, and acknowledged once handed over: a page that reads slowly holds back the
// sender's channel.
//
// A sender that gives up on a page (its instance stayed away from Redis past server.bus.pageTimeout)
// stops the handlers streaming to it and says so: once what it sent before is handed over, every
// channel of that link still open on the page gets `gateway://bus-gap` (with the channel's id)
// and an end marker after the last message the page had, so that the page's Channel ends.
import { HIGH_WATER_BYTES, type Page } from "../runtime/pages.ts";
import { channelEndFrame, readChannelHead } from "../runtime/channels.ts";

export interface IncomingFrame {
  sender: string;
  page: string;
  link: number;
  seq: number;
  /** A text frame, or an encoded binary frame. */
  data: string | Buffer;
}

interface Flow {
  key: string;
  sender: string;
  page: Page;
  /** The highest number taken (delivered or queued). */
  accepted: number;
  queue: IncomingFrame[];
  pumping: boolean;
  /** Channels with messages handed to the page and no end marker yet: id -> the next index. */
  open: Map<number, number>;
  /** The sender gave up on the page: end the open channels once the queue is handed over. */
  ended: boolean;
}

export interface InflowHost {
  localPage(id: string): Page | undefined;
  /** Every frame up to `seq` of this link is handed to the page. */
  acknowledge(sender: string, page: string, link: number, seq: number): void;
  /** Frames from `sender` for `page` are missing and will not come. */
  gap(page: Page, sender: string, missed: number): void;
  /** `sender` stopped the stream on `channel` to `page` before its end: its end marker follows. */
  cutShort(page: Page, sender: string, channel: number): void;
}

export class Inflow {
  private readonly flows = new Map<string, Flow>();

  constructor(private readonly host: InflowHost) {}

  receive(frame: IncomingFrame): void {
    const key = `${frame.sender} ${frame.page} ${frame.link}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      const page = this.host.localPage(frame.page);
      if (page === undefined || !page.open) return; // the page went away; its instance told everyone, senders close their side
      flow = { key, sender: frame.sender, page, accepted: 0, queue: [], pumping: false, open: new Map(), ended: false };
      this.flows.set(key, flow);
      page.onClose(() => this.flows.delete(key));
    }
    if (frame.seq <= flow.accepted) {
      // Sent again after a reconnection: already here. Acknowledge again (the first ack may be lost).
      if (flow.queue.length === 0) this.host.acknowledge(frame.sender, frame.page, frame.link, flow.accepted);
      return;
    }
    if (frame.seq > flow.accepted + 1) this.host.gap(flow.page, frame.sender, frame.seq - flow.accepted - 1);
    flow.accepted = frame.seq;
    flow.queue.push(frame);
    if (!flow.pumping) void this.pump(flow);
  }

  /** The sender gave up on this link (see the note at the top); nothing more comes on it. */
  end(sender: string, page: string, link: number): void {
    const flow = this.flows.get(`${sender} ${page} ${link}`);
    if (flow === undefined) return;
    flow.ended = true;
    if (!flow.pumping) this.finish(flow);
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
          track(flow, frame.data);
          last = frame;
          if (flow.page.buffered >= HIGH_WATER_BYTES) break;
        }
        if (last !== undefined) this.host.acknowledge(last.sender, last.page, last.link, last.seq);
      }
    } finally {
      flow.pumping = false;
    }
    if (flow.ended) this.finish(flow);
  }

  private finish(flow: Flow): void {
    if (this.flows.get(flow.key) !== flow) return;
    this.flows.delete(flow.key);
    if (!flow.page.open) return;
    for (const [channel, index] of flow.open) {
      this.host.cutShort(flow.page, flow.sender, channel);
      flow.page.sendText(channelEndFrame(channel, index));
    }
  }
}

/** Keep count of the link's channels the page has messages of and no end for. */
function track(flow: Flow, data: string | Buffer): void {
  const head = readChannelHead(data);
  if (head === undefined) return;
  if (head.end) flow.open.delete(head.channel);
  else flow.open.set(head.channel, head.index + 1);
}
