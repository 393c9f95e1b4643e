#!/usr/bin/env node
// Every consumer works: installs the packed package into fresh apps, as users get it, and checks
// each way it is meant to be used. Needs nothing but Node and npm.
//
//   node scripts/check-consumers.js [--node /path/to/node] [--tarball ipc-gateway-x.y.z.tgz] [--only runtime|types] [--keep]
//
// package: the tarball holds no picture (docs/ ships its text, not its screenshots).
// runtime (under --node, default: this Node): installing the tarball flags no install script of
//   the package (none in its package.json; none in npm's install-scripts warning); an ESM app (`import`) and a CommonJS app
//   (`require`, Node's require(esm)) serve a `.ts` handler over HTTP and call it in-process, with
//   no tsx installed or loaded; the subpath exports resolve to files that exist; the `gateway` bin
//   (through npx, with --node first on PATH) prints the version and checks the app's manifest.
// types: a strict TypeScript consumer (skipLibCheck off, exactOptionalPropertyTypes, ...) with a
//   handler file and an embedding file, checked by TypeScript 5.9 and 7, each with
//   nodenext/nodenext and esnext/bundler. TypeScript is installed once into
//   <tmpdir>/ipc-gateway-consumer-cache/ts-<version> and reused (delete the folder to refresh).
//
// One line per check, PASS or FAIL (details of a failure follow, indented); lines starting with
// "#" only inform. Exits 1 when a check fails. Without --tarball the checkout is packed with
// `npm pack --ignore-scripts`, so dist/ must be built (node scripts/build.js).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CACHE = join(tmpdir(), "ipc-gateway-consumer-cache");
const TYPESCRIPTS = [
  { name: "TypeScript 5.9", spec: "typescript@~5.9", dir: "ts-5.9" },
  { name: "TypeScript 7", spec: "typescript@7", dir: "ts-7" },
];
const MODES = [
  { name: "nodenext/nodenext", module: "nodenext", moduleResolution: "nodenext" },
  { name: "esnext/bundler", module: "esnext", moduleResolution: "bundler" },
];
const INSTALL = ["install", "--prefer-offline", "--no-audit", "--no-fund"];
/** The scripts npm runs when it installs a package (prepare: for one from a tarball, a folder or git). */
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall", "prepare"];
const PICTURE = /\.(png|jpe?g|gif|webp|avif|svg|ico|bmp|tiff?)$/i;

const { values: options } = parseArgs({
  options: {
    node: { type: "string" },
    tarball: { type: "string" },
    only: { type: "string" },
    keep: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});
if (options.help) {
  console.log("usage: node scripts/check-consumers.js [--node /path/to/node] [--tarball path.tgz] [--only runtime|types] [--keep]");
  process.exit(0);
}
if (options.only !== undefined && options.only !== "runtime" && options.only !== "types") {
  console.error(`check-consumers: --only takes "runtime" or "types", not "${options.only}"`);
  process.exit(2);
}

// The consumers' processes get a clean environment: nothing of an enclosing npm script (npm_*),
// jest (NODE_OPTIONS=--experimental-vm-modules) or a NODE_PATH that could make tsx resolvable.
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(npm_|NODE_OPTIONS$|NODE_PATH$|INIT_CWD$)/i.test(key)),
);

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), "ipc-gateway-consumers-"));
let passed = 0;
let failed = 0;

function removeWork() {
  if (!options.keep) rmSync(work, { recursive: true, force: true });
}
process.on("exit", removeWork); // also when a closed stdout (| head) ends the run early
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    removeWork();
    process.exit(1);
  });
}

// ---- the package ------------------------------------------------------------------------------

async function theTarball() {
  if (options.tarball) {
    const tarball = resolve(options.tarball);
    if (existsSync(tarball)) return tarball;
    report(false, "package", `--tarball ${tarball}: no such file`);
    return undefined;
  }
  if (!existsSync(join(ROOT, "dist", "index.js"))) {
    report(false, "package", "dist/ is not built (run node scripts/build.js, or pass --tarball)");
    return undefined;
  }
  const dir = join(work, "pack");
  mkdirSync(dir);
  const packed = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT, timeout: 120_000 });
  if (packed.code !== 0) {
    report(false, "package", "npm pack --ignore-scripts failed", packed.output);
    return undefined;
  }
  return join(dir, JSON.parse(packed.stdout)[0].filename);
}

// ---- the tarball itself -----------------------------------------------------------------------

