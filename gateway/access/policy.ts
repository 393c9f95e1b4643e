// A generation's access policy: its access spec (the manifest's sections, and the Tauri
// capability files of discover.capabilities), the capability set made from it, and its auth
// handler. Built with the generation, so an edit of any of them reloads like a schema edit.
import { closest } from "../config/manifest.ts";
import type { Problems } from "../config/problems.ts";
import { CapabilitySet } from "./capabilities.ts";
import { isGlob, anyGlob } from "./glob.ts";
import type { AccessSpec, CapabilitySpec, NamedAt } from "./spec.ts";

/** What `auth.handler` is given: the request's parts that can identify a caller. */
export interface AuthRequest {
  /** Lower-cased names; the gateway's own headers included. */
  headers: Readonly<Record<string, string>>;
  cookies: Readonly<Record<string, string>>;
  origin: string | undefined;
  ip: string | undefined;
  /** The path and query the request was made to (`/ipc/greet`, `/ipc/ws?window=main`). */
  url: string;
}

/** `auth.handler`: a principal (`{ id, roles?, claims? }`), or null for an anonymous caller; throw an InvokeError to refuse. */
export type AuthHandler = (request: AuthRequest) => unknown;

export interface GenerationAccess {
  spec: AccessSpec;
  /** undefined: no capabilities anywhere, so every caller may do everything (as before capabilities). */
  capabilities?: CapabilitySet;
  authHandler?: AuthHandler;
}

/** Nothing configured: the access every generation had before `auth:` and `capabilities:`. */
export const OPEN_ACCESS: GenerationAccess = Object.freeze({ spec: Object.freeze({ limits: [] }) as AccessSpec });

/**
 * The policy from a spec whose capabilities (manifest and Tauri files) are all read. Names a
 * capability gives that match no command or event are mistakes, with a guess at what was meant.
 */
export function buildPolicy(
  spec: AccessSpec,
  known: { commands: Iterable<string>; events: Iterable<string> },
  problems: Problems,
  authHandler?: AuthHandler,
): GenerationAccess {
  const commands = [...known.commands];
  const events = [...known.events];
  for (const capability of spec.capabilities ?? []) checkNames(capability, commands, events, problems);
  for (const limit of spec.limits) {
    for (const glob of limit.commands) {
      if (!commands.some(anyGlob([glob]))) problems.add({ file: limit.file, ...limit.at, message: unknownName(`limits.${limit.name}.commands`, "command", glob, commands) });
    }
  }
  return {
    spec,
    ...(spec.capabilities !== undefined ? { capabilities: new CapabilitySet(spec.capabilities, spec.auth !== undefined) } : {}),
    ...(authHandler ? { authHandler } : {}),
  };
}

function checkNames(capability: CapabilitySpec, commands: string[], events: string[], problems: Problems): void {
  const where = capability.file.endsWith(".yaml") || capability.file.endsWith(".yml") ? `capabilities.${capability.name}` : `capability "${capability.name}"`;
  const check = (list: NamedAt[], key: string, kind: "command" | "event", names: string[]) => {
    for (const entry of list) {
      const match = anyGlob([entry.name]);
      if (names.some(match)) continue;
      // The gateway's own events may always be listened to; naming them is not a mistake.
      if (kind === "event" && entry.name.startsWith("gateway://")) continue;
      problems.add({ file: capability.file, ...entry.at, message: unknownName(`${where}.${key}`, kind, entry.name, names) });
    }
  };
  check(capability.commands.allow, "commands.allow", "command", commands);
  check(capability.commands.deny, "commands.deny", "command", commands);
  check(capability.events.listen, "events.listen", "event", events);
  check(capability.events.emit, "events.emit", "event", events);
}

function unknownName(where: string, kind: "command" | "event", name: string, names: string[]): string {
  if (isGlob(name)) return `${where}: "${name}" matches no ${kind}`;
  const guess = closest(name, names);
  return `${where}: no ${kind} named "${name}"${guess ? ` (did you mean "${guess}"?)` : ""}`;
}
