// One command, event or channel: its schemas, and for commands and events a form to try it
// through the real @tauri-apps/api (invoke with Channels; emit), or over HTTP as the principal
// "call as" names (call-as.tsx). A command also shows its handler (a link into the editor when
// the gateway has openInEditor), its time limit and windows, and the invoke() call the form makes.
import { Channel, invoke, type InvokeArgs } from "@tauri-apps/api/core";
import { emit } from "@tauri-apps/api/event";
import { useEffect, useRef, useState } from "preact/hooks";
import { editorUrl, emitAs, invokeAs, sameOrigin, type CallAs, type Catalog, type HandlerSource, type Manifest, type Slot } from "./api.ts";
import { currentCallAs, describeCallAs, useCallAs } from "./call-as.tsx";
import { findInvalid, initialFor, ValueForm, ValueView } from "./form.tsx";
import { addLog, addToGroup, brief, useLog } from "./log.tsx";
import { invokeSnippet } from "./snippet.ts";
import { referencedNames, refName, type Definitions } from "./schema.ts";

interface ChannelMessage {
  field: string;
  index: number;
  message: unknown;
}

/** One invocation from the form: running, then its answer or error, and what its channels sent. */
interface Run {
  id: number;
  /** Made as this principal (call as); undefined: as the console itself. */
  as?: CallAs;
  done?: { ok: boolean; value: unknown; ms: number };
  /** The form could not be sent (a field holds no value). */
  refused?: string;
  messages: ChannelMessage[];
  received: number;
}

const SHOWN_MESSAGES = 200;

interface CommandViewProps {
  name: string;
  catalog: Catalog;
  /** The command in manifest.json: time limit, windows and (under dev) its handler. */
  described: Manifest["commands"][string] | undefined;
  openInEditor: string | null;
}

export function CommandView({ name, catalog, described, openInEditor }: CommandViewProps) {
  const command = catalog.commands[name]!;
  const defs = catalog.$defs;
  const [body, setBody] = useState(() => initialFor(command.body, defs));
  const [run, setRun] = useState<Run>();
  const runs = useRef(0);
  const channelFields = Object.entries(command.channels);

  const submit = async (event: Event) => {
    event.preventDefault();
    const id = ++runs.current;
    const update = (change: (run: Run) => Run) => setRun((current) => (current?.id === id ? change(current) : current));
    const invalid = findInvalid(body);
    if (invalid) return setRun({ id, refused: invalid.reason, messages: [], received: 0 });
    const as = currentCallAs();
    if (as !== undefined && channelFields.length > 0) {
      // The gateway streams a page's channels only to calls of that page's own principal.
      return setRun({ id, refused: `"${name}" streams on a Channel to this console's connection, so it can only be called as the console itself (choose "this console" under call as)`, messages: [], received: 0 });
    }
    setRun({ id, messages: [], received: 0, ...(as !== undefined ? { as } : {}) });
    if (as !== undefined) {
      const started = performance.now();
      try {
        const value = await invokeAs(name, body, as);
        update((r) => ({ ...r, done: { ok: true, value, ms: performance.now() - started } }));
      } catch (error) {
        update((r) => ({ ...r, done: { ok: false, value: error, ms: performance.now() - started } }));
      }
      return;
    }

    let args: unknown = body;
    // This call's channel messages: one row of the log, made at the first message.
    let group: number | undefined;
    const names = [...new Set(channelFields.map(([, channelName]) => channelName))].join(", ");
    const say = (n: number) => `${n} channel message${n === 1 ? "" : "s"} (${names})`;
    for (const [field, channelName] of channelFields) {
      let index = 0;
      const channel = new Channel<unknown>((message) => {
        const entry = { field, index: index++, message };
        update((r) => ({ ...r, messages: [...r.messages.slice(1 - SHOWN_MESSAGES), entry], received: r.received + 1 }));
        // Which field, only when the command has several.
        const item = { title: `${channelName} #${entry.index}${channelFields.length > 1 ? ` (${field || "body"})` : ""}`, detail: brief(message) };
        if (group === undefined || !addToGroup(group, item, say)) {
          // The first message (or the row was cleared meanwhile): a new row, counting from here.
          group = addLog("channel", name);
          addToGroup(group, item, say);
        }
      });
      args = field === "" ? channel : { ...(args as Record<string, unknown> | undefined), [field]: channel };
    }
    const started = performance.now();
    try {
      const value = await invoke<unknown>(name, args as InvokeArgs);
      update((r) => ({ ...r, done: { ok: true, value, ms: performance.now() - started } }));
    } catch (error) {
      update((r) => ({ ...r, done: { ok: false, value: error, ms: performance.now() - started } }));
    }
  };

  return (
    <article class="item" data-command={name}>
      <header>
        <h2>{name}</h2>
        <span class="badge">command</span>
        {command.body === "binary" && <span class="badge">bytes in</span>}
        {command.returns === "binary" && <span class="badge">bytes out</span>}
        {channelFields.length > 0 && <span class="badge channel">channel</span>}
      </header>
      {described && <CommandFacts described={described} openInEditor={openInEditor} />}
      <form class="try" onSubmit={submit} noValidate>
        <h3>Body</h3>
        <ValueForm slot={command.body} defs={defs} channels={command.channels} value={body} onChange={setBody} />
        <div class="actions">
          <button type="submit" class="primary" disabled={run !== undefined && !run.done && !run.refused}>
            Invoke
          </button>
        </div>
        <Snippet text={invokeSnippet(name, body, command.channels)} />
      </form>
      {run && <RunView run={run} channels={command.channels} />}
      <div class="schemas">
        <SchemaView label="Body" slot={command.body} defs={defs} />
        <SchemaView label="Returns" slot={command.returns} defs={defs} />
        {command.errors !== null && <SchemaView label="Errors (InvokeError values)" slot={command.errors} defs={defs} />}
      </div>
    </article>
  );
}

