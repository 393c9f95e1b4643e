// The dev console: every command, channel and event of the running app (from the schema
// catalog), a form to try each, the live log, and the banners for what is wrong: a broken edit,
// the gateway's own problems (health), the handlers' type errors (gateway dev --check-types).
// Everything it does with the app goes through the real @tauri-apps/api on /__gateway/tauri.js,
// as a page's would.
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWindow } from "@tauri-apps/api/window";
import type { ComponentChildren } from "preact";
import { useEffect, useErrorBoundary, useRef, useState } from "preact/hooks";
import { fetchDocument, type BrokenEdit, type Catalog, type GatewayProblem, type Health, type Invocation, type Manifest, type Principals, type Reload, type TypeCheck } from "./api.ts";
import { CallAsControl } from "./call-as.tsx";
import { addLog, brief, LogPanel } from "./log.tsx";
import { ChannelView, CommandView, EventView, formatMs } from "./views.tsx";

type Problem = BrokenEdit["problems"][number];

/** How often health is read again: the gateway's problems begin and end without an event. */
const HEALTH_EVERY_MS = 5000;

/** Whether the app decides who calls (auth: or capabilities:): then an anonymous caller is named in the log too. */
let accessConfigured = false;

/** Who made an invocation, for its log line: nothing in an app where everyone is anonymous. */
function byWhom(principal: string | null | undefined): string {
  if (principal !== null && principal !== undefined) return ` · as ${principal}`;
  return accessConfigured ? " · as anonymous" : "";
}

