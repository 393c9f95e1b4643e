// A handler module's life: it may export `setup({ app })`, called once when a generation that
// uses it starts serving (to register backend listeners, open connections ...), and `dispose()`,
// called when no serving generation uses it any more (hot reload, or the gateway stopping).
// Listeners registered through the `app` given to setup are removed for it at that point.
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

export class ModuleLifecycle {
  private readonly active = new Map<LoadedModule, Life>();

  constructor(
    private readonly events: EventHub,
    private readonly logger: Logger,
  ) {}

  /** Run `setup` of the modules this generation brings that are not set up yet. */
  activate(generation: Generation): void {
    for (const module of generation.modules) {
      if (this.active.has(module)) continue;
      const life: Life = { listeners: [] };
      this.active.set(module, life);
      const setup = module.exports.setup;
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

  /** Dispose every module that none of `serving` uses (all of them when nothing is serving). */
  async retire(serving: Generation[]): Promise<void> {
    const inUse = new Set(serving.flatMap((g) => [...g.modules]));
    const retiring = [...this.active.keys()].filter((m) => !inUse.has(m));
    await Promise.all(retiring.map((m) => this.dispose(m)));
  }

  private async dispose(module: LoadedModule): Promise<void> {
    const life = this.active.get(module)!;
    this.active.delete(module);
    for (const id of life.listeners) this.events.app.unlisten(id);
    const dispose = module.exports.dispose;
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
