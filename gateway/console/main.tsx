// The dev console's entry: load the gateway's browser script for this window, as any page does,
// then render. Bundled with Preact and @tauri-apps/api by scripts/build-console.js.
import { render } from "preact";
import { loadGatewayScript } from "./api.ts";
import { App } from "./app.tsx";

const root = document.getElementById("app")!;
try {
  await loadGatewayScript();
  render(<App />, root);
} catch (error) {
  root.textContent = `The dev console could not start: ${String(error)}`;
}
