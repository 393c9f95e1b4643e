// An app module's life (a handler or a helper it imports): it may export `setup({ app })`, called
// once when a generation that uses this instance starts serving (to register backend listeners,
// open connections ...), and `dispose()`, called when no serving generation uses the instance any
// more (hot reload replaced it, or the gateway is stopping). Listeners registered through the
// `app` given to setup are removed for it at that point. A module is set up after the modules it
// imports, and disposed before them.
import type { EventHub } from "../runtime/events.ts";
import type { Generation } from "../runtime/generation.ts";
import type { Logger } from "../runtime/logger.ts";
import type { LoadedModule } from "../runtime/generation.ts";
import type { AppHandle } from "../runtime/types.ts";

export interface SetupContext {
  app: AppHandle;
}

interface Life {
  listeners: number[];
}

/** The modules ordered so that each comes after the modules it imports (among them). */
function importsFirst(modules: Iterable<LoadedModule>): LoadedModule[] {
  const byFile = new Map<string, LoadedModule[]>();
  for (const module of modules) byFile.set(module.file, [...(byFile.get(module.file) ?? []), module]);
  const ordered: LoadedModule[] = [];
  const placed = new Set<LoadedModule>();
  const visit = (module: LoadedModule) => {
    if (placed.has(module)) return;
    placed.add(module); // before its imports: a cycle ends here
    for (const file of module.imports) for (const imported of byFile.get(file) ?? []) visit(imported);
    ordered.push(module);
  };
  for (const list of byFile.values()) for (const module of list) visit(module);
  return ordered;
}

export class ModuleLifecycle {
  private readonly active = new Map<LoadedModule, Life>();

  constructor(
    private readonly events: EventHub,
    private readonly logger: Logger,
  ) {}

  /** Run `setup` of the modules this generation brings that are not set up yet (imports first). */
  activate(generation: Generation): void {
    // Only the instances new to this generation (a reload brings a few; most are shared).
    const fresh = [...generation.modules].filter((module) => !this.active.has(module));
    for (const module of importsFirst(fresh)) {
      const life: Life = { listeners: [] };
      this.active.set(module, life);
      // A module known to have no hooks is not evaluated for asking (a warm start defers it).
      if (!module.hooks) continue;
      let setup: unknown;
      try {
        setup = module.exports.setup;
      } catch (error) {
        this.logger.error(`${module.file} could not be loaded for its setup()`, error);
        continue;
      }
      if (typeof setup !== "function") continue;
      try {
        const result = setup({ app: this.scopedApp(life) } satisfies SetupContext);
        if (result && typeof (result as Promise<unknown>).catch === "function") {
          (result as Promise<unknown>).catch((error) => this.logger.error(`setup() of ${module.file} failed`, error));
        }
      } catch (error) {
        this.logger.error(`setup() of ${module.file} failed`, error);
      }
    }
  }

  /** Dispose every module that none of `serving` uses (all of them when nothing is serving), importers first. */
  async retire(serving: Generation[]): Promise<void> {
    const inUse = new Set(serving.flatMap((g) => [...g.modules]));
    const retiring = importsFirst([...this.active.keys()].filter((m) => !inUse.has(m))).reverse();
    for (const module of retiring) await this.dispose(module);
  }

  private async dispose(module: LoadedModule): Promise<void> {
    const life = this.active.get(module);
    if (!life) return; // disposed already (two retirements overlapping)
    this.active.delete(module);
    for (const id of life.listeners) this.events.app.unlisten(id);
    if (!module.hooks) return;
    let dispose: unknown;
    try {
      dispose = module.exports.dispose;
    } catch {
      return; // it never loaded: nothing was set up
    }
    if (typeof dispose !== "function") return;
    try {
      await dispose();
    } catch (error) {
      this.logger.error(`dispose() of ${module.file} failed`, error);
    }
  }

  /** The app, with the listeners it registers remembered so they can be removed with the module. */
  private scopedApp(life: Life): AppHandle {
    const app = this.events.app;
    return {
      emit: app.emit,
      emitTo: app.emitTo,
      emitFilter: app.emitFilter,
      listen: (event, handler) => {
        const id = app.listen(event, handler);
        life.listeners.push(id);
        return id;
      },
      once: (event, handler) => {
        const id = app.once(event, handler);
        life.listeners.push(id);
        return id;
      },
      unlisten: app.unlisten,
    };
  }
}