/** The handler (its file, linked into the editor when it can be), the time limit and the windows. */
function CommandFacts({ described, openInEditor }: { described: NonNullable<CommandViewProps["described"]>; openInEditor: string | null }) {
  const { handler, timeout, windows } = described;
  return (
    <dl class="facts">
      {handler && (
        <>
          <dt>handler</dt>
          <dd>
            <HandlerFile handler={handler} openInEditor={openInEditor} />
          </dd>
        </>
      )}
      <dt>timeout</dt>
      <dd data-fact="timeout">{formatDuration(timeout)}</dd>
      <dt>windows</dt>
      <dd data-fact="windows">
        {windows
          ? windows.map((w, i) => (
              <span key={w}>
                {i > 0 && ", "}
                <code>{w}</code>
              </span>
            ))
          : "any"}
      </dd>
    </dl>
  );
}

function HandlerFile({ handler, openInEditor }: { handler: HandlerSource; openInEditor: string | null }) {
  const [trouble, setTrouble] = useState<string>();
  const place = `${handler.file}${handler.line === undefined ? "" : `:${handler.line}`}`;
  const exported = handler.export === "default" ? "default export" : `export ${handler.export}`;
  if (openInEditor === null) {
    return (
      <span class="handler">
        <code class="handler-file">{place}</code> <small>{exported}</small> <CopyButton text={place} label="copy path" />
      </span>
    );
  }
  const url = editorUrl(openInEditor, handler.path, handler.line);
  const local = sameOrigin(url);
  const open = (event: MouseEvent) => {
    if (!local) return; // another origin: the link opens it (the console may not fetch there)
    event.preventDefault();
    // As Vite's error overlay does: a request, and the editor opens the file.
    fetch(url, { cache: "no-store" }).then(
      (response) => setTrouble(response.ok ? undefined : `${openInEditor} answered ${response.status}`),
      (error: unknown) => setTrouble(`${openInEditor} could not be reached: ${String(error)}`),
    );
  };
  return (
    <span class="handler">
      <a class="handler-file" href={url} onClick={open} title={`open ${handler.path} in the editor`} {...(local ? {} : { target: "_blank", rel: "noreferrer" })}>
        {place}
      </a>{" "}
      <small>{exported}</small>
      {trouble && <small class="field-error">{trouble}</small>}
    </span>
  );
}

