// The live log: invocations (every page's, from gateway://invocation), events received and
// emitted, channel messages, reloads and broken edits. Newest first, the last 500 kept. The
// channel messages of one call are one row (a group), their count on it, each one inside.
import { useEffect, useReducer, useState } from "preact/hooks";

export type LogKind = "invocation" | "event" | "emit" | "channel" | "reload" | "error";

export interface LogEntry {
  id: number;
  at: Date;
  kind: LogKind;
  title: string;
  detail: string;
  failed: boolean;
  /** A group's items (the last GROUP_LIMIT of them), oldest first; `count` says how many came. */
  items?: LogItem[];
  count?: number;
}

/** One item of a group: a channel message of the call the group stands for. */
export interface LogItem {
  at: Date;
  title: string;
  detail: string;
}

const LIMIT = 500;
const GROUP_LIMIT = 200;
let entries: LogEntry[] = [];
let nextId = 1;
const subscribers = new Set<() => void>();

/** Add a row; its id, for addToGroup. */
export function addLog(kind: LogKind, title: string, detail = "", failed = false): number {
  const id = nextId++;
  entries = [{ id, at: new Date(), kind, title, detail, failed }, ...entries.slice(0, LIMIT - 1)];
  subscribers.forEach((notify) => notify());
  return id;
}

/**
 * Add an item to row `id` (made a group by its first item), which stays where it is; its detail
 * becomes `detail(count)`. False when the row is gone (cleared, or past the log's limit).
 */
export function addToGroup(id: number, item: Omit<LogItem, "at">, detail: (count: number) => string): boolean {
  const index = entries.findIndex((e) => e.id === id);
  if (index === -1) return false;
  const entry = entries[index]!;
  const count = (entry.count ?? 0) + 1;
  const items = [...(entry.items ?? []).slice(1 - GROUP_LIMIT), { ...item, at: new Date() }];
  entries = entries.map((e, i) => (i === index ? { ...entry, items, count, detail: detail(count) } : e));
  subscribers.forEach((notify) => notify());
  return true;
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
  const matches = (text: string) => text.toLowerCase().includes(needle);
  const shown = needle ? all.filter((e) => matches(`${e.kind} ${e.title} ${e.detail}`) || e.items?.some((i) => matches(`${i.title} ${i.detail}`))) : all;
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
            <li key={entry.id} class={entry.failed ? "failed" : undefined} data-kind={entry.kind} data-count={entry.count}>
              <time>{time(entry.at)}</time>
              <span class={`kind ${entry.kind}`}>{entry.kind}</span>
              <span class="title">{entry.title}</span>
              {entry.items ? (
                <details class="detail group">
                  <summary>{entry.detail}</summary>
                  <ol class="items">
                    {entry.items.map((item, i) => (
                      <li key={(entry.count ?? 0) - entry.items!.length + i}>
                        <time>{time(item.at)}</time>
                        <span class="title">{item.title}</span>
                        <code>{item.detail}</code>
                      </li>
                    ))}
                  </ol>
                </details>
              ) : (
                <span class="detail">{entry.detail}</span>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
