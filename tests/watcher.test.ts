// The watcher of `gateway dev` under real editor and git workflows (issue 17): a folder removed
// and put back, a file deleted and re-created, renamed, or replaced by an atomic save, a file
// looked for before it exists (in a folder that does not exist yet), and the system's limit on
// watches reached. Real files in temp folders, the real watcher; each change is followed by a
// normal call that must succeed.
import { afterEach, describe, expect, test } from "@jest/globals";
import { cpSync, mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { gatewayFor, memoryLogger, tempApp, type TempApp } from "./helpers/app.ts";
import { devGateway as startDev, type DevGateway, type Outcome } from "./helpers/dev.ts";
import { GATEWAY_BIN } from "./helpers/cli.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { logStrayErrors } from "../gateway/runtime/stray-errors.ts";

const BASE = {
  "gateway.yaml": `
version: 1
discover:
  handlers: handlers
commands:
  double:
    handler: handlers/_double.ts
`,
  "handlers/hello.ts": 'export default () => "v1";\n',
  "handlers/_double.ts": 'import { times } from "./lib/math.ts";\nexport default ({ body }: { body: { n: number } }) => times(body.n);\n',
  "handlers/lib/math.ts": "export const times = (n: number) => n * 2;\n",
  "handlers/NOTES.md": "not a handler\n",
};

type Dev = DevGateway & {
  /** The next reload or error (fails after `patienceMs` without one). */
  next(): Promise<Outcome>;
  /** Waits, reload or error after reload or error, until `check` holds (fails after `patienceMs` without one). */
  until(what: string, check: () => boolean | Promise<boolean>): Promise<void>;
  /** Until `cmd` answers `expected` (a value, or the kind of the rejection): states on the way are served too. */
  answers(cmd: string, expected: unknown, body?: unknown): Promise<void>;
  /** Until the app is broken with a mistake matching `mistake`. */
  broken(mistake: RegExp): Promise<void>;
};
let dev: Dev | undefined;

/** A gateway in watch mode over a temp app. */
async function devGateway(files: Record<string, string> = BASE, patienceMs = 5000): Promise<Dev> {
  const ctx = await startDev(files);
  const next = () => ctx.next(patienceMs);
  const until = async (what: string, check: () => boolean | Promise<boolean>) => {
    while (!(await check())) {
      await next().catch((error: Error) => {
        throw new Error(`${error.message}: still not ${what} (last error: ${ctx.gw.lastError})`);
      });
    }
  };
  const answer = async (cmd: string, body?: unknown) => {
    try {
      return await ctx.gw.invoke(cmd, body);
    } catch (error) {
      return { rejected: (error as { kind?: unknown }).kind };
    }
  };
  dev = {
    ...ctx,
    next,
    until,
    answers: (cmd, expected, body) => until(`"${cmd}" answering ${JSON.stringify(expected)}`, async () => JSON.stringify(await answer(cmd, body)) === JSON.stringify(expected)),
    broken: (mistake) => until(`broken with ${mistake}`, () => mistake.test(ctx.gw.lastError ?? "")),
  };
  return dev;
}

/** What `answers` compares a rejection with. */
const rejected = (kind: string) => ({ rejected: kind });

afterEach(async () => {
  await dev?.close();
  dev = undefined;
});

/** An atomic save, as editors' "safe write" does it: a temp file beside the target, renamed over it. */
function atomicWrite(app: TempApp, relative: string, content: string, temp = `${relative}.tmp-${process.pid}`): void {
  writeFileSync(app.path(temp), content);
  renameSync(app.path(temp), app.path(relative));
}

describe("1. a folder removed and put back: what it holds then is served, and every edit after", () => {
  test("rm -r handlers && cp -r backup handlers", async () => {
    const { app, answers, broken } = await devGateway();
    cpSync(app.path("handlers"), app.path("backup"), { recursive: true });
    writeFileSync(app.path("backup/hello.ts"), 'export default () => "restored";\n');
    writeFileSync(app.path("backup/lib/math.ts"), "export const times = (n: number) => n * 3;\n");

    rmSync(app.path("handlers"), { recursive: true });
    await broken(/not found/);
    cpSync(app.path("backup"), app.path("handlers"), { recursive: true });
    await answers("hello", "restored");
    await answers("double", 6, { n: 2 });

    app.write("handlers/hello.ts", 'export default () => "edited after";\n');
    await answers("hello", "edited after");
    app.write("handlers/lib/math.ts", "export const times = (n: number) => n * 4;\n");
    await answers("double", 8, { n: 2 });
  });

  test("a folder swapped by renames (mv handlers old && mv backup handlers): the new one is served, and edits in it, its subfolder too", async () => {
    const { app, answers } = await devGateway();
    cpSync(app.path("handlers"), app.path("backup"), { recursive: true });
    writeFileSync(app.path("backup/hello.ts"), 'export default () => "swapped in";\n');

    renameSync(app.path("handlers"), app.path("old"));
    renameSync(app.path("backup"), app.path("handlers"));
    await answers("hello", "swapped in");

    app.write("handlers/lib/math.ts", "export const times = (n: number) => n * 5;\n");
    await answers("double", 10, { n: 2 });
    app.write("handlers/hello.ts", 'export default () => "edited after";\n');
    await answers("hello", "edited after");
  });

  test("git checkout of a branch without the helper folder, and back; git stash and stash pop", async () => {
    const { gw, app, answers, broken, until } = await devGateway();
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: app.dir, stdio: "pipe" });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "v1");
    git("checkout", "-q", "-b", "no-lib");
    git("rm", "-q", "-r", "handlers/lib");
    writeFileSync(app.path("handlers/_double.ts"), "export default ({ body }: { body: { n: number } }) => body.n * 10;\n");
    git("commit", "-q", "-am", "no lib");
    await answers("double", 20, { n: 2 });

    git("checkout", "-q", "main"); // handlers/lib comes back
    await answers("double", 4, { n: 2 });
    app.write("handlers/lib/math.ts", "export const times = (n: number) => n * 7;\n");
    await answers("double", 14, { n: 2 });

    // A stash takes the edits away, a pop brings them back.
    git("stash", "-q");
    await answers("double", 4, { n: 2 });
    git("stash", "pop", "-q");
    await answers("double", 14, { n: 2 });
    git("commit", "-q", "-am", "times 7");

    git("checkout", "-q", "no-lib"); // the folder goes again, and comes back
    await answers("double", 20, { n: 2 });
    git("checkout", "-q", "main");
    await answers("double", 14, { n: 2 });
    rmSync(app.path("handlers/lib"), { recursive: true });
    await broken(/lib\/math\.ts/);
    git("checkout", "-q", "--", "handlers/lib");
    await until("fixed", () => gw.lastError === null);
    expect(await gw.invoke("double", { n: 2 })).toBe(14);
  });
});

