// `gateway init --vite` and `gateway init` into an existing project, through the real bin, and the
// apps as their users get them: installed with the packed tarball (vite, typescript and the rest
// from npm), type-checked with tsc, run with their own `npm run dev` (Vite with ipc-gateway/vite)
// and called from Chromium on Vite's origin; the Vite app also built and served by `npm start`.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execFile } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Browser } from "playwright-core";
import { launchBrowser } from "./helpers/browser.ts";
import { GATEWAY_BIN, PROJECT_DIR, runGateway } from "./helpers/cli.ts";
import { installPacked, npmOk, npmRunning, viteDev } from "./helpers/npm-app.ts";
import { freePort } from "./helpers/ports.ts";

const OWN = JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")) as { version: string; devDependencies: Record<string, string> };
const VERSION = OWN.version;

let tmp: string;
let browser: Browser | undefined;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "gw-init-vite-"));
});
afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function chromium(): Promise<Browser> {
  browser ??= await launchBrowser();
  return browser;
}

/** Every file under `dir` (node_modules aside) with its bytes. */
function snapshot(dir: string, prefix = ""): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    if (name === "node_modules") continue;
    const path = prefix === "" ? name : `${prefix}/${name}`;
    if (lstatSync(join(dir, path)).isDirectory()) for (const [p, b] of snapshot(dir, path)) files.set(p, b);
    else files.set(path, readFileSync(join(dir, path)));
  }
  return files;
}

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** Opens `url`, asks the page's form to greet `name` and resolves with what the page shows. */
async function greetOnPage(url: string, name: string): Promise<string> {
  const page = await (await chromium()).newPage();
  try {
    await page.goto(url);
    await page.fill("#name", name);
    await page.click("button[type=submit]");
    const answer = page.locator("#answer");
    await answer.filter({ hasText: /\S/ }).waitFor({ timeout: 30_000 });
    return (await answer.textContent()) ?? "";
  } finally {
    await page.close();
  }
}

