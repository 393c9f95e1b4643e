// One command, event or channel: its schemas, and for commands and events a form to try it
// through the real @tauri-apps/api (invoke with Channels; emit), or over HTTP as the principal
// "call as" names (call-as.tsx).
import { Channel, invoke, type InvokeArgs } from "@tauri-apps/api/core";
import { emit } from "@tauri-apps/api/event";
import { useEffect, useRef, useState } from "preact/hooks";
import { emitAs, invokeAs, type CallAs, type Catalog, type Slot } from "./api.ts";
import { currentCallAs, describeCallAs, useCallAs } from "./call-as.tsx";
import { findInvalid, initialFor, ValueForm, ValueView } from "./form.tsx";
import { addLog, brief, useLog } from "./log.tsx";
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

export function CommandView({ name, catalog }: { name: string; catalog: Catalog }) {
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
    for (const [field, channelName] of channelFields) {
      let index = 0;
      const channel = new Channel<unknown>((message) => {
        const entry = { field, index: index++, message };
        update((r) => ({ ...r, messages: [...r.messages.slice(1 - SHOWN_MESSAGES), entry], received: r.received + 1 }));
        addLog("channel", `${channelName} #${entry.index}`, `${name}.${field || "body"} ${brief(message)}`);
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
      <form class="try" onSubmit={submit} noValidate>
        <h3>Body</h3>
        <ValueForm slot={command.body} defs={defs} channels={command.channels} value={body} onChange={setBody} />
        <div class="actions">
          <button type="submit" class="primary" disabled={run !== undefined && !run.done && !run.refused}>
            Invoke
          </button>
          <code class="call">invoke("{name}", …)</code>
        </div>
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

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