describe("2. a file deleted, then created again after a broken edit", () => {
  test("a discovered handler", async () => {
    const { gw, app, answers, broken } = await devGateway();
    app.write("handlers/hello.ts", "export default () => {\n");
    await broken(/hello\.ts/);
    unlinkSync(app.path("handlers/hello.ts"));
    await answers("hello", rejected("unknown-command"));
    expect(gw.lastError).toBeNull();
    app.write("handlers/hello.ts", 'export default () => "back";\n');
    await answers("hello", "back");
    app.write("handlers/hello.ts", 'export default () => "again";\n');
    await answers("hello", "again");
  });

  test("a handler the manifest names", async () => {
    const { app, answers, broken } = await devGateway();
    app.write("handlers/_double.ts", "export default (\n");
    await broken(/_double\.ts/);
    unlinkSync(app.path("handlers/_double.ts"));
    await broken(/handler file not found: handlers\/_double\.ts/);
    app.write("handlers/_double.ts", "export default ({ body }: { body: { n: number } }) => body.n * 5;\n");
    await answers("double", 10, { n: 2 });
    app.write("handlers/_double.ts", "export default ({ body }: { body: { n: number } }) => body.n * 6;\n");
    await answers("double", 12, { n: 2 });
  });
});

describe("3. renames and atomic saves, each time", () => {
  test("atomic saves of a handler, a helper and the manifest (temp file renamed over the target)", async () => {
    const { gw, app, answers } = await devGateway();
    for (let i = 1; i <= 3; i++) {
      atomicWrite(app, "handlers/hello.ts", `export default () => "atomic ${i}";\n`);
      await answers("hello", `atomic ${i}`);
      atomicWrite(app, "handlers/lib/math.ts", `export const times = (n: number) => n * ${10 + i};\n`, `handlers/lib/math.ts___jb_tmp___`);
      await answers("double", 10 + i, { n: 1 });
      atomicWrite(app, "gateway.yaml", `${BASE["gateway.yaml"]}  alias-${i}:\n    handler: handlers/_double.ts\n`);
      await answers(`alias-${i}`, 10 + i, { n: 1 });
    }
    expect(await gw.invoke("double", { n: 2 })).toBe(26);
    expect(await gw.invoke("hello")).toBe("atomic 3");
    // Format-on-save with a safe write: a second atomic save right after the first.
    atomicWrite(app, "handlers/hello.ts", 'export default () => "first";\n');
    atomicWrite(app, "handlers/hello.ts", 'export default () => "formatted";\n');
    await answers("hello", "formatted");
  });

  test("an editor's swap file (created, then gone) and an edit of a file no build reads start no build", async () => {
    const { app, next } = await devGateway();
    writeFileSync(app.path("handlers/.hello.ts.swp"), "swap");
    unlinkSync(app.path("handlers/.hello.ts.swp"));
    app.write("handlers/NOTES.md", "still not a handler\n");
    await new Promise((r) => setTimeout(r, 50)); // apart from the edit below, so a build for them would come first
    app.write("handlers/hello.ts", 'export default () => "v2";\n');
    expect(await next()).toMatchObject({ kind: "reload", payload: { generation: 2, changed: ["handlers/hello.ts"] } });
  });

  test("vim's save without backupcopy (rename the file away, write a new one, delete the old)", async () => {
    const { app, answers } = await devGateway();
    for (let i = 1; i <= 3; i++) {
      renameSync(app.path("handlers/lib/math.ts"), app.path("handlers/lib/math.ts~"));
      writeFileSync(app.path("handlers/lib/math.ts"), `export const times = (n: number) => n * ${20 + i};\n`);
      unlinkSync(app.path("handlers/lib/math.ts~"));
      await answers("double", 20 + i, { n: 1 });
    }
  });

  test("a handler renamed and renamed back, then edited; a helper folder renamed and back, then edited", async () => {
    const { gw, app, answers, broken, until } = await devGateway();
    renameSync(app.path("handlers/hello.ts"), app.path("handlers/hi.ts"));
    await answers("hi", "v1");
    await answers("hello", rejected("unknown-command"));
    renameSync(app.path("handlers/hi.ts"), app.path("handlers/hello.ts"));
    await answers("hello", "v1");
    app.write("handlers/hello.ts", 'export default () => "renamed back, edited";\n');
    await answers("hello", "renamed back, edited");

    renameSync(app.path("handlers/lib"), app.path("handlers/lib-moved"));
    await broken(/lib\/math\.ts/);
    renameSync(app.path("handlers/lib-moved"), app.path("handlers/lib"));
    await until("fixed", () => gw.lastError === null);
    expect(await gw.invoke("double", { n: 2 })).toBe(4);
    app.write("handlers/lib/math.ts", "export const times = (n: number) => n * 9;\n");
    await answers("double", 18, { n: 2 });
  });
});

