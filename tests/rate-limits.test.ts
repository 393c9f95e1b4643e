// limits: token buckets per principal, ip, origin or all, over HTTP: a burst passes, then 429
// rate-limited with Retry-After (whole seconds) and retryAfter (ms); buckets are separate per key;
// one principal's flood never refuses another's calls; a reload keeps budgets unless the limit's
// terms change. With server.bus, instances on one real redis-server share one budget; a Redis that
// stops answering (SIGSTOP) or dies does not hold calls: they are counted in the instance, and
// that is said once.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { gatewayFor, tempApp } from "./helpers/app.ts";
import { runGateway } from "./helpers/cli.ts";
import { invokeJson, type RawResponse } from "./helpers/http.ts";
import { startRedis, type TestRedis } from "./helpers/redis.ts";
import { stopProcess } from "./helpers/processes.ts";
import type { Listening } from "../gateway/transports/http.ts";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789";

/** The manifest: `limits` and `server` lines to add (indented under their keys). */
const manifest = ({ limits, server = "" }: { limits: string; server?: string }) => `
version: 1
server:
  trustProxy: [127.0.0.1]
  origins: [http://a.example, http://b.example]
${server}
auth:
  tokens:
    alice: { token: ${ALICE}, roles: [user] }
    bob: { token: ${BOB}, roles: [user] }
commands:
  ping: { handler: handlers/app.ts#ok }
  refill: { handler: handlers/app.ts#ok }
  defaults: { handler: handlers/app.ts#ok }
  by-principal: { handler: handlers/app.ts#ok }
  by-ip: { handler: handlers/app.ts#ok }
  by-origin: { handler: handlers/app.ts#ok }
  by-all: { handler: handlers/app.ts#ok }
  work: { handler: handlers/app.ts#ok }
  recover: { handler: handlers/app.ts#ok }
limits:
${limits}
`;

const APP = `export const ok = () => "ok";\n`;

const MEMORY_LIMITS = `
  refill: { commands: [refill], rate: 2/s, burst: 2 }
  defaults: { commands: [defaults], rate: 3/h }
  by-principal: { commands: [by-principal], per: principal, rate: 1/m, burst: 2 }
  by-ip: { commands: [by-ip], per: ip, rate: 1/m, burst: 2 }
  by-origin: { commands: [by-origin], per: origin, rate: 1/m, burst: 2 }
  by-all: { commands: [by-all], per: all, rate: 1/m, burst: 2 }
  work: { commands: [work], per: principal, rate: 10/s, burst: 10 }
`;

interface Who {
  token?: string;
  ip?: string;
  origin?: string;
}

function call(url: string, cmd: string, who: Who = {}): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  if (who.token) headers.authorization = `Bearer ${who.token}`;
  if (who.ip) headers["x-forwarded-for"] = who.ip; // believed: server.trustProxy names 127.0.0.1
  if (who.origin) headers.origin = who.origin;
  return invokeJson(url, cmd, null, headers);
}

/** A 429 as the contract has it: the value names the command and limit; Retry-After is retryAfter in whole seconds, at least 1. */
function expectLimited(res: RawResponse, command: string, limit: string): number {
  expect(res.status).toBe(429);
  const value = res.json();
  expect(value).toMatchObject({ kind: "rate-limited", command, limit });
  expect(Number.isInteger(value.retryAfter)).toBe(true);
  expect(value.retryAfter).toBeGreaterThan(0);
  expect(res.headers["retry-after"]).toBe(String(Math.max(1, Math.ceil(value.retryAfter / 1000))));
  return value.retryAfter;
}

async function statuses(url: string, cmd: string, who: Who, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await call(url, cmd, who)).status);
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

type Ctx = Awaited<ReturnType<typeof gatewayFor>>;
const opened: { ctx: Ctx; server: Listening }[] = [];

async function serve(files: Record<string, string>, options: Parameters<typeof gatewayFor>[1] = {}): Promise<{ ctx: Ctx; url: string }> {
  const ctx = await gatewayFor(files, options);
  const server = await ctx.gw.listen({ port: 0 });
  opened.push({ ctx, server });
  return { ctx, url: server.url };
}

afterAll(async () => {
  await Promise.all(opened.map(({ ctx }) => ctx.close()));
});

