// Who is calling (`auth:`): a static token, a JWT, or the app's own auth handler, tried in that
// order. A credential that is present and not valid is 401 every time, never anonymous. Verified
// JWTs are remembered until they expire, so a connection's or a client's repeated calls pay for
// the signature once.
import { createHash } from "node:crypto";
import { rejections, type Rejection } from "../runtime/errors.ts";
import { describeThrown, toJson } from "../runtime/codec.ts";
import { isInvokeError } from "../runtime/invoke-error.ts";
import type { Logger } from "../runtime/logger.ts";
import { anyGlob } from "./glob.ts";
import { isPrincipalId, isPrincipalInput, makePrincipal, type Caller, type Principal } from "./principal.ts";
import type { AuthHandler, AuthRequest } from "./policy.ts";
import type { AuthSpec, JwtSpec } from "./spec.ts";
import { JwtVerifier, TokenRefused } from "./jwt.ts";

/** What a transport knows of a request when it asks who is calling. */
export interface Credentials {
  /** Lower-cased header names (Node's `req.headers`, or a frame's headers). */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** `?token=` on the WebSocket upgrade (browsers cannot set Authorization there). */
  queryToken?: string | null;
  origin?: string;
  local: boolean;
  ip?: string;
  url: string;
  /** The window label the request claims (checked against the token's windows claim). */
  window: string;
}

/** The longest auth.handler may take (server.timeout, when shorter, applies) before the call is answered 504 `timeout`. */
const AUTH_HANDLER_TIMEOUT_MS = 10_000;

class AuthHandlerTimeout extends Error {}

export type AuthOutcome = { ok: true; caller: Caller } | Rejection;

/** Remembered verifications (valid and refused), at most this many. */
const CACHE_LIMIT = 10_000;
/** A verified token is re-verified after this long even if it has no exp (a rotated-out key). */
const CACHE_MS = 5 * 60_000;
/** A refused token is refused from memory for this long (a flood of one bad token costs one check). */
const REFUSED_CACHE_MS = 30_000;
/** How deep an auth handler's refusal value may be (as server.maxDepth's default). */
const REFUSAL_MAX_DEPTH = 128;

interface Remembered {
  until: number;
  outcome: { principal: Principal; windows?: readonly string[]; expiresAt?: number } | { refused: string };
  /** The last answer made from it, and for what (a client calls from one place): reused as is. */
  last?: { window: string; origin: string | undefined; ip: string | undefined; local: boolean; answer: AuthOutcome };
}

export class Authenticator {
  /** SHA-256 of each static token -> its principal (a lookup by digest leaks nothing of the tokens' bytes through timing). */
  private readonly tokens = new Map<string, Principal>();
  private readonly jwt: JwtVerifier | undefined;
  private readonly remembered = new Map<string, Remembered>();

  constructor(
    private readonly spec: AuthSpec,
    private readonly logger: Logger,
  ) {
    for (const t of spec.tokens) this.tokens.set(digest(t.token), makePrincipal({ id: t.id, roles: t.roles }));
    this.jwt = spec.jwt ? new JwtVerifier(spec.jwt) : undefined;
  }

  /** The caller, or 401: synchronously when no JWT has to be verified and no auth handler runs. */
  authenticate(credentials: Credentials, handler: AuthHandler | undefined, handlerTimeoutMs = AUTH_HANDLER_TIMEOUT_MS): AuthOutcome | Promise<AuthOutcome> {
    // A JWT verified before costs one lookup, by the Authorization header as sent (no parsing).
    // Static tokens are never remembered, so the order tokens -> jwt -> handler holds.
    const authorization = credentials.headers.authorization;
    if (this.jwt !== undefined && typeof authorization === "string") {
      const known = this.remembered.get(authorization);
      if (known !== undefined && known.until > Date.now()) return this.answer(known, credentials);
    }
    const found = this.credential(credentials);
    if (found !== undefined && found.value !== undefined) {
      // The same token from another source (?token=, the cookie) is the same verification.
      const known = this.jwt === undefined ? undefined : this.remembered.get(found.value);
      if (known !== undefined && known.until > Date.now()) {
        if (found.key !== found.value) this.remembered.set(found.key, known);
        return this.answer(known, credentials);
      }
      const principal = this.tokens.size === 0 ? undefined : this.tokens.get(digest(found.value));
      if (principal !== undefined) return caller(credentials, principal);
      if (this.jwt !== undefined && looksLikeJwt(found.value)) return this.fromJwt(found.value, found.key, credentials, this.spec.jwt!);
    }
    // The handler may know credentials the gateway does not (a session id, another scheme).
    if (handler !== undefined) return this.fromHandler(handler, credentials, Math.min(handlerTimeoutMs, AUTH_HANDLER_TIMEOUT_MS));
    if (found === undefined) return caller(credentials, null);
    if (found.value === undefined) return rejections.unauthorized("the Authorization header must be: Bearer <token>");
    return rejections.unauthorized(this.jwt ? "the bearer credential is neither a known token nor a JWT" : "the bearer token is not known");
  }

