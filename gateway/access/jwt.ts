// JSON Web Tokens, verified by jose (loaded only when auth.jwt is configured). The key is the
// manifest's, never the token's: `alg` must be one the key's type allows (no `none`, no HS256
// with a public key as the secret), and header fields that name keys (`jku`, `x5u`, `jwk`) are
// never followed. JWKS from a URL are kept no longer than its Cache-Control max-age (default
// 5 min); a token naming an unknown `kid` fetches them again, at most every 30 s. A JWKS file is
// read again when it changes.
import { createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import { statSync } from "node:fs";
import type { JWTPayload, JWTVerifyGetKey } from "jose";
import { readRegularFile } from "../config/regular-file.ts";
import type { JwtSpec } from "./spec.ts";

type Jose = typeof import("jose");

/** A verified token: its claims, and when it stops being valid (exp, in ms), if it says. */
export interface VerifiedToken {
  claims: JWTPayload;
  expiresAt?: number;
}

/** Why a token is refused, in a sentence for the 401's message. */
export class TokenRefused extends Error {
  /** A token refused as not valid yet (nbf): when it becomes valid (ms since the epoch). */
  validFrom?: number;
}

const HMAC = ["HS256", "HS384", "HS512"];
const RSA = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const EC: Record<string, string[]> = { prime256v1: ["ES256"], secp384r1: ["ES384"], secp521r1: ["ES512"] };
const OKP = ["EdDSA", "Ed25519"];
const ASYMMETRIC = [...RSA, "ES256", "ES384", "ES512", ...OKP];

const JWKS_MAX_AGE_MS = 5 * 60_000;
const JWKS_REFETCH_MS = 30_000;
const JWKS_FETCH_TIMEOUT_MS = 5_000;

let jose: Promise<Jose> | undefined;

export class JwtVerifier {
  private readonly key: KeySource;

  constructor(private readonly spec: JwtSpec) {
    this.key = spec.secret !== undefined ? new SecretKey(spec.secret) : spec.publicKey !== undefined ? new PublicKeyFile(spec.publicKey) : new Jwks(spec.jwks!);
  }

  /** The token's claims, or throws TokenRefused (or a config error about the key, as an Error). */
  async verify(token: string): Promise<VerifiedToken> {
    const lib = await (jose ??= import("jose"));
    const allowed = this.spec.algorithms ? this.key.algorithms().filter((a) => this.spec.algorithms!.includes(a)) : this.key.algorithms();
    const options = {
      algorithms: allowed,
      ...(this.spec.issuer !== undefined ? { issuer: this.spec.issuer } : {}),
      ...(this.spec.audience !== undefined ? { audience: this.spec.audience } : {}),
      clockTolerance: Math.round(this.spec.clockToleranceMs / 1000),
    };
    try {
      const { payload } = await this.key.verify(lib, token, options);
      // The tolerance jose granted at verification holds for as long as the token is used.
      return { claims: payload, ...(typeof payload.exp === "number" ? { expiresAt: payload.exp * 1000 + options.clockTolerance * 1000 } : {}) };
    } catch (error) {
      throw refusal(lib, error, options.clockTolerance);
    }
  }
}

type VerifyOptions = { algorithms: string[]; issuer?: string; audience?: string | string[]; clockTolerance: number };

interface KeySource {
  algorithms(): string[];
  verify(lib: Jose, token: string, options: VerifyOptions): Promise<{ payload: JWTPayload }>;
}

class SecretKey implements KeySource {
  private readonly key: KeyObject;
  constructor(secret: string) {
    this.key = createSecretKey(Buffer.from(secret));
  }
  algorithms(): string[] {
    return HMAC;
  }
  verify(lib: Jose, token: string, options: VerifyOptions) {
    return lib.jwtVerify(token, this.key, options);
  }
}

/** A PEM public key (SPKI) or certificate; its type decides the algorithms. */
class PublicKeyFile implements KeySource {
  private key: KeyObject | undefined;
  private allowed: string[] = [];
  constructor(private readonly file: string) {}

  private load(): KeyObject {
    if (this.key) return this.key;
    const pem = readRegularFile(this.file, "utf8");
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType === "rsa" || key.asymmetricKeyType === "rsa-pss") this.allowed = RSA;
    else if (key.asymmetricKeyType === "ec") this.allowed = EC[key.asymmetricKeyDetails?.namedCurve ?? ""] ?? [];
    else if (key.asymmetricKeyType === "ed25519") this.allowed = OKP;
    else throw new Error(`auth.jwt.publicKey: ${this.file} holds a ${key.asymmetricKeyType} key, which JWTs do not use`);
    return (this.key = key);
  }
  algorithms(): string[] {
    this.load();
    return this.allowed;
  }
  verify(lib: Jose, token: string, options: VerifyOptions) {
    return lib.jwtVerify(token, this.load(), options);
  }
}