describe("gateway init --vite", () => {
  let app: string;
  const FILES = ["package.json", "gateway.yaml", "handlers/greet.ts", "schemas/greet.body.json", "schemas/greet.returns.json", "vite.config.ts", "index.html", "src/main.ts", "tsconfig.json", ".gitignore"];
  const GENERATED = ["src/ipc.ts", "handlers/gateway.d.ts"];

  beforeAll(() => {
    app = join(tmp, "vite-app");
  });

  test("creates a Vite + TypeScript app wired with the plugin, typed by generated files only", async () => {
    const result = await runGateway(["init", "--vite", "vite-app"], { cwd: tmp });
    expect(result).toEqual({
      code: 0,
      stderr: "",
      stdout:
        `Created a Vite + TypeScript app with ipc-gateway in vite-app:\n${FILES.map((f) => `  ${f}\n`).join("")}${GENERATED.map((f) => `  ${f} (generated from the manifest)\n`).join("")}` +
        "\nNext:\n  cd vite-app && npm install && npm run dev\nthen open the address Vite prints. For production: npm run build && npm start (http://127.0.0.1:1430).\nAdd a command with: npx gateway new <name>\n",
    });
    expect(snapshot(app).size).toBe(FILES.length + GENERATED.length);

    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    expect(pkg).toEqual({
      name: "vite-app",
      version: "0.1.0",
      private: true,
      type: "module",
      scripts: { dev: "vite", build: "vite build", start: "gateway serve", check: "gateway check --types && tsc --noEmit" },
      dependencies: { "@tauri-apps/api": "^2", "ipc-gateway": `^${VERSION}` },
      devDependencies: { "@types/node": "^20", typescript: "~5.9", vite: OWN.devDependencies.vite },
    });
    // gateway.yaml, index.html and vite.config.ts at the app's root; the page has no gateway script tag.
    const html = readFileSync(join(app, "index.html"), "utf8");
    expect(html).not.toMatch(/<script[^>]*__gateway/);
    expect(html).toContain('<script type="module" src="/src/main.ts"></script>');
    expect(readFileSync(join(app, "vite.config.ts"), "utf8")).toContain(
      'import gateway from "ipc-gateway/vite";\n\nexport default defineConfig({\n  plugins: [gateway({ types: "src/ipc.ts", handlers: "handlers/gateway.d.ts" })],\n});\n',
    );
    expect(readFileSync(join(app, "gateway.yaml"), "utf8")).toMatch(/\nserver:\n(?: {2}.*\n)* {2}static: dist\b/);
    const handler = readFileSync(join(app, "handlers/greet.ts"), "utf8");
    expect(handler).toContain('const greet: Handler<"greet"> = ');
    const main = readFileSync(join(app, "src/main.ts"), "utf8");
    expect(main).toContain('import { commands, events } from "./ipc.ts";');
    for (const text of [handler, main]) expect(text).not.toMatch(/\binterface\b|\btype \w+ =/);
    expect(readFileSync(join(app, "src/ipc.ts"), "utf8")).toMatch(/^\/\/ Generated by `gateway types` from \.\.\/gateway\.yaml/);
    expect(readFileSync(join(app, "handlers/gateway.d.ts"), "utf8")).toMatch(/^\/\/ Generated by `gateway types --handlers` from \.\.\/gateway\.yaml/);
    expect(readFileSync(join(app, ".gitignore"), "utf8").split("\n")).toEqual(expect.arrayContaining(["node_modules/", "dist/", ".env", ".env.*"]));
  });

  test("npm install, then npm run check (gateway check --types and tsc --noEmit) passes", async () => {
    await installPacked(app);
    const output = await npmOk(["run", "check"], app);
    expect(output).toContain("gateway.yaml: 1 commands, 0 channels, 1 events; 1 handlers match their schemas");
  }, 300_000);

  test("npm run dev: the page on Vite's origin greets through the gateway", async () => {
    const dev = await viteDev(app, await freePort());
    try {
      expect(await greetOnPage(dev.url, "Ada")).toBe("Hello, Ada!");
      expect(await greetOnPage(dev.url, "  ")).toBe("please type a name"); // the handler's InvokeError, as thrown
    } finally {
      await dev.stop();
    }
  }, 180_000);

  test("npm run build, then npm start serves the built page, whose call works", async () => {
    await npmOk(["run", "build"], app);
    expect(readFileSync(join(app, "dist/index.html"), "utf8")).toMatch(/<script[^>]*src="[^"]*__gateway\/tauri\.js/);
    const served = await npmRunning(["start", "--", "--port", "0"], app, /^gateway listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
    try {
      expect(await greetOnPage(`${served.url}/`, "Grace")).toBe("Hello, Grace!");
    } finally {
      await served.stop();
    }
  }, 180_000);
});

/** What create-vite's vanilla-ts template writes (the files that matter here). */
const CREATE_VITE: Record<string, string> = {
  "package.json": `{
  "name": "vite-project",
  "private": true,
  "version": "0.0.0",
  "type": "module",
  "scripts": {
    "dev": "vite",
    "build": "tsc && vite build",
    "preview": "vite preview"
  },
  "devDependencies": {
    "typescript": "~5.9.3",
    "vite": "${OWN.devDependencies.vite}"
  }
}
`,
  "index.html": `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <link rel="icon" type="image/svg+xml" href="/vite.svg" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>vite-project</title>
  </head>
  <body>
    <div id="app"></div>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`,
  "src/main.ts": `import './style.css'
import { setupCounter } from './counter.ts'

document.querySelector<HTMLDivElement>('#app')!.innerHTML = \`
  <div>
    <h1>Vite + TypeScript</h1>
    <div class="card">
      <button id="counter" type="button"></button>
    </div>
  </div>
\`

setupCounter(document.querySelector<HTMLButtonElement>('#counter')!)
`,
  "src/counter.ts": `export function setupCounter(element: HTMLButtonElement) {
  let counter = 0
  const setCounter = (count: number) => {
    counter = count
    element.innerHTML = \`count is \${counter}\`
  }
  element.addEventListener('click', () => setCounter(counter + 1))
  setCounter(0)
}
`,
  "src/style.css": ":root {\n  font-family: system-ui, Avenir, Helvetica, Arial, sans-serif;\n}\n",
  "public/vite.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="31" height="32"></svg>\n',
  "tsconfig.json": `{
  "compilerOptions": {
    "target": "ES2022",
    "useDefineForClassFields": true,
    "module": "ESNext",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "types": ["vite/client"],
    "skipLibCheck": true,

    /* Bundler mode */
    "moduleResolution": "bundler",
    "allowImportingTsExtensions": true,
    "verbatimModuleSyntax": true,
    "moduleDetection": "force",
    "noEmit": true,

    /* Linting */
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "erasableSyntaxOnly": true,
    "noFallthroughCasesInSwitch": true,
    "noUncheckedSideEffectImports": true
  },
  "include": ["src"]
}
`,
  ".gitignore": "node_modules\ndist\n*.local\n",
};