/** Code to copy: shown as it is, with a Copy button. */
function Snippet({ text }: { text: string }) {
  return (
    <div class="snippet">
      <pre>
        <code>{text}</code>
      </pre>
      <CopyButton text={text} />
    </div>
  );
}

function CopyButton({ text, label = "copy" }: { text: string; label?: string }) {
  const [said, setSaid] = useState<string>();
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async () => {
    const copied = await copyText(text);
    setSaid(copied ? "copied" : "could not copy: select it instead");
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setSaid(undefined), 2000);
  };
  return (
    <button type="button" class="quiet copy" onClick={copy}>
      {said ?? label}
    </button>
  );
}

/** navigator.clipboard, else (an insecure origin, a refused permission) the older copy command. */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.readOnly = true;
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    } finally {
      area.remove();
    }
  }
}

function RunView({ run, channels }: { run: Run; channels: Record<string, string> }) {
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => list.current?.scrollTo({ top: list.current.scrollHeight }), [run.received]); // follow the stream
  if (run.refused)
    return (
      <div class="outcome error" data-run={run.id}>
        {run.refused}
      </div>
    );
  const { done } = run;
  return (
    <div class={`outcome ${done ? (done.ok ? "ok" : "error") : "running"}`} data-outcome={done ? (done.ok ? "ok" : "error") : "running"} data-run={run.id}>
      <div class="outcome-head">
        <strong>{done ? (done.ok ? "answer" : "rejected with") : "running…"}</strong>
        {run.as !== undefined && (
          <span class="as" data-as={describeCallAs(run.as)}>
            as {describeCallAs(run.as)}
          </span>
        )}
        {done && <span class="ms">{formatMs(done.ms)}</span>}
      </div>
      {done && <ValueView value={done.value} />}
      {Object.keys(channels).length > 0 && (
        <div class="messages" data-received={run.received}>
          <div class="outcome-head">
            <strong>channel messages</strong>
            <span>{run.received}</span>
          </div>
          <ol ref={list}>
            {run.messages.map((m) => (
              <li key={`${m.field}#${m.index}`}>
                <span class="index">
                  {channels[m.field]} #{m.index}
                </span>
                <code>{brief(m.message)}</code>
              </li>
            ))}
          </ol>
        </div>
      )}
    </div>
  );
}