describe("limits in memory", () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await serve({ "gateway.yaml": manifest({ limits: MEMORY_LIMITS }), "handlers/app.ts": APP }));
  });

  test("a burst passes, then 429 with Retry-After and retryAfter; after waiting retryAfter a call passes", async () => {
    expect(await statuses(url, "by-principal", { token: ALICE }, 2)).toEqual([200, 200]);
    const retryAfter = expectLimited(await call(url, "by-principal", { token: ALICE }), "by-principal", "by-principal");
    expect(retryAfter).toBeLessThanOrEqual(60_000); // 1/m: the next token is at most a minute away

    // 2/s: ten calls at once spend the burst of 2, then wait what a refusal says.
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(url, "refill", { token: BOB })));
    const refused = answers.find((res) => res.status !== 200);
    expect(refused).toBeDefined();
    const wait = Math.max(...answers.filter((res) => res.status !== 200).map((res) => expectLimited(res, "refill", "refill")));
    expect(wait).toBeLessThanOrEqual(500);
    await sleep(wait);
    expect((await call(url, "refill", { token: BOB })).status).toBe(200);
  });

  test("burst defaults to the rate, and N/h counts per hour", async () => {
    expect(await statuses(url, "defaults", { token: ALICE }, 4)).toEqual([200, 200, 200, 429]);
    const retryAfter = expectLimited(await call(url, "defaults", { token: ALICE }), "defaults", "defaults");
    // 3/h: a token every 20 minutes (a per-minute reading would say at most 20 s).
    expect(retryAfter).toBeGreaterThan(60_000);
    expect(retryAfter).toBeLessThanOrEqual(1_200_000);
  });

  test("per principal: a bucket per principal, and per address for anonymous callers", async () => {
    expect(await statuses(url, "by-principal", { token: BOB, ip: "10.0.0.1" }, 3)).toEqual([200, 200, 429]);
    // Alice spent hers in the first test; Bob's refusal is his alone.
    expect((await call(url, "by-principal", { token: ALICE, ip: "10.0.0.1" })).status).toBe(429);
    expect(await statuses(url, "by-principal", { ip: "10.0.0.1" }, 3)).toEqual([200, 200, 429]);
    expect(await statuses(url, "by-principal", { ip: "10.0.0.2" }, 3)).toEqual([200, 200, 429]);
  });

  test("per ip: everyone from one address shares it; another address has its own", async () => {
    expect((await call(url, "by-ip", { token: ALICE, ip: "10.0.1.1" })).status).toBe(200);
    expect((await call(url, "by-ip", { token: BOB, ip: "10.0.1.1" })).status).toBe(200);
    expectLimited(await call(url, "by-ip", { ip: "10.0.1.1" }), "by-ip", "by-ip");
    expect(await statuses(url, "by-ip", { token: ALICE, ip: "10.0.1.2" }, 3)).toEqual([200, 200, 429]);
    // Without a trusted proxy's header the address is the peer's (127.0.0.1): a bucket of its own too.
    expect((await call(url, "by-ip", { token: ALICE })).status).toBe(200);
  });

  test("per origin: a bucket per Origin, and one for requests without", async () => {
    expect((await call(url, "by-origin", { token: ALICE, origin: "http://a.example" })).status).toBe(200);
    expect((await call(url, "by-origin", { token: BOB, origin: "http://a.example", ip: "10.0.2.2" })).status).toBe(200);
    expectLimited(await call(url, "by-origin", { origin: "http://a.example" }), "by-origin", "by-origin");
    expect(await statuses(url, "by-origin", { token: ALICE, origin: "http://b.example" }, 3)).toEqual([200, 200, 429]);
    expect(await statuses(url, "by-origin", { token: ALICE }, 3)).toEqual([200, 200, 429]);
  });

  test("per all: one bucket for every caller", async () => {
    expect((await call(url, "by-all", { token: ALICE })).status).toBe(200);
    expect((await call(url, "by-all", { ip: "10.0.3.3", origin: "http://b.example" })).status).toBe(200);
    expectLimited(await call(url, "by-all", { token: BOB, ip: "10.0.3.4", origin: "http://a.example" }), "by-all", "by-all");
    expectLimited(await call(url, "by-all", { token: ALICE }), "by-all", "by-all");
  });

  test("one principal's flood never refuses another principal's calls", async () => {
    const flood = Array.from({ length: 300 }, () => call(url, "work", { token: ALICE }));
    // Bob's calls go while Alice's hundreds are being answered.
    const bob: number[] = [];
    for (let i = 0; i < 10; i++) bob.push((await call(url, "work", { token: BOB })).status);
    const alice = (await Promise.all(flood)).map((res) => res.status);
    expect(bob).toEqual(Array(10).fill(200));
    expect(new Set(alice)).toEqual(new Set([200, 429]));
    expect(alice.filter((s) => s === 429).length).toBeGreaterThan(alice.filter((s) => s === 200).length);
  }, 30_000);

  test("in-process invoke as a principal counts in the same buckets", async () => {
    const ctx = opened[0]!.ctx;
    // Alice's by-principal budget was spent over HTTP.
    const refused = await ctx.gw.invoke("by-principal", null, { principal: { id: "alice" } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ kind: "rate-limited", limit: "by-principal" });
    expect(await ctx.gw.invoke("by-principal", null, { principal: { id: "carol" } })).toBe("ok");
  });
});

