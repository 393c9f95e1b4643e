// Rate-limit buckets in Redis (limits: with server.bus): every instance takes its tokens from the
// same keys, so a budget is one budget however many instances serve it.
//
// One key per bucket, `<prefix>:limit:<bucket>`, holding GCRA's one number (the time the bucket
// is full again, in ms), taken and updated by one Lua script: atomic without locks or
// transactions. The script reads the clock with Redis's TIME, not the instance's: instances whose
// clocks disagree still agree on a budget. A key expires when its bucket is full again (an absent
// key is a full bucket), so idle callers cost Redis nothing.
//
// Redis that does not answer must not hold calls: each take has a deadline (TAKE_TIMEOUT_MS), and
// once one is missed (or the connection is down) the buckets report themselves unavailable, so
// calls are counted in the instance (access/limits.ts) without asking, until a probe finds Redis
// answering again.
import { createHash } from "node:crypto";
import type { RedisClientType } from "redis";
import type { SharedBuckets } from "../access/limits.ts";

/** How long a call waits for Redis's answer before it is counted here instead. */
export const TAKE_TIMEOUT_MS = 500;
/** While Redis does not answer: how often it is asked whether it does again. */
const PROBE_EVERY_MS = 1_000;

/**
 * KEYS[1] the bucket; ARGV[1] ms between two tokens; ARGV[2] how far ahead of now the bucket may
 * be spent (burst - 1 tokens). Returns 0 when the token was taken, else the ms until one would be.
 * The same arithmetic as LocalBuckets.take.
 */
export const GCRA_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = now
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored ~= nil and stored > now then tat = stored end
local allow_at = tat - tolerance
if now < allow_at then return math.ceil(allow_at - now) end
local full_at = tat + emission
redis.call('SET', KEYS[1], string.format('%.3f', full_at), 'PX', math.ceil(full_at - now))
return 0
`;

const SHA = createHash("sha1").update(GCRA_SCRIPT).digest("hex");

export class RedisBuckets implements SharedBuckets {
  /** Why Redis is taken for unavailable (a take missed its deadline or failed), until a probe answers. */
  private down: string | undefined;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    /** The bus's own client (commands are pipelined with its writes; nothing waits offline: disableOfflineQueue). */
    private readonly client: RedisClientType,
    /** `<server.bus.prefix>:limit:` */
    private readonly keyPrefix: string,
    private readonly timeoutMs = TAKE_TIMEOUT_MS,
  ) {}

  unavailable(): string | undefined {
    if (!this.client.isReady) return "the bus is not connected";
    return this.down;
  }

  async take(key: string, emissionMs: number, toleranceMs: number): Promise<number> {
    const deadline = Date.now() + this.timeoutMs;
    const args = ["1", this.keyPrefix + key, String(emissionMs), String(toleranceMs)];
    let reply: unknown;
    try {
      try {
        reply = await this.send(["EVALSHA", SHA, ...args], this.timeoutMs);
      } catch (error) {
        // Redis does not have the script (first use, a restart, SCRIPT FLUSH): send it whole, once.
        if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
        reply = await this.send(["EVAL", GCRA_SCRIPT, ...args], Math.max(1, deadline - Date.now()));
      }
    } catch (error) {
      this.failed(error);
      throw error;
    }
    if (typeof reply !== "number") throw new Error(`the rate-limit script answered ${JSON.stringify(reply)}`);
    return reply;
  }

  /**
   * A command answered within `ms`, or a rejection. The client's own `timeout` option ends only
   * the wait to be written: a command written to a Redis that hangs (SIGSTOP, a stalled host)
   * would wait for its reply as long as the connection lasts. Its late reply is dropped here.
   */
  private send(args: string[], ms: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
      this.client.sendCommand(args, { timeout: ms }).then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Stop probing (the bus is closing). */
  close(): void {
    clearInterval(this.probe);
    this.probe = undefined;
  }

  /** Redis missed a deadline or refused: count here until a PING is answered in time. */
  private failed(error: unknown): void {
    if (this.down !== undefined) return;
    this.down = error instanceof Error ? error.message || error.name : String(error);
    this.probe = setInterval(() => {
      if (!this.client.isReady) return; // the connection's own reconnection comes first
      this.send(["PING"], this.timeoutMs).then(
        () => {
          this.down = undefined;
          this.close();
        },
        () => {},
      );
    }, PROBE_EVERY_MS);
    this.probe.unref();
  }
}
