// Who calls (auth:, CONTRACT §9 and §9.1), proved over HTTP, the WebSocket (frames as tauri.js
// sends them) and in-process: static tokens, JWTs (a secret, a PEM public key, a JWKS URL or file,
// rotation followed), the app's auth handler, and the tokens -> jwt -> handler order. Every refusal
// is 401 and the handler never runs (it counts its calls); a credential that is present and not
// valid is never taken as anonymous (the capabilities below let anonymous callers in, so such a
// mistake would show as a 200).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "@jest/globals";
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { SignJWT } from "jose";
import { WebSocket } from "ws";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { AccessControl } from "../gateway/access/access.ts";
import { makePrincipal } from "../gateway/access/principal.ts";
import { gatewayFor, memoryLogger, rejectionOf, tempApp } from "./helpers/app.ts";
import { invokeJson, request, type RawResponse } from "./helpers/http.ts";
import type { Listening } from "../gateway/transports/http.ts";

// ---------------------------------------------------------------------------------------------
// The app: one command that tells who called, and counts its calls.

const WHOAMI = `
export default function whoami({ principal }: any) {
  const g = globalThis as any;
  g.__authCalls = (g.__authCalls ?? 0) + 1;
  return principal === null ? null : { id: principal.id, roles: [...principal.roles], tenant: principal.claims.tenant ?? null };
}
`;

const calls = (): number => (globalThis as any).__authCalls ?? 0;
const handlerCalls = (): number => (globalThis as any).__handlerCalls ?? 0;

beforeEach(() => {
  (globalThis as any).__authCalls = 0;
  (globalThis as any).__handlerCalls = 0;
  (globalThis as any).__handlerRequest = undefined;
});

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256";
const ISSUER = "https://id.test";
const AUDIENCE = "ipc-test";

/** Capabilities that let everyone in, anonymous included: a credential taken as anonymous would pass. */
const EVERYONE = `capabilities:
  everyone:
    principals: ["*", anonymous]
    commands: { allow: ["*"] }
`;

// ---------------------------------------------------------------------------------------------
// Tokens and keys.

const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A signed JWT; a fresh jti makes every token new to the gateway's verification cache. */
function mint(key: KeyObject | Uint8Array, alg: string, payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ jti: randomUUID(), ...payload }).setProtectedHeader({ alg, typ: "JWT", ...header }).sign(key);
}

/** An unsecured JWT (RFC 7519 §6): `alg: none` and no signature. */
function unsecured(payload: Record<string, unknown>): string {
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({ jti: randomUUID(), ...payload })}.`;
}

/** The token with its payload replaced, its signature kept. */
function tampered(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split(".");
  return `${header}.${b64(payload)}.${signature}`;
}

const secretKey = (text: string) => new TextEncoder().encode(text);

type KeyKind = "rsa" | "ec" | "ed25519";
interface Pair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  pem: string;
  jwk(kid: string): Record<string, unknown>;
}

function keyPair(kind: KeyKind): Pair {
  const pair =
    kind === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : kind === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
  return {
    ...pair,
    pem: pair.publicKey.export({ type: "spki", format: "pem" }) as string,
    jwk: (kid) => ({ ...(pair.publicKey.export({ format: "jwk" }) as Record<string, unknown>), kid, use: "sig" }),
  };
}

const ALG: Record<KeyKind, string> = { rsa: "RS256", ec: "ES256", ed25519: "EdDSA" };

// ---------------------------------------------------------------------------------------------
// A key server (a JWKS URL, or an attacker's jku/x5u target) that counts what it is asked.

class KeyServer {
  hits = 0;
  keys: Record<string, unknown>[] = [];
  cacheControl: string | undefined;
  url = "";
  private server: Server | undefined;

  async start(): Promise<this> {
    this.server = createServer((_req: IncomingMessage, res: ServerResponse) => {
      this.hits++;
      const body = JSON.stringify({ keys: this.keys });
      res.writeHead(200, { "content-type": "application/json", ...(this.cacheControl ? { "cache-control": this.cacheControl } : {}) });
      res.end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// A page's WebSocket, as tauri.js opens it (?window=, ?token=) and frames its calls.

interface Reply {
  type: "reply";
  rid: number;
  ok: boolean;
  status?: number;
  value?: unknown;
  error?: any;
}

interface Sock {
  id: string;
  call(cmd: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  close(): Promise<void>;
  /** Resolves when the gateway (or the test) closes the socket. */
  closed: Promise<{ code: number; reason: string }>;
}

type Upgrade = { ok: true; sock: Sock } | { ok: false; status: number; body: any };

const opened = new Set<WebSocket>();
afterEach(async () => {
  // Every socket a test opened is closed, whatever the test's outcome.
  await Promise.all(
    [...opened].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once("close", () => resolve());
          ws.terminate();
        }),
    ),
  );
  opened.clear();
});

function upgrade(base: string, query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Upgrade> {
  const search = new URLSearchParams({ window: "main", ...query });
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ipc/ws?${search}`, { headers });
  opened.add(ws);
  const waiting = new Map<number, (reply: Reply) => void>();
  let rid = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  return new Promise<Upgrade>((resolve, reject) => {
    ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "hello") {
        resolve({
          ok: true,
          sock: {
            id: frame.page,
            closed,
            call(cmd, body = {}, frameHeaders) {
              const id = ++rid;
              ws.send(JSON.stringify({ type: "invoke", rid: id, cmd, body, ...(frameHeaders ? { headers: frameHeaders } : {}) }));
              return new Promise<Reply>((done, fail) => {
                const timer = setTimeout(() => fail(new Error(`no reply to ${cmd}`)), 10_000);
                waiting.set(id, (reply) => {
                  clearTimeout(timer);
                  done(reply);
                });
              });
            },
            close: () =>
              new Promise<void>((done) => {
                if (ws.readyState === WebSocket.CLOSED) return done();
                ws.once("close", () => done());
                ws.close();
              }),
          },
        });
      } else if (frame.type === "reply") {
        waiting.get(frame.rid)?.(frame);
        waiting.delete(frame.rid);
      }
    });
    ws.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // kept as text
        }
        resolve({ ok: false, status: res.statusCode!, body });
        ws.terminate();
      });
    });
    ws.once("error", reject);
  });
}

