// Forms built from JSON Schemas: a field per object property (strings, numbers and integers,
// booleans, enums, nested objects), JSON for anything else or on demand, and bytes as text, hex
// or a file. A form's value is the value it describes (undefined: left out). A field that cannot
// give a value holds an Invalid, which stops the form from being sent and says why.
import { useState } from "preact/hooks";
import type { Slot } from "./api.ts";
import { fieldAt, initialValue, summary, TOP, type Definitions, type Field, type Place } from "./schema.ts";

export class Invalid {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {}
}

/** The first Invalid inside a form's value. */
export function findInvalid(value: unknown): Invalid | undefined {
  if (value instanceof Invalid) return value;
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return undefined;
  for (const child of Object.values(value)) {
    const invalid = findInvalid(child);
    if (invalid) return invalid;
  }
  return undefined;
}

/** What a form for a slot starts with. */
export function initialFor(slot: Slot, defs: Definitions): unknown {
  if (slot === "binary") return new Uint8Array();
  if (slot === null) return {};
  return initialValue(slot, defs, true);
}

interface FormProps {
  slot: Slot;
  defs: Definitions;
  /** Body fields that carry a Channel (field -> channel name): the console fills them in. */
  channels?: Record<string, string>;
  value: unknown;
  onChange(value: unknown): void;
}

/** The form for a command's body or an event's payload, with a switch to edit it as JSON. */
export function ValueForm({ slot, defs, channels = {}, value, onChange }: FormProps) {
  const [asJson, setAsJson] = useState(false);
  // Bumped when leaving the JSON editor, so that the fields start again from its value.
  const [round, setRound] = useState(0);
  const [refusal, setRefusal] = useState<string>();

  if (slot === "binary") return <BinaryField path="body" onChange={onChange} />;
  const { field, inner } = fieldAt(slot ?? undefined, defs, TOP);
  if (field.kind === "channel") return <p class="note">The whole body is a Channel ({field.channel}): the console passes one.</p>;
  const canUseFields = field.kind !== "json";
  const channelNote = Object.keys(channels).length > 0 && (
    <p class="note">
      {Object.entries(channels).map(([name, channel]) => (
        <span key={name}>
          <code>{name}</code>: a <code>Channel</code> ({channel}), passed by the console; its messages show below.{" "}
        </span>
      ))}
    </p>
  );

  if (!canUseFields || asJson) {
    return (
      <div class="value-form">
        {canUseFields && (
          <ModeSwitch
            asJson
            onFields={() => {
              const invalid = findInvalid(value);
              if (invalid) return setRefusal(`fix the JSON first: ${invalid.reason}`);
              setRefusal(undefined);
              setAsJson(false);
              setRound(round + 1);
            }}
          />
        )}
        <JsonField path="body" value={value} required rows={8} onChange={onChange} />
        {refusal && <small class="field-error">{refusal}</small>}
        {channelNote}
      </div>
    );
  }
  return (
    <div class="value-form" key={round}>
      <ModeSwitch asJson={false} onJson={() => setAsJson(true)} />
      <ValueField field={field} place={inner} path={field.kind === "object" ? "" : "body"} defs={defs} required value={value} onChange={onChange} channels={channels} />
    </div>
  );
}

function ModeSwitch({ asJson, onJson, onFields }: { asJson: boolean; onJson?: () => void; onFields?: () => void }) {
  return (
    <div class="segmented mode" role="group" aria-label="Edit as">
      <button type="button" aria-pressed={!asJson} onClick={onFields}>
        fields
      </button>
      <button type="button" aria-pressed={asJson} onClick={onJson}>
        JSON
      </button>
    </div>
  );
}

interface FieldProps {
  field: Field;
  /** Where this field's own fields sit (an object's properties): how deep, inside which definitions. */
  place: Place;
  defs: Definitions;
  /** The field's name in the form ("a.b" for nested properties): its input's name and id. */
  path: string;
  required: boolean;
  value: unknown;
  onChange(value: unknown): void;
  channels?: Record<string, string>;
}