async function packageChecks(tarball) {
  const listed = await run("tar", ["-tzf", tarball], { timeout: 60_000 });
  if (listed.code !== 0) return report(false, "package holds no picture", `tar -tzf exited ${listed.code}`, listed.output);
  const entries = listed.stdout.split("\n").filter(Boolean);
  const pictures = entries.filter((entry) => PICTURE.test(entry));
  report(
    pictures.length === 0 && entries.length > 0,
    "package holds no picture",
    pictures.length === 0 ? `${entries.length} files, ${Math.round(statSync(tarball).size / 1024)} kB packed` : `it holds ${pictures.join(", ")}`,
  );
}

// ---- runtime ----------------------------------------------------------------------------------

const MANIFEST = `version: 1
commands:
  hello:
    handler: handlers/hello.ts
    body: { type: object, properties: { name: { type: string } }, required: [name], additionalProperties: false }
    returns: { type: object, properties: { message: { type: string } }, required: [message], additionalProperties: false }
`;

// TypeScript syntax on purpose: the gateway has to bundle it itself (no tsx in the app).
const HANDLER = `import { InvokeError, type Invoke } from "ipc-gateway";

interface Body {
  name: string;
}

export default async function hello({ body }: Invoke<Body>): Promise<{ message: string }> {
  if (body.name === "nobody") throw new InvokeError("no");
  return { message: \`hello \${body.name}\` };
}
`;

// The body both apps run (ESM at top level, CommonJS inside an async function).
const EXERCISE = `
  const results = {};
  const gw = await createGateway({ config: "gateway.yaml", watch: false });
  try {
    const { url } = await gw.listen({ port: 0, host: "127.0.0.1" });
    const post = (body) =>
      fetch(url + "/ipc/hello", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const ok = await post({ name: "Ada" });
    results.ok = { status: ok.status, body: await ok.json() };
    assert.deepEqual(results.ok, { status: 200, body: { message: "hello Ada" } });
    const no = await post({ name: "nobody" });
    results.no = { status: no.status, body: await no.json() };
    assert.deepEqual(results.no, { status: 400, body: "no" });
    assert.deepEqual(await gw.invoke("hello", { name: "Bob" }), { message: "hello Bob" });
    await assert.rejects(gw.invoke("hello", { name: "nobody" }), (error) => error === "no");
    results.inProcess = true;
    assert.ok(new InvokeError("x") instanceof Error, "InvokeError is an Error");
  } finally {
    await gw.close();
  }
  // No tsx in this process (the handler is TypeScript: the gateway bundled it on its own).
  assert.deepEqual(process.execArgv.filter((arg) => /tsx/.test(arg)), [], "tsx is in execArgv");
  assert.deepEqual(Object.keys(requireFn.cache).filter((file) => /[\\/]tsx[\\/]/.test(file)), [], "tsx modules are loaded");
  let tsx;
  try {
    tsx = resolveFn("tsx");
  } catch {}
  assert.equal(tsx, undefined, "tsx is resolvable from the app");
  console.log("RESULT " + JSON.stringify(results));
`;

const APP_MJS = `import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { createGateway, InvokeError } from "ipc-gateway";

const requireFn = createRequire(import.meta.url);
const resolveFn = (id) => import.meta.resolve(id);
${EXERCISE}`;