/** An upgrade that must be accepted: its socket. */
async function connect(base: string, query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Sock> {
  const result = await upgrade(base, query, headers);
  if (!result.ok) throw new Error(`the upgrade was refused with ${result.status}: ${JSON.stringify(result.body)}`);
  return result.sock;
}

/** An upgrade that must be refused: its status and body (an accepted one is closed and fails the test). */
async function refusedUpgrade(base: string, query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const result = await upgrade(base, query, headers);
  if (result.ok) {
    await result.sock.close();
    throw new Error("the upgrade was accepted");
  }
  return { status: result.status, body: result.body };
}

/** whoami over the socket, as its value (fails on a refusal). */
async function whoOnSocket(sock: Sock): Promise<unknown> {
  const reply = await sock.call("whoami");
  if (!reply.ok) throw new Error(`whoami was refused with ${reply.status}: ${JSON.stringify(reply.error)}`);
  return reply.value;
}

async function whoOverHttp(base: string, headers: Record<string, string> = {}): Promise<unknown> {
  const response = await invokeJson(base, "whoami", {}, headers);
  if (response.status !== 200) throw new Error(`whoami was refused with ${response.status}: ${response.text}`);
  return response.json();
}

/** A 401 as the gateway sends it: its own value, WWW-Authenticate, and nothing of keys or stacks. */
function expectUnauthorized(response: RawResponse): string {
  expect({ status: response.status, body: response.json() }).toEqual({ status: 401, body: { kind: "unauthorized", message: expect.any(String) } });
  expect(response.headers["www-authenticate"]).toBe('Bearer realm="ipc-gateway"');
  expect(response.headers["tauri-response"]).toBe("error");
  const message = response.json().message as string;
  expect(message).not.toMatch(/BEGIN|PRIVATE|-----|\n\s+at /);
  return message;
}

/**
 * The credential is refused over HTTP (Authorization), on the socket's upgrade (Authorization, and
 * ?token= when it is a token) and in-process (headers): 401 each time, and whoami never ran.
 * Returns the HTTP refusal's message.
 */
async function refusedEverywhere(gw: Gateway, base: string, credential: { authorization?: string; token?: string; cookie?: string }, window = "main"): Promise<string> {
  const before = calls();
  const headers: Record<string, string> = {};
  if (credential.token !== undefined) headers.authorization = `Bearer ${credential.token}`;
  if (credential.authorization !== undefined) headers.authorization = credential.authorization;
  if (credential.cookie !== undefined) headers.cookie = credential.cookie;
  const message = expectUnauthorized(await invokeJson(base, "whoami", {}, { ...headers, "gateway-window": window }));
  expect(await refusedUpgrade(base, { window }, headers)).toEqual({ status: 401, body: { kind: "unauthorized", message } });
  if (credential.token !== undefined) {
    expect(await refusedUpgrade(base, { window, token: credential.token })).toEqual({ status: 401, body: { kind: "unauthorized", message } });
  }
  expect(await rejectionOf(gw.invoke("whoami", {}, { window, headers }))).toEqual({ kind: "unauthorized", message });
  expect(calls()).toBe(before);
  return message;
}

/** Resolves once `condition` holds (polled); the test's assertions are about what follows, not the wait. */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type Ctx = Awaited<ReturnType<typeof gatewayFor>> & { server: Listening };

async function serve(files: Record<string, string>): Promise<Ctx> {
  const ctx = await gatewayFor(files);
  try {
    const server = await ctx.gw.listen({ port: 0, host: "127.0.0.1" });
    return { ...ctx, server };
  } catch (error) {
    await ctx.close();
    throw error;
  }
}

async function stop(ctx: Ctx | undefined): Promise<void> {
  if (!ctx) return;
  await ctx.server.close();
  await ctx.close();
}

// ---------------------------------------------------------------------------------------------

describe("static tokens", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
auth:
  tokens:
    alice: { token: alice-static-token, roles: [viewer] }
    ci-bot: { token: bot-static-token, roles: [bot, deployer] }
${EVERYONE}commands:
  whoami: { handler: h.ts }
`,
      "h.ts": WHOAMI,
    });
  });
  afterAll(() => stop(ctx));

  test("each token's principal (its key as id, its roles) reaches the handler on every transport; no credential is anonymous", async () => {
    const url = ctx.server.url;
    const alice = { id: "alice", roles: ["viewer"], tenant: null };
    const bot = { id: "ci-bot", roles: ["bot", "deployer"], tenant: null };

    expect(await whoOverHttp(url, { authorization: "Bearer alice-static-token" })).toEqual(alice);
    expect(await whoOverHttp(url, { authorization: "bearer bot-static-token" })).toEqual(bot); // the scheme is case-insensitive
    expect(await whoOverHttp(url)).toBeNull();

    expect(await whoOnSocket(await connect(url, { token: "bot-static-token" }))).toEqual(bot);
    expect(await whoOnSocket(await connect(url, {}, { authorization: "Bearer alice-static-token" }))).toEqual(alice);
    expect(await whoOnSocket(await connect(url))).toBeNull();

    expect(await ctx.gw.invoke("whoami", {}, { headers: { authorization: "Bearer alice-static-token" } })).toEqual(alice);
    expect(await ctx.gw.invoke("whoami", {}, { principal: { id: "embedder", roles: ["ops"], claims: { tenant: "t1" } } })).toEqual({ id: "embedder", roles: ["ops"], tenant: "t1" });
    expect(await ctx.gw.invoke("whoami", {}, { principal: null })).toBeNull();
    expect(await ctx.gw.invoke("whoami")).toBeNull();
    expect(calls()).toBe(10);
  });

  test("under serve, the API's documents answer signed-in callers only (health stays open)", async () => {
    const url = ctx.server.url;
    for (const path of ["manifest.json", "catalog.json", "openapi.json", "asyncapi.json"]) {
      const anonymous = await request(`${url}/__gateway/${path}`, { method: "GET" });
      expect({ path, status: anonymous.status, kind: anonymous.json().kind }).toEqual({ path, status: 401, kind: "unauthorized" });
      const wrong = await request(`${url}/__gateway/${path}`, { method: "GET", headers: { authorization: "Bearer not-a-token" } });
      expect({ path, status: wrong.status }).toEqual({ path, status: 401 });
      const signedIn = await request(`${url}/__gateway/${path}`, { method: "GET", headers: { authorization: "Bearer alice-static-token" } });
      expect({ path, status: signedIn.status }).toEqual({ path, status: 200 });
    }
    expect((await request(`${url}/__gateway/health`, { method: "GET" })).status).toBe(200);
  });

  test("a socket is who its upgrade said: a frame's own Authorization header changes nothing", async () => {
    const sock = await connect(ctx.server.url, { token: "alice-static-token" });
    const reply = await sock.call("whoami", {}, { authorization: "Bearer bot-static-token" });
    expect(reply).toMatchObject({ ok: true, value: { id: "alice" } });
  });

  test.each([
    ["an unknown token", { token: "not-a-known-token" }, /not known/],
    ["another scheme", { authorization: "Basic YWxpY2U6YWxpY2Utc3RhdGljLXRva2Vu" }, /must be: Bearer/],
    ["a bearer with spaces in it", { authorization: "Bearer alice static token" }, /must be: Bearer/],
    ["a bearer without its token", { authorization: "Bearer" }, /must be: Bearer/],
    ["a token differing in its last character", { token: "alice-static-tokeN" }, /not known/],
  ])("%s is refused everywhere (401), never anonymous", async (_name, credential, message) => {
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, credential)).toMatch(message);
  });
});

describe("JWT with a secret (HS256): issuer, audience, claim names", () => {
  let ctx: Ctx;
  const rsa = keyPair("rsa");
  const claims = (extra: Record<string, unknown> = {}) => ({ uid: "alice", groups: ["viewer", "beta"], tenant: "acme", iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 600, ...extra });
  const good = (extra: Record<string, unknown> = {}) => mint(secretKey(SECRET), "HS256", claims(extra));

  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
auth:
  jwt:
    secret: ${SECRET}
    issuer: ${ISSUER}
    audience: ${AUDIENCE}
    id: uid
    roles: groups
    windows: wins
${EVERYONE}commands:
  whoami: { handler: h.ts }
`,
      "h.ts": WHOAMI,
    });
  });
  afterAll(() => stop(ctx));

  test("a valid token's principal (id and roles from the named claims, the rest as claims) reaches the handler on every transport", async () => {
    const alice = { id: "alice", roles: ["viewer", "beta"], tenant: "acme" };
    const token = await good();
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${token}` })).toEqual(alice);
    expect(await whoOnSocket(await connect(ctx.server.url, { token }))).toEqual(alice);
    expect(await whoOnSocket(await connect(ctx.server.url, {}, { authorization: `Bearer ${token}` }))).toEqual(alice);
    expect(await ctx.gw.invoke("whoami", {}, { headers: { authorization: `Bearer ${token}` } })).toEqual(alice);
    // A scope-like roles claim (a space-separated string) is a list too.
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${await good({ groups: "admin ops" })}` })).toMatchObject({ roles: ["admin", "ops"] });
    expect(await whoOverHttp(ctx.server.url)).toBeNull();
  });

  const refusals: [string, () => Promise<string> | string, RegExp][] = [
    ["expired", () => good({ exp: nowSeconds() - 60 }), /expired/],
    ["not valid yet (nbf)", () => good({ nbf: nowSeconds() + 3600 }), /not valid yet/],
    ["from another issuer", () => good({ iss: "https://evil.test" }), /issuer/],
    ["for another audience", () => good({ aud: "someone-else" }), /audience/],
    ["unsecured (alg: none)", () => unsecured(claims()), /algorithm|not valid/],
    ["tampered (payload changed, signature kept)", async () => tampered(await good(), claims({ uid: "admin", groups: ["admin"] })), /signature/],
    ["signed with another secret", () => mint(secretKey(OTHER_SECRET), "HS256", claims()), /signature/],
    ["signed with a private key (RS256) where a secret is configured", () => mint(rsa.privateKey, "RS256", claims()), /algorithm/],
    ["without the id claim", () => good({ uid: undefined }), /"uid"/],
    ["whose id claim holds a newline (a forged log line)", () => good({ uid: "alice\nINFO admin logged in" }), /"uid" claim is not a usable principal id/],
    ["garbage", () => "%%garbage%%", /neither a known token nor a JWT/],
    ["a JWT-shaped string", () => "abc.def.ghi", /not a valid JWT|not valid/],
    ["a JWT-shaped string with a real header", () => `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims())}.AAAA`, /signature/],
  ];
  test.each(refusals)("a token %s is refused everywhere (401), never anonymous, and the handler never runs", async (_name, make, message) => {
    const token = await make();
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token })).toMatch(message);
    // The second time it is refused from memory, as the first.
    expectUnauthorized(await invokeJson(ctx.server.url, "whoami", {}, { authorization: `Bearer ${token}` }));
    expect(calls()).toBe(0);
  });

  test("auth.jwt.windows: a socket may claim only the window labels its token lists; so may an HTTP call and an in-process one", async () => {
    const url = ctx.server.url;
    const token = await good({ wins: ["main", "settings-*"] });

    const upgradeRefused = await refusedUpgrade(url, { window: "admin", token });
    expect(upgradeRefused).toEqual({ status: 401, body: { kind: "unauthorized", message: expect.stringContaining('window "admin"') } });
    const settings = await connect(url, { window: "settings-2", token });
    expect(await whoOnSocket(settings)).toMatchObject({ id: "alice" });

    expectUnauthorized(await invokeJson(url, "whoami", {}, { authorization: `Bearer ${token}`, "gateway-window": "admin" }));
    expect(await whoOverHttp(url, { authorization: `Bearer ${token}`, "gateway-window": "settings-1" })).toMatchObject({ id: "alice" });
    expect(await whoOverHttp(url, { authorization: `Bearer ${token}` })).toMatchObject({ id: "alice" }); // main
    expect(await rejectionOf(ctx.gw.invoke("whoami", {}, { window: "admin", headers: { authorization: `Bearer ${token}` } }))).toMatchObject({ kind: "unauthorized" });
    expect(calls()).toBe(3);

    // A token without the claim may claim any window.
    expect(await whoOnSocket(await connect(url, { window: "admin", token: await good() }))).toMatchObject({ id: "alice" });
  });

  test("auth.jwt.windows holds where the window is used: a Gateway-Page naming another window's page does not lend it", async () => {
    const url = ctx.server.url;
    // The same principal with a token for the admin window, and one for main only.
    const admin = await connect(url, { window: "admin", token: await good({ wins: ["admin"] }) });
    const mainOnly = await good({ wins: ["main"] });
    // No Gateway-Window: the call's window is the named page's, "admin", which mainOnly does not allow.
    expectUnauthorized(await invokeJson(url, "whoami", {}, { authorization: `Bearer ${mainOnly}`, "gateway-page": admin.id }));
    expect(calls()).toBe(0);
    expect(await whoOnSocket(admin)).toMatchObject({ id: "alice" });
  });

  test("a token refused as not valid yet (nbf) is taken once its nbf has come", async () => {
    const nbf = nowSeconds() + 2;
    const token = await good({ nbf });
    expect(expectUnauthorized(await invokeJson(ctx.server.url, "whoami", {}, { authorization: `Bearer ${token}` }))).toMatch(/not valid yet/);
    await until(() => Date.now() >= nbf * 1000 + 50, "the token's nbf");
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${token}` })).toMatchObject({ id: "alice" });
  });

  test("a token that expires while its socket is open: the next call on that socket is 401, and the handler does not run", async () => {
    const exp = nowSeconds() + 3;
    const token = await good({ exp });
    const sock = await connect(ctx.server.url, { token });
    expect(await whoOnSocket(sock)).toMatchObject({ id: "alice" });
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${token}` })).toMatchObject({ id: "alice" });
    await until(() => Date.now() >= exp * 1000 + 50, "the token's exp");
    const before = calls();
    const reply = await sock.call("whoami");
    expect(reply).toMatchObject({ ok: false, status: 401, error: { kind: "unauthorized", message: expect.stringContaining("expired") } });
    // Its verification was remembered: that memory ends at exp too.
    expectUnauthorized(await invokeJson(ctx.server.url, "whoami", {}, { authorization: `Bearer ${token}` }));
    expect(calls()).toBe(before);
  });
});

