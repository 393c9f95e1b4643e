// What the generated documents and the dev console say about access (`auth:`, `capabilities:`,
// `limits:`): which capabilities allow or deny a command, whether an anonymous caller may call it,
// which limits count it, and the principals and roles the console offers to "call as". Read from
// the generation's access policy; nothing here decides a call (gateway/access/ does).
import { anyGlob } from "../access/glob.ts";
import type { CapabilitySpec, LimitSpec } from "../access/spec.ts";
import type { Generation } from "../runtime/generation.ts";

/** The capabilities that allow calling `command` for someone, and those whose deny list names it. */
export interface CommandAccess {
  allowedBy: CapabilitySpec[];
  deniedBy: CapabilitySpec[];
}

/** undefined when the generation has no capabilities (every caller may call every command). */
export function commandAccess(generation: Generation, command: string): CommandAccess | undefined {
  const set = generation.access?.capabilities;
  if (set === undefined) return undefined;
  const allowing = new Set(set.allowing(command));
  return {
    allowedBy: set.specs.filter((c) => allowing.has(c.name)),
    deniedBy: set.specs.filter((c) => anyGlob(c.commands.deny.map((n) => n.name))(command)),
  };
}

/** Whether a capability can apply to a caller without credentials (`anonymous`; `*` when there is no `auth:`). */
export function appliesToAnonymous(capability: CapabilitySpec, authConfigured: boolean): boolean {
  return capability.principals.includes("anonymous") || (!authConfigured && capability.principals.includes("*"));
}

/**
 * Whether a caller without credentials may call `command` in some window and from some origin:
 * no capabilities at all, or one that allows it applies to anonymous callers.
 */
export function anonymousMayCall(generation: Generation, command: string): boolean {
  const access = commandAccess(generation, command);
  if (access === undefined) return true;
  const auth = generation.access?.spec.auth !== undefined;
  return access.allowedBy.some((c) => appliesToAnonymous(c, auth));
}

/** The limits that count calls of `command`. */
export function limitsOn(generation: Generation, command: string): LimitSpec[] {
  return (generation.access?.spec.limits ?? []).filter((l) => anyGlob(l.commands)(command));
}

/** A capability in a sentence: its name and to whom, where and from where it applies. */
export function describeCapability(capability: CapabilitySpec): string {
  const terms = [capability.principals.join(", ")];
  if (!(capability.windows.length === 1 && capability.windows[0] === "*")) terms.push(`windows ${capability.windows.join(", ")}`);
  if (capability.origins !== undefined) terms.push(`origins ${capability.origins.join(", ")}`);
  else if (capability.localOnly) terms.push("the gateway's own pages");
  return `\`${capability.name}\` (${terms.join("; ")})`;
}

/** A command's access in sentences, for its API description; none without capabilities or limits. */
export function accessNotes(generation: Generation, command: string): string[] {
  const notes: string[] = [];
  const access = commandAccess(generation, command);
  if (access !== undefined) {
    if (access.allowedBy.length === 0) notes.push("No capability allows it: every call is 403 forbidden.");
    else notes.push(`Allowed by ${access.allowedBy.length === 1 ? "capability" : "capabilities"} ${access.allowedBy.map(describeCapability).join(", ")}; other callers get 403 forbidden.`);
    if (access.deniedBy.length > 0) notes.push(`Denied by ${access.deniedBy.map(describeCapability).join(", ")}, which wins over any allow.`);
  }
  for (const limit of limitsOn(generation, command)) {
    notes.push(`Limit \`${limit.name}\`: ${limit.rateText} per ${limit.per}, bursts of ${limit.burst}; past it 429 rate-limited with Retry-After.`);
  }
  return notes;
}

/** A principal the dev console offers to call as. */
export interface KnownPrincipal {
  id: string;
  roles: string[];
  /** Where it was found: a static token (`auth.tokens`) or a capability naming the id. */
  from: "auth.tokens" | "capabilities";
}

/** GET /__gateway/principals.json (under `gateway dev` only): what the console's "call as" offers. */
export interface PrincipalsDocument {
  /** The manifest has `auth:` (then `*` in a capability means any authenticated principal). */
  auth: boolean;
  /** The capabilities' names; null when there are none (every caller may call every command). */
  capabilities: string[] | null;
  /** The static tokens' principals and the ids capabilities name (never a token). */
  principals: KnownPrincipal[];
  /** Every role a static token has or a capability names (`role:<name>`), sorted. */
  roles: string[];
}

export function principalsDocument(generation: Generation): PrincipalsDocument {
  const spec = generation.access?.spec;
  const capabilities = generation.access?.capabilities?.specs;
  const principals = new Map<string, KnownPrincipal>();
  const roles = new Set<string>();
  for (const token of spec?.auth?.tokens ?? []) {
    principals.set(token.id, { id: token.id, roles: [...token.roles], from: "auth.tokens" });
    for (const role of token.roles) roles.add(role);
  }
  for (const capability of capabilities ?? []) {
    for (const entry of capability.principals) {
      if (entry.startsWith("role:")) roles.add(entry.slice(5));
      else if (entry !== "*" && entry !== "anonymous" && !entry.includes("*") && !principals.has(entry)) principals.set(entry, { id: entry, roles: [], from: "capabilities" });
    }
  }
  return {
    auth: spec?.auth !== undefined,
    capabilities: capabilities === undefined ? null : capabilities.map((c) => c.name),
    principals: [...principals.values()],
    roles: [...roles].sort(),
  };
}
