#!/usr/bin/env node
// Before `npm test`: the browser tests need Chromium. Use $CHROMIUM_PATH or Debian's
// /usr/bin/chromium; install Debian's package when it is missing and we can (root, apt-get).
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";

const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (existsSync(path)) process.exit(0);

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const hasApt = existsSync("/usr/bin/apt-get");
if (!isRoot || !hasApt) {
  console.error(
    `pretest: Chromium is needed for the browser tests and ${path} does not exist.\n` +
      (hasApt ? "Install it with: sudo apt-get install -y chromium\n" : "Install Chromium and set CHROMIUM_PATH to its binary.\n"),
  );
  process.exit(1);
}
console.log("pretest: installing Debian's chromium for the browser tests ...");
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
try {
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], { stdio: "inherit", env });
} catch (error) {
  console.error(`pretest: installing chromium failed (${error.message}); install it by hand: apt-get install -y chromium`);
  process.exit(1);
}
if (!existsSync(path)) {
  console.error(`pretest: chromium was installed but ${path} is still missing; set CHROMIUM_PATH`);
  process.exit(1);
}
