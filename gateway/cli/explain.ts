// gateway explain: whether a caller may call a command (or listen to, or emit, an event), and which
// capability decides, answered by the same CapabilitySet a running gateway decides with (CONTRACT
// §9, §9.1). Exit 0 allowed, 1 denied (or the app does not build), 2 a usage mistake.
import { resolve } from "node:path";
import { closest } from "../config/manifest.ts";
import { formatProblem } from "../config/problems.ts";
import { makePrincipal, type Caller } from "../access/principal.ts";
import type { Action } from "../access/capabilities.ts";
import { GenerationBuilder } from "../reload/builder.ts";
import type { Generation } from "../runtime/generation.ts";
import { CONFIG_DETAIL, CONFIG_OPTION, UsageError, type Verb } from "./verb.ts";
import { ENV_FILE_DETAIL, ENV_FILE_OPTION, envFor } from "./env-files.ts";

/** The id of a principal given by --role alone (roles belong to someone; which one does not matter then). */
const UNNAMED = "(unnamed)";

export const explain: Verb = {
  name: "explain",
  summary: "say whether a caller may call a command or use an event, and which capability decides",
  synopsis: "explain <command|event> [--principal ID] [--role R]... [--window L] [--origin URL] [--emit] [--config gateway.yaml] [--env-file file]...",
  details: `Builds the app as gateway check does, then decides as the gateway would for that caller:
prints "allowed" or "denied" with the capability that decides (or, when none does, the one that
comes closest and what it lacks) and exits 0 when allowed, 1 when denied. For an event it decides
listening, or emitting with --emit. Without --principal and --role the caller is anonymous.

      --principal <id>  the caller's principal id
      --role <role>     a role of the principal (repeat for more)
      --window <label>  the window the call comes from (default main)
      --origin <url>    the page's origin (default: none, like a script or the gateway's own page)
      --emit            for an event: may the caller emit it (default: listen to it)
${CONFIG_DETAIL}
${ENV_FILE_DETAIL}`,
  options: {
    ...CONFIG_OPTION,
    ...ENV_FILE_OPTION,
    principal: { type: "string" },
    role: { type: "string", multiple: true },
    window: { type: "string", default: "main" },
    origin: { type: "string" },
    emit: { type: "boolean" },
  },
  positionals: 1,
  async run(values, positionals) {
    const name = positionals[0];
    if (name === undefined || name === "") throw new UsageError("name the command or event to explain");
    const window = values.window as string;
    const roles = (values.role as unknown as string[] | undefined) ?? [];
    const id = values.principal as string | undefined;
    if (id === "") throw new UsageError("--principal needs an id");
    const origin = values.origin === undefined ? undefined : originOf(values.origin as string);

    const manifestFile = resolve(values.config as string);
    const builder = new GenerationBuilder(manifestFile, envFor(values, manifestFile));
    const result = await builder.build();
    await builder.cache.flush();
    if (!result.ok) {
      for (const problem of result.problems) console.error(formatProblem(problem));
      return 1;
    }
    const generation = result.generation;
    const emit = values.emit === true;

    if (name.startsWith("gateway://")) {
      // The gateway's own events: anyone may listen, only the gateway emits.
      console.log(emit ? "denied: only the gateway emits gateway:// events" : "allowed (the gateway's own events may always be listened to)");
      return emit ? 1 : 0;
    }
    const command = generation.commands.get(name);
    const event = generation.events.get(name);
    if (emit && event === undefined && command !== undefined) throw new UsageError(`--emit is for events; "${name}" is a command`);
    if (command === undefined && event === undefined) {
      const guess = closest(name, [...generation.commands.keys(), ...generation.events.keys()]);
      console.error(`gateway explain: "${name}" is neither a command nor an event${guess ? `: did you mean ${guess}?` : ""}`);
      return 2;
    }
    const action: Action = command !== undefined && !emit ? "call" : emit ? "emit" : "listen";

    const caller: Caller = {
      principal: id === undefined && roles.length === 0 ? null : makePrincipal({ id: id ?? UNNAMED, roles }),
      local: origin === undefined || ownOrigins(generation).has(origin),
      ...(origin !== undefined ? { origin } : {}),
    };
    const { allowed, line } = decide(generation, action, name, caller, window);
    console.log(line);
    return allowed ? 0 : 1;
  },
};

function decide(generation: Generation, action: Action, name: string, caller: Caller, window: string): { allowed: boolean; line: string } {
  // What the gateway checks before capabilities (and answers with its own refusal).
  const windows = generation.commands.get(name)?.windows;
  if (action === "call" && windows !== undefined && !windows.has(window)) {
    return { allowed: false, line: `denied: command "${name}" is for windows ${[...windows].join(", ")} (its windows: in the manifest), not "${window}"` };
  }
  if (action === "emit" && !generation.events.get(name)!.from.has("frontend")) {
    return { allowed: false, line: `denied: event "${name}" is emitted by the backend only (its from: in the manifest)` };
  }
  const capabilities = generation.access?.capabilities;
  if (capabilities === undefined) {
    return { allowed: true, line: `allowed (no capabilities: every caller may ${action === "call" ? "call every command" : "listen to and emit every event"})` };
  }
  const decision = capabilities.decide(action, name, caller, window);
  if (decision.allowed) return { allowed: true, line: `allowed by capability "${decision.by}"` };
  if (decision.by !== undefined) return { allowed: false, line: `denied by capability "${decision.by}" (denies "${name}")` };
  return { allowed: false, line: `denied: ${decision.why}` };
}

/** --origin as an origin (`https://app.example.com`), the form a browser sends. */
function originOf(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--origin must be a URL such as https://app.example.com, not "${text}"`);
  }
  if (url.origin === "null") throw new UsageError(`--origin must be an http(s) URL such as https://app.example.com, not "${text}"`);
  return url.origin.toLowerCase();
}

/** The gateway's own origins at its configured address (a page it served): requests from them are local. */
function ownOrigins(generation: Generation): Set<string> {
  const { host, port } = generation.settings;
  const name = host.includes(":") ? `[${host}]` : host;
  return new Set([`http://${name}:${port}`, `http://localhost:${port}`, `http://127.0.0.1:${port}`].map((o) => o.toLowerCase()));
}