export function App() {
  const [catalog, setCatalog] = useState<Catalog>();
  const [health, setHealth] = useState<Health>();
  const [principals, setPrincipals] = useState<Principals>();
  const [manifest, setManifest] = useState<Manifest>();
  const [typeCheck, setTypeCheck] = useState<TypeCheck>();
  const [failure, setFailure] = useState<string>();
  const [problems, setProblems] = useState<Problem[]>([]);
  const [flash, setFlash] = useState<string>();
  const [muted, setMuted] = useState<ReadonlySet<string>>(new Set());
  const selected = useHash();

  useEffect(() => {
    const load = async (): Promise<Health | undefined> => {
      try {
        const [nextCatalog, nextHealth, nextPrincipals, nextManifest] = await Promise.all([
          fetchDocument<Catalog>("catalog.json"),
          fetchDocument<Health>("health"),
          fetchDocument<Principals>("principals.json"),
          fetchDocument<Manifest>("manifest.json"),
        ]);
        accessConfigured = nextPrincipals.auth || nextPrincipals.capabilities !== null;
        setCatalog(nextCatalog);
        setHealth(nextHealth);
        if (nextHealth.typeCheck) setTypeCheck(nextHealth.typeCheck);
        setPrincipals(nextPrincipals);
        setManifest(nextManifest);
        setFailure(undefined);
        return nextHealth;
      } catch (error) {
        setFailure(String(error));
        return undefined;
      }
    };
    // Opened after an edit broke: health has the mistakes as text.
    void load().then((first) => first?.lastError && setProblems(parseProblems(first.lastError)));
    // Health alone, now and then and soon after a call (what a call does may be a problem: a
    // handler that held the event loop); a failed read waits for the next.
    let healthSoon: ReturnType<typeof setTimeout> | undefined;
    const readHealth = () => {
      healthSoon = undefined;
      fetchDocument<Health>("health").then((next) => {
        setHealth(next);
        if (next.typeCheck) setTypeCheck(next.typeCheck);
      }, () => undefined);
    };
    const healthTimer = setInterval(readHealth, HEALTH_EVERY_MS);
    let flashTimer: ReturnType<typeof setTimeout> | undefined;
    const unlisten = [
      listen<Invocation>("gateway://invocation", ({ payload: p }) => {
        addLog("invocation", p.cmd, `${p.outcome} · ${p.status} · ${formatMs(p.ms)} · window ${p.window} (${p.transport})${byWhom(p.principal)}`, p.outcome !== "ok");
        healthSoon ??= setTimeout(readHealth, 300);
      }),
      listen<TypeCheck>("gateway://type-check", ({ payload }) => {
        setTypeCheck(payload);
        if (!payload.ok) addLog("error", "type check", payload.problems.map((p) => `${where(p)}: ${p.message}`).join("; "), true);
      }),
      listen<Reload>("gateway://reload", ({ payload }) => {
        addLog("reload", `generation ${payload.generation}`, payload.changed.join(", "));
        setProblems([]);
        setFlash(`reloaded: generation ${payload.generation}`);
        clearTimeout(flashTimer);
        flashTimer = setTimeout(() => setFlash(undefined), 3000);
        void load();
      }),
      listen<BrokenEdit>("gateway://error", ({ payload }) => {
        addLog("error", "broken edit", payload.problems.map((p) => `${where(p)}: ${p.message}`).join("; "), true);
        setProblems(payload.problems);
        void load();
      }),
    ];
    return () => {
      clearInterval(healthTimer);
      clearTimeout(healthSoon);
      unlisten.forEach((off) => void off.then((f) => f()));
    };
  }, []);

  const topics = catalog ? Object.keys(catalog.events) : [];
  useListeners(topics.filter((t) => !muted.has(t)));

  if (!catalog) return <div class={failure ? "banner" : "loading"}>{failure ?? "Loading the catalog…"}</div>;
  const [kind, name] = splitSelection(selected, catalog);
  const toggleListen = (topic: string, on: boolean) => {
    const next = new Set(muted);
    if (on) next.delete(topic);
    else next.add(topic);
    setMuted(next);
  };

  return (
    <div class="console">
      <header class="top">
        <h1>
          ipc-gateway <span>dev console</span>
        </h1>
        <span class="meta">generation {health?.generation ?? "?"}</span>
        <span class="meta">
          window <code>{getCurrentWindow().label}</code>
        </span>
        {flash && <span class="flash">{flash}</span>}
        {principals && (principals.auth || principals.capabilities !== null) && <CallAsControl principals={principals} />}
        <nav>
          <a href="/__gateway/catalog.json">catalog.json</a>
          <a href="/__gateway/manifest.json">manifest.json</a>
          <a href="/__gateway/health">health</a>
          <a href="/__gateway/openapi.json">openapi.json</a>
          <a href="/__gateway/asyncapi.json">asyncapi.json</a>
        </nav>
      </header>
      <div class="banners">
        {problems.length > 0 && <Banner problems={problems} ready={health?.ok !== false} />}
        {health?.problems && health.problems.length > 0 && <GatewayProblems problems={health.problems} />}
        {typeCheck && typeCheck.problems.length > 0 && <TypeErrors check={typeCheck} />}
        {failure && <div class="banner">{failure}</div>}
      </div>
      <Sidebar catalog={catalog} kind={kind} name={name} muted={muted} />
      <main>
        <Contained key={`${kind}:${name}`}>
          {kind === "command" && <CommandView key={`c:${name}`} name={name} catalog={catalog} described={manifest?.commands[name]} openInEditor={manifest?.openInEditor ?? null} />}
          {kind === "event" && <EventView key={`e:${name}`} name={name} catalog={catalog} listening={!muted.has(name)} onListen={(on) => toggleListen(name, on)} />}
          {kind === "channel" && <ChannelView key={`ch:${name}`} name={name} catalog={catalog} />}
          {kind === "none" && (
            <p class="note">{health?.ok === false ? "The app does not build yet: its commands show here once it does." : "This app declares no commands, channels or events yet."}</p>
          )}
        </Contained>
      </main>
      <LogPanel />
    </div>
  );
}

/** One item's view failing to render says so there; the rest of the console goes on. */
function Contained({ children }: { children: ComponentChildren }) {
  const [error] = useErrorBoundary();
  if (error) return <div class="banner" role="alert">This item could not be shown: {String(error)}</div>;
  return <>{children}</>;
}

