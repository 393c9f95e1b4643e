// App modules from a `gateway build` folder (`gateway serve --from`): code compiled at build time,
// checked against its SHA-256 when read, imports resolved as they were at build time. Nothing is
// compiled, nothing is written, and the app's sources need not be there.
import { readFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import type { ExportShape } from "../reload/export-shape.ts";
import type { CodeStore, PreparedModule, PrepareResult } from "../reload/module-graph.ts";
import { findFile, isPathLike, type Resolved } from "../reload/resolve.ts";
import { sha256, type BuiltModule } from "./format.ts";

export class BuiltStore implements CodeStore {
  /** The build's modules by the absolute path their source had (under the app's folder as it is now). */
  private readonly modules = new Map<string, BuiltModule>();

  constructor(
    private readonly dir: string,
    private readonly root: string,
    modules: BuiltModule[],
  ) {
    for (const module of modules) this.modules.set(this.pathOf(module.path), module);
  }

  /** A module's code as written by the build, or why it cannot be used. */
  readVerified(module: BuiltModule): string {
    const file = join(this.dir, module.file);
    let code: string;
    try {
      code = readFileSync(file, "utf8");
    } catch (error) {
      throw new Error(`${file} (${module.path}) cannot be read (${(error as NodeJS.ErrnoException).code ?? error}): run gateway build again`);
    }
    if (sha256(code) !== module.sha256) throw new Error(`${file} (${module.path}) is damaged: run gateway build again`);
    return code;
  }

  reset(): void {}

  prepare(file: string): Promise<PrepareResult> {
    return Promise.resolve(this.prepareSync(file));
  }

  prepareSync(file: string): PrepareResult {
    const module = this.modules.get(file);
    if (!module) {
      const message = "is not in the build: only modules imported with a literal path (or run while the build loaded the app) are built";
      return { ok: false, failure: { kind: "build", problems: [{ file, message }] } };
    }
    const prepared: PreparedModule = {
      file,
      hash: module.hash,
      requires: module.requires,
      ...(module.shape ? { shape: module.shape as ExportShape } : {}),
      saved: true,
      code: () => this.readVerified(module),
    };
    return { ok: true, module: prepared };
  }

  isCurrent(): boolean {
    return true;
  }

  resolve(specifier: string, fromFile: string): Resolved {
    const link = this.modules.get(fromFile)?.links[specifier];
    if (link) {
      if (link.kind === "app") return { kind: "app", file: this.pathOf(link.path) };
      if (link.kind === "missing") return { kind: "missing", tried: this.pathOf(link.path) };
      return { kind: link.kind };
    }
    // A specifier computed while the code runs: as the sources would resolve it, among the build's modules.
    if (specifier === "ipc-gateway") return { kind: "api" };
    if (!isPathLike(specifier)) return { kind: "package" };
    const base = resolve(dirname(fromFile), specifier);
    if (base.split(sep).includes("node_modules")) return { kind: "package" };
    const file = findFile(base, (candidate) => this.modules.has(candidate));
    return file ? { kind: "app", file } : { kind: "missing", tried: base };
  }

  evaluated(): void {
    // Nothing is written under `serve --from`.
  }

  retainOnDisk(): void {}

  private pathOf(relativePath: string): string {
    return resolve(this.root, relativePath);
  }
}
