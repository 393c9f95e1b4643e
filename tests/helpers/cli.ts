// Runs the real `gateway` bin in a child process (plain node, tsx registered by the bin itself).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const GATEWAY_BIN = fileURLToPath(new URL("../../bin/gateway.js", import.meta.url));
export const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runGateway(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [GATEWAY_BIN, ...args],
      { cwd: options.cwd ?? PROJECT_DIR, env: { ...process.env, NODE_OPTIONS: "", ...options.env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** One line of the gateway's JSON log (pino's fields). */
export interface LogLine {
  level: number;
  msg: string;
  err?: { type: string; message: string; stack: string };
  [field: string]: unknown;
}

function parseLog(stderr: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line cut while still being written
    }
  }
  return lines;
}

/** A `gateway serve|dev` child process, up and listening. */
export interface RunningGateway {
  child: ChildProcess;
  url: string;
  /** stdout lines so far. */
  lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
  /** The process's resident memory, in MiB (from /proc). */
  rssMiB(): number;
  /** How many file descriptors the process has open (from /proc). */
  openDescriptors(): number;
  /** Waits until stderr contains `text` (or fails after `timeoutMs`). */
  waitForStderr(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** The gateway's log so far: the JSON lines on its stderr (it logs JSON when stderr is not a terminal). */
  logs(): LogLine[];
  /** Waits for a log line whose message matches (or fails after `timeoutMs`). */
  waitForLog(message: RegExp, timeoutMs?: number): Promise<LogLine>;
  kill(): void;
}

/**
 * Start the real bin in `cwd` on a free port; resolves once its listening line is printed.
 * `bin`: another copy of it; `prefix`: a command that runs node (e.g. unshare ... sh -c '... exec "$@"').
 */
export function startGateway(mode: "serve" | "dev", cwd: string, extraArgs: string[] = [], options: { bin?: string; prefix?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<RunningGateway> {
  const command = [...(options.prefix ?? []), process.execPath, options.bin ?? GATEWAY_BIN, mode, "--port", "0", ...extraArgs];
  const child = spawn(command[0]!, command.slice(1), { cwd, env: { ...process.env, NODE_OPTIONS: "", ...options.env } });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk;
      const complete = buffered.split("\n");
      buffered = complete.pop()!;
      for (const line of complete) {
        lines.push(line);
        const match = /^gateway listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
        if (!match) continue;
        resolve({
          child,
          url: match[1]!,
          lines,
          stderr: () => stderr,
          exited,
          rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024,
          openDescriptors: () => readdirSync(`/proc/${child.pid}/fd`).length,
          async waitForStderr(text, timeoutMs = 5000) {
            const seen = () => (typeof text === "string" ? stderr.includes(text) : text.test(stderr));
            for (let waited = 0; !seen(); waited += 20) {
              if (waited > timeoutMs) throw new Error(`stderr never showed ${text}; it holds:\n${stderr}`);
              await new Promise((r) => setTimeout(r, 20));
            }
          },
          logs: () => parseLog(stderr),
          async waitForLog(message, timeoutMs = 5000) {
            for (let waited = 0; ; waited += 20) {
              const found = parseLog(stderr).find((l) => message.test(l.msg));
              if (found) return found;
              if (waited > timeoutMs) throw new Error(`no log line matched ${message}; stderr holds:\n${stderr}`);
              await new Promise((r) => setTimeout(r, 20));
            }
          },
          kill: () => void child.kill("SIGKILL"),
        });
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code} before listening:\n${stderr}`)));
  });
}
