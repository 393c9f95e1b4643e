// Time limits for every in-flight invocation with one timer, instead of a setTimeout each:
// arming and clearing a timer per call cost ~0.5 µs, more than the rest of the pipeline. Each
// time limit value has a list kept in deadline order (same limit + later start = later
// deadline), so a sweep only looks at list heads, and finishing an invocation unlinks it in O(1).

/** How often in-flight invocations are checked; a time limit fires up to this much late. */
export const SWEEP_MS = 10;

export abstract class DeadlineEntry {
  /** @internal */ deadlineAt = 0;
  /** @internal */ prev: DeadlineEntry | undefined;
  /** @internal */ next: DeadlineEntry | undefined;
  /** @internal */ list: DeadlineList | undefined;

  /** Called once when the deadline passes before the entry was removed. */
  abstract expire(): void;
}

class DeadlineList {
  head: DeadlineEntry | undefined;
  tail: DeadlineEntry | undefined;
}

export class Deadlines {
  private readonly lists = new Map<number, DeadlineList>();
  private timer: NodeJS.Timeout | undefined;
  private size = 0;
  private idleSweeps = 0;
  /** A clock read at each sweep (and when the timer starts): one clock read per sweep, not per call. */
  private now = 0;

  /** When the deadlines were last looked at (performance.now()): an entry past its deadline since then was not swept yet. */
  get sweptAt(): number {
    return this.now;
  }

  add(entry: DeadlineEntry, limitMs: number): void {
    if (this.timer === undefined) this.start();
    let list = this.lists.get(limitMs);
    if (list === undefined) this.lists.set(limitMs, (list = new DeadlineList()));
    entry.deadlineAt = this.now + limitMs;
    entry.list = list;
    entry.prev = list.tail;
    entry.next = undefined;
    if (list.tail) list.tail.next = entry;
    else list.head = entry;
    list.tail = entry;
    this.size++;
  }

  remove(entry: DeadlineEntry): void {
    const list = entry.list;
    if (list === undefined) return;
    if (entry.prev) entry.prev.next = entry.next;
    else list.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else list.tail = entry.prev;
    entry.list = entry.prev = entry.next = undefined;
    this.size--;
  }

  /** Remove every pending entry and return them (the gateway is stopping: they are answered otherwise). */
  takeAll(): DeadlineEntry[] {
    const taken: DeadlineEntry[] = [];
    for (const list of this.lists.values()) {
      while (list.head !== undefined) {
        const entry = list.head;
        this.remove(entry);
        taken.push(entry);
      }
    }
    return taken;
  }

  /** Stop the timer; pending entries never expire. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private start(): void {
    this.now = performance.now();
    this.idleSweeps = 0;
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
  }

  private sweep(): void {
    this.now = performance.now();
    for (const list of this.lists.values()) {
      while (list.head !== undefined && list.head.deadlineAt <= this.now) {
        const entry = list.head;
        this.remove(entry);
        entry.expire();
      }
    }
    // Keep ticking through short idle gaps (sequential calls), stop after a real pause.
    if (this.size === 0 && ++this.idleSweeps >= 10) this.stop();
    else if (this.size > 0) this.idleSweeps = 0;
  }
}
