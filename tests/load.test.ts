// Load through the real `gateway serve` bin: 20,000 invocations over HTTP (keep-alive, 200 at a
// time) and 20,000 over one WebSocket (200 rids in flight), a third of them faulty in a mix of
// every way an invocation can fail. Every answer is matched to its request: none is lost,
// duplicated or crossed, and each outcome is counted exactly. The child's RSS is printed before,
// after 10k and after 20k for each transport (no timing is asserted; RSS only against a generous
// sanity bound).
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { Agent, request as httpRequest } from "node:http";
import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { WebSocket, type RawData } from "ws";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { startGateway, type RunningGateway } from "./helpers/cli.ts";
import { HOSTILE_APP } from "./helpers/hostile-app.ts";

const TOTAL = 20_000;
const CONCURRENCY = 200;
/** The child's RSS must stay under this (a sanity bound, not a measurement). */
const RSS_BOUND_MIB = 400;
/** A phase that makes no progress for this long has lost answers (reported as such, not as a jest timeout). */
const STALL_MS = 15_000;

type Kind = "echo" | "invalid-body" | "invoke-error" | "throw" | "invalid-return" | "unknown-command";
const FAULTS: Kind[] = ["invalid-body", "invoke-error", "throw", "invalid-return", "unknown-command"];

interface Planned {
  i: number;
  kind: Kind;
  cmd: string;
  body: unknown;
  /** What must come back: the HTTP status and the exact JSON value (the value, or the rejection). */
  status: number;
  value: unknown;
}

/** Invocation `i` of a run: every third one faulty, cycling through the five faults; the rest echo a unique body. */
function plan(i: number, nonce: string): Planned {
  if (i % 3 !== 0) {
    const body = { i, nonce };
    return { i, kind: "echo", cmd: "echo", body, status: 200, value: body };
  }
  const kind = FAULTS[(i / 3) % FAULTS.length]!;
  switch (kind) {
    case "invalid-body":
      return {
        i,
        kind,
        cmd: "greet",
        body: { name: 5 },
        status: 422,
        value: {
          kind: "invalid-body",
          message: 'body of "greet" does not match its schema: /name must be string',
          command: "greet",
          errors: [{ instancePath: "/name", keyword: "type", message: "must be string", params: { type: "string" } }],
        },
      };
    case "invoke-error":
      return { i, kind, cmd: "rejects", body: { what: "fine" }, status: 400, value: { ok: true } };
    case "throw":
      return { i, kind, cmd: "throws", body: { what: "string" }, status: 500, value: { kind: "internal", message: '"throws" failed', command: "throws" } };
    case "invalid-return":
      return {
        i,
        kind,
        cmd: "returns",
        body: { what: "circular" },
        status: 500,
        value: {
          kind: "invalid-return",
          message: '"returns" returned a value that cannot be sent as JSON: it contains a circular reference',
          command: "returns",
          errors: [{ instancePath: "", keyword: "json", message: "cannot be sent as JSON: it contains a circular reference", params: {} }],
        },
      };
    case "unknown-command": {
      // A name of its own per request, so even these answers are matched to their request.
      const cmd = `no-such-${nonce}-${i}`;
      return { i, kind, cmd, body: {}, status: 404, value: { kind: "unknown-command", message: `no command named "${cmd}"`, command: cmd } };
    }
    default:
      throw new Error(`unplanned kind ${kind}`);
  }
}

function expectedCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < TOTAL; i++) {
    const kind = plan(i, "").kind;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

interface RunResult {
  /** Answers per outcome: a planned kind when the answer was exactly the planned one. */
  counts: Record<string, number>;
  /** Answers that were not what their request should get (first few kept, with the total). */
  mismatches: string[];
  mismatchCount: number;
  rss: { before: number; after10k: number; after20k: number };
  /** HTTP only: TCP connections used. */
  connections?: number;
}

/** Tally for one run: counts, mismatches, and the RSS taken as the 10,000th and 20,000th answers arrive. */
class Tally {
  readonly counts: Record<string, number> = {};
  readonly mismatches: string[] = [];
  mismatchCount = 0;
  answered = 0;
  lastProgress = Date.now();
  readonly rss: { before: number; after10k: number; after20k: number };

  constructor(private readonly gateway: RunningGateway) {
    this.rss = { before: gateway.rssMiB(), after10k: NaN, after20k: NaN };
  }

  record(outcome: string): void {
    this.counts[outcome] = (this.counts[outcome] ?? 0) + 1;
    this.answered++;
    this.lastProgress = Date.now();
    if (this.answered === TOTAL / 2) this.rss.after10k = this.gateway.rssMiB();
    if (this.answered === TOTAL) this.rss.after20k = this.gateway.rssMiB();
  }

  mismatch(text: string): void {
    this.mismatchCount++;
    if (this.mismatches.length < 10) this.mismatches.push(text);
  }

  /** Check one answer against its plan. */
  check(planned: Planned, status: number, value: unknown, via: string): void {
    if (status === planned.status && isDeepStrictEqual(value, planned.value)) return this.record(planned.kind);
    this.record("mismatch");
    this.mismatch(`${via} #${planned.i} (${planned.kind}): expected ${planned.status} ${JSON.stringify(planned.value)}, got ${status} ${JSON.stringify(value)?.slice(0, 300)}`);
  }

  result(): RunResult {
    return { counts: this.counts, mismatches: this.mismatches, mismatchCount: this.mismatchCount, rss: this.rss };
  }
}

/** Resolves when `done` does; rejects with `describe()` if the tally stops moving for STALL_MS. */
function watchForStall<T>(done: Promise<T>, tally: Tally, describe: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setInterval(() => {
      if (Date.now() - tally.lastProgress > STALL_MS) {
        clearInterval(timer);
        reject(new Error(`no answer for ${STALL_MS} ms after ${tally.answered} of ${TOTAL}: ${describe()}`));
      }
    }, 500);
    done.then(
      (value) => {
        clearInterval(timer);
        resolve(value);
      },
      (error) => {
        clearInterval(timer);
        reject(error);
      },
    );
  });
}

async function overHttp(gateway: RunningGateway): Promise<RunResult> {
  const { hostname, port } = new URL(gateway.url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const nonce = randomBytes(6).toString("hex");
  const tally = new Tally(gateway);
  const pending = new Set<number>();
  /** Every TCP connection the requests went over (keep-alive: at most one per concurrent request). */
  const sockets = new Set<object>();
  let next = 0;

  const one = (planned: Planned) =>
    new Promise<void>((resolve) => {
      const payload = JSON.stringify(planned.body);
      const req = httpRequest(
        {
          agent,
          host: hostname,
          port,
          method: "POST",
          path: `/ipc/${encodeURIComponent(planned.cmd)}`,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            const tauri = res.headers["tauri-response"];
            let value: unknown;
            try {
              value = JSON.parse(text);
            } catch {
              value = { unparsable: text.slice(0, 200) };
            }
            if (tauri !== (res.statusCode === 200 ? "ok" : "error")) tally.mismatch(`http #${planned.i}: Tauri-Response ${tauri} with status ${res.statusCode}`);
            tally.check(planned, res.statusCode!, value, "http");
            resolve();
          });
          res.on("error", (error) => {
            tally.record("transport-error");
            tally.mismatch(`http #${planned.i}: response error ${error.message}`);
            resolve();
          });
        },
      );
      req.on("socket", (socket) => sockets.add(socket));
      req.on("error", (error) => {
        tally.record("transport-error");
        tally.mismatch(`http #${planned.i}: request error ${error.message}`);
        resolve();
      });
      req.end(payload);
    });

  const worker = async () => {
    while (next < TOTAL) {
      const i = next++;
      pending.add(i);
      await one(plan(i, nonce));
      pending.delete(i);
    }
  };
  try {
    await watchForStall(
      Promise.all(Array.from({ length: CONCURRENCY }, worker)),
      tally,
      () => `requests still waiting: ${[...pending].slice(0, 20).join(", ")}`,
    );
  } finally {
    agent.destroy();
  }
  return { ...tally.result(), connections: sockets.size };
}

