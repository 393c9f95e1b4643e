// Who calls: the principal an `auth:` method established, and the rest of what capabilities and
// limits look at (the window, the origin, the address).

/**
 * A principal's claims (a JWT's payload, or what an auth handler returned). Open to declaration
 * merging, so that an app can type the claims it relies on:
 * `declare module "ipc-gateway" { interface PrincipalClaims { tenant: string } }`.
 */
export interface PrincipalClaims {
  [claim: string]: unknown;
}

/** An authenticated caller: `{ id, roles, claims }`. Handlers read it as `principal` (null when anonymous). */
export interface Principal {
  readonly id: string;
  readonly roles: readonly string[];
  readonly claims: Readonly<PrincipalClaims>;
}

/** A principal as an embedder or an auth handler may give it (roles and claims optional). */
export interface PrincipalInput {
  id: string;
  roles?: readonly string[];
  claims?: Record<string, unknown>;
}

/** What access decisions are made from, beside the command and the window label. */
export interface Caller {
  principal: Principal | null;
  /** The request's Origin, lower-cased; undefined when it sent none (a script, curl, in-process). */
  origin?: string;
  /** The Origin is one of the gateway's own (or there is none): a page it served, or no browser at all. */
  local: boolean;
  /** The caller's address (see server.trustProxy); undefined in-process. */
  ip?: string;
  /**
   * The window labels (globs) the credential lets its holder claim (auth.jwt.windows); undefined:
   * any. Checked where the label is claimed (the socket's ?window=, the Gateway-Window header).
   */
  windows?: readonly string[];
  /** When the credential stops being valid (ms since the epoch; a JWT's exp); undefined: never. */
  expiresAt?: number;
  /**
   * This object is used for many calls (a page's socket, a remembered token's last answer): what
   * is decided for it may be kept with it (capabilities.ts). Not for callers made per call.
   */
  stable?: boolean;
}

/** A caller with no credential, as in-process calls without a principal are. */
export const ANONYMOUS_LOCAL: Caller = Object.freeze({ principal: null, local: true });

/** A principal from what a handler or an embedder gave: frozen, with roles and claims filled in. */
export function makePrincipal(input: PrincipalInput): Principal {
  return Object.freeze({
    id: input.id,
    roles: Object.freeze([...(input.roles ?? [])]),
    claims: Object.freeze({ ...(input.claims ?? {}) }) as Readonly<PrincipalClaims>,
  });
}

/** The longest principal id taken (ids go into logs, messages and cache keys). */
const MAX_ID_LENGTH = 1024;

/**
 * Whether a principal id is usable: a non-empty string of at most 1024 characters without control
 * characters (an id is written to logs: a newline in it could forge a log line).
 */
export function isPrincipalId(id: unknown): id is string {
  return typeof id === "string" && id !== "" && id.length <= MAX_ID_LENGTH && !/[\u0000-\u001f\u007f-\u009f]/.test(id);
}

/** Whether a value is a principal an auth handler or an embedder may return: `{ id: string, roles?: string[] }`. */
export function isPrincipalInput(value: unknown): value is PrincipalInput {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (!isPrincipalId(v.id)) return false;
  if (v.roles !== undefined && !(Array.isArray(v.roles) && v.roles.every((r) => typeof r === "string"))) return false;
  return v.claims === undefined || (typeof v.claims === "object" && v.claims !== null && !Array.isArray(v.claims));
}

/** How a principal is named in logs and messages. */
export function describePrincipal(principal: Principal | null): string {
  if (principal === null) return "anonymous";
  return principal.roles.length > 0 ? `${principal.id} (roles: ${principal.roles.join(", ")})` : principal.id;
}
