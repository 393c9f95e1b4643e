// Property-based tests (fast-check) against the real `gateway serve` bin running the hostile app:
// whatever a client sends, over the WebSocket or HTTP, the gateway answers it, never with a 5xx
// for the client's own mistake, and keeps running. Bodies generated from the app's own JSON
// Schemas are accepted and echoed unchanged; the same bodies broken in one place are refused
// with invalid-body. One gateway serves the whole file.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import fc, { type Arbitrary } from "fast-check";
import { isUtf8 } from "node:buffer";
import { WebSocket, type RawData } from "ws";
import { tempApp, type TempApp } from "./helpers/app.ts";
import { startGateway, type RunningGateway } from "./helpers/cli.ts";
import { HOSTILE_APP } from "./helpers/hostile-app.ts";
import { invokeJson, request, type RawResponse } from "./helpers/http.ts";
import { arbitraryFromSchema, resolveRef, type Schema } from "./helpers/schema-arbitrary.ts";

const MAX_DEPTH = 128; // server.maxDepth's default: the hostile app does not set it
const TEST_TIMEOUT = 120_000; // generous: the file as a whole takes a fraction of this
/** Not a timing assertion: how long to wait before calling a missing answer a hang. */
const HANG_MS = 10_000;

/** Commands a client can only be refused by, or answered by, never failed by (no 5xx by design). */
const SAFE_COMMANDS = ["echo", "greet", "tree", "json", "order", "bytes"];
const EVENT_COMMANDS = ["plugin:event|listen", "plugin:event|unlisten", "plugin:event|emit", "plugin:event|emit_to"];
/** Commands that answer 5xx (or wait, or stream) by design: random names must not hit them. */
const UNSAFE_COMMANDS = new Set(["returns", "rejects", "throws", "slow", "stray", "emits", "stream", "wait"]);

const SCHEMAS = {
  greet: JSON.parse(HOSTILE_APP["schemas/greet.json"]!) as Schema,
  tree: JSON.parse(HOSTILE_APP["schemas/tree.json"]!) as Schema,
  json: JSON.parse(HOSTILE_APP["schemas/json.json"]!) as Schema,
  order: JSON.parse(HOSTILE_APP["schemas/order.json"]!) as Schema,
};
type SchemaCommand = keyof typeof SCHEMAS;

let app: TempApp;
let gateway: RunningGateway;

beforeAll(async () => {
  app = tempApp(HOSTILE_APP);
  gateway = await startGateway("serve", app.dir);
}, 60_000);

afterAll(() => {
  gateway?.kill();
  app?.remove();
});

// ---------------------------------------------------------------------------------------------
// What the gateway should make of a body: the model the properties compare it with.

/** How many brackets deep a JSON value nests (a scalar: 0, `[]`: 1). Iterative: any depth. */
function depthOf(root: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== "object" || value === null) {
      deepest = Math.max(deepest, depth);
      continue;
    }
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** No `__proto__` key, no `constructor.prototype`, no number that overflowed to Infinity. */
function safeToAccept(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === "number" && !Number.isFinite(value)) return false;
    if (typeof value !== "object" || value === null) continue;
    if (Object.hasOwn(value, "__proto__")) return false;
    const ctor = (value as Record<string, unknown>).constructor;
    if (Object.hasOwn(value, "constructor") && typeof ctor === "object" && ctor !== null && Object.hasOwn(ctor, "prototype")) return false;
    stack.push(...Object.values(value));
  }
  return true;
}

/**
 * A body (JSON text or bytes) as the protocol defines it: UTF-8 JSON, nothing but whitespace
 * meaning `{}`, at most MAX_DEPTH levels (plus `envelope`: a WebSocket frame's own object wraps
 * the body, which may nest as deep as over HTTP), without prototype keys or numbers a double
 * cannot hold. `undefined`: the gateway must refuse it with bad-request.
 */