function Banner({ problems, ready }: { problems: Problem[]; ready: boolean }) {
  return (
    <div class="banner broken" role="alert">
      <strong>{ready ? "The last edit is broken; the gateway keeps serving the previous version." : "The app does not build yet; every command answers not-ready."}</strong>
      <ul>
        {problems.map((p, i) => (
          <li key={i}>
            {where(p) && <code class="where">{where(p)}</code>} {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** health's `problems`: what is wrong with the gateway itself now (the app may build fine). */
function GatewayProblems({ problems }: { problems: GatewayProblem[] }) {
  return (
    <div class="banner problems" role="alert">
      <strong>The gateway has {problems.length === 1 ? "a problem" : `${problems.length} problems`} now:</strong>
      <ul>
        {problems.map((p) => (
          <li key={p.problem} data-problem={p.problem}>
            <code class="where">{p.problem}</code> {p.message} <small>(since {new Date(p.since).toLocaleTimeString()})</small>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The background type check's findings (gateway dev --check-types): the app still runs. */
function TypeErrors({ check }: { check: TypeCheck }) {
  const count = check.problems.length;
  return (
    <div class="banner types" role="alert">
      <strong>
        The type check found {count === 1 ? "a problem" : `${count} problems`} ({check.checked} handler{check.checked === 1 ? "" : "s"} checked); the gateway serves them anyway.
      </strong>
      <ul>
        {check.problems.map((p, i) => (
          <li key={i}>
            {where(p) && <code class="where">{where(p)}</code>} {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

type Kind = "command" | "event" | "channel";

function Sidebar({ catalog, kind, name, muted }: { catalog: Catalog; kind: string; name: string; muted: ReadonlySet<string> }) {
  const group = (title: string, of: Kind, names: string[], badge: (name: string) => string | undefined) => (
    <section>
      <h2>
        {title} <span class="count">{names.length}</span>
      </h2>
      <ul>
        {names.map((n) => (
          <li key={n}>
            <a href={`#${of}/${encodeURIComponent(n)}`} class={of === kind && n === name ? "current" : undefined} data-item={`${of}:${n}`}>
              {n}
              {badge(n) && <small>{badge(n)}</small>}
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
  return (
    <nav class="side" aria-label="Commands, channels and events">
      {group("Commands", "command", Object.keys(catalog.commands), (n) => {
        const c = catalog.commands[n]!;
        return Object.keys(c.channels).length > 0 ? "channel" : c.body === "binary" || c.returns === "binary" ? "bytes" : undefined;
      })}
      {group("Channels", "channel", Object.keys(catalog.channels), () => undefined)}
      {group("Events", "event", Object.keys(catalog.events), (n) => {
        const from = catalog.events[n]!.from.includes("frontend") ? "emit · " : "";
        return from + (muted.has(n) ? "muted" : "listen");
      })}
    </nav>
  );
}

/** The selection in the URL's hash (#command/greet), so a reload keeps it and links work. */
function useHash(): string {
  const read = () => {
    try {
      return decodeURIComponent(location.hash.replace(/^#/, ""));
    } catch {
      return ""; // not percent-encoding (#command/%E0%A4%A): it names nothing, the first item shows
    }
  };
  const [hash, setHash] = useState(read);
  useEffect(() => {
    const changed = () => setHash(read());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

/** The selected item, or the first command (event, channel) when the hash names none. */
function splitSelection(hash: string, catalog: Catalog): [Kind | "none", string] {
  const slash = hash.indexOf("/");
  const kind = hash.slice(0, slash);
  const name = hash.slice(slash + 1);
  if (kind === "command" && Object.hasOwn(catalog.commands, name)) return ["command", name];
  if (kind === "event" && Object.hasOwn(catalog.events, name)) return ["event", name];
  if (kind === "channel" && Object.hasOwn(catalog.channels, name)) return ["channel", name];
  const first = (["command", "event", "channel"] as const)
    .map((k) => [k, Object.keys(k === "command" ? catalog.commands : k === "event" ? catalog.events : catalog.channels)[0]] as const)
    .find(([, n]) => n !== undefined);
  return first ? [first[0], first[1]!] : ["none", ""];
}

/** Listen to exactly these topics (through @tauri-apps/api's listen); what arrives is logged. */
function useListeners(topics: string[]): void {
  const active = useRef(new Map<string, Promise<UnlistenFn>>());
  const key = topics.join("\n");
  useEffect(() => {
    const wanted = new Set(topics);
    for (const [topic, unlisten] of active.current) {
      if (wanted.has(topic)) continue;
      active.current.delete(topic);
      void unlisten.then((off) => off());
    }
    for (const topic of wanted) {
      if (active.current.has(topic)) continue;
      const listening = listen(topic, (event) => addLog("event", topic, brief(event.payload))).catch((error: unknown) => {
        // A capability may not let the console hear it: said once in the log, nothing to unlisten.
        addLog("event", topic, `not listening: ${brief(error)}`, true);
        return () => undefined;
      });
      active.current.set(topic, listening);
    }
  }, [key]);
  useEffect(() => () => active.current.forEach((unlisten) => void unlisten.then((off) => off())), []);
}

function where(p: Problem): string {
  return p.line === null ? p.file : `${p.file}:${p.line}:${p.column ?? 1}`;
}

/** health's lastError (`path:line:col: message` lines) as problems. */
function parseProblems(text: string): Problem[] {
  return text.split("\n").map((line) => {
    const match = /^(.+?):(\d+):(\d+): (.*)$/.exec(line);
    return match ? { file: match[1]!, line: Number(match[2]), column: Number(match[3]), message: match[4]! } : { file: "", line: null, column: null, message: line };
  });
}
