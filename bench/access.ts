// What identity and capabilities cost (issue 19): the example app's `greet` called with a JWT
// principal, three capabilities and a rate limit, against the same app without them; in-process
// and over HTTP (autocannon against `gateway serve` child processes), same run, alternating rounds. Target: at most 5% slower. A verified
// token is remembered until it expires and a capability decision is cached per caller, so the
// cost per call is a few Map lookups and one bucket update.
import { rmSync, writeFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import { createGateway } from "../gateway/index.ts";
import { measureRate, type Figure } from "./measure.ts";
import { greetRound, pairedRounds, startGateway, stopQuietly, type Server } from "./http.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EXAMPLE = `${ROOT}gateway.yaml`;
/** Beside the example manifest: its relative paths (handlers/, schemas/) must resolve the same. */
const WITH_ACCESS = `${ROOT}.bench-access.gateway.yaml`;
const SECRET = "bench-secret-that-is-at-least-32-bytes-long";
const BODY = { name: "Ada" };

/** The example manifest with auth:, three capabilities and a limit no call reaches. */
function accessManifest(): string {
  const example = readFileSync(EXAMPLE, "utf8").replace(/^\s*token: .*$/m, "");
  return `${example}
auth:
  jwt:
    secret: ${SECRET}
capabilities:
  viewers:
    principals: [role:viewer]
    commands: { allow: [greet, shout], deny: [reverse] }
  editors:
    principals: [role:editor]
    commands: { allow: ["*"] }
    events: { listen: [announcement] }
  scripts:
    principals: [anonymous]
    commands: { allow: [add] }
limits:
  everyone: { commands: ["*"], per: principal, rate: 100000000/s }
`;
}

export async function benchAccess(): Promise<Figure[]> {
  writeFileSync(WITH_ACCESS, accessManifest());
  const token = await new SignJWT({ roles: ["viewer"] }).setProtectedHeader({ alg: "HS256" }).setSubject("ada").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
  const headers = { authorization: `Bearer ${token}` };
  const plain = await createGateway({ config: EXAMPLE, cacheDir: false, env: {} });
  const guarded = await createGateway({ config: WITH_ACCESS, cacheDir: false, env: {} });
  try {
    // Both answer, and the guarded one really checks: a bad token is refused, another command denied.
    await plain.invoke("greet", BODY);
    const who = await guarded.invoke("greet", BODY, { headers });
    if ((who as { message?: string }).message !== "Hello, Ada!") throw new Error(`access bench: greet answered ${JSON.stringify(who)}`);
    const refused = await guarded.invoke("greet", BODY, { headers: { authorization: "Bearer x.y.z" } }).then(() => "ok", (e: { kind?: string }) => e.kind);
    const denied = await guarded.invoke("reverse", new Uint8Array(1), { headers }).then(() => "ok", (e: { kind?: string }) => e.kind);
    if (refused !== "unauthorized" || denied !== "forbidden") throw new Error(`access bench: expected unauthorized and forbidden, got ${refused} and ${denied}`);

    const rates = await measureRate({
      none: () => plain.invoke("greet", BODY),
      access: () => guarded.invoke("greet", BODY, { headers }),
    });
    const http = await httpRates(headers);
    const inProcessRatio = rates.access / rates.none;
    return [
      { name: "access: in-process greet, no access (median)", value: rates.none, unit: "calls/s" },
      { name: "access: in-process greet, JWT + 3 capabilities + a limit", value: rates.access, unit: "calls/s" },
      { name: "access: in-process with / without", value: inProcessRatio, unit: "ratio", target: ">= 0.95", pass: inProcessRatio >= 0.95 },
      { name: "access: http greet, no access (median)", value: http.none.rate, unit: "req/s" },
      { name: "access: http greet, JWT + 3 capabilities + a limit", value: http.access.rate, unit: "req/s" },
      { name: "access: http with / without (median of paired rounds)", value: http.ratio, unit: "ratio", target: ">= 0.95", pass: http.ratio >= 0.95 },
      { name: "access: http server CPU per call, no access (median)", value: http.none.cpuUsPerCall, unit: "µs" },
      { name: "access: http server CPU per call, JWT + 3 capabilities + a limit", value: http.access.cpuUsPerCall, unit: "µs" },
      { name: "access: http CPU per call without / with (median of paired rounds)", value: http.cpuRatio, unit: "ratio" },
    ];
  } finally {
    await Promise.all([plain.close(), guarded.close()]);
    rmSync(WITH_ACCESS, { force: true });
  }
}

/**
 * Both gateways served by `gateway serve` in child processes of their own (as bench/http.ts does),
 * so that autocannon's cost of sending the Authorization header is not counted as the gateway's;
 * autocannon takes turns on them (10 rounds of 2 s each).
 */
async function httpRates(headers: Record<string, string>) {
  const started = await Promise.allSettled([startGateway("gateway.yaml", "plain"), startGateway(".bench-access.gateway.yaml", "access")]);
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [plain, guarded] = servers as [Server, Server];
    const rounds = await pairedRounds(() => greetRound(plain), () => greetRound(guarded, headers));
    return { none: rounds.a, access: rounds.b, ratio: rounds.rateRatio, cpuRatio: rounds.cpuRatio };
  } finally {
    await Promise.all(servers.map(stopQuietly));
  }
}
