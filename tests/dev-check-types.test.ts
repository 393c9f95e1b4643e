// gateway dev says where things are: the dev console's address beside the listening line, and with
// --check-types (createGateway's checkTypes) the handlers type-checked against their schemas in the
// background after every good build: findings in the log, in /__gateway/health, as the
// gateway://type-check event and through onProblems (source "types").
import { afterEach, expect, test } from "@jest/globals";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createGateway, type Gateway, type ProblemReport } from "../gateway/index.ts";
import { memoryLogger, tempApp, type TempApp } from "./helpers/app.ts";
import { PROJECT_DIR, startGateway, type RunningGateway } from "./helpers/cli.ts";
import { request } from "./helpers/http.ts";

/** Under the repo (.tmp/ is ignored by git): the app finds `typescript` and `ipc-gateway` as an installed app would. */
const TMP = join(PROJECT_DIR, ".tmp");

/** A type check of a handler starts a thread and TypeScript: seconds on a busy machine. */
const CHECK_MS = 60_000;

let app: TempApp | undefined;
let running: RunningGateway | undefined;
let gateway: Gateway | undefined;
afterEach(async () => {
  running?.kill();
  await running?.exited;
  await gateway?.close({ drainMs: 0 });
  app?.remove();
  app = running = gateway = undefined;
});

const MANIFEST = `version: 1
commands:
  greet:
    handler: handlers/greet.ts
    body: { type: object, properties: { name: { type: string } }, required: [name], additionalProperties: false }
    returns: { type: object, properties: { message: { type: string } }, required: [message], additionalProperties: false }
`;

const MISTYPED = `import type { Invoke } from "ipc-gateway";

export default function greet({ body }: Invoke<{ name: string }>) {
  return { message: body.name.length };
}
`;

const FIXED = MISTYPED.replace("body.name.length", "`Hello, ${body.name}!`");

