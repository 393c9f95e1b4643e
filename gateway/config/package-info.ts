// This package's own package.json: its version (the CLI's --version, the API documents, the disk
// cache's folder) and its dependencies' ranges (what `gateway init` pins). It sits two folders up
// from both gateway/config (sources) and dist/config (compiled).
import { createRequire } from "node:module";

export interface PackageInfo {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

let info: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  return (info ??= createRequire(import.meta.url)("../../package.json") as PackageInfo);
}

export function packageVersion(): string {
  return packageInfo().version;
}
