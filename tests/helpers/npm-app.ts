// An app's own npm scripts, as its user runs them: `npm install` of the packed tarball, a script
// run to its end, and a long-running one (`npm run dev`, `npm start`) in its own process group,
// ready once it prints the line that says where it listens.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { packProject } from "./pack.ts";

/** Child processes get a plain environment: no jest's --experimental-vm-modules. */
const ENV = { ...process.env, NODE_OPTIONS: "" };

export function npm(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("npm", args, { cwd, env: ENV, timeout: 240_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, output: stdout + stderr }),
    );
  });
}

/** `npm <args>`, which must exit 0 (else the error carries its output). */
export async function npmOk(args: string[], cwd: string): Promise<string> {
  const result = await npm(args, cwd);
  if (result.code !== 0) throw new Error(`npm ${args.join(" ")} failed (exit ${result.code}):\n${result.output}`);
  return result.output;
}

/** `npm install` with this checkout's packed tarball as ipc-gateway (the rest from npm, its cache first). */
export function installPacked(cwd: string): Promise<string> {
  return npmOk(["install", "--prefer-offline", "--no-audit", "--no-fund", packProject()], cwd);
}

export interface Running {
  /** What the `ready` pattern's first group matched (the URL it listens on). */
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** `npm <args>` in its own process group; resolves once its output matches `ready`. */
export function npmRunning(args: string[], cwd: string, ready: RegExp): Promise<Running> {
  const child: ChildProcess = spawn("npm", args, { cwd, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    try {
      process.kill(-child.pid!, "SIGTERM"); // the group: npm and what it started
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
    const timer = setTimeout(() => void stop().then(() => reject(new Error(`npm ${args.join(" ")} printed no ready line in 90 s:\n${output}`))), 90_000);
    const seen = (chunk: Buffer) => {
      // Without colours: with CI set, Vite colours its lines even into a pipe (picocolors).
      output += chunk.toString("utf8").replace(/\x1b\[[0-9;]*m/g, "");
      const match = ready.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve({ url: match[1]!, output: () => output, stop });
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`npm ${args.join(" ")} exited before it was ready:\n${output}`));
    });
  });
}

/** `npm run dev` of a Vite app on `port` (Vite takes no port 0): ready at Vite's "Local:" line. */
export function viteDev(cwd: string, port: number): Promise<Running> {
  return npmRunning(["run", "dev", "--", "--port", String(port), "--strictPort", "--host", "127.0.0.1"], cwd, /Local:\s+(http:\/\/127\.0\.0\.1:\d+)\//);
}
