// The script of the browser bench's pages (bundled by bench/browser.ts). One page per contender,
// each defining how one call is made; `window.runBench(concurrency, ms)` keeps `concurrency`
// calls in flight for `ms` and reports calls per second and latency percentiles.
import { invoke } from "@tauri-apps/api/core";

type Call = () => Promise<unknown>;

declare global {
  interface Window {
    runBench(concurrency: number, ms: number): Promise<{ rate: number; p50: number; p99: number; calls: number }>;
    benchReady(): Promise<void>;
  }
}

const BODY = { name: "Ada" };
const mode = new URLSearchParams(location.search).get("mode") ?? "gateway";

/** A minimal RPC over a raw WebSocket: the ceiling a WebSocket invoke can reach. */
function rawSocket(): { call: Call; ready: Promise<void> } {
  const ws = new WebSocket(`ws://${location.host}/rpc`);
  const pending = new Map<number, (value: unknown) => void>();
  let rid = 0;
  ws.onmessage = (message) => {
    const reply = JSON.parse(message.data as string) as { rid: number; value: unknown };
    pending.get(reply.rid)?.(reply.value);
    pending.delete(reply.rid);
  };
  return {
    ready: new Promise((resolve) => (ws.onopen = () => resolve())),
    call: () =>
      new Promise((resolve) => {
        const id = ++rid;
        pending.set(id, resolve);
        ws.send(JSON.stringify({ rid: id, cmd: "greet", body: BODY }));
      }),
  };
}

let call: Call;
let ready: Promise<void>;
if (mode === "fetch") {
  // Fastify (or any server) with fetch, as a web app calls its API.
  call = () => fetch("/ipc/greet", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(BODY) }).then((r) => r.json());
  ready = Promise.resolve();
} else if (mode === "raw") {
  ({ call, ready } = rawSocket());
} else {
  // The gateway through the unmodified @tauri-apps/api: over the socket, or over HTTP with ?transport=http.
  call = () => invoke("greet", BODY);
  ready = (window as unknown as { __TAURI_INTERNALS__: { gateway: { ready(): Promise<void> } } }).__TAURI_INTERNALS__.gateway.ready();
}

window.benchReady = () => ready;

window.runBench = async (concurrency, ms) => {
  const latencies: number[] = [];
  const until = performance.now() + ms;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      await call();
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0;
  return { rate: (latencies.length / elapsed) * 1000, p50: at(0.5), p99: at(0.99), calls: latencies.length };
};
