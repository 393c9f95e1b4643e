// Small, honest measuring tools for npm run bench: warm up, alternate the contenders in rounds
// (so drift in machine load hits both alike), report medians.
import { join, resolve } from "node:path";

export interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: string;
  pass?: boolean;
}

export interface RateOptions {
  /** Wall time per contender per round. */
  roundMs?: number;
  rounds?: number;
  /** Calls per timing check. */
  batch?: number;
}

/** Calls per second of each sequential async function, median over alternating rounds. */
export async function measureRate<K extends string>(
  contenders: Record<K, () => Promise<unknown>>,
  { roundMs = 700, rounds = 5, batch = 1000 }: RateOptions = {},
): Promise<Record<K, number>> {
  const names = Object.keys(contenders) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (const name of names) await run(contenders[name], 300, batch); // warm-up: let the JIT settle
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) samples[name].push(await run(contenders[name], roundMs, batch));
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n])])) as Record<K, number>;
}

async function run(fn: () => Promise<unknown>, ms: number, batch: number): Promise<number> {
  let calls = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) await fn();
    calls += batch;
    now = process.hrtime.bigint();
  }
  return calls / (Number(now - start) / 1e9);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function formatFigure(f: Figure): string {
  const value =
    f.unit === "ratio"
      ? f.value.toFixed(2) + "x"
      : `${Number.isInteger(f.value) || f.value >= 100 ? Math.round(f.value).toLocaleString("en-US") : f.value.toFixed(1)} ${f.unit}`;
  const verdict = f.pass === undefined ? "" : f.pass ? "  PASS" : "  FAIL";
  return `${f.name.padEnd(62)} ${value.padStart(18)}${f.target ? `  (target ${f.target})` : ""}${verdict}`;
}

export interface Side {
  /** " (before)" / " (after)" in figure names when two checkouts are measured; "" otherwise. */
  tag: string;
  bin: string;
}

/**
 * The gateways to measure: this checkout's bin/gateway.js and, with BENCH_BASELINE=<another
 * checkout>, that one's first, in the same run (two separate runs differ by more than a change
 * worth measuring on this machine).
 */
export function gatewaySides(root: string): Side[] {
  const baseline = process.env.BENCH_BASELINE;
  const here = join(root, "bin", "gateway.js");
  return baseline ? [{ tag: " (before)", bin: join(resolve(baseline), "bin", "gateway.js") }, { tag: " (after)", bin: here }] : [{ tag: "", bin: here }];
}

/** The contenders of round `round` in turn, every other round reversed (ABBA), so neither is always first. */
export function inTurn<T>(round: number, items: T[]): T[] {
  return round % 2 === 0 ? items : [...items].reverse();
}

/** With a baseline, the figure "<name>: after / before" from one value per side (before first); none otherwise. */
export function afterOverBefore(name: string, values: number[]): Figure[] {
  return values.length === 2 ? [{ name: `${name}: after / before`, value: values[1]! / values[0]!, unit: "ratio" }] : [];
}
