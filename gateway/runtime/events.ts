// The event bus, with Tauri 2's semantics. Every listener has a target; `emit` reaches all
// listeners, `emitTo` / `emitFilter` reach listeners whose target matches, and a listener whose
// target is `Any` receives everything. Listeners live in handlers (`app.listen`) or in pages
// (`listen` from @tauri-apps/api, through the built-in `plugin:event|*` commands).
//
// Only topics declared in the manifest's `events:` may be emitted, by the sides its `from:`
// names, with payloads that match its schema. Listening is open to any name unless
// `capabilities:` says otherwise; that is asked when a page adds a listener (the pipeline's
// `admit`) and again when an event is delivered to it (the DeliveryGuard), so a capability
// revoked by a reload, or a credential that expired, stops what a page hears at once.
//
// Beyond Tauri: `app.emitTo({ principal }, ...)` reaches the pages connected as that principal
// (auth:), every listener of theirs for the event whatever its target, on every instance. It is
// addressed to people, not to windows: a listener with target `Any` on another principal's page
// does not receive it, and neither do handlers' own listeners (`app.listen`): the backend emitted
// it, and a handler that wants to act on it has the principal and payload at hand already.
import { raise, rejections, schemaErrorDetails, type Rejection } from "./errors.ts";
import { toJson } from "./codec.ts";
import { DEFAULT_MAX_DEPTH } from "../config/manifest.ts";
import { decodeEventArgs, isEventPluginCommand } from "./frames.ts";
import type { EventDef } from "./generation.ts";
import type { Logger } from "./logger.ts";
import type { PageLink, Pages } from "./pages.ts";
import { targetKey, type Bus, type BusEvent, type BusGap } from "./bus.ts";
import type { AppHandle, EventCallback, EventTarget, InvokeResponse, PrincipalTarget, WindowHandle } from "./types.ts";
import type { Caller } from "../access/principal.ts";

/** Prefix of the gateway's own events (`gateway://reload`, `gateway://error`): emitted by it alone. */
export const GATEWAY_EVENT_PREFIX = "gateway://";

interface Listener {
  id: number;
  event: string;
  target: EventTarget;
  once: boolean;
  /** A handler's callback, or ... */
  deliver?: EventCallback;
  /** ... a page and the callback id it registered (transformCallback). */
  page?: PageLink;
  handler?: number;
  /** A page's listener: who added it, from which window (asked again at delivery: see DeliveryGuard). */
  who?: ListenerOwner;
  /** The policy `admitted` was decided under (NOT_DECIDED before the first delivery). */
  decidedUnder?: unknown;
  admitted?: boolean;
}

/** Who added a page's listener: the caller (its principal, origin, credential's expiry) and the window it claimed. */
export interface ListenerOwner {
  caller: Caller;
  window: string;
}

/**
 * Asked before an event reaches a page's listener: may its owner still listen to it? A decision
 * is kept on the listener while `policy()` returns the same object (the current generation's
 * access policy), so a delivery costs a comparison; a reload decides each listener once again.
 * A listener refused (or whose credential expired) is removed: it hears nothing more.
 */
export interface DeliveryGuard {
  /** What decisions are made from now; any object (or undefined), compared by identity. */
  policy(): unknown;
  mayListen(owner: ListenerOwner, event: string): boolean;
}

const NOT_DECIDED = Symbol("not decided");

type Source = "frontend" | "backend";

export function targetOf(target: EventTarget | string): EventTarget {
  return typeof target === "string" ? { kind: "AnyLabel", label: target } : target;
}

/** `{ principal: "u42" }` (emitTo's own target kind); throws for a principal that is not a non-empty string. */
function principalOf(target: EventTarget | string | PrincipalTarget): string | undefined {
  if (typeof target !== "object" || target === null || !("principal" in target)) return undefined;
  const { principal } = target;
  if (typeof principal !== "string" || principal === "") throw new TypeError("emitTo({ principal }) takes a principal's id, a non-empty string");
  return principal;
}

/** A target from a page: only the fields Tauri defines (its schema allows others). */
function pageTarget(target: EventTarget | string): EventTarget {
  const t = targetOf(target);
  return "label" in t ? ({ kind: t.kind, label: t.label } as EventTarget) : { kind: t.kind };
}

