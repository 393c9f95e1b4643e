// Rate limits (`limits:`): a token bucket per key (principal, ip, origin or all) and limit, as
// GCRA (the generic cell rate algorithm): one number per key, the time the bucket would be
// full again. `rate: 20/s, burst: 40` lets 40 calls through at once and 20 a second after that;
// a refused call learns exactly when the next one would pass (Retry-After).
//
// Why not rate-limiter-flexible: it counts fixed windows (whole seconds in Redis), which cannot
// express a burst above the rate and lets twice the rate through across a window's edge; the
// contract promises token buckets. GCRA is exact, one key per bucket, and one short script in
// Redis, which keeps a budget shared by every instance (server.bus) consistent without locks.
// Without a bus (or while Redis is away) the buckets are in this process.
import type { Caller } from "./principal.ts";
import type { LimitSpec } from "./spec.ts";
import { anyGlob, type Matcher } from "./glob.ts";

/** A refusal: which limit, and in how many ms the next call would pass. */
export interface LimitHit {
  limit: string;
  retryAfterMs: number;
}

/** Buckets kept in Redis (server.bus): `take` answers for every instance at once. */
export interface SharedBuckets {
  /**
   * Take one token; resolves with 0 when it passed, else the ms until the next would. Rejects
   * when Redis cannot answer (within a bound: a Redis that hangs must not hold calls).
   */
  take(key: string, emissionMs: number, toleranceMs: number): Promise<number>;
  /**
   * Why Redis cannot be asked right now (not connected, or it stopped answering and has not
   * answered since), or undefined when it can. While it cannot, calls are counted here without
   * waiting for it.
   */
  unavailable(): string | undefined;
}

/** Above this many keys the local buckets sweep those that are full again (they hold nothing). */
const SWEEP_AT = 100_000;

/**
 * Buckets in this process: per limit (and kind of key), per subject (a principal id, an address,
 * an origin). Two levels, so a call builds no key string: the subject is a string the caller
 * already holds.
 */
export class LocalBuckets {
  private readonly buckets = new Map<string, Map<string, number>>();
  private size = 0;

  /** 0 when the call passes (and takes its token), else the ms until the next call would. */
  take(bucket: string, subject: string, emissionMs: number, toleranceMs: number, now = Date.now()): number {
    let tats = this.buckets.get(bucket);
    if (tats === undefined) this.buckets.set(bucket, (tats = new Map()));
    const stored = tats.get(subject);
    const tat = stored === undefined || stored < now ? now : stored;
    const allowAt = tat - toleranceMs;
    if (now < allowAt) return allowAt - now;
    if (stored === undefined && ++this.size >= SWEEP_AT) this.sweep(now);
    tats.set(subject, tat + emissionMs);
    return 0;
  }

  private sweep(now: number): void {
    this.size = 0;
    for (const tats of this.buckets.values()) {
      for (const [subject, tat] of tats) {
        if (tat <= now) tats.delete(subject);
        else this.size++;
      }
    }
  }
}

interface CompiledLimit {
  spec: LimitSpec;
  commands: Matcher;
  /** ms between two tokens. */
  emissionMs: number;
  /** How far ahead of now the bucket may be spent (burst - 1 tokens). */
  toleranceMs: number;
  /** The part of every key that names this limit and its terms (a changed rate starts afresh), per kind of subject. */
  keyPrefix: string;
  byId: string;
  byIp: string;
  byOrigin: string;
}

/**
 * The limits of a generation, over buckets that outlive it (a reload keeps every budget as it
 * was, unless the limit's own terms changed).
 */
export class RateLimits {
  private readonly limits: CompiledLimit[];
  /** Per command name: the limits that count it (computed once per name). */
  private readonly byCommand = new Map<string, CompiledLimit[]>();

  constructor(
    specs: readonly LimitSpec[],
    private readonly local: LocalBuckets,
    private readonly shared: SharedBuckets | undefined,
    private readonly sharedFailed: (error: unknown) => void,
  ) {
    this.limits = specs.map((spec) => {
      const emissionMs = spec.intervalMs / spec.rate;
      const keyPrefix = `${spec.name}:${spec.rate}/${spec.intervalMs}:${spec.burst}:${spec.per}`;
      return {
        spec,
        commands: anyGlob(spec.commands),
        emissionMs,
        toleranceMs: emissionMs * (spec.burst - 1),
        keyPrefix,
        byId: `${keyPrefix}:id`,
        byIp: `${keyPrefix}:ip`,
        byOrigin: `${keyPrefix}:origin`,
      };
    });
  }

  get empty(): boolean {
    return this.limits.length === 0;
  }

  /**
   * Count a call of `command` against every limit that covers it: undefined when it passes,
   * the first refusal otherwise; a promise only when the buckets are in Redis.
   */
  take(command: string, caller: Caller): LimitHit | undefined | Promise<LimitHit | undefined> {
    const limits = this.limitsFor(command);
    if (limits.length === 0) return undefined;
    const away = this.shared?.unavailable();
    if (away !== undefined) this.sharedFailed(new Error(away)); // logged once; the call is counted here, synchronously
    if (this.shared === undefined || away !== undefined) {
      for (const limit of limits) {
        const wait = this.local.take(bucketOf(limit, caller), subjectOf(limit, caller), limit.emissionMs, limit.toleranceMs);
        if (wait > 0) return { limit: limit.spec.name, retryAfterMs: wait };
      }
      return undefined;
    }
    return this.takeShared(limits, caller);
  }

  private async takeShared(limits: CompiledLimit[], caller: Caller): Promise<LimitHit | undefined> {
    for (const limit of limits) {
      const bucket = bucketOf(limit, caller);
      const subject = subjectOf(limit, caller);
      let wait: number;
      try {
        wait = await this.shared!.take(subject === "" ? bucket : `${bucket}:${subject}`, limit.emissionMs, limit.toleranceMs);
      } catch (error) {
        // Redis away: this instance counts on its own until it is back (a budget per instance).
        this.sharedFailed(error);
        wait = this.local.take(bucket, subject, limit.emissionMs, limit.toleranceMs);
      }
      if (wait > 0) return { limit: limit.spec.name, retryAfterMs: wait };
    }
    return undefined;
  }

  private limitsFor(command: string): CompiledLimit[] {
    let limits = this.byCommand.get(command);
    if (limits === undefined) {
      limits = this.limits.filter((l) => l.commands(command));
      // Names are the generation's commands (an unknown name is refused before limits count).
      this.byCommand.set(command, limits);
    }
    return limits;
  }
}

/** The bucket a caller's call falls in. Anonymous callers of a per-principal limit count per address. */
function bucketOf(limit: CompiledLimit, caller: Caller): string {
  switch (limit.spec.per) {
    case "all":
      return limit.keyPrefix;
    case "ip":
      return limit.byIp;
    case "origin":
      return limit.byOrigin;
    case "principal":
      return caller.principal === null ? limit.byIp : limit.byId;
  }
}

/** Whose share of that bucket: "" for `per: all`. */
function subjectOf(limit: CompiledLimit, caller: Caller): string {
  switch (limit.spec.per) {
    case "all":
      return "";
    case "ip":
      return caller.ip ?? "local";
    case "origin":
      return caller.origin ?? "none";
    case "principal":
      return caller.principal === null ? (caller.ip ?? "local") : caller.principal.id;
  }
}
