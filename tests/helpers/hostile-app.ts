// An app built to be attacked: commands that echo whatever they get, recursive body schemas,
// handlers that return or reject with values that cannot be sent, throw things that are not
// errors, or throw from their own timers after they returned; a channel, events and a static
// folder. The hostile-input suite, the property tests and the load test all run it through the
// real `gateway` bin.
export const HOSTILE_MANIFEST = `
version: 1
server:
  bodyLimit: 2mb
  requestTimeout: 2s
  static: { dir: public, fallback: index.html }
commands:
  echo:
    handler: handlers/h.ts#echo
  greet:
    handler: handlers/h.ts#greet
    body: schemas/greet.json
    returns: { type: object, properties: { message: { type: string } }, required: [message], additionalProperties: false }
  tree:
    handler: handlers/h.ts#echo
    body: schemas/tree.json
  json:
    handler: handlers/h.ts#echo
    body: schemas/json.json
  order:
    handler: handlers/h.ts#echo
    body: schemas/order.json
  bytes:
    handler: handlers/h.ts#reverse
    body: binary
    returns: binary
  returns:
    handler: handlers/h.ts#returns
    body: { type: object, properties: { what: { type: string } }, required: [what] }
  rejects:
    handler: handlers/h.ts#rejects
    body: { type: object, properties: { what: { type: string } }, required: [what] }
  throws:
    handler: handlers/h.ts#throws
    body: { type: object, properties: { what: { type: string } }, required: [what] }
  stray:
    handler: handlers/stray.ts
    body: { type: object, properties: { what: { type: string } }, required: [what] }
  emits:
    handler: handlers/h.ts#emits
    body: { type: object, properties: { what: { type: string } }, required: [what] }
  stream:
    handler: handlers/h.ts#stream
    body:
      type: object
      properties: { on: { x-channel: ticks }, what: { type: string } }
      required: [on, what]
  slow:
    handler: handlers/h.ts#slow
    timeout: 100ms
  wait:
    handler: handlers/h.ts#wait
    body: { type: object, properties: { ms: { type: integer, minimum: 0, maximum: 10000 } }, required: [ms] }
channels:
  ticks:
    message: {}
events:
  chat:
    from: [frontend, backend]
  news:
    payload: { type: object, properties: { title: { type: string } }, required: [title] }
`;

const HANDLERS = `
import { InvokeError, type Invoke } from "ipc-gateway";

export const echo = ({ body }: Invoke) => body;
export const greet = ({ body }: Invoke<{ name: string }>) => ({ message: "Hello, " + body.name + "!" });
export const reverse = ({ body }: Invoke<Uint8Array>) => Uint8Array.from(body).reverse();

function circular() {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  return a;
}
function deep(levels: number) {
  let value: unknown = 0;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}
const UNSENDABLE: Record<string, () => unknown> = {
  circular,
  bigint: () => ({ n: 10n }),
  deep: () => deep(100_000),
  deepish: () => deep(500),
  undefined: () => undefined,
  nan: () => ({ n: NaN, i: Infinity }),
  function: () => ({ f: () => 1 }),
  symbol: () => Symbol("s"),
  throwingGetter: () => ({ get boom() { throw new Error("getter"); } }),
  throwingToJSON: () => ({ toJSON() { throw new Error("toJSON"); } }),
  revokedProxy: () => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; },
  fine: () => ({ ok: true }),
};
const make = (what: string) => (UNSENDABLE[what] ?? UNSENDABLE.fine!)();

export const returns = ({ body }: Invoke<{ what: string }>) => make(body.what);
export function rejects({ body }: Invoke<{ what: string }>) {
  throw new InvokeError(make(body.what));
}

const THROWN: Record<string, () => unknown> = {
  nullProto: () => Object.create(null),
  badToString: () => ({ toString() { throw new Error("no"); }, valueOf() { throw new Error("no"); } }),
  proxy: () => new Proxy({}, { get() { throw new Error("trap"); }, getPrototypeOf() { throw new Error("trap"); } }),
  revokedProxy: () => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; },
  null: () => null,
  undefined: () => undefined,
  symbol: () => Symbol("thrown"),
  string: () => "a string",
  errorWithBadMessage: () => Object.assign(new Error("x"), { message: { toString() { throw new Error("no"); } } }),
  deepError: () => Object.assign(new Error("deep"), { detail: deep(100_000) }),
};
export async function throws({ body }: Invoke<{ what: string }>) {
  throw (THROWN[body.what] ?? THROWN.string!)();
}

export function emits({ body, app }: Invoke<{ what: string }>) {
  try {
    app.emit("chat", make(body.what));
    return "emitted";
  } catch (error) {
    return { refused: (error as { kind?: string }).kind ?? String(error) };
  }
}

export async function stream({ body }: Invoke<{ on: { send(m: unknown): Promise<void> }; what: string }>) {
  try {
    await body.on.send(make(body.what));
    return "sent";
  } catch (error) {
    return { refused: (error as { kind?: string }).kind ?? String(error) };
  }
}

export async function slow({ signal }: Invoke) {
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
}
export async function wait({ body }: Invoke<{ ms: number }>) {
  await new Promise((resolve) => setTimeout(resolve, body.ms));
  return "waited";
}
`;