describe.each([["rsa"], ["ec"], ["ed25519"]] as [KeyKind][])("JWT with a publicKey PEM file (%s)", (kind) => {
  let ctx: Ctx;
  let attacker: KeyServer;
  const pair = keyPair(kind);
  const other = keyPair(kind);
  const alg = ALG[kind];
  const claims = (extra: Record<string, unknown> = {}) => ({ sub: "carol", roles: ["editor"], exp: nowSeconds() + 600, ...extra });

  beforeAll(async () => {
    attacker = await new KeyServer().start();
    attacker.keys = [other.jwk("k1")];
    ctx = await serve({
      "gateway.yaml": `version: 1
auth:
  jwt:
    publicKey: keys/public.pem
${EVERYONE}commands:
  whoami: { handler: h.ts }
`,
      "keys/public.pem": pair.pem,
      "h.ts": WHOAMI,
    });
  });
  afterAll(async () => {
    await stop(ctx);
    await attacker.close();
  });

  test(`a token signed with the private key (${alg}) is verified; sub and roles by default`, async () => {
    const token = await mint(pair.privateKey, alg, claims());
    const carol = { id: "carol", roles: ["editor"], tenant: null };
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${token}` })).toEqual(carol);
    expect(await whoOnSocket(await connect(ctx.server.url, { token }))).toEqual(carol);
    expect(await ctx.gw.invoke("whoami", {}, { headers: { authorization: `Bearer ${token}` } })).toEqual(carol);
  });

  test("refused: HS256 signed with the public key's PEM text as the secret, another key, alg none, tampered, expired", async () => {
    const confused = await mint(secretKey(pair.pem), "HS256", claims());
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: confused })).toMatch(/algorithm/);
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: await mint(other.privateKey, alg, claims()) })).toMatch(/signature/);
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: unsecured(claims()) })).toMatch(/algorithm|not valid/);
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: tampered(await mint(pair.privateKey, alg, claims()), claims({ sub: "admin" })) })).toMatch(/signature/);
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: await mint(pair.privateKey, alg, claims({ exp: nowSeconds() - 5 })) })).toMatch(/expired/);
  });

  test("jku, x5u and jwk in a token's header are never used: the key named there is not fetched, nor trusted", async () => {
    const token = await mint(other.privateKey, alg, claims(), { kid: "k1", jku: `${attacker.url}/jwks.json`, x5u: `${attacker.url}/cert.pem`, jwk: other.jwk("k1") });
    await refusedEverywhere(ctx.gw, ctx.server.url, { token });
    expect(attacker.hits).toBe(0);
  });
});

describe("JWT with a JWKS URL", () => {
  const k1 = keyPair("rsa");
  const k2 = keyPair("ec");
  const k3 = keyPair("rsa");
  const claims = (extra: Record<string, unknown> = {}) => ({ sub: "dave", roles: ["ops"], exp: nowSeconds() + 600, ...extra });
  const manifest = (url: string) => `version: 1
auth:
  jwt:
    jwks: ${url}/jwks.json
${EVERYONE}commands:
  whoami: { handler: h.ts }
`;

  describe("keys that may not be cached (Cache-Control: no-store)", () => {
    let keys: KeyServer;
    let attacker: KeyServer;
    let ctx: Ctx;
    beforeAll(async () => {
      keys = await new KeyServer().start();
      keys.cacheControl = "no-store";
      attacker = await new KeyServer().start();
      ctx = await serve({ "gateway.yaml": manifest(keys.url), "h.ts": WHOAMI });
    });
    beforeEach(() => {
      keys.keys = [k1.jwk("k1"), k2.jwk("k2")];
      attacker.keys = [k3.jwk("k1")];
    });
    afterAll(async () => {
      await stop(ctx);
      await keys.close();
      await attacker.close();
    });

    test("a verified token is remembered: its next calls, on any transport, do not verify it again (the key server is not asked)", async () => {
      const token = await mint(k1.privateKey, "RS256", claims(), { kid: "k1" });
      const before = keys.hits;
      const dave = { id: "dave", roles: ["ops"], tenant: null };
      expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${token}` })).toEqual(dave);
      expect(keys.hits).toBe(before + 1); // no-store: verifying fetches the keys
      expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${token}` })).toEqual(dave);
      expect(await whoOnSocket(await connect(ctx.server.url, { token }))).toEqual(dave);
      expect(await ctx.gw.invoke("whoami", {}, { headers: { authorization: `Bearer ${token}` } })).toEqual(dave);
      expect(keys.hits).toBe(before + 1);
      // Another token is verified (and so fetches): the memory is per token.
      const ec = await mint(k2.privateKey, "ES256", claims(), { kid: "k2" });
      expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${ec}` })).toEqual(dave);
      expect(keys.hits).toBe(before + 2);
    });

    test("refused: HS256 signed with the PEM text of a JWKS key, a symmetric key slipped into the set, another key under a known kid", async () => {
      const confused = await mint(secretKey(k1.pem), "HS256", claims(), { kid: "k1" });
      expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: confused })).toMatch(/algorithm/);
      keys.keys = [...keys.keys, { kty: "oct", kid: "sym", k: Buffer.from(SECRET).toString("base64url") }];
      expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: await mint(secretKey(SECRET), "HS256", claims(), { kid: "sym" }) })).toMatch(/algorithm/);
      expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: await mint(k3.privateKey, "RS256", claims(), { kid: "k1" }) })).toMatch(/signature/);
      expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: unsecured({ ...claims() }) })).toMatch(/algorithm|not valid/);
    });

    test("jku, x5u and jwk in a token's header are never fetched nor trusted", async () => {
      const token = await mint(k3.privateKey, "RS256", claims(), { kid: "k1", jku: `${attacker.url}/jwks.json`, x5u: `${attacker.url}/cert.pem`, jwk: k3.jwk("k1") });
      await refusedEverywhere(ctx.gw, ctx.server.url, { token });
      const embedded = await mint(k3.privateKey, "RS256", claims(), { jwk: k3.jwk("own") });
      await refusedEverywhere(ctx.gw, ctx.server.url, { token: embedded });
      expect(attacker.hits).toBe(0);
    });
  });

  test("key rotation: a new kid makes the gateway fetch the set again at once (then not again within 30 s); a rotated-out key is refused", async () => {
    const keys = await new KeyServer().start(); // no Cache-Control: kept 5 minutes
    let ctx: Ctx | undefined;
    try {
      keys.keys = [k1.jwk("k1")];
      ctx = await serve({ "gateway.yaml": manifest(keys.url), "h.ts": WHOAMI });
      const url = ctx.server.url;
      expect(await whoOverHttp(url, { authorization: `Bearer ${await mint(k1.privateKey, "RS256", claims(), { kid: "k1" })}` })).toMatchObject({ id: "dave" });
      expect(keys.hits).toBe(1);
      // Within the set's max-age, a token under a known kid does not fetch.
      expect(await whoOverHttp(url, { authorization: `Bearer ${await mint(k1.privateKey, "RS256", claims(), { kid: "k1" })}` })).toMatchObject({ id: "dave" });
      expect(keys.hits).toBe(1);

      keys.keys = [k2.jwk("k2")]; // the issuer rotates: k1 out, k2 in
      expect(await whoOnSocket(await connect(url, { token: await mint(k2.privateKey, "ES256", claims(), { kid: "k2" }) }))).toMatchObject({ id: "dave" });
      expect(keys.hits).toBe(2);

      // Another unknown kid right after: not fetched again (at most every 30 s), refused.
      expect(await refusedEverywhere(ctx.gw, url, { token: await mint(k3.privateKey, "RS256", claims(), { kid: "k3" }) })).toMatch(/kid/);
      // k1 went with the rotation.
      expect(await refusedEverywhere(ctx.gw, url, { token: await mint(k1.privateKey, "RS256", claims(), { kid: "k1" }) })).toMatch(/kid/);
      expect(keys.hits).toBe(2);
    } finally {
      await stop(ctx);
      await keys.close();
    }
  });

  test("Cache-Control: max-age=1: once it has passed, the set is fetched again (a key replaced under the same kid is followed)", async () => {
    const keys = await new KeyServer().start();
    let ctx: Ctx | undefined;
    try {
      keys.keys = [k1.jwk("k1")];
      keys.cacheControl = "public, max-age=1";
      ctx = await serve({ "gateway.yaml": manifest(keys.url), "h.ts": WHOAMI });
      expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${await mint(k1.privateKey, "RS256", claims(), { kid: "k1" })}` })).toMatchObject({ id: "dave" });
      const fetched = Date.now();
      expect(keys.hits).toBe(1);
      // The same kid, another key: only a fresh fetch can know it (a known kid never refetches).
      keys.keys = [k3.jwk("k1")];
      await until(() => Date.now() > fetched + 1100, "the set's max-age");
      expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${await mint(k3.privateKey, "RS256", claims(), { kid: "k1" })}` })).toMatchObject({ id: "dave" });
      expect(keys.hits).toBe(2);
    } finally {
      await stop(ctx);
      await keys.close();
    }
  });
});

