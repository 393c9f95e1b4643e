// The manifest's `auth:`, `capabilities:` and `limits:` sections (CONTRACT §9), as checked values
// with the places they were written. The shapes are checked by manifest.schema.json first; what a
// schema cannot say (one key source for a JWT, a secret long enough, server.token beside auth:)
// is checked here. Nothing here loads a key, a module or a library.
import { resolve } from "node:path";
import type { SourceDoc, Position, JsonPath } from "../config/source-doc.ts";
import type { Problems } from "../config/problems.ts";
import { parseDuration } from "../config/units.ts";

export interface HandlerFileRef {
  file: string;
  exportName: string;
  at: Position;
}

export interface StaticTokenSpec {
  /** The principal's id: the token's key under auth.tokens. */
  id: string;
  token: string;
  roles: string[];
}

export interface JwtSpec {
  /** HS256/384/512. */
  secret?: string;
  /** A PEM file (SPKI public key or X.509 certificate): RS*, PS*, ES*, EdDSA. */
  publicKey?: string;
  /** An http(s) URL, or a file holding a JWK Set. */
  jwks?: string;
  issuer?: string;
  audience?: string | string[];
  /** Claim holding the principal's id (default sub). */
  id: string;
  /** Claim holding its roles (default roles). */
  roles: string;
  /** Claim holding the window labels (globs) its connections may claim. */
  windows?: string;
  cookie?: string;
  algorithms?: string[];
  clockToleranceMs: number;
  at: Position;
}

export interface AuthSpec {
  tokens: StaticTokenSpec[];
  jwt?: JwtSpec;
  handler?: HandlerFileRef;
  at: Position;
}

/** Where a name in a capability was written (for `gateway check`'s "did you mean"). */
export interface NamedAt {
  name: string;
  at: Position;
}

export interface CapabilitySpec {
  name: string;
  description?: string;
  /** ids, role:<r>, anonymous, * */
  principals: string[];
  /** Window label globs. */
  windows: string[];
  /** URL patterns; undefined: every origin the guard admits, and requests without Origin. */
  origins?: string[];
  /** Tauri files without `remote`: only the gateway's own pages and requests without Origin. */
  localOnly?: boolean;
  /** Tauri files with `remote` and `local` (the default): those origins and the gateway's own pages. */
  alsoLocal?: boolean;
  commands: { allow: NamedAt[]; deny: NamedAt[] };
  events: { listen: NamedAt[]; emit: NamedAt[] };
  /** The manifest, or the Tauri capability file it came from. */
  file: string;
  at: Position;
}

export type LimitKey = "principal" | "ip" | "origin" | "all";

export interface LimitSpec {
  name: string;
  commands: string[];
  per: LimitKey;
  /** Calls allowed per `intervalMs` on average. */
  rate: number;
  intervalMs: number;
  /** How many calls may come at once (default: `rate`). */
  burst: number;
  /** As written (for messages): "20/s". */
  rateText: string;
  file: string;
  at: Position;
}

export interface AccessSpec {
  auth?: AuthSpec;
  /** undefined: no `capabilities:` section (every caller may call everything, as before). */
  capabilities?: CapabilitySpec[];
  limits: LimitSpec[];
  /** `discover.capabilities`: a folder of Tauri 2 capability files. */
  capabilityFolder?: { dir: string; at: Position };
}

/** HS256 needs a key as long as its hash (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32;

const UNITS: Record<string, number> = { s: 1000, sec: 1000, second: 1000, m: 60_000, min: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000 };

type Raw = Record<string, unknown>;

/**
 * The access sections of a manifest whose shape has passed. `ok(path)`: that JSON path has no
 * shape mistake; `dir`: the folder relative paths resolve from.
 */
