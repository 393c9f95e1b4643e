// A generation: the immutable snapshot of everything an invocation needs (handlers, compiled
// validators, settings), built by reload/builder.ts and read by the runtime. Types only.
import type { EventSource, ServerSettings } from "../config/manifest.ts";
import type { Validator } from "../config/schemas.ts";
import type { Handler } from "./types.ts";
import type { GenerationAccess } from "../access/policy.ts";

/** What a body, a return value or a channel message must be (`schema`: as the user wrote it). */
/**
 * What a body, a return value or a channel message must be. `schema`: as the user wrote it;
 * `url`: the URL its relative `$ref`s resolve against (its file's, or the manifest's with a query).
 */
export type ValueSpec = { kind: "json"; validate?: Validator; schema?: unknown; url?: string } | { kind: "binary" };

export interface CommandDef {
  name: string;
  handler: Handler;
  body: ValueSpec;
  returns: ValueSpec;
  /** What an InvokeError's value must match (`errors:`); `{ kind: "json" }` without a schema: anything. */
  errors: ValueSpec;
  timeoutMs: number;
  /** Window labels allowed to call the command; undefined means all. */
  windows?: ReadonlySet<string>;
  /** Body properties (or "" for the whole body) that carry a frontend Channel, by channel name. */
  channelFields: ReadonlyMap<string, string>;
  /** Where the handler comes from, e.g. "handlers/greet.ts#default". */
  source: string;
  /** The handler module's absolute path. */
  file: string;
  /** The export of it that is the handler ("default" unless the manifest says `file#name`). */
  exportName: string;
}

export interface ChannelDef {
  name: string;
  message: ValueSpec;
}

export interface EventDef {
  name: string;
  validate?: Validator;
  schema?: unknown;
  /** As in ValueSpec. */
  url?: string;
  from: ReadonlySet<EventSource>;
}

export interface Generation {
  id: number;
  manifestFile: string;
  settings: ServerSettings;
  commands: ReadonlyMap<string, CommandDef>;
  channels: ReadonlyMap<string, ChannelDef>;
  events: ReadonlyMap<string, EventDef>;
  /** Every file and folder this generation was built from. */
  files: ReadonlySet<string>;
  /** Every schema file it read, by file:// URL, as parsed (for describing the API: types, OpenAPI). */
  schemaFiles: ReadonlyMap<string, unknown>;
  /** Its app modules: handlers and every local module they import (shared with other generations while unchanged). */
  modules: ReadonlySet<LoadedModule>;
  /** The modules this generation's build evaluated (new or re-evaluated instances), in order. */
  evaluated?: readonly string[];
  usage: Usage;
  /** auth:, capabilities: (with Tauri capability files) and limits:; absent: none of them. */
  access?: GenerationAccess;
  /** Set while the app does not build (`gateway dev` started on broken files): the mistakes, one per line. */
  notReady?: string;
}

/** How many invocations are answering from a generation (so it retires only once they are done). */
export interface Usage {
  inFlight: number;
  /** Called when inFlight drops to 0. */
  idle?: () => void;
}

/** An app module (a handler or a local module it imports) as the module graph holds it (reload/module-graph.ts). */
export interface LoadedModule {
  file: string;
  /** Its exports (a module deferred to its first use is evaluated when they are read). */
  readonly exports: Record<string, unknown>;
  /** Whether it may export setup() or dispose(), known without evaluating it. */
  readonly hooks: boolean;
  /** The app modules it imports, by file. */
  readonly imports: ReadonlySet<string>;
}