describe("a reload", () => {
  test("keeps every budget unless the limit's own terms change", async () => {
    const limits = (rate: string, other: string) => `
  by-principal: { commands: [by-principal], per: principal, rate: ${rate}, burst: 2 }
  by-all: { commands: [by-all], per: all, rate: ${other} }`;
    const { ctx, url } = await serve({ "gateway.yaml": manifest({ limits: limits("1/m", "5/m") }), "handlers/app.ts": APP }, { watch: true });
    await ctx.gw.watching;
    expect(await statuses(url, "by-principal", { token: ALICE }, 3)).toEqual([200, 200, 429]);

    const reloaded = async (yaml: string) => {
      const before = ctx.gw.generation.id;
      ctx.app.write("gateway.yaml", yaml);
      await until("the reload", () => ctx.gw.generation.id > before);
    };
    // Another limit's terms changed: this one's budget is as it was.
    await reloaded(manifest({ limits: limits("1/m", "7/m") }));
    expectLimited(await call(url, "by-principal", { token: ALICE }), "by-principal", "by-principal");
    // Its own rate changed: a new budget.
    await reloaded(manifest({ limits: limits("2/m", "7/m") }));
    expect(await statuses(url, "by-principal", { token: ALICE }, 3)).toEqual([200, 200, 429]);
  }, 30_000);
});

