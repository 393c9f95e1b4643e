// The live log: invocations (every page's, from gateway://invocation), events received and
// emitted, channel messages, reloads and broken edits. Newest first, the last 500 kept.
import { useEffect, useReducer, useState } from "preact/hooks";

export type LogKind = "invocation" | "event" | "emit" | "channel" | "reload" | "error";

export interface LogEntry {
  id: number;
  at: Date;
  kind: LogKind;
  title: string;
  detail: string;
  failed: boolean;
}

const LIMIT = 500;
let entries: LogEntry[] = [];
let nextId = 1;
const subscribers = new Set<() => void>();

export function addLog(kind: LogKind, title: string, detail = "", failed = false): void {
  entries = [{ id: nextId++, at: new Date(), kind, title, detail, failed }, ...entries.slice(0, LIMIT - 1)];
  subscribers.forEach((notify) => notify());
}

function clearLog(): void {
  entries = [];
  subscribers.forEach((notify) => notify());
}

/** The log's entries, re-rendering the caller on each change. */
export function useLog(): LogEntry[] {
  const [, changed] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const notify = () => changed(undefined);
    subscribers.add(notify);
    return () => void subscribers.delete(notify);
  }, []);
  return entries;
}

/** A value on one line, cut short: for log details. */
export function brief(value: unknown, max = 240): string {
  let text: string;
  try {
    text = value instanceof ArrayBuffer ? `${value.byteLength} bytes` : (JSON.stringify(value) ?? "undefined");
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const time = (at: Date) => at.toTimeString().slice(0, 8) + "." + String(at.getMilliseconds()).padStart(3, "0");

export function LogPanel() {
  const all = useLog();
  const [filter, setFilter] = useState("");
  const needle = filter.trim().toLowerCase();
  const shown = needle ? all.filter((e) => `${e.kind} ${e.title} ${e.detail}`.toLowerCase().includes(needle)) : all;
  return (
    <section class="log" aria-label="Live log">
      <header>
        <h2>Live log</h2>
        <input type="search" placeholder="filter" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        <button type="button" class="quiet" onClick={clearLog}>
          clear
        </button>
      </header>
      {shown.length === 0 ? (
        <p class="empty">{all.length === 0 ? "Invocations from every page, events, channel messages and reloads appear here." : "Nothing matches."}</p>
      ) : (
        <ol>
          {shown.map((entry) => (
            <li key={entry.id} class={entry.failed ? "failed" : undefined} data-kind={entry.kind}>
              <time>{time(entry.at)}</time>
              <span class={`kind ${entry.kind}`}>{entry.kind}</span>
              <span class="title">{entry.title}</span>
              <span class="detail">{entry.detail}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