  /**
   * Authorization wins over ?token=, which wins over the cookie. An Authorization header that is
   * not `Bearer <token>` (another scheme, a token with spaces) is a credential all the same, just
   * not one the gateway reads (`value` undefined): it is refused, never taken as anonymous.
   */
  private credential(credentials: Credentials): { value: string | undefined; key: string } | undefined {
    const authorization = header(credentials.headers, "authorization");
    if (authorization !== undefined && authorization.trim() !== "") {
      const bearer = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization);
      // Remembered by the header as sent too: the next call with it is found without parsing it.
      return { value: bearer ? bearer[1] : undefined, key: authorization };
    }
    if (credentials.queryToken) return { value: credentials.queryToken, key: credentials.queryToken };
    const cookieName = this.spec.jwt?.cookie;
    if (cookieName !== undefined) {
      const value = parseCookies(header(credentials.headers, "cookie"))[cookieName];
      if (value) return { value, key: value };
    }
    return undefined;
  }

  /** `key`: what the verification is also remembered under (the header as sent; see credential()). */
  private fromJwt(token: string, key: string, credentials: Credentials, spec: JwtSpec): AuthOutcome | Promise<AuthOutcome> {
    const now = Date.now();
    return this.jwt!.verify(token).then(
      (verified) => {
        const outcome = principalFromClaims(verified.claims, spec, verified.expiresAt);
        const until = "refused" in outcome ? now + REFUSED_CACHE_MS : Math.min(verified.expiresAt ?? Infinity, now + CACHE_MS);
        this.remember(token, key, { until, outcome });
        return this.outcome(outcome, credentials);
      },
      (error: unknown) => {
        if (!(error instanceof TokenRefused)) {
          // The keys could not be had (a JWKS URL down, a key file gone): the gateway's fault, not the caller's.
          this.logger.error(`gateway: a JWT could not be checked: ${describeThrown(error)}`);
          return rejections.unauthorized("the token could not be checked (the gateway's keys are not available); try again shortly");
        }
        // A token not valid yet is refused from memory only until it becomes valid.
        this.remember(token, key, { until: Math.min(now + REFUSED_CACHE_MS, error.validFrom ?? Infinity), outcome: { refused: error.message } });
        return rejections.unauthorized(error.message);
      },
    );
  }

  /**
   * A remembered verification's answer for these credentials: the same Caller as last time when
   * they come from the same window, origin and address (so what is cached per caller downstream,
   * capability decisions, is found again).
   */
  private answer(known: Remembered, credentials: Credentials): AuthOutcome {
    const last = known.last;
    const outcome = known.outcome;
    if (last !== undefined && last.window === credentials.window && last.origin === credentials.origin && last.ip === credentials.ip && last.local === credentials.local) {
      if (!("refused" in outcome) && outcome.expiresAt !== undefined && outcome.expiresAt <= Date.now()) return rejections.unauthorized("the token has expired");
      return last.answer;
    }
    const answer = this.outcome(outcome, credentials);
    if (answer.ok) answer.caller.stable = true;
    known.last = { window: credentials.window, origin: credentials.origin, ip: credentials.ip, local: credentials.local, answer };
    return answer;
  }

  private outcome(outcome: Remembered["outcome"], credentials: Credentials): AuthOutcome {
    if ("refused" in outcome) return rejections.unauthorized(outcome.refused);
    if (outcome.expiresAt !== undefined && outcome.expiresAt <= Date.now()) return rejections.unauthorized("the token has expired");
    if (outcome.windows !== undefined && !anyGlob(outcome.windows)(credentials.window)) {
      return rejections.unauthorized(`the token does not allow window "${credentials.window}" (it allows: ${outcome.windows.join(", ") || "none"})`);
    }
    return caller(credentials, outcome.principal, outcome.windows, outcome.expiresAt);
  }

  /** Under the token, and under the header it came in (`key`) when that differs. */
  private remember(token: string, key: string, entry: Remembered): void {
    if (this.remembered.size >= CACHE_LIMIT) {
      // The oldest go first (a Map keeps insertion order).
      let drop = this.remembered.size - CACHE_LIMIT + 1;
      for (const key of this.remembered.keys()) {
        this.remembered.delete(key);
        if (--drop === 0) break;
      }
    }
    this.remembered.set(token, entry);
    if (key !== token) this.remembered.set(key, entry);
  }

  private async fromHandler(handler: AuthHandler, credentials: Credentials, timeoutMs: number): Promise<AuthOutcome> {
    const request: AuthRequest = {
      headers: plainHeaders(credentials.headers),
      cookies: parseCookies(header(credentials.headers, "cookie")),
      origin: credentials.origin,
      ip: credentials.ip,
      url: credentials.url,
    };
    let value: unknown;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A handler that never answers (a session store that hangs) must not hold the request or the upgrade.
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new AuthHandlerTimeout()), timeoutMs);
      });
      value = await Promise.race([handler(request), late]).finally(() => clearTimeout(timer));
    } catch (thrown) {
      if (thrown instanceof AuthHandlerTimeout) {
        this.logger.error(`gateway: auth.handler did not answer within ${timeoutMs} ms`);
        return rejections.timeout("(auth.handler)", timeoutMs);
      }
      if (isInvokeError(thrown)) {
        const refusal = (thrown as { value: unknown }).value;
        // Its value is the 401's body, also on a bare socket (a refused upgrade): it must be JSON.
        const json = toJson(refusal, REFUSAL_MAX_DEPTH);
        if (json.ok) return { ok: false, status: 401, error: refusal, fromHandler: true };
        this.logger.error(`gateway: auth.handler refused with an InvokeError whose value cannot be sent as JSON (${json.reason})`);
        return rejections.internal("(auth.handler)");
      }
      this.logger.error("gateway: auth.handler threw", thrown);
      return rejections.internal("(auth.handler)");
    }
    if (value === null || value === undefined) {
      // A credential nobody accepted is refused, not taken as anonymous.
      return this.credential(credentials) !== undefined ? rejections.unauthorized("the credential is not valid") : caller(credentials, null);
    }
    if (!isPrincipalInput(value)) {
      this.logger.error(`gateway: auth.handler returned ${describeThrown(value)}; it must return { id: string, roles?: string[], claims?: object } or null`);
      return rejections.internal("(auth.handler)");
    }
    return caller(credentials, makePrincipal(value));
  }
}

