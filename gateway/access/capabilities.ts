// Capabilities (CONTRACT §9): who may call which command and listen to or emit which event.
// A capability applies to a call when its principals, windows and origins all match; among
// those that apply, a deny wins, then an allow; nothing allowed is denied. Decisions are cached
// per generation (a capability set is immutable), so a call pays one Map lookup.
import { anyGlob, globMatcher, originMatcher, type Matcher } from "./glob.ts";
import { describePrincipal, type Caller, type Principal } from "./principal.ts";
import type { CapabilitySpec } from "./spec.ts";

export type Action = "call" | "listen" | "emit";

export interface Decision {
  allowed: boolean;
  /** The capability that decided: the one that allowed, or the one whose deny list matched. */
  by?: string;
  /** Why it was denied, in a sentence naming what would allow it (for `gateway dev` and `gateway explain`). */
  why?: string;
}

interface Compiled {
  spec: CapabilitySpec;
  principal: (principal: Principal | null) => boolean;
  window: Matcher;
  origin: (caller: Caller) => boolean;
  allow: Record<Action, Matcher>;
  deny: Matcher;
}

/** Above this many cached decisions the cache starts again (callers with ever-new principals). */
const CACHE_LIMIT = 50_000;

const VERB: Record<Action, string> = { call: "call", listen: "listen to", emit: "emit" };

export class CapabilitySet {
  private readonly compiled: Compiled[];
  private cache = new Map<string, Decision>();
  /** Decisions of stable callers (see Caller.stable), for the window they were first asked about. */
  private readonly byCaller = new WeakMap<Caller, { window: string; calls: Map<string, Decision> }>();
  private readonly principalKeys = new WeakMap<Principal, string>();

  /** `authConfigured`: with `auth:`, `*` is any authenticated principal; without, every caller. */
  constructor(
    readonly specs: readonly CapabilitySpec[],
    private readonly authConfigured: boolean,
  ) {
    this.compiled = specs.map((spec) => compile(spec, authConfigured));
  }

  /** May this caller, in this window, do `action` on `name` (a command, or an event)? */
  decide(action: Action, name: string, caller: Caller, window: string): Decision {
    if (caller.stable === true && action === "call") {
      // A caller used for many calls keeps its decisions with it, by command: no key to build.
      let mine = this.byCaller.get(caller);
      if (mine === undefined) this.byCaller.set(caller, (mine = { window, calls: new Map() }));
      if (mine.window === window) {
        let decision = mine.calls.get(name);
        if (decision === undefined) mine.calls.set(name, (decision = this.decideNow(action, name, caller, window)));
        return decision;
      }
    }
    const key = `${action}\0${name}\0${window}\0${caller.origin ?? (caller.local ? "" : "?")}\0${caller.local ? 1 : 0}\0${this.keyOf(caller.principal)}`;
    let decision = this.cache.get(key);
    if (decision === undefined) {
      decision = this.decideNow(action, name, caller, window);
      if (this.cache.size >= CACHE_LIMIT) this.cache = new Map();
      this.cache.set(key, decision);
    }
    return decision;
  }

  private keyOf(principal: Principal | null): string {
    if (principal === null) return "";
    let key = this.principalKeys.get(principal);
    // JSON, not a joined string: id "a\u0001admin" with roles [user] must not read as id "a" with roles [admin, user].
    if (key === undefined) this.principalKeys.set(principal, (key = JSON.stringify([principal.id, principal.roles])));
    return key;
  }

  private decideNow(action: Action, name: string, caller: Caller, window: string): Decision {
    const applies = this.compiled.filter((c) => c.principal(caller.principal) && c.window(window) && c.origin(caller));
    if (action === "call") {
      const denying = applies.find((c) => c.deny(name));
      if (denying) return { allowed: false, by: denying.spec.name, why: `capability "${denying.spec.name}" denies "${name}"` };
    }
    const allowing = applies.find((c) => c.allow[action](name));
    if (allowing) return { allowed: true, by: allowing.spec.name };
    return { allowed: false, why: this.closest(action, name, caller, window) };
  }

  /**
   * What would allow it: the capability that allows `name` and lacks the fewest of the caller's
   * principal, window and origin, and what it lacks.
   */
  private closest(action: Action, name: string, caller: Caller, window: string): string {
    const subject = `${VERB[action]} "${name}"`;
    let best: { spec: CapabilitySpec; lacks: string[] } | undefined;
    for (const c of this.compiled) {
      if (!c.allow[action](name) || (action === "call" && c.deny(name))) continue;
      const lacks: string[] = [];
      if (!c.principal(caller.principal)) lacks.push(`is for ${c.spec.principals.join(", ")}, not ${describePrincipal(caller.principal)}`);
      if (!c.window(window)) lacks.push(`is for windows ${c.spec.windows.join(", ")}, not "${window}"`);
      if (!c.origin(caller)) lacks.push(c.spec.origins ? `is for origins ${c.spec.origins.join(", ")}, not ${caller.origin ?? "a request without Origin"}` : `is for the gateway's own pages, not ${caller.origin}`);
      if (best === undefined || lacks.length < best.lacks.length) best = { spec: c.spec, lacks };
    }
    if (best === undefined) {
      const list = action === "call" ? "commands.allow" : action === "listen" ? "events.listen" : "events.emit";
      return `no capability lets anyone ${subject}; add it to a capability's ${list}`;
    }
    return `capability "${best.spec.name}" would let it ${subject} but ${best.lacks.join(" and ")}`;
  }

  /** The capabilities that allow calling `command` for someone (OpenAPI's per-operation list). */
  allowing(command: string): string[] {
    return this.compiled.filter((c) => c.allow.call(command) && !c.deny(command)).map((c) => c.spec.name);
  }
}

function compile(spec: CapabilitySpec, authConfigured: boolean): Compiled {
  const names = (list: { name: string }[]) => anyGlob(list.map((n) => n.name));
  return {
    spec,
    principal: principalMatcher(spec.principals, authConfigured),
    window: anyGlob(spec.windows),
    origin: originTest(spec),
    allow: { call: names(spec.commands.allow), listen: names(spec.events.listen), emit: names(spec.events.emit) },
    deny: names(spec.commands.deny),
  };
}

/** ids, role:<r>, anonymous, * (with auth:, any authenticated principal; without, everyone). */
function principalMatcher(entries: readonly string[], authConfigured: boolean): (principal: Principal | null) => boolean {
  const tests = entries.map((entry): ((p: Principal | null) => boolean) => {
    if (entry === "*") return authConfigured ? (p) => p !== null : () => true;
    if (entry === "anonymous") return (p) => p === null;
    if (entry.startsWith("role:")) {
      const role = entry.slice(5);
      return (p) => p !== null && p.roles.includes(role);
    }
    const id = globMatcher(entry);
    return (p) => p !== null && id(p.id);
  });
  return (p) => tests.some((t) => t(p));
}

function originTest(spec: CapabilitySpec): (caller: Caller) => boolean {
  if (spec.origins !== undefined) {
    const matchers = spec.origins.map(originMatcher);
    if (spec.alsoLocal) return (caller) => caller.local || (caller.origin !== undefined && matchers.some((m) => m(caller.origin!)));
    return (caller) => caller.origin !== undefined && matchers.some((m) => m(caller.origin!));
  }
  if (spec.localOnly) return (caller) => caller.local;
  return () => true;
}
