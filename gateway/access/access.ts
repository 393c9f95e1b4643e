// Access control for a running gateway: who calls (authenticate), and whether a call or an event
// action is let through (capabilities, limits). One object per gateway; what it decides with
// comes from the current generation, so an edit of `auth:`, `capabilities:` or `limits:` (or of
// a Tauri capability file) applies at the next call, over every transport and on sockets already
// open. What must outlive a reload does: verified tokens, JWKS, and every rate-limit bucket.
import { bearerOf, tokenMatches } from "./bearer.ts";
import { rejections, type Rejection } from "../runtime/errors.ts";
import type { Generation } from "../runtime/generation.ts";
import type { Logger } from "../runtime/logger.ts";
import { Authenticator, type AuthOutcome, type Credentials } from "./authenticate.ts";
import { LocalBuckets, RateLimits, type LimitHit, type SharedBuckets } from "./limits.ts";
import { isPrincipalInput, makePrincipal, type Caller, type Principal } from "./principal.ts";
import type { Action } from "./capabilities.ts";
import type { AuthSpec } from "./spec.ts";
import type { Page } from "../runtime/pages.ts";
import { anyGlob } from "./glob.ts";

/** The dev console's "call as" header: honoured under `gateway dev` only (JSON `{ id, roles }`). */
export const DEV_PRINCIPAL_HEADER = "gateway-principal";

export class AccessControl {
  private authenticator: { key: string; spec: AuthSpec; value: Authenticator } | undefined;
  private readonly limits = new WeakMap<Generation, RateLimits>();
  private readonly buckets = new LocalBuckets();
  /** With server.bus: buckets in Redis, shared by every instance. */
  shared: SharedBuckets | undefined;
  /** Calls refused by each limit (by its name), for metrics. */
  readonly refusedByLimit = new Map<string, number>();
  private sharedDown = false;

  constructor(
    private readonly options: { dev: boolean; logger: Logger },
  ) {}

  /**
   * Who is calling: a Caller, or the 401 (or, for an auth handler's own mistake, 500) to answer.
   * Synchronous unless a JWT must be verified or an auth handler runs.
   */
  authenticate(generation: Generation, credentials: Credentials): AuthOutcome | Promise<AuthOutcome> {
    const token = generation.settings.token;
    if (token !== undefined) return sharedToken(token, credentials);
    const auth = generation.access?.spec.auth;
    if (this.options.dev) {
      const asked = devPrincipal(credentials);
      if (asked !== undefined) return asked;
    }
    if (auth === undefined) return anonymous(credentials);
    return this.authenticatorFor(auth).authenticate(credentials, generation.access!.authHandler, generation.settings.timeoutMs);
  }

  /** Whether this caller may call `command` from `window` now: undefined (yes), or the refusal. */
  admitCall(generation: Generation, caller: Caller, window: string, command: string): Rejection | undefined | Promise<Rejection | undefined> {
    const stale = credentialRefusal(caller, window);
    if (stale !== undefined) return stale;
    const capabilities = generation.access?.capabilities;
    if (capabilities !== undefined) {
      const decision = capabilities.decide("call", command, caller, window);
      if (!decision.allowed) return rejections.forbidden(command, this.who(caller, window), this.options.dev ? decision.why : undefined);
    }
    const limits = this.limitsOf(generation);
    if (limits === undefined) return undefined;
    const hit = limits.take(command, caller);
    if (hit === undefined) return undefined;
    if (!(hit instanceof Promise)) return this.refused(command, hit);
    return hit.then((h) => (h === undefined ? undefined : this.refused(command, h)));
  }

  /** A call refused by a limit: counted by the limit's name (the manifest's: a bounded set). */
  private refused(command: string, hit: LimitHit): Rejection {
    this.refusedByLimit.set(hit.limit, (this.refusedByLimit.get(hit.limit) ?? 0) + 1);
    return rejections.rateLimited(command, hit.limit, hit.retryAfterMs);
  }