describe("gateway check", () => {
  test("reports a limit whose commands match no command", async () => {
    const app = tempApp({
      "gateway.yaml": manifest({ limits: '  ghost: { commands: ["nothing-*"], rate: 1/s }\n  typo: { commands: [pnig], rate: 1/s }' }),
      "handlers/app.ts": APP,
    });
    try {
      const result = await runGateway(["check", "--config", app.path("gateway.yaml")]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('limits.ghost.commands: "nothing-*" matches no command');
      expect(result.stderr).toContain('limits.typo.commands: no command named "pnig" (did you mean "ping"?)');
    } finally {
      app.remove();
    }
  }, 60_000);
});

describe("limits shared through server.bus", () => {
  let redis: TestRedis;
  let prefixes = 0;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const SHARED_LIMITS = `
  by-all: { commands: [by-all], per: all, rate: 1/m, burst: 5 }
  by-principal: { commands: [by-principal], per: principal, rate: 1/m, burst: 2 }
  recover: { commands: [recover], per: all, rate: 1/m, burst: 100 }`;

  async function cluster(n: number, redisUrl: string): Promise<{ ctx: Ctx; url: string; prefix: string }[]> {
    const prefix = `rl${process.pid}-${++prefixes}`;
    const yaml = manifest({ limits: SHARED_LIMITS, server: `  bus: { url: "${redisUrl}", prefix: ${prefix} }` });
    const group = [];
    for (let i = 0; i < n; i++) group.push({ ...(await serve({ "gateway.yaml": yaml, "handlers/app.ts": APP })), prefix });
    return group;
  }

  test("two instances on one Redis share one budget: exactly the burst passes, the rest is 429 on both", async () => {
    const [a, b] = await cluster(2, redis.url);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => call(i % 2 === 0 ? a!.url : b!.url, "by-all", { token: i % 3 === 0 ? ALICE : BOB })));
    expect(answers.filter((res) => res.status === 200).length).toBe(5);
    const refused = answers.filter((res) => res.status !== 200);
    expect(refused.length).toBe(15);
    for (const res of refused) {
      const retryAfter = expectLimited(res, "by-all", "by-all");
      expect(retryAfter).toBeLessThanOrEqual(60_000);
    }
    // Both instances refused (the budget is not one instance's).
    const refusedBy = new Set(answers.map((res, i) => (res.status === 429 ? i % 2 : -1)).filter((i) => i >= 0));
    expect(refusedBy).toEqual(new Set([0, 1]));
    // The bucket is a key under the bus's prefix, expiring once it is full again.
    const keys = await redis.command(["KEYS", `${a!.prefix}:limit:*`]);
    expect(keys).toContain(`${a!.prefix}:limit:by-all:`);
    const key = keys.split("\r\n").find((line) => line.startsWith(`${a!.prefix}:limit:by-all:`))!;
    const ttl = Number((await redis.command(["PTTL", key])).replace(/^:/, ""));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5 * 60_000);
  });

  test("per principal across instances: one principal's budget is one, another's is its own", async () => {
    const [a, b] = await cluster(2, redis.url);
    expect((await call(a!.url, "by-principal", { token: ALICE })).status).toBe(200);
    expect((await call(b!.url, "by-principal", { token: ALICE })).status).toBe(200);
    expectLimited(await call(a!.url, "by-principal", { token: ALICE }), "by-principal", "by-principal");
    expectLimited(await call(b!.url, "by-principal", { token: ALICE }), "by-principal", "by-principal");
    expect((await call(b!.url, "by-principal", { token: BOB })).status).toBe(200);
    expect((await call(a!.url, "by-principal", { token: BOB })).status).toBe(200);
  });

  test("a Redis that stops answering (SIGSTOP) does not hold calls: counted here, said once, shared again once it answers", async () => {
    const own = await startRedis();
    const pid = Number(/process_id:(\d+)/.exec(await own.command(["INFO", "server"]))?.[1]);
    expect(pid).toBeGreaterThan(0);
    let stopped = false;
    try {
      const [a] = await cluster(1, own.url);
      const warnings = () => a!.ctx.logger.lines.filter((line) => line.includes("rate limits are counted per instance"));
      expect((await call(a!.url, "by-all", { token: ALICE })).status).toBe(200);
      expect(await own.command(["KEYS", `${a!.prefix}:limit:by-all*`])).toContain(`${a!.prefix}:limit:by-all:`);

      stopped = true; // (set first: should the wait fail, finally still continues it)
      await stopProcess(pid);
      // Answered without Redis: the instance's own bucket for the limit (the burst of 5, then 429).
      expect(await statuses(a!.url, "by-all", { token: ALICE }, 6)).toEqual([200, 200, 200, 200, 200, 429]);
      expect(warnings()).toHaveLength(1);

      process.kill(pid, "SIGCONT");
      stopped = false;
      // Once Redis answers again the budget is Redis's: a limit never counted before gets its key there.
      await until("the limits to be shared again", async () => {
        expect((await call(a!.url, "recover", { token: ALICE })).status).toBe(200);
        return (await own.command(["KEYS", `${a!.prefix}:limit:recover:*`])).includes(`${a!.prefix}:limit:recover:`);
      });
      expect(warnings()).toHaveLength(1);
    } finally {
      if (stopped) process.kill(pid, "SIGCONT");
      const mine = opened.splice(opened.length - 1, 1);
      await Promise.all(mine.map(({ ctx }) => ctx.close()));
      await own.stop();
    }
  }, 30_000);

  test("a Redis that is killed does not refuse calls: they are counted here, and that is said once", async () => {
    const own = await startRedis();
    try {
      const [a] = await cluster(1, own.url);
      expect((await call(a!.url, "by-principal", { token: ALICE })).status).toBe(200);
      await own.kill();
      expect(await statuses(a!.url, "by-principal", { token: ALICE }, 3)).toEqual([200, 200, 429]);
      expect(await statuses(a!.url, "by-principal", { token: BOB }, 3)).toEqual([200, 200, 429]);
      expect(a!.ctx.logger.lines.filter((line) => line.includes("rate limits are counted per instance"))).toHaveLength(1);
    } finally {
      const mine = opened.splice(opened.length - 1, 1);
      await Promise.all(mine.map(({ ctx }) => ctx.close()));
      await own.stop();
    }
  }, 30_000);
});