/** Whether every line of `before` is in `after`, in order (a line may have gained a comma at its end). */
function linesKept(before: string, after: string): boolean {
  const lines = after.split("\n");
  let at = 0;
  for (const line of before.split("\n")) {
    while (at < lines.length && lines[at] !== line && lines[at] !== `${line},`) at++;
    if (at === lines.length) return false;
    at++;
  }
  return true;
}

describe("gateway init in an existing Vite project", () => {
  let project: string;
  let before: Map<string, Buffer>;
  const ADDED = ["gateway.yaml", "handlers/greet.ts", "schemas/greet.body.json", "schemas/greet.returns.json", "handlers/tsconfig.json", "vite.config.ts"];
  const GENERATED = ["src/ipc.ts", "handlers/gateway.d.ts"];

  beforeAll(() => {
    project = join(tmp, "vite-project");
    writeFiles(project, CREATE_VITE);
    before = snapshot(project);
  });

  test("adds its files and package.json entries, and changes nothing the project had", async () => {
    const result = await runGateway(["init"], { cwd: project });
    expect(result).toEqual({
      code: 0,
      stderr: "",
      stdout:
        `Added ipc-gateway to this project (a Vite project):\n${ADDED.map((f) => `  ${f}\n`).join("")}${GENERATED.map((f) => `  ${f} (generated from the manifest)\n`).join("")}` +
        "  package.json: added dependencies @tauri-apps/api, ipc-gateway; scripts gateway:serve, gateway:check, gateway:types\n" +
        "\nNext:\n  npm install && npm run dev\n" +
        'The page calls the gateway on Vite\'s own origin: invoke("greet", { name: "Ada" }) from\n@tauri-apps/api/core, or commands.greet({ name: "Ada" }) from src/ipc.ts.\n',
    });
    const after = snapshot(project);
    expect([...after.keys()].sort()).toEqual([...before.keys(), ...ADDED, ...GENERATED].sort());
    for (const [path, bytes] of before) if (path !== "package.json") expect([path, after.get(path)!.equals(bytes)]).toEqual([path, true]);

    const oldText = before.get("package.json")!.toString();
    const newText = after.get("package.json")!.toString();
    expect(JSON.parse(newText)).toEqual({
      ...JSON.parse(oldText),
      scripts: {
        ...JSON.parse(oldText).scripts,
        "gateway:serve": "gateway serve",
        "gateway:check": "gateway check --types",
        "gateway:types": "gateway types --out src/ipc.ts --handlers handlers/gateway.d.ts",
      },
      dependencies: { "@tauri-apps/api": "^2", "ipc-gateway": `^${VERSION}` },
    });
    expect(linesKept(oldText, newText)).toBe(true);
    expect(Object.keys(JSON.parse(newText))).toEqual([...Object.keys(JSON.parse(oldText)), "dependencies"]);
    expect(readFileSync(join(project, "vite.config.ts"), "utf8")).toContain('plugins: [gateway({ types: "src/ipc.ts", handlers: "handlers/gateway.d.ts" })]');
    expect(readFileSync(join(project, "gateway.yaml"), "utf8")).toMatch(/\n {2}static: dist\b/);
  });

  test("npm install, tsc --noEmit (the project's and the handlers') and gateway:check pass", async () => {
    await installPacked(project);
    await npmOk(["exec", "--", "tsc", "--noEmit"], project);
    await npmOk(["exec", "--", "tsc", "--noEmit", "-p", "handlers"], project);
    expect(await npmOk(["run", "gateway:check"], project)).toContain("1 handlers match their schemas");
    // What init generated is what `gateway types` generates: nothing is stale.
    await npmOk(["run", "gateway:types", "--", "--check"], project);
  }, 300_000);

  test("npm run dev: the project's own page is served, and greet answers a call from it on Vite's origin", async () => {
    const dev = await viteDev(project, await freePort());
    const page = await (await chromium()).newPage();
    try {
      await page.goto(dev.url);
      await page.locator("#counter").filter({ hasText: "count is 0" }).waitFor({ timeout: 30_000 }); // its main.ts runs, unchanged
      const answer = await page.evaluate(() => (window as unknown as { __TAURI_INTERNALS__: { invoke(cmd: string, args: unknown): Promise<unknown> } }).__TAURI_INTERNALS__.invoke("greet", { name: "x" }));
      expect(answer).toEqual({ message: "Hello, x!" });
      expect(page.url().startsWith(dev.url)).toBe(true);
    } finally {
      await page.close();
      await dev.stop();
    }
  }, 180_000);
});