  /** Whether this caller may listen to or emit `event` (capabilities only; the gateway's own events may always be heard). */
  admitEvent(generation: Generation, caller: Caller, window: string, action: Exclude<Action, "call">, event: string): Rejection | undefined {
    const stale = credentialRefusal(caller, window);
    if (stale !== undefined) return stale;
    const capabilities = generation.access?.capabilities;
    if (capabilities === undefined) return undefined;
    if (action === "listen" && event.startsWith("gateway://")) return undefined;
    const decision = capabilities.decide(action, event, caller, window);
    if (decision.allowed) return undefined;
    return rejections.eventForbidden(event, action, this.who(caller, window), this.options.dev ? decision.why : undefined);
  }

  /** Under `serve` a refusal names the caller only; under `dev` its roles and window too. */
  private who(caller: Caller, window: string): string {
    const p = caller.principal;
    if (!this.options.dev) return p === null ? "an anonymous caller" : `principal "${p.id}"`;
    const roles = p && p.roles.length > 0 ? ` (roles: ${p.roles.join(", ")})` : "";
    return `${p === null ? "an anonymous caller" : `principal "${p.id}"${roles}`} in window "${window}"${caller.origin ? ` from ${caller.origin}` : ""}`;
  }

  /**
   * After a reload that changed who is who (auth: tokens, JWT settings, the auth handler, or
   * server.token), the open sockets are authenticated again from what they connected with: one
   * whose credential no longer holds (a removed token) is closed with 4401 and the reason, one
   * whose roles changed keeps going with the new ones.
   */
  recheck(old: Generation, next: Generation, pages: Iterable<Page>): void {
    if (authKey(old) === authKey(next) && old.access?.authHandler === next.access?.authHandler) return;
    for (const page of pages) {
      const credentials = page.credentials;
      if (credentials === undefined) continue;
      Promise.resolve(this.authenticate(next, credentials)).then(
        (outcome) => {
          if (!page.open) return;
          const before = page.caller.principal;
          if (!outcome.ok) {
            const message = String((outcome.error as { message?: unknown })?.message ?? "refused");
            this.options.logger.info(`gateway: page ${page.id} (${before?.id ?? "anonymous"}) closed: its credential no longer holds after the reload (${message})`);
            return page.close(4401, message);
          }
          const after = outcome.caller.principal;
          if ((before?.id ?? null) !== (after?.id ?? null)) {
            return page.close(4401, "the credential names another principal since the reload; connect again");
          }
          page.caller = outcome.caller;
          page.caller.stable = true;
        },
        (error: unknown) => this.options.logger.error(`gateway: authenticating page ${page.id} again after a reload failed`, error),
      );
    }
  }

  private authenticatorFor(auth: AuthSpec): Authenticator {
    // The same spec object (most calls) is the same authenticator; an equal spec after a reload
    // that did not touch auth: keeps its remembered tokens and keys.
    if (this.authenticator?.spec === auth) return this.authenticator.value;
    const key = authSpecKey(auth);
    if (this.authenticator?.key !== key) this.authenticator = { key, spec: auth, value: new Authenticator(auth, this.options.logger) };
    else this.authenticator.spec = auth;
    return this.authenticator.value;
  }

  private limitsOf(generation: Generation): RateLimits | undefined {
    const specs = generation.access?.spec.limits;
    if (specs === undefined || specs.length === 0) return undefined;
    let limits = this.limits.get(generation);
    if (limits === undefined) {
      limits = new RateLimits(specs, this.buckets, this.shared, (error) => this.sharedFailed(error));
      this.limits.set(generation, limits);
    }
    return limits;
  }

  private sharedFailed(error: unknown): void {
    if (this.sharedDown) return;
    this.sharedDown = true;
    this.options.logger.warn(`gateway: rate limits are counted per instance while the bus cannot answer (${(error as Error)?.message ?? error})`);
    setTimeout(() => (this.sharedDown = false), 30_000).unref();
  }
}

