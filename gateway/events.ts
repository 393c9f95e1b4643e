// The event bus, with Tauri 2's semantics: every listener has a target; `emit` reaches all
// listeners, `emitTo` / `emitFilter` reach listeners whose target matches, and a listener whose
// target is `Any` receives everything.
import type { AppHandle, EventCallback, EventTarget, WindowHandle } from "./types.ts";

interface Listener {
  id: number;
  event: string;
  target: EventTarget;
  once: boolean;
  deliver: EventCallback;
}

const ANY: EventTarget = { kind: "Any" };
const APP: EventTarget = { kind: "App" };

export function targetOf(target: EventTarget | string): EventTarget {
  return typeof target === "string" ? { kind: "AnyLabel", label: target } : target;
}

/** Does a listener registered for `listening` take an emit addressed to `to`? */
export function addressedTo(listening: EventTarget, to: EventTarget): boolean {
  if (to.kind === "Any") return true;
  if (to.kind === "AnyLabel") return "label" in listening && listening.label === to.label;
  return listening.kind === to.kind && ("label" in to ? "label" in listening && listening.label === to.label : true);
}

export class EventHub {
  private readonly listeners = new Map<number, Listener>();
  private readonly byEvent = new Map<string, Set<Listener>>();
  private nextId = 1;
  private readonly windows = new Map<string, WindowHandle>();

  /** The `app` every handler receives. */
  readonly app: AppHandle = {
    emit: (event, payload) => this.emitFilter(event, payload ?? null, () => true),
    emitTo: (target, event, payload) => {
      const to = targetOf(target);
      this.emitFilter(event, payload ?? null, (listening) => addressedTo(listening, to));
    },
    emitFilter: (event, payload, filter) => this.emitFilter(event, payload, filter),
    listen: (event, handler) => this.listen(event, APP, handler as EventCallback, false),
    once: (event, handler) => this.listen(event, APP, handler as EventCallback, true),
    unlisten: (id) => this.unlisten(id),
  };

  /** The handle of the window with this label (one object per label). */
  window(label: string): WindowHandle {
    let handle = this.windows.get(label);
    if (!handle) {
      handle = {
        label,
        emit: (event, payload) => this.app.emit(event, payload),
        eval: () => {
          // Pages are reached through a transport; without one there is no page to run it in.
        },
      };
      this.windows.set(label, handle);
    }
    return handle;
  }

  listen(event: string, target: EventTarget, deliver: EventCallback, once: boolean): number {
    const listener: Listener = { id: this.nextId++, event, target, once, deliver };
    this.listeners.set(listener.id, listener);
    let set = this.byEvent.get(event);
    if (!set) this.byEvent.set(event, (set = new Set()));
    set.add(listener);
    return listener.id;
  }

  unlisten(id: number): void {
    const listener = this.listeners.get(id);
    if (!listener) return;
    this.listeners.delete(id);
    const set = this.byEvent.get(listener.event);
    set?.delete(listener);
    if (set?.size === 0) this.byEvent.delete(listener.event);
  }

  emitFilter(event: string, payload: unknown, filter: (target: EventTarget) => boolean): void {
    const set = this.byEvent.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      if (listener.target.kind !== ANY.kind && !filter(listener.target)) continue;
      if (listener.once) this.unlisten(listener.id);
      listener.deliver({ event, id: listener.id, payload });
    }
  }
}
