// The invoke() call a command's form makes, as code to paste into the app: the import from
// @tauri-apps/api/core, a Channel for each channel field, the arguments the form holds now as a
// JavaScript literal (what cannot be a value yet, such as a number field holding text, is written
// as `undefined` with the reason in a comment).
import { Invalid } from "./form.tsx";

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const RESERVED = new Set(
  "break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await async".split(
    " ",
  ),
);
/** A line longer than this is written over several lines. */
const WIDTH = 72;
/** Bytes past this are not written out (a file's contents): the snippet says how many there were. */
const BYTES_SHOWN = 256;

export function invokeSnippet(cmd: string, body: unknown, channels: Record<string, string>): string {
  const fields = Object.keys(channels);
  const lines: string[] = [];
  const variables = new Map<string, string>(); // field -> the variable holding its Channel
  for (const [i, field] of fields.entries()) {
    const variable = field !== "" && IDENTIFIER.test(field) && !RESERVED.has(field) ? field : fields.length === 1 ? "channel" : `channel${i + 1}`;
    variables.set(field, variable);
    lines.push(`const ${variable} = new Channel((message) => console.log(message)); // ${channels[field]}`);
  }
  let args: string | undefined;
  if (variables.has("")) args = variables.get("");
  else {
    let value = body;
    if (variables.size > 0) {
      const object = typeof value === "object" && value !== null && !ArrayBuffer.isView(value) ? (value as Record<string, unknown>) : {};
      value = { ...object, ...Object.fromEntries([...variables].map(([field, variable]) => [field, new Code(variable)])) };
    }
    // `invoke(cmd)` sends {} too: an empty object is left out.
    const empty = typeof value === "object" && value !== null && !ArrayBuffer.isView(value) && !Array.isArray(value) && Object.keys(value).length === 0;
    if (value !== undefined && !empty) args = literal(value, "");
  }
  const imports = variables.size > 0 ? "Channel, invoke" : "invoke";
  const call = `await invoke(${JSON.stringify(cmd)}${args === undefined ? "" : `, ${args}`});`;
  return [`import { ${imports} } from "@tauri-apps/api/core";`, "", ...lines, call].join("\n");
}

/** Code written as it is (a Channel's variable). */
class Code {
  constructor(readonly text: string) {}
}

/** `value` as a JavaScript expression, on one line when it fits, else indented under `indent`. */
function literal(value: unknown, indent: string): string {
  if (value instanceof Code) return value.text;
  if (value instanceof Invalid) return `undefined /* ${value.reason.replace(/\*\//g, "* /")} */`;
  if (value === undefined) return "undefined";
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.byteLength > BYTES_SHOWN) return `new Uint8Array(${bytes.byteLength}) /* ${bytes.byteLength} bytes: fill in yours */`;
    return `new Uint8Array([${Array.from(bytes).join(", ")}])`;
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => literal(item, `${indent}  `));
    return wrap("[", items, "]", indent);
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([key, v]) => {
        const name = IDENTIFIER.test(key) ? key : JSON.stringify(key);
        return v instanceof Code && v.text === key ? key : `${name}: ${literal(v, `${indent}  `)}`;
      });
    return entries.length === 0 ? "{}" : wrap("{ ", entries, " }", indent);
  }
  return JSON.stringify(value) ?? "undefined";
}

function wrap(open: string, items: string[], close: string, indent: string): string {
  const flat = `${open}${items.join(", ")}${close}`;
  if (flat.length + indent.length <= WIDTH && !flat.includes("\n")) return flat;
  return `${open.trim()}\n${items.map((item) => `${indent}  ${item},`).join("\n")}\n${indent}${close.trim()}`;
}