const APP_CJS = `const assert = require("node:assert/strict");
const { createGateway, InvokeError } = require("ipc-gateway");

const requireFn = require;
const resolveFn = (id) => require.resolve(id);
(async () => {
${EXERCISE}
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const SUBPATHS = ["ipc-gateway", "ipc-gateway/client", "ipc-gateway/client/tauri.js", "ipc-gateway/manifest.schema.json", "ipc-gateway/package.json", "ipc-gateway/vite"];

const RESOLVE_MJS = `import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
const found = {};
for (const id of ${JSON.stringify(SUBPATHS)}) {
  const path = fileURLToPath(import.meta.resolve(id));
  if (!existsSync(path)) throw new Error(id + " resolves to " + path + ", which does not exist");
  found[id] = path;
}
JSON.parse(readFileSync(found["ipc-gateway/manifest.schema.json"], "utf8"));
// The Vite plugin loads in an app without Vite (an optional peer: it names Vite only for types).
const plugin = (await import("ipc-gateway/vite")).default;
if (typeof plugin !== "function" || plugin().name !== "ipc-gateway") throw new Error("ipc-gateway/vite's default export is not the plugin");
console.log("RESULT " + JSON.stringify(found));
`;

const RESOLVE_CJS = `const { existsSync } = require("node:fs");
const found = {};
for (const id of ${JSON.stringify(SUBPATHS)}) {
  const path = require.resolve(id);
  if (!existsSync(path)) throw new Error(id + " resolves to " + path + ", which does not exist");
  found[id] = path;
}
const schema = require("ipc-gateway/manifest.schema.json");
if (typeof schema !== "object" || schema === null) throw new Error("the manifest schema is not a JSON object");
console.log("RESULT " + JSON.stringify(found));
`;

async function runtimeChecks(tarball, node) {
  const probe = await run(node, ["--version"], { timeout: 30_000 });
  const nodeVersion = probe.code === 0 ? probe.stdout.trim() : undefined;
  const tag = `runtime (node ${nodeVersion ?? node})`;
  if (!nodeVersion) return report(false, `${tag} node`, `${node} --version failed`, probe.output);

  const app = join(work, "runtime");
  writeFiles(app, {
    "package.json": JSON.stringify({ name: "consumer-runtime", private: true, version: "1.0.0" }, null, 2),
    "gateway.yaml": MANIFEST,
    "handlers/hello.ts": HANDLER,
    "app.mjs": APP_MJS,
    "app.cjs": APP_CJS,
    "resolve.mjs": RESOLVE_MJS,
    "resolve.cjs": RESOLVE_CJS,
  });
  const install = await run("npm", [...INSTALL, tarball], { cwd: app, timeout: 300_000 });
  if (install.code !== 0) return report(false, `${tag} install`, `npm install <tarball> exited ${install.code}`, install.output);
  const installed = join(app, "node_modules", "ipc-gateway");
  const installedPackage = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  const version = installedPackage.version;

  // (0) No install script of ours: none that npm would run, and none it flagged (npm 11 lists the
  // packages whose install scripts it has not been allowed to run, ours included when there is one).
  const own = INSTALL_SCRIPTS.filter((name) => installedPackage.scripts?.[name] !== undefined);
  const flagged = install.output.split("\n").filter((line) => /install-scripts/.test(line) && /@\S+ \((pre|post)?(install|prepare)\b/.test(line));
  const flaggedOurs = flagged.filter((line) => /\bipc-gateway@/.test(line));
  const theirs = flagged.filter((line) => !/\bipc-gateway@/.test(line)).map((line) => line.replace(/^.*install-scripts\s+/, ""));
  report(
    own.length === 0 && flaggedOurs.length === 0,
    `${tag} install flags no install script of the package`,
    own.length > 0
      ? `its package.json has ${own.map((name) => `"${name}"`).join(", ")}`
      : flaggedOurs.length > 0
        ? `npm flagged ${flaggedOurs.map((line) => line.replace(/^.*install-scripts\s+/, "")).join("; ")}`
        : `none in its package.json, none flagged by npm${theirs.length > 0 ? ` (npm flags its dependencies': ${theirs.join("; ")})` : ""}`,
    install.output,
  );

  // (a) ESM, with no tsx anywhere.
  const tsxInstalled = existsSync(join(app, "node_modules", "tsx"));
  const esm = await run(node, ["app.mjs"], { cwd: app });
  const esmResult = result(esm);
  report(
    esm.code === 0 && esmResult !== undefined && !tsxInstalled,
    `${tag} ESM import`,
    tsxInstalled
      ? "node_modules/tsx exists in the app: the package brings tsx along"
      : esmResult
        ? `HTTP ${esmResult.ok.status} ${JSON.stringify(esmResult.ok.body)}, ${esmResult.no.status} ${JSON.stringify(esmResult.no.body)}; in-process invoke ok; no tsx; ${stderrNote(esm)} (${seconds(esm.ms)})`
        : exitDescription(esm),
    esm.output,
  );

  // (b) CommonJS through require(esm).
  const cjs = await run(node, ["app.cjs"], { cwd: app });
  const cjsResult = result(cjs);
  const warning = cjs.stderr.split("\n").find((line) => /ExperimentalWarning/.test(line) && /require|ES Module/.test(line));
  report(
    cjs.code === 0 && cjsResult !== undefined,
    `${tag} CommonJS require`,
    cjsResult
      ? `HTTP ${cjsResult.ok.status} ${JSON.stringify(cjsResult.ok.body)}, ${cjsResult.no.status} ${JSON.stringify(cjsResult.no.body)}; in-process invoke ok; ` +
          (warning ? `Node printed the require(esm) ExperimentalWarning: "${warning.trim()}"` : "no require(esm) ExperimentalWarning") +
          `; ${stderrNote(cjs)}` +
          ` (${seconds(cjs.ms)})`
      : exitDescription(cjs),
    cjs.output,
  );

  // (c) The subpath exports resolve to files that exist.
  for (const [kind, file] of [["import.meta.resolve", "resolve.mjs"], ["require.resolve", "resolve.cjs"]]) {
    const resolved = await run(node, [file], { cwd: app, timeout: 30_000 });
    const found = result(resolved);
    report(
      resolved.code === 0 && found !== undefined,
      `${tag} ${kind}`,
      found
        ? ["ipc-gateway/client", "ipc-gateway/manifest.schema.json"].map((id) => `${id} -> ${relative(installed, found[id])}`).join(", ")
        : exitDescription(resolved),
      resolved.output,
    );
  }

  // (d) The bin, through npx, under this node (first on PATH for npx and the bin's shebang).
  const env = { ...ENV, PATH: `${dirname(node)}${delimiter}${ENV.PATH ?? ""}` };
  const onPath = await run("node", ["--version"], { cwd: app, env, timeout: 30_000 });
  const pathNote = onPath.stdout.trim() === nodeVersion ? "" : `; but "node" on PATH is ${onPath.stdout.trim() || "missing"}, not ${nodeVersion}`;
  const versionRun = await run("npx", ["--no", "--", "gateway", "--version"], { cwd: app, env, timeout: 60_000 });
  report(
    versionRun.code === 0 && versionRun.stdout.trim() === version && !pathNote,
    `${tag} npx gateway --version`,
    versionRun.code === 0 ? `printed "${versionRun.stdout.trim()}", package.json says ${version}${pathNote}` : exitDescription(versionRun),
    versionRun.output,
  );
  const checkRun = await run("npx", ["--no", "--", "gateway", "check", "--config", "gateway.yaml"], { cwd: app, env, timeout: 60_000 });
  report(
    checkRun.code === 0,
    `${tag} npx gateway check`,
    checkRun.code === 0 ? `${checkRun.stdout.trim()} (${seconds(checkRun.ms)})` : exitDescription(checkRun),
    checkRun.output,
  );
}

// ---- types ------------------------------------------------------------------------------------

// A handler module as the README shows them, typed with the package's types.
const TYPED_HANDLER = `import { InvokeError, type Channel, type Handler, type Invoke } from "ipc-gateway";

