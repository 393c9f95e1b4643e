// The whole project (gateway, example handlers, tests, bench) type-checks under strict mode:
// @swc/jest only strips types, so this is where type errors fail the suite.
import { expect, test } from "@jest/globals";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

test("tsc --noEmit passes", async () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const cwd = fileURLToPath(new URL("..", import.meta.url));
  const output = await new Promise<string>((resolve) => {
    execFile(process.execPath, [tsc, "--noEmit", "-p", "tsconfig.json"], { cwd }, (error, stdout, stderr) => resolve(error ? stdout + stderr || String(error) : ""));
  });
  expect(output).toBe("");
}, 120_000);
