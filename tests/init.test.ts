// `gateway init` through the real bin, then the new app as a user gets it: installed from the
// project's packed tarball (its other dependencies from npm's cache), type-checked with its own
// `npm run typecheck`, started with its own `npm start` and called over HTTP.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GATEWAY_BIN, PROJECT_DIR, runGateway, type CliResult } from "./helpers/cli.ts";
import { invokeJson, request } from "./helpers/http.ts";
import { packProject } from "./helpers/pack.ts";

const VERSION = (JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")) as { version: string }).version;
const FILES = [
  "package.json",
  "gateway.yaml",
  "handlers/greet.ts",
  "schemas/greet.body.json",
  "schemas/greet.returns.json",
  "web/index.html",
  "web/main.ts",
  "tsconfig.json",
  ".gitignore",
];
/** Child processes get a plain environment: no jest's --experimental-vm-modules. */
const ENV = { ...process.env, NODE_OPTIONS: "" };

let tmp: string;
let app: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "gw-init-"));
  app = join(tmp, "my-app");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function npm(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("npm", args, { cwd, env: ENV, timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, output: stdout + stderr }),
    );
  });
}

describe("gateway init", () => {
  test("creates the app, prints what it created and what to do next", async () => {
    const result = await runGateway(["init", "my-app"], { cwd: tmp });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe(
      `Created an ipc-gateway app in my-app:\n${FILES.map((f) => `  ${f}\n`).join("")}\nNext:\n  cd my-app && npm install && npm start\nthen open http://127.0.0.1:1430. Add a command with: npx gateway new <name>\n`,
    );
    for (const file of FILES) expect(existsSync(join(app, file))).toBe(true);

    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    expect(pkg).toMatchObject({
      name: "my-app",
      private: true,
      type: "module",
      scripts: { start: "gateway dev", serve: "gateway serve", check: "gateway check", typecheck: "tsc --noEmit" },
      dependencies: { "ipc-gateway": `^${VERSION}`, "@tauri-apps/api": "^2" },
      devDependencies: { typescript: "~5.9", "@types/node": "^20" },
    });
    expect(pkg.devDependencies.esbuild).toMatch(/^[~^]?0\.\d+/);
    expect(pkg.scripts.prestart).toMatch(/esbuild|npm run build/);
    expect(pkg.scripts.build).toContain("esbuild web/main.ts --bundle");

    const manifest = readFileSync(join(app, "gateway.yaml"), "utf8");
    expect(manifest).toMatch(/^# /); // commented
    expect(manifest).toMatch(/\ndiscover: .*\n {2}handlers: handlers +#.*\n {2}schemas: schemas +#/);
    expect(manifest).toMatch(/\n {2}static: web\b/);
    expect(manifest).toContain("  greet:\n    handler: handlers/greet.ts\n    body: schemas/greet.body.json\n    returns: schemas/greet.returns.json\n");
    expect(readFileSync(join(app, "handlers/greet.ts"), "utf8")).toContain('import { InvokeError, type Invoke } from "ipc-gateway";');
    expect(readFileSync(join(app, "web/main.ts"), "utf8")).toContain('import { invoke } from "@tauri-apps/api/core";');
    expect(readFileSync(join(app, "web/index.html"), "utf8")).toMatch(/<script src="\/__gateway\/tauri\.js[^"]*"><\/script>\s*<script type="module" src="\/dist\/main\.js">/);
    expect(JSON.parse(readFileSync(join(app, "tsconfig.json"), "utf8")).compilerOptions).toMatchObject({ strict: true, module: "NodeNext" });
    expect(readFileSync(join(app, ".gitignore"), "utf8")).toContain("node_modules/");
  });

  test("the new app passes gateway check", async () => {
    expect(await runGateway(["check"], { cwd: app })).toEqual({ code: 0, stdout: "gateway.yaml: 1 commands, 0 channels, 1 events\n", stderr: "" });
  });

  test("refuses a folder that holds a gateway.yaml or a package.json, writing nothing", async () => {
    const again = await runGateway(["init", "my-app"], { cwd: tmp });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("gateway init: my-app/gateway.yaml already exists; init creates a new app in an empty folder (gateway init <dir> names another one)\n");

    const other = join(tmp, "has-package");
    mkdirSync(other);
    writeFileSync(join(other, "package.json"), "{}\n");
    const refused = await runGateway(["init"], { cwd: other });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^gateway init: package\.json already exists/);
    expect(existsSync(join(other, "gateway.yaml"))).toBe(false);
  });

  test("installed from the packed tarball: npm run typecheck passes, npm start serves the page and greet", async () => {
    const install = await npm(["install", "--prefer-offline", "--no-audit", "--no-fund", packProject()], app);
    if (install.code !== 0) throw new Error(`npm install failed:\n${install.output}`);

    const typecheck = await npm(["run", "typecheck"], app);
    if (typecheck.code !== 0) throw new Error(`npm run typecheck failed:\n${typecheck.output}`);

    const started = await npmStart(app);
    try {
      const greeting = await invokeJson(started.url, "greet", { name: "Ada" });
      expect(greeting.status).toBe(200);
      expect(greeting.json()).toEqual({ message: "Hello, Ada!" });

      const blank = await invokeJson(started.url, "greet", { name: "   " }); // the handler's InvokeError
      expect(blank.status).toBe(400);
      expect(blank.headers["tauri-response"]).toBe("error");
      expect(blank.json()).toBe("please type a name");

      const invalid = await invokeJson(started.url, "greet", { nom: "Ada" }); // the body schema
      expect(invalid.status).toBe(422);
      expect(invalid.json()).toMatchObject({ kind: "invalid-body" });

      const page = await request(`${started.url}/`, { method: "GET" });
      expect(page.status).toBe(200);
      expect(page.text).toContain('<script src="/__gateway/tauri.js?window=main"></script>');
      const bundle = await request(`${started.url}/dist/main.js`, { method: "GET" }); // built by prestart
      expect(bundle.status).toBe(200);
      expect(bundle.text).toContain('"greet"');
    } finally {
      await started.stop();
    }
  }, 240_000);
});

describe("gateway init refuses before writing, and leaves nothing behind", () => {
  let parent: string;
  beforeAll(() => {
    parent = mkdtempSync(join(tmpdir(), "gw-init-refused-"));
  });
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  /** Every entry under `dir` (folders end in /, links show their target): a refusal leaves it unchanged. */
  function listing(dir: string, prefix = ""): string[] {
    return readdirSync(join(dir, prefix))
      .sort()
      .flatMap((name) => {
        const relative = prefix === "" ? name : `${prefix}/${name}`;
        const stats = lstatSync(join(dir, relative));
        if (stats.isDirectory()) return [`${relative}/`, ...listing(dir, relative)];
        return [stats.isSymbolicLink() ? `${relative} -> ${readlinkSync(join(dir, relative))}` : relative];
      });
  }

  /** The folder's refusal (exit 1, one line, the folder as it was), twice (no half app makes the second different), then a normal init once `fix` ran. */
  async function refusedThenCreated(name: string, prepare: (dir: string) => void, fix: (dir: string) => void): Promise<string> {
    const dir = join(parent, name);
    mkdirSync(dir);
    prepare(dir);
    const before = listing(dir);
    const first = await runGateway(["init", name], { cwd: parent });
    expect(first.code).toBe(1);
    expect(first.stdout).toBe("");
    expect(first.stderr).toMatch(/^gateway init: [^\n]+\n$/);
    expect(listing(dir)).toEqual(before);
    expect(await runGateway(["init", name], { cwd: parent })).toEqual(first);
    fix(dir);
    const created = await runGateway(["init", name], { cwd: parent });
    expect(created).toMatchObject({ code: 0, stderr: "" });
    for (const file of FILES) expect(existsSync(join(dir, file))).toBe(true);
    return first.stderr;
  }

  test("web is a file", async () => {
    const stderr = await refusedThenCreated(
      "web-is-a-file",
      (dir) => writeFileSync(join(dir, "web"), "not a folder\n"),
      (dir) => rmSync(join(dir, "web")),
    );
    expect(stderr).toBe("gateway init: web-is-a-file/web: is a file, not a folder (web-is-a-file/web/index.html would be inside it); nothing was written\n");
  });

  test("web/index.html is a symbolic link to nothing", async () => {
    const stderr = await refusedThenCreated(
      "dangling",
      (dir) => {
        mkdirSync(join(dir, "web"));
        symlinkSync("missing.html", join(dir, "web/index.html"));
      },
      (dir) => rmSync(join(dir, "web/index.html")),
    );
    expect(stderr).toBe("gateway init: dangling/web/index.html: is a symbolic link to nothing; nothing was written\n");
  });

  test("a file already there is named, with every other", async () => {
    const stderr = await refusedThenCreated(
      "taken",
      (dir) => {
        mkdirSync(join(dir, "handlers"));
        writeFileSync(join(dir, "handlers/greet.ts"), "mine\n");
        writeFileSync(join(dir, "tsconfig.json"), "{}\n");
      },
      (dir) => {
        rmSync(join(dir, "handlers/greet.ts"));
        rmSync(join(dir, "tsconfig.json"));
      },
    );
    expect(stderr).toBe("gateway init: would overwrite taken/handlers/greet.ts, taken/tsconfig.json; nothing was written\n");
  });

  test("a folder name too long, and a folder under a file: one line, nothing created", async () => {
    const long = "n".repeat(300);
    const tooLong = await runGateway(["init", long], { cwd: parent });
    expect(tooLong).toEqual({
      code: 1,
      stdout: "",
      stderr: `gateway init: ${"n".repeat(32)}…: the name is too long (300 bytes; file systems take at most 255); nothing was written\n`,
    });
    writeFileSync(join(parent, "a-file"), "");
    const underFile = await runGateway(["init", "a-file/app"], { cwd: parent });
    expect(underFile).toEqual({ code: 1, stdout: "", stderr: "gateway init: a-file: is a file, not a folder (a-file/app would be inside it); nothing was written\n" });
    expect(readdirSync(parent).filter((name) => name === "a-file" || name.startsWith("nnn"))).toEqual(["a-file"]);
    expect((await runGateway(["init", "n".repeat(255)], { cwd: parent })).code).toBe(0);
  });

  test("a write that fails midway (web/ fills up): every file and folder this run created is removed", async () => {
    const dir = join(parent, "full");
    mkdirSync(join(dir, "web"), { recursive: true });
    // web/ is a tmpfs of one page: index.html fits, main.ts does not. What is left on it is listed
    // before the mount namespace (and the tmpfs) goes.
    const result = await new Promise<CliResult>((resolve) => {
      const script = 'mount -t tmpfs -o size=4k tmpfs full/web && { "$@"; code=$?; find full/web; exit $code; }';
      execFile("unshare", ["--mount", "sh", "-c", script, "sh", process.execPath, GATEWAY_BIN, "init", "full"], { cwd: parent, env: ENV }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(result).toEqual({
      code: 1,
      stdout: "full/web\n",
      stderr: "gateway init: full/web/main.ts: no space left on the device; what this run had created was removed\n",
    });
    expect(listing(dir)).toEqual(["web/"]);
    expect((await runGateway(["init", "full"], { cwd: parent })).code).toBe(0);
  });
});

/** `npm start -- --port 0` in its own process group; resolves once the gateway's line is printed. */
function npmStart(cwd: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn("npm", ["start", "--", "--port", "0"], { cwd, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    try {
      process.kill(-child.pid!, "SIGTERM"); // the group: npm and the gateway it started
    } catch {
      return; // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
    try {
      process.kill(-child.pid!, "SIGKILL"); // anything of the group still there
    } catch {}
  };
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => void stop().then(() => reject(new Error(`npm start printed no listening line in 60 s:\n${output}`))), 60_000);
    const seen = (chunk: Buffer) => {
      output += chunk;
      const match = /^gateway listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve({ url: match[1]!, stop });
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`npm start exited before listening:\n${output}`));
    });
  });
}