/** Does a listener registered for `listening` take an emit addressed to `to`? (`Any` listeners are handled by the caller.) */
export function addressedTo(listening: EventTarget, to: EventTarget): boolean {
  switch (to.kind) {
    case "Any":
      return true;
    case "AnyLabel":
      return "label" in listening && listening.label === to.label;
    case "App":
      return listening.kind === "App";
    default:
      return listening.kind === to.kind && "label" in listening && listening.label === to.label;
  }
}

export class EventHub {
  private readonly listeners = new Map<number, Listener>();
  private readonly byEvent = new Map<string, Set<Listener>>();
  private nextId = 1;
  private readonly windows = new Map<string, WindowHandle>();
  /** With server.bus: emits, window.eval and listener targets also go to the other instances. */
  bus: Bus | undefined;
  /** Asked before each delivery to a page's listener (capabilities:, a credential's expiry); none: every listener hears. */
  guard: DeliveryGuard | undefined;
  /** Each event handled here (an emit, or one from another instance) and how many listeners it reached (server.metrics). */
  delivered: ((listeners: number) => void) | undefined;

  constructor(
    private readonly declared: () => ReadonlyMap<string, EventDef>,
    private readonly pages: Pages,
    private readonly logger: Logger,
    /** server.maxDepth: a payload nested deeper cannot be sent to pages. */
    private readonly maxDepth: () => number = () => DEFAULT_MAX_DEPTH,
  ) {}

  /** The `app` every handler receives. Refused emits throw a GatewayError. */
  readonly app: AppHandle = {
    emit: (event, payload) => this.backendEmit(event, payload, undefined),
    emitTo: (target, event, payload) => {
      const principal = principalOf(target);
      if (principal !== undefined) this.principalEmit(event, payload, principal);
      else this.backendEmit(event, payload, targetOf(target as EventTarget | string));
    },
    emitFilter: (event, payload, filter) => this.backendEmit(event, payload, undefined, filter),
    listen: (event, handler) => this.add({ event, target: { kind: "App" }, once: false, deliver: handler as EventCallback }),
    once: (event, handler) => this.add({ event, target: { kind: "App" }, once: true, deliver: handler as EventCallback }),
    unlisten: (id) => this.remove(id),
  };

  /** The handle of the window with this label (one object per label). */
  window(label: string): WindowHandle {
    let handle = this.windows.get(label);
    if (!handle) {
      handle = {
        label,
        emit: (event, payload) => this.app.emit(event, payload),
        eval: (script) => {
          if (typeof script !== "string") throw new TypeError("window.eval takes a string of JavaScript");
          this.evalScript(label, script);
          this.bus?.publishEval(label, script);
        },
      };
      this.windows.set(label, handle);
    }
    return handle;
  }

  /** `window.eval` for the pages with this label connected here. */
  evalScript(label: string, script: string): void {
    for (const page of this.pages.withLabel(label)) page.send({ type: "eval", script });
  }

  /** The gateway's own events (reload, error): to every listener here (only `page`'s, when given), no declaration needed. */
  emitGatewayEvent(event: string, payload: unknown, page?: PageLink): void {
    const name = GATEWAY_EVENT_PREFIX + event;
    if (!this.byEvent.has(name)) return; // nobody listens (gateway://invocation fires on every call)
    const text = toJson(payload, Infinity);
    if (text.ok) this.deliver(name, payload, text.text, () => true, page);
  }

  /** An emit from another instance (already checked there): to the matching listeners here. */
  receive(event: BusEvent): void {
    if (event.principal !== undefined) return this.deliver(event.event, event.payload, event.payloadText, noTarget, undefined, event.principal);
    const { to, targets } = event;
    const accepted = targets && new Set(targets.map(targetKey));
    const filter = to ? (t: EventTarget) => addressedTo(t, to) : accepted ? (t: EventTarget) => accepted.has(targetKey(t)) : () => true;
    this.deliver(event.event, event.payload, event.payloadText, filter);
  }

  /** What the bus could not deliver: `gateway://bus-gap` to the listeners here (only `page`'s, when given). */
  gap(gap: BusGap, page?: PageLink): void {
    this.logger.warn(`gateway: bus gap (${gap.scope}${gap.missed ? `, ${gap.missed} missing` : ""}): ${gap.reason}`);
    this.emitGatewayEvent("bus-gap", gap, page);
  }

