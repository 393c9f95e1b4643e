// Tauri 2 capability files (discover.capabilities). Stub: filled in by the Tauri-files work.
import type { Problems } from "../config/problems.ts";
import type { Manifest } from "../config/manifest.ts";
import type { CapabilitySpec } from "./spec.ts";

export async function readTauriCapabilities(dir: string, problems: Problems, files: Set<string>, manifest: Manifest, commands: string[]): Promise<CapabilitySpec[]> {
  void dir, problems, files, manifest, commands;
  return [];
}