describe("JWT with a JWKS file", () => {
  let ctx: Ctx;
  const k1 = keyPair("rsa");
  const k2 = keyPair("ed25519");
  const claims = () => ({ sub: "erin", exp: nowSeconds() + 600 });
  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
auth:
  jwt:
    jwks: keys/jwks.json
${EVERYONE}commands:
  whoami: { handler: h.ts }
`,
      "keys/jwks.json": JSON.stringify({ keys: [k1.jwk("k1")] }),
      "h.ts": WHOAMI,
    });
  });
  afterAll(() => stop(ctx));

  test("the file is read again when it changes: a rotated-in key is accepted, a rotated-out one refused", async () => {
    const url = ctx.server.url;
    expect(await whoOverHttp(url, { authorization: `Bearer ${await mint(k1.privateKey, "RS256", claims(), { kid: "k1" })}` })).toMatchObject({ id: "erin", roles: [] });
    ctx.app.write("keys/jwks.json", JSON.stringify({ keys: [k2.jwk("k2")] }));
    expect(await whoOnSocket(await connect(url, { token: await mint(k2.privateKey, "EdDSA", claims(), { kid: "k2" }) }))).toMatchObject({ id: "erin" });
    expect(await refusedEverywhere(ctx.gw, url, { token: await mint(k1.privateKey, "RS256", claims(), { kid: "k1" }) })).toMatch(/kid/);
  });

  test("a key in the token's jwk header is not trusted", async () => {
    const attackerKey = keyPair("ed25519");
    await refusedEverywhere(ctx.gw, ctx.server.url, { token: await mint(attackerKey.privateKey, "EdDSA", claims(), { jwk: attackerKey.jwk("k2"), kid: "k2" }) });
  });
});

describe("where the credential comes from: Authorization, ?token= on the socket, auth.jwt.cookie", () => {
  let ctx: Ctx;
  const token = (sub: string, extra: Record<string, unknown> = {}) => mint(secretKey(SECRET), "HS256", { sub, exp: nowSeconds() + 600, ...extra });
  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
auth:
  jwt:
    secret: ${SECRET}
    cookie: session
${EVERYONE}commands:
  whoami: { handler: h.ts }
`,
      "h.ts": WHOAMI,
    });
  });
  afterAll(() => stop(ctx));

  test("the cookie carries the JWT over HTTP, on the socket's upgrade and in-process", async () => {
    const alice = await token("alice");
    const cookie = `theme=dark; session=${alice}; other=1`;
    expect(await whoOverHttp(ctx.server.url, { cookie })).toMatchObject({ id: "alice" });
    expect(await whoOnSocket(await connect(ctx.server.url, {}, { cookie }))).toMatchObject({ id: "alice" });
    expect(await ctx.gw.invoke("whoami", {}, { headers: { cookie } })).toMatchObject({ id: "alice" });
    // Other cookies are not credentials.
    expect(await whoOverHttp(ctx.server.url, { cookie: `sessionx=${alice}` })).toBeNull();
  });

  test("Authorization wins over the cookie, and ?token= over the cookie; an invalid Authorization is not saved by a valid cookie", async () => {
    const alice = await token("alice");
    const bob = await token("bob");
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${bob}`, cookie: `session=${alice}` })).toMatchObject({ id: "bob" });
    expect(await whoOnSocket(await connect(ctx.server.url, {}, { authorization: `Bearer ${bob}`, cookie: `session=${alice}` }))).toMatchObject({ id: "bob" });
    expect(await whoOnSocket(await connect(ctx.server.url, { token: bob }, { cookie: `session=${alice}` }))).toMatchObject({ id: "bob" });
    expect(await ctx.gw.invoke("whoami", {}, { headers: { authorization: `Bearer ${bob}`, cookie: `session=${alice}` } })).toMatchObject({ id: "bob" });
    await refusedEverywhere(ctx.gw, ctx.server.url, { token: await token("bob", { exp: nowSeconds() - 10 }), cookie: `session=${alice}` });
  });

  test("an invalid cookie is 401, not anonymous", async () => {
    await refusedEverywhere(ctx.gw, ctx.server.url, { cookie: `session=${await mint(secretKey(OTHER_SECRET), "HS256", { sub: "mallory" })}` });
    await refusedEverywhere(ctx.gw, ctx.server.url, { cookie: "session=garbage" });
  });

  test("?token= is read on the socket's upgrade only: an HTTP call's URL is no place for a credential", async () => {
    const alice = await token("alice");
    const response = await request(`${ctx.server.url}/ipc/whoami?token=${alice}`, { headers: { "content-type": "application/json" }, body: "{}" });
    expect({ status: response.status, body: response.json() }).toEqual({ status: 200, body: null });
  });
});

describe("auth.handler", () => {
  let ctx: Ctx;
  const jwt = (extra: Record<string, unknown> = {}) => mint(secretKey(SECRET), "HS256", { sub: "jwt-user", roles: ["jwt"], exp: nowSeconds() + 600, ...extra });
  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
discover:
  handlers: handlers
auth:
  tokens:
    ci-bot: { token: bot-static-token, roles: [bot] }
  jwt:
    secret: ${SECRET}
  handler: handlers/auth.ts
${EVERYONE}`,
      "handlers/whoami.ts": WHOAMI,
      "handlers/auth.ts": `
import { InvokeError } from "ipc-gateway";
export default async function authenticate(request: any) {
  const g = globalThis as any;
  g.__handlerCalls = (g.__handlerCalls ?? 0) + 1;
  g.__handlerRequest = request;
  const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
  switch (request.cookies.mode) {
    case "session": return { id: "session-" + request.cookies.sid, roles: ["user"], claims: { tenant: "t-session" } };
    case "bearer": return bearer === "opaque-session-abc" ? { id: "opaque-user" } : null;
    case "refuse": throw new InvokeError({ kind: "account-suspended", until: "2030-01-01" });
    case "refuse-text": throw new InvokeError("go away");
    case "unsendable": throw new InvokeError({ big: 10n });
    case "boom": throw new Error("the session store's password is hunter2");
    case "malformed": return { id: 42, roles: "admin" };
    case "array": return [{ id: "x" }];
    case "newline": return { id: "alice\\nINFO root logged in" };
    default: return null;
  }
}
`,
    });
  });
  afterAll(() => stop(ctx));

  const everywhere = async (headers: Record<string, string>) => ({
    http: await invokeJson(ctx.server.url, "whoami", {}, headers),
    ws: await upgrade(ctx.server.url, {}, headers),
    inProcess: await ctx.gw.invoke("whoami", {}, { headers }).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
  });

  test("it is no command, though it lies in discover.handlers", async () => {
    expect([...ctx.gw.generation.commands.keys()]).toEqual(["whoami"]);
    const response = await invokeJson(ctx.server.url, "auth", {});
    expect({ status: response.status, kind: response.json().kind }).toEqual({ status: 404, kind: "unknown-command" });
  });

  test("its principal reaches the handler; it is given headers, cookies, origin, ip and url", async () => {
    const session = { id: "session-42", roles: ["user"], tenant: "t-session" };
    const origin = ctx.server.url;
    const cookie = "mode=session; sid=42";
    expect(await whoOverHttp(ctx.server.url, { cookie, origin, "x-trace": "t1" })).toEqual(session);
    expect((globalThis as any).__handlerRequest).toEqual({
      headers: expect.objectContaining({ cookie, origin, "x-trace": "t1" }),
      cookies: { mode: "session", sid: "42" },
      origin,
      ip: "127.0.0.1",
      url: "/ipc/whoami",
    });
    expect(await whoOnSocket(await connect(ctx.server.url, { window: "main" }, { cookie }))).toEqual(session);
    expect((globalThis as any).__handlerRequest).toMatchObject({ url: "/ipc/ws?window=main", ip: "127.0.0.1" });
    expect(await ctx.gw.invoke("whoami", {}, { headers: { cookie } })).toEqual(session);
    expect((globalThis as any).__handlerRequest).toMatchObject({ url: "/ipc/whoami", ip: undefined });
  });

  test("null is anonymous without a credential, and 401 with one", async () => {
    expect(await whoOverHttp(ctx.server.url)).toBeNull();
    expect(await whoOnSocket(await connect(ctx.server.url))).toBeNull();
    expect(await ctx.gw.invoke("whoami", {}, { headers: {} })).toBeNull();
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: "opaque-unknown" })).toMatch(/not valid/);
    await refusedEverywhere(ctx.gw, ctx.server.url, { authorization: "Basic YWxpY2U6cHc=" });
    // The handler accepts this one, in the same scheme.
    expect(await whoOverHttp(ctx.server.url, { authorization: "Bearer opaque-session-abc", cookie: "mode=bearer" })).toEqual({ id: "opaque-user", roles: [], tenant: null });
  });

  test("an InvokeError it throws is 401 with exactly its value, and nothing runs", async () => {
    for (const [mode, value] of [
      ["refuse", { kind: "account-suspended", until: "2030-01-01" }],
      ["refuse-text", "go away"],
    ] as const) {
      const { http, ws, inProcess } = await everywhere({ cookie: `mode=${mode}` });
      expect({ status: http.status, body: http.json() }).toEqual({ status: 401, body: value });
      expect(ws).toEqual({ ok: false, status: 401, body: value });
      expect(inProcess).toEqual({ error: value });
    }
    expect(calls()).toBe(0);
  });

  test("anything else it throws is 500 internal, logged, with nothing of it sent; so is a value that is no principal", async () => {
    for (const mode of ["boom", "malformed", "array", "newline", "unsendable"]) {
      ctx.logger.lines.length = 0;
      const { http, ws, inProcess } = await everywhere({ cookie: `mode=${mode}` });
      expect({ status: http.status, body: http.json() }).toEqual({ status: 500, body: { kind: "internal", message: expect.any(String), command: "(auth.handler)" } });
      expect(http.text).not.toMatch(/hunter2|\n\s+at |\.ts:\d/);
      expect(ws).toEqual({ ok: false, status: 500, body: http.json() });
      expect(inProcess).toEqual({ error: http.json() });
      expect(ctx.logger.lines.filter((line) => line.includes("auth.handler"))).toHaveLength(3);
    }
    expect(ctx.logger.errors).toContainEqual(expect.objectContaining({ message: "the session store's password is hunter2" }));
    expect(calls()).toBe(0);
  });

  test("the order is tokens, then jwt, then the handler: the first that knows the credential decides", async () => {
    const session = "mode=session; sid=7";
    expect(await whoOverHttp(ctx.server.url, { authorization: "Bearer bot-static-token", cookie: session })).toEqual({ id: "ci-bot", roles: ["bot"], tenant: null });
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${await jwt()}`, cookie: session })).toEqual({ id: "jwt-user", roles: ["jwt"], tenant: null });
    expect(handlerCalls()).toBe(0);
    // A JWT is judged by auth.jwt: refused, it is not handed on.
    expectUnauthorized(await invokeJson(ctx.server.url, "whoami", {}, { authorization: `Bearer ${await jwt({ exp: nowSeconds() - 10 })}`, cookie: session }));
    expect(handlerCalls()).toBe(0);
    // What neither knows goes to the handler.
    expect(await whoOverHttp(ctx.server.url, { authorization: "Bearer opaque-session-abc", cookie: "mode=bearer" })).toMatchObject({ id: "opaque-user" });
    expect(await whoOverHttp(ctx.server.url, { cookie: session })).toMatchObject({ id: "session-7" });
    expect(handlerCalls()).toBe(2);
  });
});

describe("auth.handler that does not answer", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
server:
  timeout: 300ms
discover:
  handlers: handlers
auth:
  handler: handlers/auth.ts
${EVERYONE}`,
      "handlers/whoami.ts": WHOAMI,
      "handlers/auth.ts": `export default (request: any) => (request.headers["x-hang"] ? new Promise(() => {}) : { id: "u1" });`,
    });
  });
  afterAll(() => stop(ctx));

  test("is given up at server.timeout (at most 10 s): 504, logged, and the next call is answered", async () => {
    const hung = await invokeJson(ctx.server.url, "whoami", {}, { "x-hang": "1" });
    expect({ status: hung.status, body: hung.json() }).toEqual({ status: 504, body: { kind: "timeout", message: '"(auth.handler)" did not finish within 300 ms', command: "(auth.handler)", limit: 300 } });
    expect(ctx.logger.lines.some((line) => line.includes("auth.handler did not answer within 300 ms"))).toBe(true);
    const next = await invokeJson(ctx.server.url, "whoami", {});
    expect({ status: next.status, id: next.json().id }).toEqual({ status: 200, id: "u1" });
  });
});