function acceptedJson(input: string | Uint8Array, envelope = 0): { value: unknown } | undefined {
  const bytes = typeof input === "string" ? Buffer.from(input) : input;
  if (!isUtf8(bytes)) return undefined;
  let text = Buffer.from(bytes).toString("utf8");
  if (text.trim() === "") return { value: {} };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is tolerated
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return depthOf(value) <= MAX_DEPTH + envelope && safeToAccept(value) ? { value } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Clients.

interface Frame {
  type: string;
  [field: string]: any;
}

/** A raw page: a `ws` client that sends anything and takes the gateway's answers in order. */
class RawPage {
  private readonly answers: Frame[] = [];
  private waiter: ((frame: Frame) => void) | undefined;
  closedWith: string | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const buffer = data as Buffer;
      let frame: Frame;
      if (isBinary) {
        const length = buffer.readUInt32BE(0);
        frame = { ...JSON.parse(buffer.subarray(4, 4 + length).toString()), bytes: buffer.subarray(4 + length) };
      } else frame = JSON.parse(buffer.toString());
      // Pushes (events to listeners this page registered, the hello) are not answers.
      if (frame.type !== "reply" && frame.type !== "error") return;
      if (this.waiter) {
        const resolve = this.waiter;
        this.waiter = undefined;
        resolve(frame);
      } else this.answers.push(frame);
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.closedWith = `closed with ${code} ${reason.toString()}`;
      this.waiter?.({ type: "(socket closed)", detail: this.closedWith });
    });
  }

  static async open(base: string): Promise<RawPage> {
    const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ipc/ws`);
    const page = new RawPage(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return page;
  }

  /** Send one frame; the gateway's answer to it (the next `reply` or `error` frame). */
  async exchange(data: string | Uint8Array, binary = false): Promise<Frame> {
    if (this.closedWith !== undefined) throw new Error(`the gateway closed the page's socket: ${this.closedWith}`);
    if (this.answers.length > 0) throw new Error(`an answer nobody asked for arrived: ${JSON.stringify(this.answers)}`);
    const answer = new Promise<Frame>((resolve) => (this.waiter = resolve));
    this.ws.send(data, { binary });
    const frame = await withinHangLimit(answer, "an answer to a WebSocket frame");
    if (frame.type === "(socket closed)") throw new Error(`the gateway closed the page's socket: ${frame.detail}`);
    return frame;
  }

  close(): void {
    this.ws.close();
  }
}