export function extractAccess(raw: Raw, source: SourceDoc, ok: (path: string) => boolean, problems: Problems, dir: string, serverToken: string | undefined): AccessSpec {
  const spec: AccessSpec = { limits: [] };
  const file = source.file;
  const mistake = (path: JsonPath, message: string, key = false) =>
    problems.add({ file, ...(key ? source.keyPosition(path) : source.valuePosition(path)), message });

  if (isObject(raw.auth) && ok("/auth")) {
    const auth = raw.auth;
    const out: AuthSpec = { tokens: [], at: source.lazyKeyPosition(["auth"]) };
    if (serverToken !== undefined) {
      mistake(["server", "token"], "server.token and auth: both read the Authorization header; with auth:, list the shared token under auth.tokens (e.g. auth.tokens.ops: { token: ${GATEWAY_TOKEN} })");
    }
    const seen = new Map<string, string>();
    for (const [id, entry] of Object.entries(isObject(auth.tokens) ? auth.tokens : {})) {
      if (!isObject(entry) || !ok(`/auth/tokens/${id}`)) continue;
      const token = entry.token as string;
      // `${BOT_TOKEN:-}` unset: that principal has no token (as an empty server.token means none).
      if (token === "") continue;
      const other = seen.get(token);
      if (other !== undefined) mistake(["auth", "tokens", id, "token"], `auth.tokens.${id} has the same token as auth.tokens.${other}: each token is one principal`);
      seen.set(token, id);
      out.tokens.push({ id, token, roles: (entry.roles as string[] | undefined) ?? [] });
    }
    if (isObject(auth.jwt) && ok("/auth/jwt")) {
      const jwt = auth.jwt;
      const sources = (["secret", "publicKey", "jwks"] as const).filter((k) => typeof jwt[k] === "string" && jwt[k] !== "");
      if (sources.length !== 1) {
        mistake(["auth", "jwt"], sources.length === 0 ? "auth.jwt needs its key: secret (HS256), publicKey (a PEM file) or jwks (a URL or a file)" : `auth.jwt takes one key source, not ${sources.join(" and ")}`, true);
      } else {
        const out2: JwtSpec = {
          id: (jwt.id as string | undefined) ?? "sub",
          roles: (jwt.roles as string | undefined) ?? "roles",
          clockToleranceMs: jwt.clockTolerance === undefined ? 0 : (parseDuration(jwt.clockTolerance as string | number) ?? 0),
          at: source.lazyKeyPosition(["auth", "jwt"]),
        };
        if (sources[0] === "secret") {
          out2.secret = jwt.secret as string;
          if (Buffer.byteLength(out2.secret) < MIN_SECRET_BYTES) mistake(["auth", "jwt", "secret"], `auth.jwt.secret must be at least ${MIN_SECRET_BYTES} bytes (a shorter HMAC key can be guessed)`);
        } else if (sources[0] === "publicKey") out2.publicKey = resolve(dir, jwt.publicKey as string);
        else {
          const jwks = jwt.jwks as string;
          out2.jwks = /^https?:\/\//i.test(jwks) ? jwks : resolve(dir, jwks);
        }
        for (const key of ["issuer", "windows", "cookie"] as const) if (typeof jwt[key] === "string") out2[key] = jwt[key] as string;
        if (jwt.audience !== undefined) out2.audience = jwt.audience as string | string[];
        if (Array.isArray(jwt.algorithms)) out2.algorithms = jwt.algorithms as string[];
        out.jwt = out2;
      }
    }
    if (typeof auth.handler === "string" && ok("/auth/handler")) {
      const hash = auth.handler.lastIndexOf("#");
      const path = hash === -1 ? auth.handler : auth.handler.slice(0, hash);
      out.handler = { file: resolve(dir, path), exportName: hash === -1 ? "default" : auth.handler.slice(hash + 1) || "default", at: source.lazyValuePosition(["auth", "handler"]) };
    }
    spec.auth = out;
  }

  if (raw.capabilities !== undefined && ok("/capabilities")) {
    spec.capabilities = [];
    for (const [name, entry] of Object.entries(isObject(raw.capabilities) ? raw.capabilities : {})) {
      if (!ok(`/capabilities/${name}`)) continue;
      const c = isObject(entry) ? entry : {};
      const base = ["capabilities", name];
      const named = (group: "commands" | "events", list: string): NamedAt[] => {
        const g = isObject(c[group]) ? (c[group] as Raw) : {};
        return ((g[list] as string[] | undefined) ?? []).map((n, i) => ({ name: n, at: source.lazyValuePosition([...base, group, list, i]) }));
      };
      spec.capabilities.push({
        name,
        ...(typeof c.description === "string" ? { description: c.description } : {}),
        principals: (c.principals as string[] | undefined) ?? ["*"],
        windows: (c.windows as string[] | undefined) ?? ["*"],
        ...(Array.isArray(c.origins) ? { origins: (c.origins as string[]).map((o) => o.toLowerCase().replace(/\/$/, "")) } : {}),
        commands: { allow: named("commands", "allow"), deny: named("commands", "deny") },
        events: { listen: named("events", "listen"), emit: named("events", "emit") },
        file,
        at: source.lazyKeyPosition(base),
      });
    }
  }

  for (const [name, entry] of Object.entries(isObject(raw.limits) ? raw.limits : {})) {
    if (!isObject(entry) || !ok(`/limits/${name}`)) continue;
    const [count, unit] = (entry.rate as string).split("/").map((s) => s.trim()) as [string, string];
    const rate = Number(count);
    spec.limits.push({
      name,
      commands: (entry.commands as string[] | undefined) ?? ["*"],
      per: (entry.per as LimitKey | undefined) ?? "principal",
      rate,
      intervalMs: UNITS[unit.toLowerCase()]!,
      burst: (entry.burst as number | undefined) ?? rate,
      rateText: `${rate}/${unit}`,
      file,
      at: source.lazyKeyPosition(["limits", name]),
    });
  }

  const discover = isObject(raw.discover) ? raw.discover : {};
  if (typeof discover.capabilities === "string" && ok("/discover/capabilities")) {
    spec.capabilityFolder = { dir: resolve(dir, discover.capabilities), at: source.lazyValuePosition(["discover", "capabilities"]) };
  }
  return spec;
}

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
