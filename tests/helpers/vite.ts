// A real Vite (one of the supported majors, each installed under its own name) running an app
// with ipc-gateway/vite, as `npm run dev` would: its own process, its own config file, the plugin
// from the package's dist/ (as users import it).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PROJECT_DIR } from "./cli.ts";
import { freePort } from "./ports.ts";

/** The supported majors: the package each is installed as (see package.json's devDependencies). */
export const VITE_MAJORS = { 6: "vite6", 7: "vite7", 8: "vite" } as const;
export type ViteMajor = keyof typeof VITE_MAJORS;

/** Child processes get a plain environment: no jest's --experimental-vm-modules. */
const ENV = { ...process.env, NODE_OPTIONS: "", FORCE_COLOR: "0", NO_COLOR: "1" };

export function viteBin(major: ViteMajor): string {
  return join(PROJECT_DIR, "node_modules", VITE_MAJORS[major], "bin", "vite.js");
}

/**
 * A folder holding `files` and a vite.config.mjs that imports "ipc-gateway/vite" as an app does
 * (so Vite loads it from node_modules rather than bundling it into the config), with
 * `pluginOptions` (and `serverConfig`, more of Vite's `server:` as code). Its node_modules links to the project's packages (for @tauri-apps/api) and to
 * the project itself as ipc-gateway. Vite's cache stays in the folder.
 */
export function viteApp(files: Record<string, string>, pluginOptions: Record<string, unknown> = {}, serverConfig = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "gw-vite-"));
  const modules = join(dir, "node_modules");
  mkdirSync(modules);
  for (const entry of readdirSync(join(PROJECT_DIR, "node_modules"))) {
    if (!entry.startsWith(".")) symlinkSync(join(PROJECT_DIR, "node_modules", entry), join(modules, entry), "dir");
  }
  symlinkSync(PROJECT_DIR, join(modules, "ipc-gateway"), "dir");
  const config = `import gateway from "ipc-gateway/vite";
export default {
  plugins: [gateway(${JSON.stringify(pluginOptions)})],
  cacheDir: ${JSON.stringify(join(dir, ".vite"))},
  logLevel: "info",
  clearScreen: false,
  server: { fs: { allow: [${JSON.stringify(dir)}, ${JSON.stringify(PROJECT_DIR)}] }, ${serverConfig} },
  // Bundled at start: found at the first visit instead, Vite reloads the page under a test.
  optimizeDeps: { include: ["@tauri-apps/api/core", "@tauri-apps/api/event"] },
};
`;
  for (const [path, text] of Object.entries({ "vite.config.mjs": config, ...files })) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export function removeApp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface RunningVite {
  url: string;
  process: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once its output matches. */
  printed(pattern: RegExp): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `vite` (the dev server; `vite preview` with `preview`) in `dir` on a free port of 127.0.0.1;
 * resolves once it says where it serves.
 */
export async function startVite(major: ViteMajor, dir: string, env: NodeJS.ProcessEnv = {}, preview = false): Promise<RunningVite> {
  const port = await freePort();
  const child = spawn(process.execPath, [viteBin(major), ...(preview ? ["preview"] : []), "--port", String(port), "--strictPort", "--host", "127.0.0.1"], { cwd: dir, env: { ...ENV, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const waiting = new Set<() => void>();
  const take = (chunk: Buffer) => {
    text += chunk.toString("utf8").replace(/\x1b\[[0-9;]*m/g, "");
    for (const wake of [...waiting]) wake();
  };
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  const printed = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const match = pattern.exec(text);
        if (match) {
          waiting.delete(look);
          resolve(match[0]);
        } else if (child.exitCode !== null) {
          waiting.delete(look);
          reject(new Error(`vite exited (${child.exitCode}) before printing ${pattern}:\n${text}`));
        }
      };
      waiting.add(look);
      child.once("exit", look);
      look();
    });
  const running: RunningVite = {
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => text,
    printed,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      // Vite closes its server (and the gateway with it) on SIGTERM; one that hangs is ended.
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
  try {
    // http, or https when the app's config gives Vite a certificate.
    running.url = (await printed(/Local:\s+(https?:\/\/127\.0\.0\.1:\d+)/)).replace(/^Local:\s+/, "");
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** `vite build` in `dir`; resolves with its output, rejects when it fails. */
export function viteBuild(major: ViteMajor, dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [viteBin(major), "build"], { cwd: dir, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk));
    child.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`vite build exited ${code}:\n${text}`))));
  });
}