  /**
   * The built-in `plugin:event|<command>` commands pages call (through any transport). `admit`:
   * the caller's capabilities, asked before a listener is added or an emit goes out.
   */
  command(
    command: string,
    args: unknown,
    page: PageLink | undefined,
    admit?: (action: "listen" | "emit", event: string) => Rejection | undefined,
    /** Who is calling (kept with a listener, for the DeliveryGuard). */
    who?: ListenerOwner,
  ): InvokeResponse {
    if (!isEventPluginCommand(command)) return rejections.unknownCommand(`plugin:event|${command}`);
    const decoded = decodeEventArgs(command, args);
    if (!decoded.ok) return rejections.badRequest(decoded.message, { field: decoded.field });
    const a = decoded.value;
    switch (a.command) {
      case "listen": {
        if (!page) return rejections.badRequest("listen needs the page's WebSocket (load /__gateway/tauri.js)");
        const refused = admit?.("listen", a.event);
        if (refused) return refused;
        const listener: Omit<Listener, "id"> = { event: a.event, target: a.target ? pageTarget(a.target) : { kind: "Any" }, once: false, page, handler: a.handler };
        if (who !== undefined) listener.who = who;
        return { ok: true, value: this.add(listener) };
      }
      case "unlisten": {
        const listener = this.listeners.get(a.eventId);
        // A page removes only its own listeners.
        if (listener && listener.page !== undefined && listener.page === page) this.remove(listener.id);
        return { ok: true, value: null };
      }
      case "emit":
      case "emit_to": {
        const to = a.command === "emit" ? undefined : pageTarget(a.target);
        const payload = a.payload ?? null;
        const refused = this.check(a.event, payload, "frontend") ?? admit?.("emit", a.event);
        if (refused) return refused;
        const text = toJson(payload, this.maxDepth());
        if (!text.ok) return rejections.invalidPayload(a.event, unsendable(text.reason));
        this.deliver(a.event, payload, text.text, to ? (t) => addressedTo(t, to) : () => true);
        this.bus?.publishEvent({ event: a.event, payloadText: text.text, ...(to ? { to } : {}) });
        return { ok: true, value: null };
      }
    }
  }

  /** How many listeners there are (pages that closed have none left). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** An emit from a handler: refused emits, and payloads that cannot be sent as JSON, throw. */
  private backendEmit(event: string, payload: unknown, to: EventTarget | undefined, filter?: (target: EventTarget) => boolean): void {
    const value = payload ?? null;
    const refused = this.check(event, value, "backend");
    if (refused) raise(refused);
    // Serialized whether or not a page listens, so an unsendable payload fails the same way every time.
    const text = toJson(value, this.maxDepth());
    if (!text.ok) raise(rejections.invalidPayload(event, unsendable(text.reason)));
    this.deliver(event, value, text.text, filter ?? (to ? (t) => addressedTo(t, to) : () => true));
    if (this.bus === undefined) return;
    if (filter === undefined) this.bus.publishEvent({ event, payloadText: text.text, ...(to ? { to } : {}) });
    else this.bus.publishEvent({ event, payloadText: text.text, targets: this.targetsAccepted(filter) });
  }

  /** emitTo({ principal }): to that principal's pages here and on every instance. */
  private principalEmit(event: string, payload: unknown, principal: string): void {
    const value = payload ?? null;
    const refused = this.check(event, value, "backend");
    if (refused) raise(refused);
    const text = toJson(value, this.maxDepth());
    if (!text.ok) raise(rejections.invalidPayload(event, unsendable(text.reason)));
    this.deliver(event, value, text.text, noTarget, undefined, principal);
    this.bus?.publishEvent({ event, payloadText: text.text, principal });
  }

  /** The distinct targets of the listeners here (other than Any). */
  liveTargets(): EventTarget[] {
    const targets = new Map<string, EventTarget>();
    for (const listener of this.listeners.values()) if (listener.target.kind !== "Any") targets.set(targetKey(listener.target), listener.target);
    return [...targets.values()];
  }

  /**
   * emitFilter over the bus: the listener targets in use on any instance that `filter` accepts.
   * The bus's targets include this instance's: every listener's target is announced to it.
   */
  private targetsAccepted(filter: (target: EventTarget) => boolean): EventTarget[] {
    const accepted: EventTarget[] = [];
    for (const target of this.bus!.knownTargets()) {
      try {
        if (filter(target)) accepted.push(target);
      } catch (error) {
        this.logger.error("an emitFilter filter threw", error);
      }
    }
    return accepted;
  }