describe("4. a file the failed attempt looked for is picked up when it is created", () => {
  test("a handler the manifest names, in folders that do not exist yet (created one by one)", async () => {
    const { app, answers, broken } = await devGateway();
    app.write("gateway.yaml", `${BASE["gateway.yaml"]}  later:\n    handler: src/later/thing.ts\n`);
    await broken(/handler file not found: src\/later\/thing\.ts/);
    mkdirSync(app.path("src"));
    await new Promise((r) => setTimeout(r, 30)); // spacing, so that each folder is seen appearing on its own
    mkdirSync(app.path("src/later"));
    await new Promise((r) => setTimeout(r, 30));
    writeFileSync(app.path("src/later/thing.ts"), 'export default () => "later";\n');
    await answers("later", "later");
    app.write("src/later/thing.ts", 'export default () => "later, edited";\n');
    await answers("later", "later, edited");
  });

  test("a schema file a $ref names, created with its folders at once", async () => {
    const files = {
      ...BASE,
      "gateway.yaml": `${BASE["gateway.yaml"]}    body: schemas/double.json\n`,
      "schemas/double.json": JSON.stringify({ type: "object", properties: { n: { type: "number" } }, required: ["n"] }),
    };
    const { gw, app, answers, broken } = await devGateway(files);
    app.write("schemas/double.json", JSON.stringify({ type: "object", properties: { n: { $ref: "../shared/defs/number.json" } }, required: ["n"] }));
    await broken(/number\.json/);
    app.write("shared/defs/number.json", JSON.stringify({ type: "integer", maximum: 5 }));
    await answers("double", rejected("invalid-body"), { n: 6 });
    expect(await gw.invoke("double", { n: 5 })).toBe(10);
    app.write("shared/defs/number.json", JSON.stringify({ type: "integer", maximum: 50 }));
    await answers("double", 12, { n: 6 });
  });

  test("a helper a handler imports, in a folder that does not exist yet (created first, the file after)", async () => {
    const { app, answers, broken } = await devGateway(BASE, 1500);
    app.write("handlers/_double.ts", 'import { times } from "./extra/more.ts";\nexport default ({ body }: { body: { n: number } }) => times(body.n);\n');
    await broken(/extra\/more\.ts/);
    mkdirSync(app.path("handlers/extra"));
    await new Promise((r) => setTimeout(r, 30));
    writeFileSync(app.path("handlers/extra/more.ts"), "export const times = (n: number) => n * 100;\n");
    await answers("double", 200, { n: 2 });
  });
});