describe("in-process principal option", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await serve({ "gateway.yaml": `version: 1\ndiscover:\n  handlers: handlers\n${EVERYONE}`, "handlers/whoami.ts": WHOAMI });
  });
  afterAll(() => stop(ctx));

  test.each([[{ id: 42 }], [{ id: "" }], [{ id: "a", roles: "admin" }], ["alice"]])("a malformed principal %j is refused as bad-request, and nothing runs", async (principal) => {
    await expect(ctx.gw.invoke("whoami", {}, { principal: principal as never })).rejects.toMatchObject({ kind: "bad-request" });
    expect(calls()).toBe(0);
    await expect(ctx.gw.invoke("whoami", {}, { principal: { id: "a", roles: ["r"] } })).resolves.toMatchObject({ id: "a" });
  });
});

describe("auth.jwt.clockTolerance", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
auth:
  jwt:
    secret: ${SECRET}
    clockTolerance: 30s
commands:
  whoami: { handler: h.ts }
`,
      "h.ts": WHOAMI,
    });
  });
  afterAll(() => stop(ctx));

  test("a token expired within the tolerance is taken on every transport; one past it is refused", async () => {
    const late = await mint(secretKey(SECRET), "HS256", { sub: "frank", exp: nowSeconds() - 10 });
    expect(await whoOverHttp(ctx.server.url, { authorization: `Bearer ${late}` })).toMatchObject({ id: "frank" });
    expect(await whoOnSocket(await connect(ctx.server.url, { token: late }))).toMatchObject({ id: "frank" });
    expect(await ctx.gw.invoke("whoami", {}, { headers: { authorization: `Bearer ${late}` } })).toMatchObject({ id: "frank" });
    const expired = await mint(secretKey(SECRET), "HS256", { sub: "frank", exp: nowSeconds() - 60 });
    expect(await refusedEverywhere(ctx.gw, ctx.server.url, { token: expired })).toMatch(/expired/);
  });
});

describe("capabilities see the whole principal", () => {
  let ctx: Awaited<ReturnType<typeof gatewayFor>>;
  beforeAll(async () => {
    ctx = await gatewayFor({
      "gateway.yaml": `version: 1
auth:
  tokens: {}
capabilities:
  admins:
    principals: ["role:admin"]
    commands: { allow: [whoami] }
commands:
  whoami: { handler: h.ts }
`,
      "h.ts": WHOAMI,
    });
  });
  afterAll(() => ctx.close());

  test("an id that spells another principal's roles does not share its remembered decision", async () => {
    expect(await ctx.gw.invoke("whoami", {}, { principal: { id: "a", roles: ["admin", "user"] } })).toMatchObject({ id: "a" });
    // Such an id is refused where principals come in (a control character) ...
    expect(await rejectionOf(ctx.gw.invoke("whoami", {}, { principal: { id: "a\u0001admin", roles: ["user"] } }))).toMatchObject({ kind: "bad-request" });
    expect(calls()).toBe(1);
    // ... and the decisions' cache keeps them apart even so.
    const capabilities = ctx.gw.generation.access!.capabilities!;
    const caller = (id: string, roles: string[]) => ({ principal: makePrincipal({ id, roles }), local: true });
    expect(capabilities.decide("call", "whoami", caller("a", ["admin", "user"]), "main").allowed).toBe(true);
    expect(capabilities.decide("call", "whoami", caller("a\u0001admin", ["user"]), "main").allowed).toBe(false);
  });
});

/** An app served with the real watcher, as `gateway dev` serves it: its manifest edited, the reload awaited. */
async function watched(manifest: string): Promise<{ gw: Gateway; url: string; edit(manifest: string): Promise<void>; close(): Promise<void> }> {
  const app = tempApp({ "gateway.yaml": manifest, "h.ts": WHOAMI });
  const gw = await createGateway({ config: app.path("gateway.yaml"), watch: true, logger: memoryLogger() });
  const server = await gw.listen({ port: 0, host: "127.0.0.1" });
  await gw.watching;
  return {
    gw,
    url: server.url,
    async edit(next) {
      const generation = gw.generation.id;
      app.write("gateway.yaml", next);
      await until(() => gw.generation.id > generation, "the reload");
    },
    async close() {
      await server.close();
      await gw.close();
      app.remove();
    },
  };
}

describe("a capability revoked by an edit", () => {
  let app: Awaited<ReturnType<typeof watched>>;
  const manifest = (commands: string) => `version: 1
auth:
  tokens:
    alice: { token: alice-static-token, roles: [user] }
capabilities:
  users:
    principals: ["role:user"]
    commands: ${commands}
commands:
  whoami: { handler: h.ts }
`;
  beforeAll(async () => {
    app = await watched(manifest("{ allow: [whoami] }"));
  });
  afterAll(() => app?.close());

  test("applies to an already-open socket at its next call", async () => {
    const sock = await connect(app.url, { token: "alice-static-token" });
    expect(await whoOnSocket(sock)).toMatchObject({ id: "alice" });
    const anonymous = await invokeJson(app.url, "whoami", {});
    expect(anonymous.status).toBe(403); // deny by default: only users may

    await app.edit(manifest("{ allow: [whoami], deny: [whoami] }"));

    const before = calls();
    expect(await sock.call("whoami")).toMatchObject({ ok: false, status: 403, error: { kind: "forbidden", command: "whoami" } });
    const http = await invokeJson(app.url, "whoami", {}, { authorization: "Bearer alice-static-token" });
    expect({ status: http.status, kind: http.json().kind }).toEqual({ status: 403, kind: "forbidden" });
    expect(calls()).toBe(before);
  });
});

describe("auth: changed by an edit", () => {
  let app: Awaited<ReturnType<typeof watched>>;
  const manifest = (tokens: string) => `version: 1
auth:
  tokens:
${tokens}
capabilities:
  everyone:
    principals: ["*"]
    commands: { allow: [whoami] }
commands:
  whoami: { handler: h.ts }
`;
  beforeAll(async () => {
    app = await watched(manifest("    alice: { token: alice-static-token, roles: [user] }\n    bob: { token: bob-static-token, roles: [user] }"));
  });
  afterAll(() => app?.close());

  test("a removed token closes the sockets opened with it (4401 and why); another whose roles changed goes on with the new roles", async () => {
    const alice = await connect(app.url, { token: "alice-static-token" });
    const bob = await connect(app.url, { token: "bob-static-token" });
    expect(await whoOnSocket(bob)).toMatchObject({ id: "bob", roles: ["user"] });

    await app.edit(manifest("    bob: { token: bob-static-token, roles: [user, editor] }"));

    expect(await alice.closed).toEqual({ code: 4401, reason: "the bearer token is not known" });
    expect(await whoOnSocket(bob)).toMatchObject({ id: "bob", roles: ["user", "editor"] });
    expect((await refusedUpgrade(app.url, { token: "alice-static-token" })).status).toBe(401);
  });
});

describe("the manifest", () => {
  test("server.token together with auth: is a mistake: one line, with its place", async () => {
    const app = tempApp({
      "gateway.yaml": `version: 1
server:
  token: shared-token-1234567890
auth:
  tokens:
    alice: { token: alice-static-token }
commands:
  whoami: { handler: h.ts }
`,
      "h.ts": WHOAMI,
    });
    try {
      const error = await rejectionOf(createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger() }));
      expect(error.name).toBe("ConfigError");
      const lines = String(error.message).split("\n");
      expect(lines).toEqual([expect.stringMatching(/gateway\.yaml:3:10: server\.token and auth: both read the Authorization header/)]);
    } finally {
      app.remove();
    }
  });
});

describe("gateway dev's call-as header", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await serve({
      "gateway.yaml": `version: 1
auth:
  tokens:
    alice: { token: alice-static-token, roles: [viewer] }
${EVERYONE}commands:
  whoami: { handler: h.ts }
`,
      "h.ts": WHOAMI,
    });
  });
  afterAll(() => stop(ctx));

  const header = { "gateway-principal": JSON.stringify({ id: "root", roles: ["admin"] }) };
  const credentials = (ip: string | undefined) => ({ headers: header, local: true, url: "/ipc/whoami", window: "main", ...(ip ? { ip } : {}) });

  test("is honoured under dev from this machine only, never under serve", async () => {
    const dev = new AccessControl({ dev: true, logger: memoryLogger() });
    const generation = ctx.gw.generation;
    expect(dev.authenticate(generation, credentials("127.0.0.1"))).toMatchObject({ ok: true, caller: { principal: { id: "root", roles: ["admin"] } } });
    expect(dev.authenticate(generation, credentials("::1"))).toMatchObject({ ok: true, caller: { principal: { id: "root" } } });
    expect(dev.authenticate(generation, credentials(undefined))).toMatchObject({ ok: true, caller: { principal: { id: "root" } } });
    expect(dev.authenticate(generation, credentials("192.168.1.20"))).toMatchObject({ ok: false, status: 401, error: { kind: "unauthorized" } });
    // `serve`: the header is nobody.
    expect(await whoOverHttp(ctx.server.url, header)).toBeNull();
  });
});
