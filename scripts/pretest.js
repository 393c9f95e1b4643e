#!/usr/bin/env node
// Before `npm test`: the browser tests need Chromium, the bus tests a redis-server. Use
// $CHROMIUM_PATH / $REDIS_SERVER_PATH, or Debian's /usr/bin/chromium and /usr/bin/redis-server;
// install Debian's packages when they are missing and we can (root, apt-get).
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";

const needed = [
  { what: "Chromium", for: "the browser tests", path: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", pkg: "chromium", env: "CHROMIUM_PATH" },
  { what: "redis-server", for: "the bus tests", path: process.env.REDIS_SERVER_PATH ?? "/usr/bin/redis-server", pkg: "redis-server", env: "REDIS_SERVER_PATH" },
];
const missing = needed.filter((n) => !existsSync(n.path));
if (missing.length === 0) process.exit(0);

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const hasApt = existsSync("/usr/bin/apt-get");
const packages = missing.map((n) => n.pkg).join(" ");
if (!isRoot || !hasApt) {
  for (const n of missing) console.error(`pretest: ${n.what} is needed for ${n.for} and ${n.path} does not exist.`);
  console.error(hasApt ? `Install with: sudo apt-get install -y ${packages}` : `Install them and set ${missing.map((n) => n.env).join(" / ")} to their binaries.`);
  process.exit(1);
}
console.log(`pretest: installing Debian's ${packages} for the tests ...`);
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
try {
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  // --no-install-recommends: no service is enabled or started; the tests start redis-server themselves.
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing.map((n) => n.pkg)], { stdio: "inherit", env });
} catch (error) {
  console.error(`pretest: installing ${packages} failed (${error.message}); install by hand: apt-get install -y ${packages}`);
  process.exit(1);
}
for (const n of missing) {
  if (!existsSync(n.path)) {
    console.error(`pretest: ${n.pkg} was installed but ${n.path} is still missing; set ${n.env}`);
    process.exit(1);
  }
}
