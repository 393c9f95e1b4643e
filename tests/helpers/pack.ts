// The package as users get it: `npm pack` of this project, made once per test file. Packed with
// --ignore-scripts from the dist/ that `npm test`'s pretest built: prepack's clean build would
// empty dist/ under the other test files running beside this one.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_DIR } from "./cli.ts";

let packed: string | undefined;

/** The path of ipc-gateway-<version>.tgz, packed from this checkout. */
export function packProject(): string {
  if (packed) return packed;
  const dir = mkdtempSync(join(tmpdir(), "gw-pack-"));
  execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], { cwd: PROJECT_DIR, stdio: "pipe" });
  packed = join(dir, readdirSync(dir).find((f) => f.endsWith(".tgz"))!);
  return packed;
}