interface Body {
  name: string;
  progress?: Channel<number>;
}

export default async function hello({ body, headers, window, app, signal }: Invoke<Body>): Promise<{ message: string }> {
  if (body.name === "nobody") throw new InvokeError("no");
  if (signal.aborted) throw new InvokeError<{ reason: string }>({ reason: "aborted" });
  // @ts-expect-error the value's type is given: reason is a string
  if (body.name === "") throw new InvokeError<{ reason: string }>({ reason: 1 });
  const agent: string | undefined = headers["user-agent"];
  window.emit("greeted", { name: body.name, agent });
  app.emitTo({ kind: "WebviewWindow", label: window.label }, "greeted", null);
  app.emitTo("main", "greeted");
  const id: number = app.listen<{ text: string }>("announcement", (event) => console.log(event.payload.text, event.id));
  app.unlisten(id);
  if (body.progress) {
    const channelId: number = body.progress.id;
    await body.progress.send(channelId);
    // @ts-expect-error a Channel<number> takes numbers
    await body.progress.send("half");
    await body.progress.close();
  }
  return { message: \`hello \${body.name}\` };
}

export const add: Handler<{ a: number; b: number }, number> = ({ body }) => body.a + body.b;

export function invokeErrorValue(error: InvokeError): unknown {
  return error.value;
}
`;

// An app embedding the gateway, as the README's "Embedding" section shows it.
const TYPED_EMBED = `import { ConfigError, createGateway, GatewayError, type ErrorKind, type Gateway, type GatewayErrorValue, type Listening } from "ipc-gateway";

export async function serve(config: string): Promise<Listening | undefined> {
  let gw: Gateway;
  try {
    gw = await createGateway({ config, watch: false });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return undefined;
    }
    throw error;
  }
  const listening: Listening = await gw.listen({ port: 0 });
  const where: string = \`\${listening.url} (\${listening.host}:\${listening.port})\`;
  console.log(where);
  try {
    const value = await gw.invoke<{ message: string }>("greet", { name: "Ada" }, { window: "main", headers: {} });
    const message: string = value.message;
    console.log(message);
  } catch (error) {
    if (error instanceof GatewayError) {
      const kind: ErrorKind = error.kind;
      const details: GatewayErrorValue = error.details;
      const errors: unknown = details["errors"];
      console.error(kind, details.message, errors);
    }
  }
  const response = await gw.invokeHandler({ cmd: "greet", body: { name: "Ada" }, window: "main" });
  if (response.ok) console.log(response.value);
  else console.error(response.status, response.error);
  gw.app.emit("announcement", { text: "hi" });
  const lastError: string | null = gw.lastError;
  console.log(lastError);
  // @ts-expect-error the manifest's path is required
  await createGateway({ watch: false });
  await listening.close();
  await gw.close();
  return listening;
}

export const embedded: Gateway = await createGateway({ config: "gateway.yaml", watch: false });
`;

// A Node-only consumer: lib without DOM, as TypeScript's wiki (Node-Target-Mapping) and
// @tsconfig/node20 set it, so the package's types must not lean on DOM-only globals.
function tsconfig(mode) {
  return JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2023"],
        module: mode.module,
        moduleResolution: mode.moduleResolution,
        types: ["node"],
        strict: true,
        exactOptionalPropertyTypes: true,
        noPropertyAccessFromIndexSignature: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        erasableSyntaxOnly: true,
        skipLibCheck: false,
        noEmit: true,
      },
      include: ["src"],
    },
    null,
    2,
  );
}