  /** Why an emit is refused, or undefined when it may go out. */
  private check(event: string, payload: unknown, source: Source): Rejection | undefined {
    if (event.startsWith(GATEWAY_EVENT_PREFIX)) return rejections.eventNotAllowed(event, source);
    const def = this.declared().get(event);
    if (!def) return rejections.unknownEvent(event);
    if (!def.from.has(source)) return rejections.eventNotAllowed(event, source);
    if (def.validate && !def.validate(payload)) return rejections.invalidPayload(event, schemaErrorDetails(def.validate.errors));
    return undefined;
  }

  private add(spec: Omit<Listener, "id">): number {
    const listener: Listener = { id: this.nextId++, ...spec };
    if (listener.who !== undefined) listener.decidedUnder = NOT_DECIDED;
    this.listeners.set(listener.id, listener);
    let set = this.byEvent.get(listener.event);
    if (!set) this.byEvent.set(listener.event, (set = new Set()));
    set.add(listener);
    listener.page?.onClose(() => this.remove(listener.id));
    if (this.bus !== undefined && listener.target.kind !== "Any") this.bus.announceTarget(listener.target);
    return listener.id;
  }

  private remove(id: number): void {
    const listener = this.listeners.get(id);
    if (!listener) return;
    this.listeners.delete(id);
    const set = this.byEvent.get(listener.event);
    set?.delete(listener);
    if (set?.size === 0) this.byEvent.delete(listener.event);
  }

  /**
   * `payloadText`: the payload as JSON (toJson's), spliced into every page's frame. `only`: that
   * page's listeners alone; `principal`: the listeners of pages connected as that principal
   * alone, whatever their targets (`filter` is not asked).
   */
  private deliver(event: string, payload: unknown, payloadText: string, filter: (target: EventTarget) => boolean, only?: PageLink, principal?: string): void {
    const set = this.byEvent.get(event);
    if (!set) return this.logDelivery(event, payloadText, 0);
    // The frame differs per listener only in two numbers: serialize the rest once per emit.
    let head: string | undefined;
    let tail: string | undefined;
    let reached = 0;
    let guard: { now: number; policy: unknown } | undefined; // read once per delivery, when a page's listener needs it
    for (const listener of [...set]) {
      if (only !== undefined && listener.page !== only) continue;
      if (principal !== undefined) {
        if (listener.page === undefined || listener.page.principalId !== principal) continue;
      } else if (listener.target.kind !== "Any" && !filter(listener.target)) continue;
      if (listener.who !== undefined && this.guard !== undefined && !this.stillHears(listener, (guard ??= { now: Date.now(), policy: this.guard.policy() }))) {
        this.remove(listener.id);
        this.logger.debug?.(`event ${event}: dropped listener ${listener.id} of page ${listener.page?.id} (no longer allowed to listen)`);
        continue;
      }
      if (listener.once) this.remove(listener.id);
      reached++;
      if (listener.page) {
        head ??= `{"type":"event","event":${JSON.stringify(event)},"handler":`;
        tail ??= `,"payload":${payloadText}}`;
        listener.page.sendText(`${head}${listener.handler},"id":${listener.id}${tail}`);
      } else {
        try {
          listener.deliver!({ event, id: listener.id, payload });
        } catch (error) {
          this.logger.error(`a listener of event "${event}" threw`, error);
        }
      }
    }
    this.logDelivery(event, payloadText, reached);
  }

  /** May a page listener's owner still listen: its credential has not expired, and the current policy allows it. */
  private stillHears(listener: Listener, { now, policy }: { now: number; policy: unknown }): boolean {
    const who = listener.who!;
    if (who.caller.expiresAt !== undefined && who.caller.expiresAt <= now) return false;
    if (listener.decidedUnder !== policy) {
      listener.decidedUnder = policy;
      listener.admitted = this.guard!.mayListen(who, listener.event);
    }
    return listener.admitted === true;
  }

  /** At debug level, each event and how many listeners here it reached (gateway://invocation follows every call, whose own line says it). */
  private logDelivery(event: string, payloadText: string, listeners: number): void {
    if (event !== INVOCATION_EVENT) this.delivered?.(listeners);
    if (this.logger.debug && event !== INVOCATION_EVENT) this.logger.debug(`event ${event} to ${listeners} listener(s) here`, { event, listeners, bytes: payloadText.length });
  }
}

const INVOCATION_EVENT = `${GATEWAY_EVENT_PREFIX}invocation`;

/** The filter of a principal's emit: no listener is chosen by its target. */
const noTarget = () => false;

function unsendable(reason: string) {
  return [{ instancePath: "", keyword: "json", message: `cannot be sent as JSON: ${reason}`, params: {} }];
}
