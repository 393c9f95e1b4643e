// The browser bench's peers, each in a process of its own (like the gateway): `fastify` serves
// POST /ipc/greet with the same schemas, `raw` a bare `ws` RPC (the ceiling: no validation, no
// pipeline). Both serve the bench page. Prints "listening on <url>" once ready.
import { createServer } from "node:http";
import Fastify from "fastify";
import { WebSocketServer } from "ws";

const [mode, pageHtml, pageScript] = [process.argv[2], process.env.BENCH_PAGE_HTML!, process.env.BENCH_PAGE_SCRIPT!];

const BODY_SCHEMA = { type: "object", properties: { name: { type: "string", minLength: 1, maxLength: 100 } }, required: ["name"], additionalProperties: false };
const RETURNS_SCHEMA = { type: "object", properties: { message: { type: "string" } }, required: ["message"] };

if (mode === "fastify") {
  const app = Fastify({ logger: false });
  app.get("/bench.html", async (_request, reply) => reply.type("text/html").send(pageHtml));
  app.get("/bench.js", async (_request, reply) => reply.type("text/javascript").send(pageScript));
  app.post("/ipc/greet", { schema: { body: BODY_SCHEMA, response: { 200: RETURNS_SCHEMA } } }, async (request) => ({
    message: `Hello, ${(request.body as { name: string }).name}!`,
  }));
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  console.log(`listening on ${url}`);
} else {
  const server = createServer((req, res) => {
    const [type, body] = req.url?.startsWith("/bench.js") ? ["text/javascript", pageScript] : ["text/html", pageHtml];
    res.writeHead(200, { "content-type": type });
    res.end(body);
  });
  const wss = new WebSocketServer({ server, path: "/rpc", perMessageDeflate: false });
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const { rid, body } = JSON.parse(String(data)) as { rid: number; body: { name: string } };
      ws.send(JSON.stringify({ rid, value: { message: `Hello, ${body.name}!` } }));
    });
  });
  server.listen(0, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`));
}