async function typesChecks(tarball) {
  const app = join(work, "types");
  writeFiles(app, {
    "package.json": JSON.stringify({ name: "consumer-types", private: true, version: "1.0.0", type: "module" }, null, 2),
    "src/handlers/hello.ts": TYPED_HANDLER,
    "src/embed.ts": TYPED_EMBED,
    ...Object.fromEntries(MODES.map((mode) => [`tsconfig.${mode.moduleResolution}.json`, tsconfig(mode)])),
  });
  const [install, ...compilers] = await Promise.all([
    run("npm", [...INSTALL, tarball, "@types/node@20"], { cwd: app, timeout: 300_000 }),
    ...TYPESCRIPTS.map(typescript),
  ]);
  if (install.code !== 0) return report(false, "types install", `npm install <tarball> @types/node@20 exited ${install.code}`, install.output);
  const typesNode = JSON.parse(readFileSync(join(app, "node_modules", "@types", "node", "package.json"), "utf8")).version;
  console.log(`# types: @types/node ${typesNode}`);

  // Two compilers at a time, reported in a fixed order.
  const jobs = compilers.flatMap((compiler, i) => MODES.map((mode) => ({ compiler, mode, ts: TYPESCRIPTS[i] })));
  const slots = { free: 2, waiting: [] };
  const outcomes = jobs.map(async ({ compiler, mode }) => {
    if (!compiler.ok) return undefined;
    if (slots.free > 0) slots.free--;
    else await new Promise((wake) => slots.waiting.push(wake));
    try {
      return await run(process.execPath, [compiler.tsc, "-p", `tsconfig.${mode.moduleResolution}.json`, "--pretty", "false", "--listFiles"], {
        cwd: app,
        timeout: 300_000,
      });
    } finally {
      const next = slots.waiting.shift();
      if (next) next();
      else slots.free++;
    }
  });
  for (const [i, { compiler, mode, ts }] of jobs.entries()) {
    const checked = await outcomes[i];
    const tag = `types (${ts.name}${compiler.version ? ` = ${compiler.version}` : ""}, ${mode.name})`;
    if (!checked) {
      report(false, tag, compiler.problem, compiler.output);
      continue;
    }
    const lines = checked.stdout.split("\n").filter(Boolean);
    const declarations = lines.filter((line) => /node_modules\/ipc-gateway\/.*\.d\.ts$/.test(line)).length;
    const problems = lines.filter((line) => !existsSync(line.trim())).join("\n") + checked.stderr;
    report(
      checked.code === 0 && declarations > 0,
      tag,
      checked.code === 0
        ? declarations > 0
          ? `tsc --noEmit clean, ${declarations} of the package's .d.ts files checked (${seconds(checked.ms)})`
          : "tsc passed without reading any of the package's .d.ts files"
        : `tsc exited ${checked.code ?? checked.signal}${checked.timedOut ? " (timed out)" : ""} (${seconds(checked.ms)})`,
      problems,
    );
  }
}

