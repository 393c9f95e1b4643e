// The files `gateway init` and `gateway new` write, as string constants (so the build copies no
// assets). `{{NAME}}`-style placeholders are filled in by fill(); everything else is verbatim.

/** Replaces every `{{KEY}}` of `template` with `values[KEY]`. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

// ---------------------------------------------------------------------------------------------
// gateway init

/** package.json of a new app; {{NAME}}, {{GATEWAY_VERSION}}, {{ESBUILD_VERSION}}. */
export const PACKAGE_JSON = `{
  "name": "{{NAME}}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "scripts": {
    "build": "esbuild web/main.ts --bundle --format=esm --platform=browser --target=es2022 --sourcemap --outfile=web/dist/main.js --log-level=warning",
    "prestart": "npm run build",
    "start": "gateway dev --types web/ipc.ts --handlers handlers/gateway.d.ts",
    "preserve": "npm run build",
    "serve": "gateway serve",
    "check": "gateway check",
    "typecheck": "tsc --noEmit"
  },
  "dependencies": {
    "@tauri-apps/api": "^2",
    "ipc-gateway": "^{{GATEWAY_VERSION}}"
  },
  "devDependencies": {
    "@types/node": "^20",
    "esbuild": "{{ESBUILD_VERSION}}",
    "typescript": "~5.9"
  }
}
`;

/**
 * gateway.yaml; {{RUNS}} (a comment line: which scripts serve and check it), {{STATIC}} (the
 * `static:` line under `server:`, or a comment in its place).
 */
export const GATEWAY_YAML = `# The gateway's manifest: the commands the page may invoke, the TypeScript handler that answers
# each one, and the JSON Schemas its body and its answer must match (both are checked on every
# call). {{RUNS}}
# Every key: node_modules/ipc-gateway/docs/manifest.md
# A value may read \${VAR} from the environment, or from .env beside this file (which git ignores).
# yaml-language-server: $schema=./node_modules/ipc-gateway/dist/config/manifest.schema.json
version: 1

server:
  port: 1430                     # --port overrides it; 0 picks a free port
{{STATIC}}

discover:                        # drop-in folders:
  handlers: handlers             # handlers/<name>.ts with a default export is command <name> ...
  schemas: schemas               # ... with schemas/<name>.body.json and <name>.returns.json

commands:                        # \`gateway new <name>\` adds a command here, with its files
  greet:
    handler: handlers/greet.ts
    body: schemas/greet.body.json
    returns: schemas/greet.returns.json

events:
  greeted:                       # the greet handler tells every open page who was greeted
    payload: { type: object, properties: { name: { type: string } }, required: [name] }
    from: [backend]              # pages may listen, not emit
`;

/** handlers/greet.ts; {{REGENERATE}} (what rewrites the declarations: `npm start` ...). */
export const GREET_HANDLER = `// The \`greet\` command. The gateway checks the body against schemas/greet.body.json before this
// runs and the answer against schemas/greet.returns.json after. Handler<"greet"> takes both types
// from those schemas through handlers/gateway.d.ts (generated: {{REGENERATE}} rewrites it when
// a schema changes). Edit this file while the app runs: the next call uses the new code.
import { InvokeError, type Handler } from "ipc-gateway";

const greet: Handler<"greet"> = ({ body, app }) => {
  const name = body.name.trim();
  // The page's invoke() rejects with exactly this value (here a string).
  if (name === "") throw new InvokeError("please type a name");
  app.emit("greeted", { name }); // declared under events: in gateway.yaml
  return { message: \`Hello, \${name}!\` };
};

export default greet;
`;

export const GREET_BODY_SCHEMA = `{
  "type": "object",
  "properties": {
    "name": { "type": "string", "maxLength": 100 }
  },
  "required": ["name"],
  "additionalProperties": false
}
`;

export const GREET_RETURNS_SCHEMA = `{
  "type": "object",
  "properties": {
    "message": { "type": "string" }
  },
  "required": ["message"],
  "additionalProperties": false
}
`;