async function withinHangLimit<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${HANG_MS} ms: the gateway hangs`)), HANG_MS);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

function post(cmd: string, body: string | Uint8Array, contentType: string): Promise<RawResponse> {
  return withinHangLimit(
    request(`${gateway.url}/ipc/${encodeURIComponent(cmd)}`, { headers: { "content-type": contentType }, body }),
    `answer to POST /ipc/${cmd}`,
  );
}

/** The gateway still answers an ordinary call. */
async function stillServing(): Promise<void> {
  const res = await withinHangLimit(invokeJson(gateway.url, "greet", { name: "Ada" }), "answer to greet");
  expect(res.status).toBe(200);
  expect(res.json()).toEqual({ message: "Hello, Ada!" });
}

/** An HTTP answer to an invocation: the header every one carries, and a status that is not a 5xx. */
function expectClientAnswer(res: RawResponse): void {
  expect(res.headers["tauri-response"]).toBe(res.status === 200 ? "ok" : "error");
  expect(res.status).toBeLessThan(500);
  if (res.status !== 200) expect(res.json().kind).not.toBe("internal");
}

function expectRefusal(res: RawResponse, status: number, kind: string): void {
  expect({ status: res.status, kind: res.status === 200 ? undefined : res.json().kind }).toEqual({ status, kind });
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.

/** Any string, tilted towards names that mean something to JavaScript objects. */
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "then", "valueOf"),
);
/** A command name nobody declared (and none of those that answer 5xx on purpose). */
const junkCommand = fc.oneof(
  anyString,
  fc.constantFrom("plugin:event|", "plugin:event|nope", "plugin:event|__proto__", "plugin:event|constructor", "plugin:pytauri|pyfunc", "x".repeat(1025)),
).filter((name) => !UNSAFE_COMMANDS.has(name));

const eventName = fc.oneof(fc.constantFrom("chat", "news", "nope", "gateway://reload", "bad name!", ""), fc.string());
const eventTarget = fc.oneof(
  fc.constantFrom({ kind: "Any" }, { kind: "App" }, { kind: "Window", label: "main" }, { kind: "AnyLabel", label: "main" }, { kind: "Nope" }),
  anyString,
  fc.jsonValue({ maxDepth: 2 }),
);
/** Arguments for the event plugin's commands, mostly of the right shape. */
const eventArgs = fc.record(
  {
    event: eventName,
    target: eventTarget,
    handler: fc.oneof(fc.nat(), fc.jsonValue({ maxDepth: 1 })),
    eventId: fc.oneof(fc.nat({ max: 1000 }), fc.jsonValue({ maxDepth: 1 })),
    payload: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ title: anyString })),
  },
  { requiredKeys: [] },
);

const VALID_BODIES: Record<SchemaCommand, Arbitrary<unknown>> = {
  greet: arbitraryFromSchema(SCHEMAS.greet),
  order: arbitraryFromSchema(SCHEMAS.order),
  tree: arbitraryFromSchema(SCHEMAS.tree, { maxDepth: 3 }),
  json: arbitraryFromSchema(SCHEMAS.json, { maxDepth: 3 }),
};
const invokeBody = fc.oneof(fc.jsonValue({ maxDepth: 4 }), VALID_BODIES.greet, VALID_BODIES.order, VALID_BODIES.tree, eventArgs);

const soundRid = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.string({ maxLength: 128 }));
const badRid = fc.oneof(
  fc.integer({ min: -1_000_000, max: -1 }),
  fc.double({ noInteger: true }),
  fc.constantFrom(2 ** 53, 1e300, -1, 0.5, "x".repeat(129)),
  fc.string({ unit: "binary", minLength: 100, maxLength: 200 }), // may fit in 128 code points but not 128 UTF-16 units
  fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== "number" && typeof v !== "string"),
);
const soundHeaders = fc.oneof(
  fc.dictionary(anyString, anyString, { maxKeys: 5 }),
  fc.record({ pyfunc: fc.oneof(fc.constantFrom(...SAFE_COMMANDS, ...EVENT_COMMANDS), junkCommand) }),
);
const badHeaders = fc.oneof(
  fc.array(anyString, { maxLength: 3 }),
  fc.dictionary(anyString, fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 4 }),
  fc.dictionary(fc.string(), fc.dictionary(fc.string(), fc.string()), { minKeys: 1, maxKeys: 3 }),
  fc.constantFrom(null, "a: b", 7, true),
  fc.constant(Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`h${i}`, "v"]))),
  fc.constant({ ["k".repeat(257)]: "v" }),
  fc.constant({ big: "v".repeat(16_385) }),
);

/** Mostly the good kind, sometimes the bad. */
const mostly = <T,>(good: Arbitrary<T>, bad: Arbitrary<T>, weight = 3) =>
  fc.oneof({ arbitrary: good, weight }, { arbitrary: bad, weight: 1 });

/** Now and then an `arb`, mostly null. */
const rarely = <T,>(arb: Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: arb, weight: 1 });

/** A body for `cmd`: often one it accepts, otherwise anything. */
function bodyFor(cmd: unknown): Arbitrary<unknown> {
  if (typeof cmd === "string" && Object.hasOwn(VALID_BODIES, cmd)) return fc.oneof(VALID_BODIES[cmd as SchemaCommand], invokeBody);
  if (typeof cmd === "string" && cmd.startsWith("plugin:event|")) return fc.oneof(eventArgs, invokeBody);
  return invokeBody;
}

/** `{ type: "invoke", rid, cmd, body, headers }`, each field good or bad, sometimes one missing or one extra. */
const invokeFrame = mostly<unknown>(fc.constantFrom(...SAFE_COMMANDS, ...EVENT_COMMANDS), fc.oneof(junkCommand, fc.jsonValue({ maxDepth: 1 })), 6)
  .chain((cmd) =>
    fc.tuple(
      fc.record(
        {
          type: mostly(fc.constant<unknown>("invoke"), fc.oneof(fc.constantFrom("Invoke", "reply", "hello", ""), fc.jsonValue({ maxDepth: 1 })), 6),
          rid: mostly<unknown>(soundRid, badRid),
          cmd: fc.constant(cmd),
          body: bodyFor(cmd),
          headers: mostly<unknown>(soundHeaders, badHeaders),
        },
        { requiredKeys: ["type", "rid", "cmd"] },
      ),
      rarely(fc.constantFrom("type", "rid", "cmd")),
      rarely(fc.tuple(anyString, fc.jsonValue({ maxDepth: 1 }))),
    ),
  )
  .map(([frame, drop, extra]) => {
    const out: Record<string, unknown> = { ...frame };
    if (drop !== null) delete out[drop];
    if (extra !== null && extra[0] !== "__proto__") out[extra[0]] = extra[1];
    return out;
  });

/** Huge, tiny and unrepresentable numbers written in many ways (valid JSON numbers all). */
const numberText = fc.oneof(
  fc
    .tuple(
      fc.boolean(),
      fc.integer({ min: 1, max: 400 }),
      fc.option(fc.integer({ min: 0, max: 400 })),
      fc.option(fc.tuple(fc.constantFrom("e", "E", "e+", "E-", "e-"), fc.integer({ min: 0, max: 500 }), fc.boolean())),
    )
    .map(([negative, intDigits, fraction, exponent]) => {
      let text = (negative ? "-" : "") + "1" + "0".repeat(intDigits - 1);
      if (fraction !== null) text += "." + "0".repeat(fraction) + "5";
      if (exponent !== null) text += exponent[0] + (exponent[2] ? "0" : "") + String(exponent[1]);
      return text;
    }),
  // Around the largest double (~1.8e308) with a short exponent: many digits before it.
  fc
    .tuple(fc.integer({ min: 200, max: 308 }), fc.integer({ min: 0, max: 99 }), fc.constantFrom("e", "E", "e+", "E+"), fc.boolean())
    .map(([digits, exponent, e, negative]) => `${negative ? "-" : ""}9${"0".repeat(digits - 1)}${e}${exponent}`),
);

/** A WebSocket frame: any JSON, any text, an invoke frame (whole, cut short, or with a number a double may not hold as its body), or bytes. */
const wsFrame: Arbitrary<{ text: string } | { bytes: Uint8Array }> = fc.oneof(
  fc.jsonValue({ maxDepth: 5 }).map((v) => ({ text: JSON.stringify(v) })),
  anyString.map((text) => ({ text })),
  { arbitrary: invokeFrame.map((frame) => ({ text: JSON.stringify(frame) })), weight: 8 },
  fc.tuple(invokeFrame, fc.nat()).map(([frame, cut]) => {
    const text = JSON.stringify(frame);
    return { text: text.slice(0, cut % (text.length + 1)) };
  }),
  // a body that is a number written out in full: 1e400 and the like
  fc.tuple(invokeFrame, numberText).map(([frame, n]) => {
    const marker = "\u0000number";
    return { text: JSON.stringify({ ...frame, body: marker }).replace(JSON.stringify(marker), n) };
  }),
  fc.uint8Array({ maxLength: 32 }).map((bytes) => ({ bytes })),
);

/** What a page's request id must be for the gateway to answer with a `reply` (docs: frames.ts). */
function ridOf(text: string): { sound: boolean; rid?: unknown; lenient: boolean } {
  const parsed = acceptedJson(text, 1);
  const rid = parsed && typeof parsed.value === "object" && parsed.value !== null ? (parsed.value as { rid?: unknown }).rid : undefined;
  const sound = (typeof rid === "number" && Number.isSafeInteger(rid) && rid >= 0) || (typeof rid === "string" && rid.length <= 128);
  // A string of at most 128 code points passes the frame's schema even when it has more UTF-16
  // units: a frame that is otherwise valid then gets its reply, one that is not an error frame.
  const lenient = !sound && typeof rid === "string" && [...rid].length <= 128;
  return { sound, rid, lenient };
}

/**
 * The rid of a frame that begins as tauri.js writes one (`{"type":"invoke","rid":<rid>`), which
 * docs/protocol.md promises a reply for even when the rest cannot be read.
 */
function leadingRidOf(text: string): number | string | undefined {
  const match = /^\{"type":"invoke","rid":(\d{1,16}|"[ !#-[\]-~]{0,128}")[,}]/.exec(text);
  if (!match) return undefined;
  const rid: unknown = JSON.parse(match[1]!);
  return typeof rid === "number" && !Number.isSafeInteger(rid) ? undefined : (rid as number | string);
}

/** Nesting `depth` levels deep, each level an array or an object, with brackets in strings that must not count. */
function nested(levels: readonly ("array" | "object")[], leaf: unknown): unknown {
  let value = leaf;
  for (let i = levels.length - 1; i >= 0; i--) value = levels[i] === "array" ? [value] : { "k[{": value, "s": "]}\"[{" };
  return value;
}

/** A chain of `nodes` tree nodes (each node is an object holding an array of children). */
function treeChain(nodes: number, label: string): unknown {
  let node: unknown = { label };
  for (let i = 1; i < nodes; i++) node = { label, children: [node] };
  return node;
}


/** `name` with each character maybe written as a \u escape (lower or upper case hex). */
const escapedKey = (name: string) =>
  fc.array(fc.constantFrom("plain", "lower", "upper"), { minLength: name.length, maxLength: name.length }).map((how) =>
    [...name]
      .map((c, i) => {
        const hex = c.charCodeAt(0).toString(16).padStart(4, "0");
        return how[i] === "plain" ? c : `\\u${how[i] === "upper" ? hex.toUpperCase() : hex}`;
      })
      .join(""),
  );

/** JSON text, valid or not. */
const jsonText = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 3, stringUnit: "binary" }).map((v) => JSON.stringify(v)),
  // valid JSON broken at one place
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat(), fc.constantFrom("", "}", "]", ",", '"', "\\", "\u0000", "NaN", "'", "/*")).map(([v, at, insert]) => {
    const text = JSON.stringify(v);
    const i = at % (text.length + 1);
    return text.slice(0, i) + insert + text.slice(i);
  }),
  // nested 0 to 300 levels, closed or not
  fc.tuple(fc.integer({ min: 0, max: 300 }), fc.constantFrom("[", '{"a":'), fc.boolean()).map(([d, open, closed]) =>
    open.repeat(d) + "0" + (closed ? (open === "[" ? "]" : "}").repeat(d) : ""),
  ),
  // numbers a double may not hold
  fc.tuple(numberText, fc.constantFrom("%", "[%]", '{"n":%}', "[1,{\"a\":[%]}]")).map(([n, shape]) => shape.replace("%", n)),
  // prototype keys, plainly or with escapes, anywhere
  fc
    .tuple(fc.oneof(escapedKey("__proto__"), escapedKey("constructor")), fc.jsonValue({ maxDepth: 2 }), fc.boolean(), fc.boolean())
    .map(([key, value, withPrototype, inArray]) => {
      const inner = `{"${key}": ${withPrototype ? `{"prototype": ${JSON.stringify(value)}}` : JSON.stringify(value)}}`;
      return inArray ? `[1, ${inner}]` : inner;
    }),
);

const httpBody: Arbitrary<string | Uint8Array> = fc.oneof(
  jsonText,
  fc.uint8Array({ maxLength: 64 }),
  anyString,
  fc.constantFrom("", " \n\t", "\ufeff{}", "\ufeff", "null", "undefined", "{}", "[]"),
);

const contentType = fc.constantFrom(
  "application/json",
  "application/octet-stream",
  "text/plain",
  "application/json; charset=utf-8",
  "Application/JSON",
  "text/plain; charset=utf-8",
);

function mediaTypeOf(type: string): string {
  return type.split(";", 1)[0]!.trim().toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Breaking a valid body in one place, for property 4.

type Path = (string | number)[];
type Breakage = { path: Path; drop: string } | { path: Path; replaceWith: unknown };

function deref(root: Schema, schema: Schema): Schema {
  while (typeof schema === "object" && typeof schema.$ref === "string") schema = resolveRef(root, schema.$ref);
  return schema;
}

function jsonTypeMatches(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    default:
      return typeof value === type;
  }
}

const REPLACEMENTS: unknown[] = [null, true, 0, 7, 1.5, "x", "", [], {}, [1, "a"], { a: 1 }];

/** What the schema says about a value's type (type, enum, const), as a test of a replacement. */
function typeConstraint(schema: { [keyword: string]: unknown }): ((value: unknown) => boolean) | undefined {
  if ("const" in schema) return (v) => JSON.stringify(v) === JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return (v) => (schema.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(v));
  if (schema.type === undefined) return undefined;
  const types = ([] as string[]).concat(schema.type as string | string[]);
  return (v) => types.some((t) => jsonTypeMatches(v, t));
}

/** Every way to make `value` invalid in one place: drop a required key, or put a value of the wrong type. */
function breakages(root: Schema, value: unknown): Breakage[] {
  const out: Breakage[] = [];
  const walk = (node: Schema, v: unknown, path: Path) => {
    const schema = deref(root, node);
    if (typeof schema !== "object" || schema.anyOf !== undefined) return; // anyOf: nothing simple to break
    const accepts = typeConstraint(schema);
    if (accepts) for (const replaceWith of REPLACEMENTS) if (!accepts(replaceWith)) out.push({ path, replaceWith });
    if (Array.isArray(v)) {
      if (schema.items !== undefined) v.forEach((item, i) => walk(schema.items as Schema, item, [...path, i]));
    } else if (typeof v === "object" && v !== null) {
      for (const key of (schema.required as string[] | undefined) ?? []) if (Object.hasOwn(v, key)) out.push({ path, drop: key });
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      for (const [key, child] of Object.entries(v)) {
        const sub = Object.hasOwn(properties, key) ? properties[key] : schema.additionalProperties;
        if (typeof sub === "object") walk(sub as Schema, child, [...path, key]);
      }
    }
  };
  walk(root, value, []);
  return out;
}

function broken(value: unknown, breakage: Breakage): unknown {
  const copy = structuredClone(value);
  const { path } = breakage;
  if ("drop" in breakage) {
    let target: any = copy;
    for (const step of path) target = target[step];
    delete target[breakage.drop];
    return copy;
  }
  if (path.length === 0) return breakage.replaceWith;
  let parent: any = copy;
  for (const step of path.slice(0, -1)) parent = parent[step];
  parent[path[path.length - 1]!] = breakage.replaceWith;
  return copy;
}

// ---------------------------------------------------------------------------------------------

describe("properties, against `gateway serve` running the hostile app", () => {
  test(
    "random WebSocket frames (300 runs): every frame gets a reply (sound rid) or an error frame, never a 5xx or an internal error",
    async () => {
      const page = await RawPage.open(gateway.url);
      try {
        await fc.assert(
          fc.asyncProperty(wsFrame, async (frame) => {
            const answer = "bytes" in frame ? await page.exchange(frame.bytes, true) : await page.exchange(frame.text);
            const rid = "text" in frame ? ridOf(frame.text) : { sound: false, lenient: false };
            const early = "text" in frame ? leadingRidOf(frame.text) : undefined;
            if (answer.type === "reply" && rid.lenient) expect(answer.rid).toBe(rid.rid);
            else if (rid.sound) {
              expect(answer).toMatchObject({ type: "reply", rid: rid.rid });
            } else if (early !== undefined) {
              // Refused before its fields could be read, yet begun as tauri.js writes a frame: its rid gets the refusal.
              expect(answer).toMatchObject({ type: "reply", rid: early, ok: false, status: 400, error: expect.objectContaining({ kind: "bad-request" }) });
            } else {
              expect(answer).toEqual({ type: "error", error: expect.objectContaining({ kind: "bad-request" }) });
            }
            if (answer.type === "reply" && !answer.ok) {
              expect(answer.status).toBeLessThan(500);
              if (typeof answer.error === "object" && answer.error !== null) expect(answer.error.kind).not.toBe("internal");
            }
            await stillServing();
          }),
          { numRuns: 300 },
        );
        expect(page.closedWith).toBeUndefined(); // nothing a frame holds closes the page's socket
      } finally {
        page.close();
      }
    },
    TEST_TIMEOUT,
  );

  test(
    "random HTTP bodies (300 runs): bytes and JSON, valid or not, to echo/greet/tree/json/order as JSON, bytes or text: never a 5xx; 200 exactly for valid JSON to echo and json",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom("echo", "greet", "tree", "json", "order"), httpBody, contentType, async (cmd, body, type) => {
          const res = await post(cmd, body, type);
          expectClientAnswer(res);
          const media = mediaTypeOf(type);
          if (media !== "application/json" && media !== "application/octet-stream") return expectRefusal(res, 415, "unsupported-media-type");
          const accepted = acceptedJson(body);
          if (accepted === undefined) return expectRefusal(res, 400, "bad-request");
          if (cmd === "echo" || cmd === "json") {
            expect(res.status).toBe(200);
            expect(res.text).toBe(JSON.stringify(accepted.value));
          } else if (res.status !== 200) expectRefusal(res, 422, "invalid-body");
        }),
        { numRuns: 300 },
      );
      await stillServing();
    },
    TEST_TIMEOUT,
  );

  test(
    `random depth (300 runs): bodies nested 0 to 400 levels to tree, json and echo, over HTTP and the WebSocket: up to ${MAX_DEPTH} levels 200 or 422, deeper 400 bad-request (the frame's reply over the WebSocket)`,
    async () => {
      const page = await RawPage.open(gateway.url);
      const shaped = fc.oneof(
        fc.tuple(fc.integer({ min: 0, max: 400 }), fc.constantFrom<"array" | "object">("array", "object")).map(([d, kind]) =>
          nested(Array.from({ length: d }, () => kind), 0),
        ),
        fc.array(fc.constantFrom<"array" | "object">("array", "object"), { maxLength: 400 }).map((levels) => nested(levels, "[[[{{{")),
        fc.integer({ min: 1, max: 200 }).map((nodes) => treeChain(nodes, '[{"\\')),
      );
      let rid = 0;
      try {
        await fc.assert(
          fc.asyncProperty(fc.constantFrom("tree", "json", "echo"), shaped, fc.boolean(), async (cmd, body, overWs) => {
            const depth = depthOf(body);
            if (!overWs) {
              const res = await post(cmd, JSON.stringify(body), "application/json");
              expectClientAnswer(res);
              if (depth > MAX_DEPTH) return expectRefusal(res, 400, "bad-request");
              if (cmd !== "tree") expect(res.status).toBe(200);
              if (res.status === 200) expect(res.text).toBe(JSON.stringify(body));
              else expectRefusal(res, 422, "invalid-body");
              return;
            }
            // Over the WebSocket the body may nest as deep as over HTTP (the frame's object is not counted).
            const answer = await page.exchange(JSON.stringify({ type: "invoke", rid: ++rid, cmd, body }));
            if (depth > MAX_DEPTH) {
              expect(answer).toMatchObject({ type: "reply", rid, ok: false, status: 400, error: expect.objectContaining({ kind: "bad-request" }) });
              return;
            }
            expect(answer).toMatchObject({ type: "reply", rid });
            if (cmd !== "tree") expect(answer.ok).toBe(true);
            if (answer.ok) expect(answer.value).toEqual(body);
            else expect({ status: answer.status, kind: answer.error.kind }).toEqual({ status: 422, kind: "invalid-body" });
          }),
          { numRuns: 300 },
        );
      } finally {
        page.close();
      }
      await stillServing();
    },
    TEST_TIMEOUT,
  );

  test(
    "schema-generated bodies (200 runs): valid bodies for greet, order, tree and json answer 200, echoed unchanged",
    async () => {
      const cmdAndBody = fc.constantFrom<SchemaCommand>("greet", "order", "tree", "json").chain((cmd) => VALID_BODIES[cmd].map((body) => ({ cmd, body })));
      await fc.assert(
        fc.asyncProperty(cmdAndBody, async ({ cmd, body }) => {
          const res = await post(cmd, JSON.stringify(body), "application/json");
          expect({ status: res.status, body: res.status === 200 ? undefined : res.json() }).toEqual({ status: 200, body: undefined });
          expect(res.headers["tauri-response"]).toBe("ok");
          if (cmd === "greet") expect(res.json()).toEqual({ message: `Hello, ${(body as { name: string }).name}!` });
          else expect(res.text).toBe(JSON.stringify(body));
        }),
        { numRuns: 200 },
      );
    },
    TEST_TIMEOUT,
  );

  test(
    "schema-generated bodies (200 runs): the same bodies missing a required key or with a wrong type somewhere answer 422 invalid-body",
    async () => {
      const cmdAndBody = fc
        .constantFrom<Exclude<SchemaCommand, "json">>("greet", "order", "tree")
        .chain((cmd) => VALID_BODIES[cmd].map((body) => ({ cmd, body, ways: breakages(SCHEMAS[cmd], body) })))
        .chain(({ cmd, body, ways }) => fc.constantFrom(...ways).map((breakage) => ({ cmd, breakage, body: broken(body, breakage) })));
      await fc.assert(
        fc.asyncProperty(cmdAndBody, async ({ cmd, body }) => {
          const res = await post(cmd, JSON.stringify(body), "application/json");
          expect(res.headers["tauri-response"]).toBe("error");
          expect({ status: res.status, kind: res.json().kind, command: res.json().command }).toEqual({ status: 422, kind: "invalid-body", command: cmd });
        }),
        { numRuns: 200 },
      );
    },
    TEST_TIMEOUT,
  );

  test("the gateway is still running after all of it", async () => {
    await stillServing();
    expect(gateway.child.exitCode).toBeNull();
    expect(gateway.child.signalCode).toBeNull();
    const stderr = gateway.stderr();
    console.log(`gateway still running; RSS ${gateway.rssMiB().toFixed(1)} MiB; stderr: ${stderr === "" ? "(empty)" : `\n${stderr}`}`);
    // The WebSocket answers a frame its own code failed on with bad-request and logs this line:
    // a mistake of the gateway's hidden behind a client error.
    expect(stderr).not.toContain("could not be handled");
  });
});
