// gateway build and gateway serve --from: the example app built into one folder and served from a
// copy of the package without esbuild, with the app's folder, the build and the package mounted
// read-only; a build's modules are one instance each; server settings come from the environment
// at start; a damaged build is refused with a clear message; --out never replaces what is not a build.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGateway } from "../gateway/index.ts";
import { buildApp } from "../gateway/build/write.ts";
import { memoryLogger, rejectionOf, tempApp } from "./helpers/app.ts";
import { PROJECT_DIR, runGateway, startGateway } from "./helpers/cli.ts";
import { request } from "./helpers/http.ts";
import { connectPage } from "./helpers/ws.ts";
import { TODO_APP } from "./helpers/todo-app.ts";

/** Every file and folder under `dir` with its size and modification time (symlinks not followed). */
function snapshot(dir: string): Record<string, string> {
  const seen: Record<string, string> = {};
  const walk = (path: string) => {
    const stats = lstatSync(path);
    seen[path] = `${stats.size}:${stats.mtimeMs}`;
    if (stats.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return seen;
}

describe("the example app, built and served from the build alone", () => {
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "gw-build-"));
    mkdirSync(join(root, "app"));
    for (const part of ["gateway.yaml", "handlers", "schemas", "web"]) cpSync(join(PROJECT_DIR, part), join(root, "app", part), { recursive: true });
    const built = await runGateway(["build", "--config", join(root, "app", "gateway.yaml")]);
    expect(built).toMatchObject({ code: 0, stdout: expect.stringMatching(/: 10 commands, \d+ modules, \d+ validators -> .*\.gateway\/ \(\d+ kB, \d+ ms\)\n$/) });
    // The sources are not needed any more: serve --from must not read them.
    for (const part of ["handlers", "schemas", "web"]) rmSync(join(root, "app", part), { recursive: true });
    // A copy of the package whose node_modules has everything but esbuild.
    const pkg = join(root, "pkg");
    mkdirSync(join(pkg, "node_modules"), { recursive: true });
    for (const part of ["package.json", "bin", "dist"]) cpSync(join(PROJECT_DIR, part), join(pkg, part), { recursive: true });
    for (const name of readdirSync(join(PROJECT_DIR, "node_modules"))) {
      if (name === "esbuild" || name === "@esbuild" || name.startsWith(".")) continue;
      symlinkSync(join(PROJECT_DIR, "node_modules", name), join(pkg, "node_modules", name));
    }
  }, 60_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test("serve --from answers every example command with esbuild unreachable and everything read-only, and writes nothing", async () => {
    const pkg = join(root, "pkg");
    expect(spawnSync(process.execPath, ["-e", 'require.resolve("esbuild")'], { cwd: pkg }).status).not.toBe(0);
    const before = snapshot(join(root, "app"));
    // The app's folder, the build in it and the package: a read-only mount, in a mount namespace of the child's own.
    const readOnly = ["unshare", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', root];
    const running = await startGateway("serve", join(root, "app"), ["--from", ".gateway"], { bin: join(pkg, "bin", "gateway.js"), prefix: readOnly });
    try {
      const call = async (cmd: string, body: unknown) => {
        const bytes = body instanceof Uint8Array;
        const response = await request(`${running.url}/ipc/${cmd}`, {
          method: "POST",
          headers: { "content-type": bytes ? "application/octet-stream" : "application/json" },
          body: bytes ? Buffer.from(body) : JSON.stringify(body),
        });
        return { status: response.status, value: bytes ? [...response.body] : response.json() };
      };
      expect(await call("greet", { name: "Ada" })).toEqual({ status: 200, value: { message: "Hello, Ada!" } });
      expect(await call("greet", { name: "" })).toMatchObject({ status: 422, value: { kind: "invalid-body" } });
      expect(await call("greet", { name: "nobody" })).toEqual({ status: 400, value: "nobody is not a name" });
      expect(await call("shout", "quiet")).toEqual({ status: 200, value: "QUIET" });
      expect(await call("reverse", new Uint8Array([1, 2, 3]))).toEqual({ status: 200, value: [3, 2, 1] });
      expect(await call("save-user", { email: "ada@example.com", name: "Ada" })).toEqual({ status: 200, value: { email: "ada@example.com", name: "Ada" } });
      expect(await call("get-user", { email: "ada@example.com" })).toEqual({ status: 200, value: { email: "ada@example.com", name: "Ada" } });
      expect(await call("divide", { a: 1, b: 4 })).toEqual({ status: 200, value: 0.25 });
      expect(await call("divide", { a: 1, b: 0 })).toEqual({ status: 400, value: { code: "division-by-zero", message: "cannot divide by zero" } });
      expect(await call("add", { a: 2, b: 40 })).toEqual({ status: 200, value: 42 });
      expect(await call("chat-history", {})).toMatchObject({ status: 200 });
      expect(await call("announce", { text: "hi" })).toEqual({ status: 200, value: null });
      // A channel, and an event from the backend, reach a page over its socket.
      const page = await connectPage(running.url);
      try {
        await page.call("plugin:event|listen", { event: "announcement", target: { kind: "Any" }, handler: 5 });
        expect(await page.call("download", { steps: 2, onProgress: "__CHANNEL__:1" })).toMatchObject({ ok: true, value: { steps: 2 } });
        expect(page.frames.filter((f) => f.type === "channel").map((f) => f.index)).toEqual([0, 1]);
        await page.next((f) => f.type === "channel-end" && f.channel === 1);
        expect(await call("announce", { text: "to the page" })).toEqual({ status: 200, value: null });
        await page.next((f) => f.type === "event" && (f.payload as { text?: string }).text === "to the page");
      } finally {
        await page.close();
      }
      // The page (server.static, copied into the build) and the API documents.
      expect((await request(`${running.url}/`, { method: "GET" })).text).toContain("<html");
      expect((await request(`${running.url}/__gateway/openapi.json`, { method: "GET" })).json()).toMatchObject({ openapi: "3.1.0" });
      expect(running.stderr()).not.toMatch(/error|warn/i);
    } finally {
      running.child.kill("SIGTERM");
      await running.exited;
    }
    expect(snapshot(join(root, "app"))).toEqual(before);
  });

  test("a damaged build is refused at start, naming what to do", async () => {
    const copy = join(root, "damaged");
    cpSync(join(root, "app"), copy, { recursive: true });
    const module = join(copy, ".gateway", "modules", "0.js");
    const bytes = readFileSync(module);
    bytes[bytes.length - 2] ^= 0x01;
    writeFileSync(module, bytes);
    const served = await runGateway(["serve", "--from", join(copy, ".gateway"), "--port", "0"]);
    expect(served.code).toBe(1);
    expect(served.stderr).toMatch(/modules\/0\.js \(handlers\/[^)]+\) is damaged: run gateway build again/);

    writeFileSync(join(copy, ".gateway", "build.json"), readFileSync(join(copy, ".gateway", "build.json"), "utf8").replace('"greet"', '"gReet"'));
    const again = await runGateway(["serve", "--from", join(copy, ".gateway"), "--port", "0"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("build.json: it does not match its checksum (damaged); run gateway build again");
  });

  test("serve --from names what is not a build, and refuses --config beside it", async () => {
    const notBuilt = await runGateway(["serve", "--from", join(root, "app"), "--port", "0"]);
    expect(notBuilt.code).toBe(1);
    expect(notBuilt.stderr).toContain("not a gateway build folder (no build.json); gateway build writes one");
    const both = await runGateway(["serve", "--from", join(root, "app", ".gateway"), "--config", "gateway.yaml"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("give --from or --config, not both");
  });
});

describe("what a build holds", () => {
  test("two handlers share one instance of a helper, served from a build", async () => {
    const app = tempApp(TODO_APP);
    try {
      const built = await buildApp(app.path("gateway.yaml"), app.path(".gateway"));
      expect(built).toMatchObject({ ok: true, summary: { commands: 3, modules: 4 } });
      const gw = await createGateway({ from: app.path(".gateway"), logger: memoryLogger() });
      try {
        expect(await gw.invoke("add-todo", { text: "one" })).toBe(1);
        expect(await gw.invoke("add-todo", { text: "two" })).toBe(2);
        expect(await gw.invoke("list-todos")).toEqual([
          { id: 1, text: "one" },
          { id: 2, text: "two" },
        ]);
      } finally {
        await gw.close();
      }
    } finally {
      app.remove();
    }
  });

  test("server settings are read at start, with the environment of the start; the rest is as built", async () => {
    const app = tempApp({
      "gateway.yaml": "version: 1\nserver:\n  token: ${TOKEN}\ncommands:\n  hello:\n    handler: handlers/hello.ts\n    timeout: ${T:-2s}\n",
      "handlers/hello.ts": 'export default () => "hello";\n',
    });
    try {
      expect((await buildApp(app.path("gateway.yaml"), app.path(".gateway"), { TOKEN: "at-build", T: "5s" })).ok).toBe(true);
      const gw = await createGateway({ from: app.path(".gateway"), env: { TOKEN: "at-start" }, logger: memoryLogger() });
      try {
        expect(gw.generation.settings.token).toBe("at-start");
        expect(gw.generation.commands.get("hello")!.timeoutMs).toBe(5000);
        const { url } = await gw.listen({ port: 0 });
        const call = (token: string) => request(`${url}/ipc/hello`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
        expect((await call("at-start")).status).toBe(200);
        expect((await call("at-build")).status).toBe(401);
      } finally {
        await gw.close();
      }
      expect(await rejectionOf(createGateway({ from: app.path(".gateway"), env: {}, logger: memoryLogger() }))).toMatchObject({
        problems: [expect.objectContaining({ message: expect.stringContaining("environment variable TOKEN is not set") })],
      });
    } finally {
      app.remove();
    }
  });

  test("--out replaces an earlier build whole, and never a folder that is not one; a broken app leaves the last build", async () => {
    const app = tempApp({ ...TODO_APP, "other/keep.txt": "mine" });
    try {
      expect((await buildApp(app.path("gateway.yaml"), app.path("other"))).ok).toBe(false);
      expect(readFileSync(app.path("other/keep.txt"), "utf8")).toBe("mine");
      expect(await buildApp(app.path("gateway.yaml"), app.dir)).toMatchObject({ ok: false, problems: [{ message: expect.stringContaining("would hold the app itself") }] });

      expect((await buildApp(app.path("gateway.yaml"), app.path("out"))).ok).toBe(true);
      const first = readFileSync(app.path("out/build.json"), "utf8");
      app.write("handlers/ping.ts", "export default () => { return ; \n");
      expect((await buildApp(app.path("gateway.yaml"), app.path("out"))).ok).toBe(false);
      expect(readFileSync(app.path("out/build.json"), "utf8")).toBe(first);
      app.write("handlers/ping.ts", 'export default () => "pong v2";\n');
      expect((await buildApp(app.path("gateway.yaml"), app.path("out"))).ok).toBe(true);
      expect(readdirSync(app.dir).filter((name) => name.startsWith("out"))).toEqual(["out"]);
      const gw = await createGateway({ from: app.path("out"), logger: memoryLogger() });
      try {
        expect(await gw.invoke("ping")).toBe("pong v2");
      } finally {
        await gw.close();
      }
      expect(existsSync(app.path("out/static"))).toBe(false);
    } finally {
      app.remove();
    }
  });
});