function ValueField(props: FieldProps) {
  const { field, path, required, value, onChange } = props;
  switch (field.kind) {
    case "string":
      return (
        <input
          type="text"
          id={path}
          name={path}
          value={typeof value === "string" ? value : ""}
          onInput={(e) => onChange(e.currentTarget.value === "" && !required ? undefined : e.currentTarget.value)}
        />
      );
    case "number":
      return <NumberField {...props} integer={field.integer} />;
    case "boolean":
      if (required) return <input type="checkbox" id={path} name={path} checked={value === true} onChange={(e) => onChange(e.currentTarget.checked)} />;
      return <Choice path={path} options={[true, false]} required={false} value={value} onChange={onChange} />;
    case "enum":
      return <Choice path={path} options={field.options} required={required} value={value} onChange={onChange} />;
    case "const":
      return <code class="const">{JSON.stringify(field.value)}</code>;
    case "object":
      return <ObjectFields {...props} field={field} />;
    case "channel":
      return <span class="note">a Channel ({field.channel}); only a body's own fields can carry one here</span>;
    case "json":
      return <JsonField path={path} value={value} required={required} rows={3} onChange={onChange} />;
  }
}

function ObjectFields({ field, place, defs, path, required, value, onChange, channels = {} }: FieldProps & { field: Extract<Field, { kind: "object" }> }) {
  const object = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const set = (name: string, child: unknown) => {
    const next = { ...object };
    if (child === undefined) delete next[name];
    else next[name] = child;
    onChange(!required && Object.keys(next).length === 0 ? undefined : next);
  };
  const fields = (
    <div class="fields">
      {field.properties.map(([name, schema]) => {
        const childPath = path === "" ? name : `${path}.${name}`;
        const channel = path === "" ? channels[name] : undefined;
        const { field: child, inner } = fieldAt(schema, defs, place);
        const description = typeof child.schema.description === "string" ? child.schema.description : undefined;
        return (
          <div class="field" key={name}>
            <label for={childPath}>
              {name}
              {field.required.has(name) && (
                <span class="required" title="required">
                  *
                </span>
              )}
            </label>
            <div class="input">
              {channel !== undefined ? (
                <span class="channel-field">Channel ({channel})</span>
              ) : (
                <ValueField field={child} place={inner} defs={defs} path={childPath} required={field.required.has(name)} value={object[name]} onChange={(v) => set(name, v)} />
              )}
              <small class="hint">
                {channel !== undefined ? "the console passes a Channel; its messages show with the answer" : summary(child)}
                {description && ` · ${description}`}
              </small>
            </div>
          </div>
        );
      })}
    </div>
  );
  return path === "" ? fields : <fieldset class="nested">{fields}</fieldset>;
}

function NumberField({ path, value, onChange, integer, field }: FieldProps & { integer: boolean }) {
  const [text, setText] = useState(typeof value === "number" ? String(value) : "");
  const bound = (key: string) => (typeof field.schema[key] === "number" ? (field.schema[key] as number) : undefined);
  return (
    <input
      type="number"
      id={path}
      name={path}
      step={integer ? 1 : "any"}
      min={bound("minimum")}
      max={bound("maximum")}
      value={text}
      onInput={(e) => {
        const entered = e.currentTarget.value;
        setText(entered);
        // Empty leaves it out (a required one is then the gateway's to refuse, as it would be).
        if (entered.trim() === "") return onChange(undefined);
        const number = Number(entered);
        onChange(Number.isFinite(number) ? number : new Invalid(path, `${path} is not a number`));
      }}
    />
  );
}

/** A select over a few values (enums, optional booleans); an empty choice leaves it out. */
function Choice({ path, options, required, value, onChange }: { path: string; options: unknown[]; required: boolean; value: unknown; onChange(value: unknown): void }) {
  const selected = options.findIndex((option) => JSON.stringify(option) === JSON.stringify(value));
  return (
    <select id={path} name={path} value={selected === -1 ? "" : String(selected)} onChange={(e) => onChange(e.currentTarget.value === "" ? undefined : options[Number(e.currentTarget.value)])}>
      {(!required || selected === -1) && <option value="">—</option>}
      {options.map((option, i) => (
        <option key={i} value={String(i)}>
          {typeof option === "string" ? option : JSON.stringify(option)}
        </option>
      ))}
    </select>
  );
}