export const TSCONFIG_JSON = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "types": ["node"],
    "strict": true,
    "noEmit": true,
    "verbatimModuleSyntax": true,
    "isolatedModules": true,
    "skipLibCheck": true
  },
  "include": ["handlers", "web"],
  "exclude": ["web/dist"]
}
`;

/**
 * A new app's page (web/index.html, or index.html of a Vite app); {{TITLE}}. `head`: what loads
 * the scripts there; `intro`: what calls the command; `end`: the end of the body.
 */
export function greetPage(parts: { head: string; intro: string; end?: string }): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>{{TITLE}}</title>
    <link rel="icon" href="data:," />
${parts.head}
    <style>
      body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #1d2330; }
      input, button { font: inherit; padding: 0.3rem 0.6rem; }
      output { display: block; margin-top: 1rem; font-weight: 600; }
      output.error { color: #b3261e; }
      ul { color: #5c6370; padding-left: 1.2rem; }
    </style>
  </head>
  <body>
    <h1>{{TITLE}}</h1>
    <p>The button calls ${parts.intro}; <code>handlers/greet.ts</code> answers.</p>
    <form id="greet-form">
      <input id="name" value="Ada" autocomplete="off" aria-label="name" />
      <button type="submit">Greet</button>
    </form>
    <output id="answer"></output>
    <ul id="greeted"></ul>
${parts.end ?? ""}  </body>
</html>
`;
}

/** web/index.html; {{TITLE}}. */
export const INDEX_HTML = greetPage({
  head: `    <!-- First the gateway's script (it makes @tauri-apps/api work in this page), then the app,
         bundled from main.ts into dist/main.js by \`npm start\`. -->
    <script src="/__gateway/tauri.js?window=main"></script>
    <script type="module" src="/dist/main.js"></script>`,
  intro: `<code>invoke("greet", ...)</code> from <code>@tauri-apps/api</code>`,
});

/** The page's script; {{IPC}} (the bindings' module specifier), {{REGENERATE}} (what rewrites them). */
export const MAIN_TS = `// The page. {{IPC}} is generated from gateway.yaml and its schemas ({{REGENERATE}} rewrites it
// when they change): commands.greet() is invoke("greet", ...) from the official @tauri-apps/api,
// typed by the command's schemas, and events.greeted.listen() is its listen().
import { commands, events } from "{{IPC}}";

const form = document.querySelector<HTMLFormElement>("#greet-form")!;
const input = document.querySelector<HTMLInputElement>("#name")!;
const answer = document.querySelector<HTMLOutputElement>("#answer")!;

form.addEventListener("submit", (event) => {
  event.preventDefault();
  commands.greet({ name: input.value }).then(
    (greeting) => {
      answer.textContent = greeting.message;
      answer.className = "";
    },
    (error: unknown) => {
      // An InvokeError's value as the handler threw it, or the gateway's { kind, message }.
      answer.textContent = typeof error === "string" ? error : JSON.stringify(error);
      answer.className = "error";
    },
  );
});

// Every open page hears who was greeted (the event is declared in gateway.yaml).
void events.greeted.listen((event) => {
  const item = document.createElement("li");
  item.textContent = \`\${event.payload.name} was greeted\`;
  document.querySelector("#greeted")!.prepend(item);
});
`;

export const GITIGNORE = `node_modules/
web/dist/
.gateway/
*.log
# values for gateway.yaml's \${VAR}s, secrets among them (an example to copy may be committed)
.env
.env.*
!.env.example
`;

// ---------------------------------------------------------------------------------------------
// gateway new <command>

/**
 * handlers/<command>.ts; {{COMMAND}} (for comments), {{COMMAND_LITERAL}} (a string literal),
 * {{FUNCTION}}, {{BODY_SCHEMA}}, {{RETURNS_SCHEMA}}, {{DECLARATIONS}}.
 */
export const COMMAND_HANDLER = `// The \`{{COMMAND}}\` command. The gateway checks the body against {{BODY_SCHEMA}}
// before this runs and the answer against {{RETURNS_SCHEMA}} after. Handler<...> takes
// both types from those schemas through {{DECLARATIONS}}: after changing a schema, run
// \`gateway types --handlers {{DECLARATIONS}}\` (or keep \`gateway dev --handlers ...\` running).
// To reject the call with a value of your own: \`throw new InvokeError<{{COMMAND_LITERAL}}>(value)\`
// (InvokeError from "ipc-gateway"); give the command an \`errors:\` schema and only values it
// allows compile.
import type { Handler } from "ipc-gateway";

const {{FUNCTION}}: Handler<{{COMMAND_LITERAL}}> = async ({ body }) => {
  return { command: {{COMMAND_LITERAL}}, received: body.text };
};

export default {{FUNCTION}};
`;

export const COMMAND_BODY_SCHEMA = `{
  "type": "object",
  "properties": {
    "text": { "type": "string" }
  },
  "required": ["text"],
  "additionalProperties": false
}
`;

export const COMMAND_RETURNS_SCHEMA = `{
  "type": "object",
  "properties": {
    "command": { "type": "string" },
    "received": { "type": "string" }
  },
  "required": ["command", "received"],
  "additionalProperties": false
}
`;