export function EventView({ name, catalog, listening, onListen }: { name: string; catalog: Catalog; listening: boolean; onListen(on: boolean): void }) {
  const event = catalog.events[name]!;
  const defs = catalog.$defs;
  const canEmit = event.from.includes("frontend");
  const [payload, setPayload] = useState(() => initialFor(event.payload, defs));
  const [sent, setSent] = useState<{ ok: boolean; value: unknown; ms: number; as?: CallAs } | { refused: string }>();
  const callAs = useCallAs();
  const received = useLog()
    .filter((e) => e.kind === "event" && e.title === name && !e.failed) // not a refused listen
    .slice(0, 8);

  const submit = async (e: Event) => {
    e.preventDefault();
    const invalid = findInvalid(payload);
    if (invalid) return setSent({ refused: invalid.reason });
    const started = performance.now();
    const as = currentCallAs();
    const who = as === undefined ? {} : { as };
    addLog("emit", name, brief(payload) + (as === undefined ? "" : ` · as ${describeCallAs(as)}`)); // before it comes back to our own listener
    try {
      if (as === undefined) await emit(name, payload);
      else await emitAs(name, payload, as);
      setSent({ ok: true, value: null, ms: performance.now() - started, ...who });
    } catch (error) {
      setSent({ ok: false, value: error, ms: performance.now() - started, ...who });
      addLog("emit", name, `refused: ${brief(error)}`, true);
    }
  };

  return (
    <article class="item" data-event={name}>
      <header>
        <h2>{name}</h2>
        <span class="badge">event</span>
        <span class="badge">from {event.from.join(" and ")}</span>
      </header>
      {canEmit ? (
        <form class="try" onSubmit={submit} noValidate>
          <h3>Payload</h3>
          <ValueForm slot={event.payload} defs={defs} value={payload} onChange={setPayload} />
          <div class="actions">
            <button type="submit" class="primary">
              Emit
            </button>
            <code class="call">emit("{name}", …)</code>
          </div>
        </form>
      ) : (
        <p class="note">Only the backend emits {name} (from: {event.from.join(", ")}); pages may listen.</p>
      )}
      {sent &&
        ("refused" in sent ? (
          <div class="outcome error">{sent.refused}</div>
        ) : (
          <div class={`outcome ${sent.ok ? "ok" : "error"}`} data-outcome={sent.ok ? "ok" : "error"}>
            <div class="outcome-head">
              <strong>{sent.ok ? "emitted" : "refused"}</strong>
              {sent.as !== undefined && <span class="as">as {describeCallAs(sent.as)}</span>}
              <span class="ms">{formatMs(sent.ms)}</span>
            </div>
            {!sent.ok && <ValueView value={sent.value} />}
          </div>
        ))}
      <section class="listen">
        {callAs !== undefined && <p class="note">The console listens as itself (its own connection); call as applies to what it emits.</p>}
        <label>
          <input type="checkbox" name="listen" checked={listening} onChange={(e) => onListen(e.currentTarget.checked)} /> listen (what arrives goes to the log)
        </label>
        {received.length > 0 && (
          <ol class="received">
            {received.map((entry) => (
              <li key={entry.id}>
                <code>{entry.detail}</code>
              </li>
            ))}
          </ol>
        )}
      </section>
      <div class="schemas">
        <SchemaView label="Payload" slot={event.payload} defs={defs} />
      </div>
    </article>
  );
}

export function ChannelView({ name, catalog }: { name: string; catalog: Catalog }) {
  const channel = catalog.channels[name]!;
  const users = Object.entries(catalog.commands).flatMap(([command, c]) =>
    Object.entries(c.channels)
      .filter(([, ch]) => ch === name)
      .map(([field]) => ({ command, field })),
  );
  return (
    <article class="item" data-channel={name}>
      <header>
        <h2>{name}</h2>
        <span class="badge channel">channel</span>
      </header>
      <p class="note">
        {users.length === 0
          ? "No command takes this channel."
          : users.map(({ command, field }, i) => (
              <span key={command}>
                {i > 0 && ", "}
                <a href={`#command/${encodeURIComponent(command)}`}>{command}</a>
                <code>.{field || "body"}</code>
              </span>
            ))}
        {users.length > 0 && " takes it: invoke from there to watch its messages."}
      </p>
      <div class="schemas">
        <SchemaView label="Message" slot={channel.message} defs={catalog.$defs} />
      </div>
    </article>
  );
}

/** A slot's schema: its definition and each definition it uses, as JSON. */
function SchemaView({ label, slot, defs }: { label: string; slot: Slot; defs: Definitions }) {
  const root = slot !== null && slot !== "binary" ? refName(slot.$ref) : undefined;
  return (
    <section class="schema">
      <h3>
        {label}
        {root !== undefined && <code class="type-name">{root}</code>}
      </h3>
      {slot === "binary" ? (
        <p class="note">raw bytes (application/octet-stream)</p>
      ) : root === undefined ? (
        <p class="note">any JSON (no schema)</p>
      ) : (
        referencedNames(root, defs).map((name, i) =>
          i === 0 ? (
            <pre key={name}>{JSON.stringify(defs[name], null, 2)}</pre>
          ) : (
            <details key={name}>
              <summary>
                <code>{name}</code>
              </summary>
              <pre>{JSON.stringify(defs[name], null, 2)}</pre>
            </details>
          ),
        )
      )}
    </section>
  );
}

/** A time limit as the manifest would say it: 30 s, 1.5 s, 200 ms. */
function formatDuration(ms: number | null): string {
  if (ms === null) return "none"; // (JSON's null: no limit)
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