function JsonField({ path, value, required, rows, onChange }: { path: string; value: unknown; required: boolean; rows: number; onChange(value: unknown): void }) {
  const [text, setText] = useState(value === undefined || value instanceof Invalid ? "" : JSON.stringify(value, null, 2));
  const [error, setError] = useState<string>();
  return (
    <div class="json-field">
      <textarea
        id={path}
        name={path}
        rows={rows}
        spellcheck={false}
        placeholder={required ? "JSON" : "JSON (empty: left out)"}
        value={text}
        onInput={(e) => {
          const entered = e.currentTarget.value;
          setText(entered);
          const parsed = parseJson(entered, path);
          setError(parsed instanceof Invalid ? parsed.reason : undefined);
          onChange(parsed);
        }}
      />
      {error && <small class="field-error">{error}</small>}
    </div>
  );
}

function parseJson(text: string, path: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return new Invalid(path, `${path} is not JSON: ${(error as Error).message}`);
  }
}

type BinaryMode = "text" | "hex" | "file";

/** Raw bytes: typed as UTF-8 text or hex digits, or read from a file. */
function BinaryField({ path, onChange }: { path: string; onChange(value: unknown): void }) {
  const [mode, setMode] = useState<BinaryMode>("text");
  const [text, setText] = useState("");
  const [file, setFile] = useState<string>();
  const change = (nextMode: BinaryMode, nextText: string) => {
    setText(nextText);
    onChange(nextMode === "hex" ? parseHex(nextText, path) : new TextEncoder().encode(nextText));
  };
  const switchTo = (next: BinaryMode) => {
    // Text and hex convert into each other when they can.
    if (next === "hex" && mode === "text") change(next, hexOf(new TextEncoder().encode(text)));
    else if (next === "text" && mode === "hex") {
      const bytes = parseHex(text, path);
      change(next, bytes instanceof Invalid ? "" : new TextDecoder().decode(bytes));
    } else if (next === "file") {
      setFile(undefined);
      onChange(new Uint8Array());
    } else change(next, "");
    setMode(next);
  };
  return (
    <div class="binary">
      <div class="segmented" role="group" aria-label="Bytes as">
        {(["text", "hex", "file"] as const).map((m) => (
          <button type="button" key={m} aria-pressed={mode === m} onClick={() => switchTo(m)}>
            {m}
          </button>
        ))}
      </div>
      {mode === "file" ? (
        <input
          type="file"
          name={path}
          onChange={async (e) => {
            const chosen = e.currentTarget.files?.[0];
            setFile(chosen ? `${chosen.name}: ${chosen.size} bytes` : undefined);
            onChange(chosen ? new Uint8Array(await chosen.arrayBuffer()) : new Uint8Array());
          }}
        />
      ) : (
        <textarea
          id={path}
          name={path}
          rows={3}
          spellcheck={false}
          placeholder={mode === "hex" ? "hex digits, e.g. 48 69 0a" : "text, sent as UTF-8"}
          value={text}
          onInput={(e) => change(mode, e.currentTarget.value)}
        />
      )}
      <small class="hint">{file ?? "raw bytes, sent as application/octet-stream"}</small>
    </div>
  );
}

function parseHex(text: string, path: string): Uint8Array | Invalid {
  const digits = text.replace(/0x|[\s,]/gi, "");
  if (!/^(?:[0-9a-f]{2})*$/i.test(digits)) return new Invalid(path, `${path}: hex needs pairs of digits 0-9 a-f`);
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** How the console shows a value: JSON, or bytes as their size, text and hex. */
export function ValueView({ value }: { value: unknown }) {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    let text: string | undefined;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      text = undefined;
    }
    return (
      <div class="bytes">
        <small>{bytes.byteLength} bytes</small>
        {text !== undefined && <pre class="value">{text}</pre>}
        <pre class="hex">{hexOf(bytes.subarray(0, 256)) + (bytes.byteLength > 256 ? " …" : "")}</pre>
      </div>
    );
  }
  return <pre class="value">{JSON.stringify(value, null, 2) ?? "undefined"}</pre>;
}
