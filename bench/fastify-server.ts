// The peer for the "http" bench suite: Fastify 5 serving POST /ipc/greet with the very schema files
// the gateway uses, so both sides validate the same body. Run as its own process (like the
// gateway) so neither server shares an event loop with the load generator.
import { readFileSync } from "node:fs";
import Fastify from "fastify";

const SCHEMAS = new URL("../schemas/", import.meta.url);

function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, SCHEMAS), "utf8")) as Record<string, unknown>;
}

/**
 * defs.json as Fastify's ajv can hold it. The $id makes greet.body.json's relative
 * "defs.json#/$defs/name" resolve. Its "$schema" names draft 2020-12, which Fastify's default ajv
 * (draft-07) does not know and would refuse to compile; the keywords used here ($defs, minLength,
 * maxLength, format) mean the same in both drafts, so dropping it changes nothing that is checked.
 */
function sharedDefs(): Record<string, unknown> {
  const { $schema: _draft, ...defs } = readSchema("defs.json");
  return { ...defs, $id: "defs.json" };
}

export async function startServer(): Promise<{ close: () => Promise<void>; url: string }> {
  const app = Fastify({ logger: false });
  app.addSchema(sharedDefs());
  app.post(
    "/ipc/greet",
    { schema: { body: readSchema("greet.body.json"), response: { 200: readSchema("greet.returns.json") } } },
    async (request) => {
      const { name } = request.body as { name: string };
      return { message: `Hello, ${name}!` };
    },
  );
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return { url, close: () => app.close() };
}

const server = await startServer();
// The bench waits for exactly this line before it sends load.
console.log(`listening on ${server.url}`);
process.once("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