describe("gateway init into other existing projects", () => {
  test("a Vite project with a vite config: the config is left as it is and the two lines to add are printed", async () => {
    const dir = join(tmp, "with-config");
    const config = 'import { defineConfig } from "vite";\n\nexport default defineConfig({});\n';
    writeFiles(dir, { "package.json": '{ "devDependencies": { "vite": "^8.0.0" } }\n', "vite.config.mts": config });
    const result = await runGateway(["init", "with-config"], { cwd: tmp });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'vite.config.mts was left as it is; add the gateway\'s plugin to it:\n  import gateway from "ipc-gateway/vite";\n  plugins: [gateway({ types: "gateway-types.ts", handlers: "handlers/gateway.d.ts" })],',
    );
    expect(readFileSync(join(dir, "vite.config.mts"), "utf8")).toBe(config);
    expect(existsSync(join(dir, "vite.config.ts"))).toBe(false);
    expect(existsSync(join(dir, "gateway-types.ts"))).toBe(true); // no src/: the bindings at the root
    // A one-line package.json stays on one line.
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(
      `{ "devDependencies": { "vite": "^8.0.0" }, "dependencies": {"@tauri-apps/api": "^2", "ipc-gateway": "^${VERSION}"}, "scripts": {"gateway:serve": "gateway serve", "gateway:check": "gateway check --types", "gateway:types": "gateway types --out gateway-types.ts --handlers handlers/gateway.d.ts"} }\n`,
    );
  });

  test("a project without Vite: gateway:dev too, no vite config; tabs, CRLF and no final newline kept", async () => {
    const dir = join(tmp, "plain-project");
    const text = '{\r\n\t"name": "plain",\r\n\t"scripts": {\r\n\t\t"test": "node --test"\r\n\t},\r\n\t"dependencies": {\r\n\t\t"@tauri-apps/api": "^2.1.0",\r\n\t\t"zod": "^4.0.0"\r\n\t}\r\n}';
    writeFiles(dir, { "package.json": text, "src/app.ts": "export {};\n" });
    const result = await runGateway(["init", "--vite", "plain-project"], { cwd: tmp });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^plain-project\/package\.json exists: adding the gateway to this project \(--vite creates new apps in folders without one\)\.\nAdded ipc-gateway to plain-project:\n/);
    expect(result.stdout).toContain("Next:\n  cd plain-project && npm install && npm run gateway:dev\n");
    expect(existsSync(join(dir, "vite.config.ts"))).toBe(false);
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(
      '{\r\n\t"name": "plain",\r\n\t"scripts": {\r\n\t\t"test": "node --test",\r\n' +
        '\t\t"gateway:dev": "gateway dev --types src/ipc.ts --handlers handlers/gateway.d.ts",\r\n\t\t"gateway:serve": "gateway serve",\r\n' +
        '\t\t"gateway:check": "gateway check --types",\r\n\t\t"gateway:types": "gateway types --out src/ipc.ts --handlers handlers/gateway.d.ts"\r\n\t},\r\n' +
        `\t"dependencies": {\r\n\t\t"@tauri-apps/api": "^2.1.0",\r\n\t\t"ipc-gateway": "^${VERSION}",\r\n\t\t"zod": "^4.0.0"\r\n\t}\r\n}`,
    );
    expect(readFileSync(join(dir, "src/app.ts"), "utf8")).toBe("export {};\n");
  });
});