/** A JWK Set from a URL or a file, refreshed as the top of this file says. */
class Jwks implements KeySource {
  private keys: JWTVerifyGetKey | undefined;
  private fetchedAt = 0;
  /** When a token's unknown kid last made the set be fetched again. */
  private refetchedForKidAt = -Infinity;
  private maxAgeMs = JWKS_MAX_AGE_MS;
  private fileStamp = "";
  private loading: Promise<JWTVerifyGetKey> | undefined;
  private readonly isUrl: boolean;

  constructor(private readonly location: string) {
    this.isUrl = /^https?:\/\//i.test(location);
  }

  algorithms(): string[] {
    return ASYMMETRIC;
  }

  async verify(lib: Jose, token: string, options: VerifyOptions) {
    const keys = await this.current(lib);
    try {
      return await lib.jwtVerify(token, keys, options);
    } catch (error) {
      // A key the set does not have yet (rotation): fetch again, at most every 30 s, so that tokens
      // naming made-up kids cannot make the gateway hammer the issuer. (A file is re-read as it changes.)
      if (!(error instanceof lib.errors.JWKSNoMatchingKey) || !this.isUrl || Date.now() - this.refetchedForKidAt < JWKS_REFETCH_MS) throw error;
      this.refetchedForKidAt = Date.now();
      this.keys = undefined;
      return lib.jwtVerify(token, await this.current(lib), options);
    }
  }

  private async current(lib: Jose): Promise<JWTVerifyGetKey> {
    if (this.keys && this.fresh()) return this.keys;
    this.loading ??= this.load(lib).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private fresh(): boolean {
    if (this.isUrl) return Date.now() - this.fetchedAt < this.maxAgeMs;
    return this.stamp() === this.fileStamp;
  }

  private stamp(): string {
    try {
      const s = statSync(this.location);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return "";
    }
  }

  private async load(lib: Jose): Promise<JWTVerifyGetKey> {
    let text: string;
    if (this.isUrl) {
      const response = await fetch(this.location, { signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS), redirect: "error", headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`auth.jwt.jwks: ${this.location} answered ${response.status}`);
      text = await response.text();
      const maxAge = /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(response.headers.get("cache-control") ?? "");
      this.maxAgeMs = maxAge ? Math.min(Number(maxAge[1]) * 1000, JWKS_MAX_AGE_MS) : JWKS_MAX_AGE_MS;
      if (/no-store|no-cache/i.test(response.headers.get("cache-control") ?? "")) this.maxAgeMs = 0;
    } else {
      this.fileStamp = this.stamp();
      text = readRegularFile(this.location, "utf8");
    }
    let set: unknown;
    try {
      set = JSON.parse(text);
    } catch {
      throw new Error(`auth.jwt.jwks: ${this.location} is not JSON`);
    }
    if (typeof set !== "object" || set === null || !Array.isArray((set as { keys?: unknown }).keys)) throw new Error(`auth.jwt.jwks: ${this.location} is not a JWK Set ({ "keys": [...] })`);
    // Only public keys: a symmetric ("oct") key in a JWK Set would let its holder sign tokens.
    const keys = ((set as { keys: unknown[] }).keys as Record<string, unknown>[]).filter((k) => typeof k === "object" && k !== null && k.kty !== "oct" && k.d === undefined);
    this.keys = lib.createLocalJWKSet({ keys } as Parameters<Jose["createLocalJWKSet"]>[0]);
    this.fetchedAt = Date.now();
    return this.keys;
  }
}

/** jose's error as a TokenRefused; anything not about the token is thrown again. */
function refusal(lib: Jose, error: unknown, clockTolerance: number): TokenRefused {
  const refused = new TokenRefused(describeJoseError(lib, error));
  if (error instanceof lib.errors.JWTClaimValidationFailed && error.claim === "nbf" && typeof error.payload.nbf === "number") {
    refused.validFrom = (error.payload.nbf - clockTolerance) * 1000;
  }
  return refused;
}

/** jose's errors as one sentence a caller may see (no key material, no stack). */
function describeJoseError(lib: Jose, error: unknown): string {
  const e = lib.errors;
  if (error instanceof e.JWTExpired) return "the token has expired";
  if (error instanceof e.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return "the token is not valid yet (nbf)";
    if (error.claim === "iss") return "the token's issuer is not the one auth.jwt.issuer names";
    if (error.claim === "aud") return "the token's audience is not the one auth.jwt.audience names";
    return `the token's ${error.claim} claim is not valid`;
  }
  if (error instanceof e.JOSEAlgNotAllowed) return "the token's algorithm is not allowed for this key";
  if (error instanceof e.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (error instanceof e.JWKSNoMatchingKey) return "no key in auth.jwt.jwks matches the token's kid";
  if (error instanceof e.JWSInvalid || error instanceof e.JWTInvalid) return "the token is not a valid JWT";
  if (error instanceof e.JOSENotSupported) return "the token uses an algorithm or key this gateway does not support";
  if (error instanceof e.JOSEError) return "the token is not valid";
  throw error; // not about the token (a JWKS that cannot be fetched): the caller logs it
}
