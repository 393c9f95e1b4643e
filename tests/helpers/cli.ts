// Runs the real `gateway` bin in a child process (plain node, tsx registered by the bin itself).
import { execFile } from "node:child_process";
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