describe("gateway init into an existing project refuses, changing nothing", () => {
  async function refused(name: string, files: Record<string, string>): Promise<string> {
    const dir = join(tmp, name);
    writeFiles(dir, files);
    const before = snapshot(dir);
    const result = await runGateway(["init", name], { cwd: tmp });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^gateway init: [^\n]+\n$/);
    expect(snapshot(dir)).toEqual(before);
    return result.stderr;
  }

  test("a file it would write exists", async () => {
    const stderr = await refused("taken-files", { "package.json": CREATE_VITE["package.json"]!, "src/ipc.ts": "// mine\n", "schemas/greet.body.json": "{}\n" });
    expect(stderr).toBe("gateway init: would overwrite taken-files/schemas/greet.body.json, taken-files/src/ipc.ts; nothing was written\n");
  });

  test("a gateway.yaml exists", async () => {
    const stderr = await refused("has-manifest", { "package.json": "{}\n", "gateway.yaml": "version: 1\n" });
    expect(stderr).toBe("gateway init: would overwrite has-manifest/gateway.yaml; nothing was written\n");
  });

  test("a script name it would add is taken by another command (the same command is no conflict)", async () => {
    const stderr = await refused("taken-script", { "package.json": '{ "scripts": { "gateway:check": "gateway check" } }\n' });
    expect(stderr).toBe('gateway init: package.json already has a script "gateway:check" ("gateway check", not "gateway check --types"); nothing was written\n');

    const dir = join(tmp, "same-script");
    writeFiles(dir, { "package.json": '{ "scripts": { "gateway:serve": "gateway serve" } }\n' });
    expect((await runGateway(["init", "same-script"], { cwd: tmp })).code).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).scripts)).toEqual(["gateway:serve", "gateway:dev", "gateway:check", "gateway:types"]);
  });

  test("a write that fails midway (schemas/ fills up): what the run created is removed, package.json is as it was", async () => {
    const dir = join(tmp, "full");
    writeFiles(dir, { "package.json": CREATE_VITE["package.json"]!, "schemas/.keep": "" });
    const before = snapshot(dir);
    // schemas/ is a tmpfs of one page: greet.body.json fits, greet.returns.json does not.
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const script = 'mount -t tmpfs -o size=4k tmpfs full/schemas && { "$@"; code=$?; find full/schemas; exit $code; }';
      execFile("unshare", ["--mount", "sh", "-c", script, "sh", process.execPath, GATEWAY_BIN, "init", "full"], { cwd: tmp, env: { ...process.env, NODE_OPTIONS: "" } }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(result).toEqual({ code: 1, stdout: "full/schemas\n", stderr: "gateway init: full/schemas/greet.returns.json: no space left on the device; what this run had created was removed\n" });
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(["package.json", "schemas"]);
  });

  test("a package.json that is not a JSON object", async () => {
    expect(await refused("not-json", { "package.json": "{ name: 1 }\n" })).toMatch(/^gateway init: not-json\/package\.json is not valid JSON \(.+\); nothing was written\n$/);
    expect(await refused("not-object", { "package.json": "[]\n" })).toBe("gateway init: not-object/package.json is not a JSON object; nothing was written\n");
    expect(await refused("bad-scripts", { "package.json": '{ "scripts": [] }\n' })).toBe('gateway init: bad-scripts/package.json: "scripts" is not an object; nothing was written\n');
  });
});
