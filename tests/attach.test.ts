// Gateway.attach: the gateway's routes on a server of the app's own (what the Vite plugin does
// with Vite's): /ipc/, /ipc/ws and /__gateway/ answered, everything else left to the app.
import { afterEach, expect, test } from "@jest/globals";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { WebSocket } from "ws";
import { gatewayFor } from "./helpers/app.ts";
import { connectPage } from "./helpers/ws.ts";
import type { Attached } from "../gateway/index.ts";

const MANIFEST = `version: 1
server:
  token: \${TOKEN:-}
commands:
  greet:
    handler: handlers/greet.ts
    body: { type: object, properties: { name: { type: string } }, required: [name] }
    returns: { type: string }
`;
const FILES = { "gateway.yaml": MANIFEST, "handlers/greet.ts": "export default ({ body }: { body: { name: string } }) => `Hello, ${body.name}!`;\n" };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The app's own server on 127.0.0.1: its requests go through the gateway's middleware first,
 * then to its own handler; `remote` pretends the request came from that address.
 */
async function appServer(env: Record<string, string> = {}, remote?: string): Promise<{ url: string; attached: Attached; server: Server }> {
  const gateway = await gatewayFor(FILES, { env });
  cleanups.push(() => gateway.close());
  const server = createServer();
  const attached = gateway.gw.attach({ server });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (remote !== undefined) Object.defineProperty(req.socket, "remoteAddress", { value: remote, configurable: true });
    attached.middleware(req, res, () => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`the app's own ${req.url}`);
    });
  });
  // The app's own socket, beside the gateway's.
  server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    if (req.url === "/app-socket") socket.end("HTTP/1.1 418 I'm a teapot\r\ncontent-length: 0\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, attached, server };
}

const greet = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/ipc/greet`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: '{"name":"Ada"}' });

test("the gateway's routes are answered, the app's are the app's", async () => {
  const { url } = await appServer();
  const call = await greet(url, { origin: url });
  expect(call.status).toBe(200);
  expect(await call.json()).toBe("Hello, Ada!");
  expect((await fetch(`${url}/__gateway/tauri.js`)).headers.get("content-type")).toMatch(/javascript/);
  expect(await (await fetch(`${url}/`)).text()).toBe("the app's own /");
  expect(await (await fetch(`${url}/ipc`)).text()).toBe("the app's own /ipc");
  expect(await (await fetch(`${url}/__gatewayx`)).text()).toBe("the app's own /__gatewayx");
  // A page of the server's own origin needs no origins:, another is refused.
  const foreign = await greet(url, { origin: "http://evil.example" });
  expect(foreign.status).toBe(403);
  expect(await foreign.json()).toMatchObject({ kind: "forbidden-origin" });
});

test("the page's socket is the gateway's; the app's own upgrades are left to it", async () => {
  const { url } = await appServer();
  const page = await connectPage(url);
  try {
    expect(page.id).toMatch(/\S/);
  } finally {
    await page.close();
  }
  const status = await new Promise<number>((resolve) => {
    const socket = new WebSocket(`${url.replace("http", "ws")}/app-socket`);
    socket.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    socket.on("error", () => resolve(-1));
  });
  expect(status).toBe(418);
});

test("another machine is answered only when something decides who calls (server.token)", async () => {
  const open = await appServer({}, "192.0.2.7");
  const refused = await greet(open.url);
  expect(refused.status).toBe(403);
  expect(await refused.json()).toMatchObject({ kind: "forbidden-host", message: expect.stringContaining("calls from other machines need server.token") });
  // The app's own routes are not the gateway's to refuse.
  expect(await (await fetch(`${open.url}/`)).text()).toBe("the app's own /");

  const guarded = await appServer({ TOKEN: "s3cret" }, "192.0.2.7");
  expect((await greet(guarded.url)).status).toBe(401);
  const allowed = await greet(guarded.url, { authorization: "Bearer s3cret" });
  expect(allowed.status).toBe(200);
});

test("once closed, every route is the app's again", async () => {
  const { url, attached } = await appServer();
  expect((await greet(url)).status).toBe(200);
  await attached.close();
  expect(await (await greet(url)).text()).toBe("the app's own /ipc/greet");
});