async function overWebSocket(gateway: RunningGateway): Promise<RunResult> {
  const ws = new WebSocket(`${gateway.url.replace(/^http/, "ws")}/ipc/ws?window=main`, { perMessageDeflate: false });
  const nonce = randomBytes(6).toString("hex");
  const tally = new Tally(gateway);
  /** rid -> its request, until answered. */
  const waiting = new Map<number, Planned>();
  /** Every rid answered so far (a second reply to one is a duplicate). */
  const answered = new Set<number>();
  const others: string[] = [];
  let next = 0;
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });

  const sendNext = () => {
    if (next >= TOTAL) return;
    const planned = plan(next++, nonce);
    // rids are offset, so no rid equals its index by accident.
    const rid = planned.i + 1_000_000;
    waiting.set(rid, planned);
    ws.send(JSON.stringify({ type: "invoke", rid, cmd: planned.cmd, body: planned.body }));
  };

  await new Promise<void>((resolve, reject) => {
    ws.once("error", reject);
    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        others.push("a binary frame");
        return;
      }
      const frame = JSON.parse(data.toString()) as { type: string; rid?: number; ok?: boolean; value?: unknown; status?: number; error?: unknown };
      if (frame.type === "hello") return resolve();
      if (frame.type !== "reply") {
        if (others.length < 10) others.push(data.toString().slice(0, 300));
        return;
      }
      const rid = frame.rid as number;
      const planned = waiting.get(rid);
      if (planned === undefined) {
        tally.record(answered.has(rid) ? "duplicate" : "unknown-rid");
        tally.mismatch(`ws: a reply for rid ${rid}, which is ${answered.has(rid) ? "already answered" : "not one we sent"}`);
        return;
      }
      waiting.delete(rid);
      answered.add(rid);
      const status = frame.ok ? 200 : (frame.status as number);
      tally.check(planned, status, frame.ok ? frame.value : frame.error, "ws");
      if (answered.size === TOTAL) finish();
      else sendNext();
    });
    ws.once("close", (code) => fail(new Error(`the WebSocket closed (${code}) after ${tally.answered} answers`)));
  });

  try {
    for (let n = 0; n < CONCURRENCY; n++) sendNext();
    await watchForStall(done, tally, () => `rids still waiting: ${[...waiting.keys()].slice(0, 20).join(", ")}`);
    // A duplicate would arrive after its original: give stragglers a moment before counting.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    ws.removeAllListeners("close");
    await new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.once("close", () => resolve());
      ws.close();
    });
  }
  if (others.length > 0) tally.mismatch(`ws: frames that are not replies: ${others.join(" | ")}`);
  return tally.result();
}

let app: TempApp;
let gateway: RunningGateway;

beforeAll(async () => {
  app = tempApp(HOSTILE_APP);
  gateway = await startGateway("serve", app.dir);
});

afterAll(() => {
  gateway?.kill();
  app?.remove();
});

function report(transport: string, result: RunResult): void {
  const { before, after10k, after20k } = result.rss;
  console.log(
    `load ${transport}: ${TOTAL} invocations, concurrency ${CONCURRENCY}; gateway RSS before ${before.toFixed(1)} MiB, ` +
      `after 10k ${after10k.toFixed(1)} MiB, after 20k ${after20k.toFixed(1)} MiB;${result.connections === undefined ? "" : ` ${result.connections} connections;`} outcomes ${JSON.stringify(result.counts)}`,
  );
}

function expectClean(result: RunResult): void {
  expect({ mismatchCount: result.mismatchCount, mismatches: result.mismatches }).toEqual({ mismatchCount: 0, mismatches: [] });
  expect(result.counts).toEqual(expectedCounts());
  for (const sample of [result.rss.before, result.rss.after10k, result.rss.after20k]) {
    expect(sample).toBeGreaterThan(0);
    expect(sample).toBeLessThan(RSS_BOUND_MIB);
  }
}

test("the plan is a third faulty, in five kinds", () => {
  expect(expectedCounts()).toEqual({
    echo: 13_333,
    "invalid-body": 1_334,
    "invoke-error": 1_334,
    throw: 1_333,
    "invalid-return": 1_333,
    "unknown-command": 1_333,
  });
});

test(`${TOTAL} invocations over HTTP keep-alive, ${CONCURRENCY} at a time: every answer exactly its request's`, async () => {
  const result = await overHttp(gateway);
  report("HTTP", result);
  expectClean(result);
  // Keep-alive held: answers of every kind (errors included) left their connection reusable.
  expect(result.connections).toBeLessThanOrEqual(CONCURRENCY);
  expect(gateway.child.exitCode).toBeNull();
}, 120_000);

test(`${TOTAL} invocations over one WebSocket, ${CONCURRENCY} rids in flight: every reply exactly its request's, none lost or doubled`, async () => {
  const result = await overWebSocket(gateway);
  report("WebSocket", result);
  expectClean(result);
  expect(gateway.child.exitCode).toBeNull();
}, 120_000);
