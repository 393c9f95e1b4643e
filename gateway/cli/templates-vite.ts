// The files `gateway init --vite` writes besides the shared ones of templates.ts (the manifest,
// the greet handler and its schemas, the page's script), and the vite.config.ts that `gateway init`
// adds to an existing Vite project that has none. String constants, filled by templates.ts's fill().
import { greetPage } from "./templates.ts";

/** package.json of a new Vite app; {{NAME}}, {{GATEWAY_VERSION}}, {{VITE_VERSION}}. */
export const VITE_PACKAGE_JSON = `{
  "name": "{{NAME}}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "scripts": {
    "dev": "vite",
    "build": "vite build",
    "start": "gateway serve",
    "check": "gateway check --types && tsc --noEmit"
  },
  "dependencies": {
    "@tauri-apps/api": "^2",
    "ipc-gateway": "^{{GATEWAY_VERSION}}"
  },
  "devDependencies": {
    "@types/node": "^20",
    "typescript": "~5.9",
    "vite": "{{VITE_VERSION}}"
  }
}
`;

/** vite.config.ts; {{OPTIONS}} (the plugin's options, an object literal). */
export const VITE_CONFIG_TS = `// ipc-gateway/vite runs the gateway of gateway.yaml inside Vite's dev server (/ipc, /ipc/ws and
// /__gateway/ on Vite's own origin), adds the gateway's script to index.html, and rewrites the
// generated types when the manifest or a schema changes. Options: node_modules/ipc-gateway/README.md
import { defineConfig } from "vite";
import gateway from "ipc-gateway/vite";

export default defineConfig({
  plugins: [gateway({{OPTIONS}})],
});
`;

/** index.html at the app's root (where Vite looks for it); {{TITLE}}. */
export const VITE_INDEX_HTML = greetPage({
  head: `    <!-- No script tag for the gateway: ipc-gateway/vite (vite.config.ts) adds it, under
         \`npm run dev\` and to the page \`npm run build\` makes. -->`,
  intro: `<code>commands.greet(...)</code> from <code>src/ipc.ts</code> (the official <code>@tauri-apps/api</code>'s <code>invoke</code>, typed)`,
  end: `    <script type="module" src="/src/main.ts"></script>
`,
});

/** tsconfig.json of a new Vite app: the page (src), the handlers and vite.config.ts in one program. */
export const VITE_TSCONFIG_JSON = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "bundler",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "types": ["vite/client", "node"],
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true,
    "verbatimModuleSyntax": true,
    "isolatedModules": true,
    "moduleDetection": "force",
    "skipLibCheck": true
  },
  "include": ["src", "handlers", "vite.config.ts"]
}
`;

export const VITE_GITIGNORE = `node_modules/
dist/
.gateway/
*.log
# values for gateway.yaml's \${VAR}s, secrets among them (an example to copy may be committed)
.env
.env.*
!.env.example
`;

/**
 * handlers/tsconfig.json, added to an existing project: its handlers get an editor project of
 * their own (with the generated gateway.d.ts beside them), whatever the project's own tsconfig
 * includes; the project's tsconfig.json is not touched.
 */
export const HANDLERS_TSCONFIG_JSON = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "bundler",
    "lib": ["ES2022"],
    "strict": true,
    "noEmit": true,
    "verbatimModuleSyntax": true,
    "isolatedModules": true,
    "skipLibCheck": true
  },
  "include": ["."]
}
`;