describe("5. the system's limit on watches reached", () => {
  // inotify limits are per user namespace: a child `gateway dev` in its own namespace gets a tiny
  // limit without changing the machine's (only /proc/sys/user/* of the new namespace is written).
  const canLimit = spawnSync("unshare", ["--user", "--map-root-user", "sh", "-c", "echo 2 > /proc/sys/user/max_inotify_watches"]).status === 0;
  let child: ChildProcess | undefined;
  let app: TempApp | undefined;
  afterEach(() => {
    child?.kill("SIGKILL");
    child = undefined;
    app?.remove();
    app = undefined;
  });

  (canLimit ? test : test.skip)("gateway dev says so once, with the fix, polls what it cannot watch, and edits there are still reloaded", async () => {
    const files: Record<string, string> = { ...BASE };
    for (let i = 0; i < 20; i++) files[`handlers/h-${i}.ts`] = `export default () => ${i};\n`;
    app = tempApp(files);
    // Two watches: the app's folder and handlers/; handlers/lib is polled.
    child = spawn("unshare", ["--user", "--map-root-user", "sh", "-c", 'echo 2 > /proc/sys/user/max_inotify_watches && exec "$0" "$@"', process.execPath, GATEWAY_BIN, "dev", "--port", "0"], {
      cwd: app.dir,
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
    const until = async <T>(what: string, found: () => T | undefined | Promise<T | undefined>): Promise<T> => {
      for (let waited = 0; ; waited += 25) {
        const value = await found();
        if (value !== undefined) return value;
        if (waited > 10_000) throw new Error(`${what} never happened; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const url = await until("listening", () => /gateway listening on (http:\S+)/.exec(stdout)?.[1]);
    const call = async (cmd: string, body: unknown = {}) => (await invokeJson(url, cmd, body)).json();
    const answers = (cmd: string, expected: unknown, body?: unknown) =>
      until(`"${cmd}" answering ${JSON.stringify(expected)}`, async () => (JSON.stringify(await call(cmd, body)) === JSON.stringify(expected) ? true : undefined));

    await until("the limit message", () => (/max_user_watches/.test(stderr) ? true : undefined));
    expect(stderr).toMatch(/the system's limit on file watches is reached \(fs\.inotify\.max_user_watches = 2, .*1 folder is polled instead/);
    expect(stderr).toMatch(/sudo sysctl fs\.inotify\.max_user_watches=\d+/);
    expect(stderr).toMatch(/\/etc\/sysctl\.d\//);
    expect(await call("h-7")).toBe(7);

    // An edit in the polled folder, then in a watched one.
    app.write("handlers/lib/math.ts", "export const times = (n: number) => n * 3;\n");
    await answers("double", 6, { n: 2 });
    app.write("handlers/h-19.ts", 'export default () => "nineteen";\n');
    await answers("h-19", "nineteen");
    atomicWrite(app, "handlers/lib/math.ts", "export const times = (n: number) => n * 4;\n");
    await answers("double", 8, { n: 2 });

    expect(stderr.match(/max_user_watches = /g)).toHaveLength(1); // said once
    expect(stderr).not.toMatch(/unhandled|uncaught|from command/);
    expect((await request(`${url}/__gateway/health`, { method: "GET" })).json()).toMatchObject({ ok: true, lastError: null });
  });
});

test("a stray error whose message names a handler's file is not blamed on its command (only stack frames count)", async () => {
  const { gw, app, close } = await gatewayFor(BASE);
  const logger = memoryLogger();
  const uninstall = logStrayErrors(() => gw.generation, logger);
  try {
    const error = new Error(`ENOSPC: System limit for number of file watchers reached, watch '${app.path("handlers/hello.ts")}'`);
    process.emit("unhandledRejection", error, Promise.resolve());
    expect(logger.lines).toEqual(["gateway: an unhandled promise rejection; still serving"]);
    expect(await gw.invoke("hello")).toBe("v1");
  } finally {
    uninstall();
    await close();
  }
});