/** TypeScript from the cache, installed there on first use. */
async function typescript({ spec, dir }) {
  const home = join(CACHE, dir);
  const marker = join(home, "installed.json");
  const cachedTsc = join(home, "node_modules", "typescript", "bin", "tsc");
  if (existsSync(marker) && existsSync(cachedTsc)) {
    const { version } = JSON.parse(readFileSync(marker, "utf8"));
    return { ok: true, version, tsc: cachedTsc };
  }
  mkdirSync(CACHE, { recursive: true });
  const staging = mkdtempSync(join(CACHE, `${dir}.installing-`));
  try {
    writeFileSync(join(staging, "package.json"), JSON.stringify({ name: `consumer-${dir}`, private: true }));
    const installed = await run("npm", [...INSTALL, spec], { cwd: staging, timeout: 300_000 });
    if (installed.code !== 0) return { ok: false, problem: `npm install ${spec} exited ${installed.code}`, output: installed.output };
    const tsc = join(staging, "node_modules", "typescript", "bin", "tsc");
    const probe = await run(process.execPath, [tsc, "--version"], { cwd: staging, timeout: 60_000 });
    const version = /Version (\S+)/.exec(probe.stdout)?.[1];
    if (probe.code !== 0 || !version) return { ok: false, problem: `${spec} installed, but its tsc --version failed`, output: probe.output };
    writeFileSync(marker.replace(home, staging), JSON.stringify({ spec, version, installed: new Date().toISOString() }, null, 2));
    rmSync(home, { recursive: true, force: true }); // a half-made one (no marker)
    try {
      renameSync(staging, home);
    } catch {
      // Another run installed it meanwhile: use theirs.
    }
    console.log(`# installed ${spec} (${version}) into ${home}`);
    return { ok: true, version, tsc: cachedTsc };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function report(ok, name, detail, output) {
  if (ok) passed++;
  else failed++;
  const lines = [`${ok ? "PASS" : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`];
  if (!ok && output?.trim()) {
    const all = output.trimEnd().split("\n");
    const shown = all.length > 60 ? [...all.slice(0, 20), `... (${all.length - 50} lines) ...`, ...all.slice(-30)] : all;
    for (const line of shown) lines.push(`    ${line}`);
  }
  console.log(lines.join("\n"));
}

function writeFiles(dir, files) {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

/** The JSON an app printed on its RESULT line, if it got that far. */
function result(ran) {
  const line = ran.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  return line ? JSON.parse(line.slice("RESULT ".length)) : undefined;
}

function exitDescription(ran) {
  if (ran.timedOut) return `did not exit within ${seconds(ran.timeout)}${result(ran) ? " (it had finished its work: something keeps the process alive)" : ""}`;
  if (ran.error) return String(ran.error);
  return ran.code === 0 ? "exited 0 without reporting a result" : `exited ${ran.code ?? ran.signal}`;
}

/** What a passing app printed on stderr (warnings of Node or of the package's dependencies). */
function stderrNote(ran) {
  const lines = ran.stderr.split("\n").filter((line) => line.trim());
  return lines.length === 0 ? "stderr empty" : `stderr: "${lines[0].trim()}"${lines.length > 1 ? ` (+${lines.length - 1} lines)` : ""}`;
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Runs a command to its end: exit code, output, duration; killed after `timeout` ms. */
function run(command, args, { cwd = work, env = ENV, timeout = 60_000 } = {}) {
  return new Promise((done) => {
    const begun = performance.now();
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let finished = false;
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeout);
    const finish = (code, signal, error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const output = [`$ ${[command, ...args].join(" ")}  (in ${cwd})`, stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join("\n");
      done({ code, signal, error, stdout, stderr, output, timedOut, timeout, ms: performance.now() - begun });
    };
    child.on("error", (error) => finish(null, null, error));
    child.on("close", (code, signal) => finish(code, signal));
  });
}

// ---- main (last: the consts above must be initialised) -------------------------------------

try {
  const tarball = await theTarball();
  if (tarball) {
    console.log(`# package: ${tarball}`);
    await packageChecks(tarball);
    const groups = [];
    if (options.only !== "types") groups.push(runtimeChecks(tarball, resolve(options.node ?? process.execPath)));
    if (options.only !== "runtime") groups.push(typesChecks(tarball));
    await Promise.all(groups);
  }
} catch (error) {
  report(false, "check-consumers itself", String(error), error instanceof Error ? error.stack : undefined);
} finally {
  removeWork();
}
console.log(`# ${options.keep ? `apps kept in ${work}; ` : ""}${seconds(performance.now() - started)} in all`);
console.log(`consumers: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