/** In the repo's .tmp/, or in the system's temp folder (no typescript above it). */
function typedApp(where: "repo" | "system" = "repo"): TempApp {
  const files = { "gateway.yaml": MANIFEST, "handlers/greet.ts": MISTYPED };
  if (where === "system") return (app = tempApp(files));
  mkdirSync(TMP, { recursive: true });
  return (app = tempApp(files, TMP));
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = CHECK_MS): Promise<T> {
  for (let waited = 0; ; waited += 50) {
    const value = await probe();
    if (value !== undefined) return value;
    if (waited > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const health = async (url: string) => (await request(`${url}/__gateway/health`, { method: "GET" })).json();

test(
  "gateway dev --check-types: the console's address after the listening line; a mistyped handler's finding in the log and health, then all match once it is fixed",
  async () => {
    const a = typedApp();
    running = await startGateway("dev", a.dir, ["--check-types"]);
    const { url } = running;
    await until("the console line", () => (running!.lines.length >= 2 ? true : undefined), 5000);
    expect(running.lines).toEqual([`gateway listening on ${url}`, `gateway dev console: ${url}/__gateway/`]);
    expect((await request(`${url}/__gateway/`, { method: "GET" })).status).toBe(200);

    const finding = await running.waitForLog(/^gateway: type check: handlers\/greet\.ts:4:\d+: /, CHECK_MS);
    expect(finding.level).toBe(40); // warn
    expect(finding.msg).toMatch(/returns a value its returns schema does not allow: Type 'number' is not assignable to type 'string'/);
    const broken = await health(url);
    expect(broken.ok).toBe(true); // about serving: the app builds and answers
    expect(broken.typeCheck).toEqual({
      ok: false,
      checked: 1,
      problems: [{ file: "handlers/greet.ts", line: 4, column: expect.any(Number), message: expect.stringMatching(/not assignable to type 'string'/) }],
    });

    a.write("handlers/greet.ts", FIXED);
    const fixed = await running.waitForLog(/^gateway: type check: all 1 TypeScript handlers match their schemas \(TypeScript 5\./, CHECK_MS);
    expect(fixed.level).toBe(30); // info
    expect((await health(url)).typeCheck).toEqual({ ok: true, checked: 1, problems: [] });
  },
  CHECK_MS * 3,
);

test("gateway dev without --check-types checks nothing: no typeCheck in health, no type check lines", async () => {
  const a = typedApp();
  running = await startGateway("dev", a.dir);
  await until("the console line", () => (running!.lines.length >= 2 ? true : undefined), 5000);
  expect(running.lines[1]).toBe(`gateway dev console: ${running.url}/__gateway/`);
  expect((await health(running.url)).typeCheck).toBeUndefined();
  expect(running.stderr()).not.toMatch(/type check/);
});

test(
  "createGateway({ checkTypes }): onProblems hears source types (absolute paths, none once fixed), the console hears gateway://type-check",
  async () => {
    const a = typedApp();
    const reports: ProblemReport[] = [];
    const logger = memoryLogger();
    gateway = await createGateway({ config: a.path("gateway.yaml"), watch: true, checkTypes: true, logger, onProblems: (r) => reports.push(r) });
    const events: unknown[] = [];
    gateway.app.listen("gateway://type-check", (event) => void events.push(event.payload));
    await gateway.watching;
    // Serving does not wait for the check (the value is checked against the returns schema: refused).
    await expect(gateway.invoke("greet", { name: "ada" })).rejects.toBeDefined();
    expect(reports.filter((r) => r.source === "types")).toEqual([]);

    const first = await until("a types report", () => reports.find((r) => r.source === "types"));
    expect(first.problems).toEqual([{ file: a.path("handlers/greet.ts"), line: 4, col: expect.any(Number), message: expect.stringMatching(/not assignable to type 'string'/) }]);
    await until("the event", () => events[0]);
    expect(events[0]).toEqual({ ok: false, checked: 1, problems: [{ file: "handlers/greet.ts", line: 4, column: first.problems[0]!.col, message: first.problems[0]!.message }] });
    expect(logger.lines.filter((l) => l.startsWith("gateway: type check: "))).toEqual([`gateway: type check: handlers/greet.ts:4:${first.problems[0]!.col}: ${first.problems[0]!.message}`]);

    a.write("handlers/greet.ts", FIXED);
    const cleared = await until("an empty types report", () => reports.find((r) => r.source === "types" && r.problems.length === 0));
    expect(cleared.problems).toEqual([]);
    await until("the event", () => events[1]);
    expect(events[1]).toEqual({ ok: true, checked: 1, problems: [] });
    expect(logger.lines.filter((l) => l.startsWith("gateway: type check: all 1 TypeScript handlers match"))).toHaveLength(1);
  },
  CHECK_MS * 3,
);

test(
  "a reload while a check runs supersedes it: the stale result is dropped, the newest files' is the one reported",
  async () => {
    const a = typedApp();
    const reports: ProblemReport[] = [];
    gateway = await createGateway({ config: a.path("gateway.yaml"), watch: true, checkTypes: true, logger: memoryLogger(), onProblems: (r) => reports.push(r) });
    await gateway.watching;
    // The first check (of the mistyped handler) takes seconds: the fix reloads long before it ends.
    const reloaded = new Promise((resolve) => gateway!.app.once("gateway://reload", resolve));
    a.write("handlers/greet.ts", FIXED);
    await reloaded;
    await until("a types report", () => reports.find((r) => r.source === "types"));
    // Mistyped again: checks run one at a time, so once this one is reported every earlier one was too.
    a.write("handlers/greet.ts", MISTYPED);
    await until("a report with the problem", () => reports.find((r) => r.source === "types" && r.problems.length > 0));
    // The first check's result (whichever version of the file it read) was never reported.
    expect(reports.filter((r) => r.source === "types").map((r) => r.problems.length)).toEqual([0, 1]);
  },
  CHECK_MS * 2,
);

test(
  "createGateway({ checkTypes }) in an app without TypeScript: one warning, once, and no check after a reload",
  async () => {
    const a = typedApp("system");
    const logger = memoryLogger();
    gateway = await createGateway({ config: a.path("gateway.yaml"), watch: true, checkTypes: true, logger });
    await gateway.watching;
    const warning = /^gateway: handlers are not type-checked: TypeScript is not installed where .* can find it \(npm install --save-dev typescript, then restart\)$/;
    await until("the warning", () => logger.lines.find((l) => warning.test(l)));
    const reloaded = new Promise((resolve) => gateway!.app.once("gateway://reload", resolve));
    a.write("handlers/greet.ts", FIXED);
    await reloaded;
    await new Promise((r) => setTimeout(r, 500));
    expect(logger.lines.filter((l) => warning.test(l))).toHaveLength(1);
    expect(logger.lines.filter((l) => l.startsWith("gateway: type check"))).toEqual([]);
  },
  CHECK_MS * 2,
);

test("createGateway({ from, checkTypes }): refused, a build folder has no handler sources", async () => {
  await expect(createGateway({ from: "/nonexistent", checkTypes: true })).rejects.toThrow(/no handler sources to type-check/);
});