// Throws after returning, from its own timers: nothing awaits these, so they reach the process.
const STRAY = `
import type { Invoke } from "ipc-gateway";

export default function stray({ body }: Invoke<{ what: string }>) {
  if (body.what === "throw") setTimeout(() => { throw new Error("stray throw from a timer"); }, 5);
  if (body.what === "reject") setTimeout(() => void Promise.reject(new Error("stray rejection from a timer")), 5);
  if (body.what === "rejectValue") setTimeout(() => void Promise.reject(Object.create(null)), 5);
  return "returned";
}
`;

export const HOSTILE_APP: Record<string, string> = {
  "gateway.yaml": HOSTILE_MANIFEST,
  "handlers/h.ts": HANDLERS,
  "handlers/stray.ts": STRAY,
  "schemas/greet.json": JSON.stringify({
    type: "object",
    properties: { name: { type: "string", minLength: 1, maxLength: 64 } },
    required: ["name"],
    additionalProperties: false,
  }),
  // A recursive schema: validating it recurses once per level of the body.
  "schemas/tree.json": JSON.stringify({
    $ref: "#/$defs/node",
    $defs: {
      node: {
        type: "object",
        properties: { label: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/node" } } },
        required: ["label"],
      },
    },
  }),
  // Any JSON value, defined recursively (the generic JSON schema people write).
  "schemas/json.json": JSON.stringify({
    $ref: "#/$defs/value",
    $defs: {
      value: {
        anyOf: [
          { type: ["null", "boolean", "number", "string"] },
          { type: "array", items: { $ref: "#/$defs/value" } },
          { type: "object", additionalProperties: { $ref: "#/$defs/value" } },
        ],
      },
    },
  }),
  "schemas/order.json": JSON.stringify({
    type: "object",
    properties: {
      id: { type: "integer", minimum: 1 },
      customer: { type: "object", properties: { email: { type: "string", format: "email" }, name: { type: "string" } }, required: ["email"] },
      items: {
        type: "array",
        minItems: 1,
        maxItems: 20,
        items: {
          type: "object",
          properties: { sku: { type: "string", pattern: "^[A-Z]{3}-\\d{3}$" }, qty: { type: "integer", minimum: 1, maximum: 99 } },
          required: ["sku", "qty"],
          additionalProperties: false,
        },
      },
      note: { type: ["string", "null"], maxLength: 200 },
      priority: { enum: ["low", "normal", "high"] },
    },
    required: ["id", "customer", "items"],
  }),
  "public/index.html": "<!doctype html><h1>app</h1>",
  "public/app.js": "console.log('app');",
  "public/.env": "SECRET=hunter2",
  "public/.git/config": "[core]",
};