/** Compiled auth.jwt.windows claims, per caller's list (a socket's caller keeps its list). */
const windowMatchers = new WeakMap<readonly string[], (label: string) => boolean>();

/**
 * 401 for a credential that no longer holds: it expired (a socket outlives its token), or it does
 * not let its holder claim this window. The window was checked where it was claimed too; this
 * is where it is used, whichever way it was named (a Gateway-Page header's page, say).
 */
function credentialRefusal(caller: Caller, window: string): Rejection | undefined {
  if (caller.expiresAt !== undefined && caller.expiresAt <= Date.now()) return rejections.unauthorized("the token has expired");
  const windows = caller.windows;
  if (windows === undefined) return undefined;
  let allows = windowMatchers.get(windows);
  if (allows === undefined) windowMatchers.set(windows, (allows = anyGlob(windows)));
  return allows(window) ? undefined : rejections.unauthorized(`the token does not allow window "${window}" (it allows: ${windows.join(", ") || "none"})`);
}

/** What decides who is who, as text: two generations with the same key authenticate alike (the auth handler aside). */
function authSpecKey(auth: AuthSpec): string {
  return JSON.stringify({ tokens: auth.tokens, jwt: auth.jwt && { ...auth.jwt, at: undefined } });
}

function authKey(generation: Generation): string {
  const auth = generation.access?.spec.auth;
  return `${generation.settings.token ?? ""}\0${auth === undefined ? "" : authSpecKey(auth)}`;
}

function anonymous(credentials: Credentials): AuthOutcome {
  const caller: Caller = { principal: null, local: credentials.local };
  if (credentials.origin !== undefined) caller.origin = credentials.origin;
  if (credentials.ip !== undefined) caller.ip = credentials.ip;
  return { ok: true, caller };
}

/** server.token: one shared token, no principal. */
function sharedToken(token: string, credentials: Credentials): AuthOutcome {
  return tokenMatches(bearerOf(credentials.headers.authorization, credentials.queryToken), token) ? anonymous(credentials) : rejections.unauthorized();
}

/**
 * `gateway dev`: the console's "call as" choice, a principal made up for trying capabilities.
 * Only from this machine (or in-process): `dev` may listen off loopback with auth: and
 * capabilities:, and then anyone who can reach it could otherwise be anyone.
 */
function devPrincipal(credentials: Credentials): AuthOutcome | undefined {
  const text = credentials.headers[DEV_PRINCIPAL_HEADER];
  if (typeof text !== "string") return undefined;
  // Only the gateway's own pages (the console) and scripts without Origin may pick who they are:
  // a page of another origin (even one server.origins allows) is authenticated as in production.
  if (!credentials.local) return rejections.badRequest(`header ${DEV_PRINCIPAL_HEADER} is honoured only from the gateway's own pages (the dev console)`);
  if (credentials.ip !== undefined && !isLoopbackAddress(credentials.ip)) {
    return rejections.unauthorized(`header ${DEV_PRINCIPAL_HEADER} is honoured only from this machine`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return rejections.badRequest(`header ${DEV_PRINCIPAL_HEADER} must be JSON: { "id": "...", "roles": [...] } or null`);
  }
  if (value === null) return anonymous(credentials);
  if (!isPrincipalInput(value)) return rejections.badRequest(`header ${DEV_PRINCIPAL_HEADER} must be { "id": "...", "roles": [...] } or null`);
  const outcome = anonymous(credentials) as { ok: true; caller: Caller };
  outcome.caller.principal = makePrincipal(value) as Principal;
  return outcome;
}

/** 127.0.0.0/8 and ::1 (an IPv4-mapped address arrives here already unwrapped, see client-ip.ts). */
function isLoopbackAddress(ip: string): boolean {
  return ip === "::1" || /^127\.\d+\.\d+\.\d+$/.test(ip);
}
