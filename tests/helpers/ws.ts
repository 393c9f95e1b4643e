// A page without a browser: a `ws` client on /ipc/ws that records what the gateway pushes.
import { WebSocket } from "ws";

export interface Frame {
  type: string;
  [field: string]: unknown;
  /** The bytes of a binary frame. */
  bytes?: Buffer;
}

export interface TestPage {
  ws: WebSocket;
  id: string;
  frames: Frame[];
  /** Resolves with the first frame (already received or to come) that matches. */
  next(match: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** An invocation over the socket (how pages call plugin:event|*). */
  call(cmd: string, body?: unknown): Promise<Frame>;
  close(): Promise<void>;
}

/** `query`: more of the socket URL's query (`{ token }`: a credential as browsers send one). */
export async function connectPage(gatewayUrl: string, label = "main", headers: Record<string, string> = {}, query: Record<string, string> = {}): Promise<TestPage> {
  const search = new URLSearchParams({ window: label, ...query });
  const ws = new WebSocket(`${gatewayUrl.replace(/^http/, "ws")}/ipc/ws?${search}`, { headers });
  const frames: Frame[] = [];
  const waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    let frame: Frame;
    if (isBinary) {
      const length = data.readUInt32BE(0);
      frame = { ...JSON.parse(data.subarray(4, 4 + length).toString()), bytes: data.subarray(4 + length) };
    } else frame = JSON.parse(data.toString());
    frames.push(frame);
    for (const waiter of [...waiters]) {
      if (waiter.match(frame)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    }
  });
  const next = (match: (f: Frame) => boolean, timeoutMs = 5000) => {
    const seen = frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no matching frame arrived")), timeoutMs);
      waiters.push({
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      });
    });
  };
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
  });
  const hello = await next((f) => f.type === "hello");
  let rid = 0;
  return {
    ws,
    id: hello.page as string,
    frames,
    next,
    call(cmd, body) {
      const id = ++rid;
      ws.send(JSON.stringify({ type: "invoke", rid: id, cmd, body }));
      return next((f) => f.type === "reply" && f.rid === id);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.close();
      }),
  };
}