function caller(credentials: Credentials, principal: Principal | null, windows?: readonly string[], expiresAt?: number): AuthOutcome {
  const result: Caller = { principal, local: credentials.local };
  if (credentials.origin !== undefined) result.origin = credentials.origin;
  if (credentials.ip !== undefined) result.ip = credentials.ip;
  if (windows !== undefined) result.windows = windows;
  if (expiresAt !== undefined) result.expiresAt = expiresAt;
  return { ok: true, caller: result };
}

/** The principal a JWT's claims name, or why they name none. */
function principalFromClaims(claims: Record<string, unknown>, spec: JwtSpec, expiresAt: number | undefined): Remembered["outcome"] {
  const id = claims[spec.id];
  if (typeof id !== "string" || id === "") return { refused: `the token has no "${spec.id}" claim naming its principal` };
  if (!isPrincipalId(id)) return { refused: `the token's "${spec.id}" claim is not a usable principal id (at most 1024 characters, no control characters)` };
  const roles = asList(claims[spec.roles]);
  const windows = spec.windows !== undefined && claims[spec.windows] !== undefined ? asList(claims[spec.windows]) : undefined;
  return {
    principal: makePrincipal({ id, roles, claims }),
    ...(windows !== undefined ? { windows } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

/** A claim as a list of strings: an array's strings, or a space-separated string (as OAuth's `scope`). */
function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  return [];
}

function looksLikeJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}

function header(headers: Credentials["headers"], name: string): string | undefined {
  const value = headers[name];
  return typeof value === "string" ? value : Array.isArray(value) ? value.join(", ") : undefined;
}

function plainHeaders(headers: Credentials["headers"]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(headers)) {
    const text = typeof value === "string" ? value : Array.isArray(value) ? value.join(", ") : undefined;
    if (text !== undefined) out[name.toLowerCase()] = text;
  }
  return Object.freeze(out);
}

/** `a=1; b=2` -> { a: "1", b: "2" } (first wins; values percent-decoded when they can be). */
export function parseCookies(text: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null);
  if (!text) return cookies;
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name === "" || name in cookies) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // kept as sent
    }
    cookies[name] = value;
  }
  return cookies;
}
