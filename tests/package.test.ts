// Every consumer works: scripts/check-consumers.js installs the packed package into fresh apps and
// checks them (the tarball holds no picture, installing it flags no install script of ours, ESM
// and CommonJS apps serving a .ts handler without tsx, the subpath exports, the bin, and strict
// TypeScript 5.9 and 7 consumers under nodenext and bundler resolution). Here it runs under this
// Node; .ci/run also runs its runtime checks under Node 22 and 24.
import { expect, test } from "@jest/globals";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { packProject } from "./helpers/pack.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

test("every consumer of the packed package works (runtime and types)", async () => {
  const tarball = packProject();
  // The script's apps must not inherit jest's --experimental-vm-modules.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const { code, output } = await new Promise<{ code: number | string | null; output: string }>((resolve) => {
    execFile(
      process.execPath,
      ["scripts/check-consumers.js", "--tarball", tarball],
      { cwd: ROOT, env, timeout: 540_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number | string }).code ?? error.signal ?? 1) : 0, output: stdout + stderr }),
    );
  });
  const checks = output.split("\n").filter((line) => /^(PASS|FAIL)\b/.test(line));
  // 1 package check (no picture), 7 runtime checks (no install script flagged, ESM, CommonJS,
  // import.meta.resolve, require.resolve, --version, check) and 4 types checks (TypeScript 5.9
  // and 7 x nodenext and bundler).
  const allPassed = code === 0 && checks.length === 12 && checks.every((line) => line.startsWith("PASS"));
  // On failure the received value is the script's whole output, failure details included.
  expect(allPassed ? "every check passed" : `exit code ${code}, ${checks.length} checks:\n${output}`).toBe("every check passed");
}, 600_000);
