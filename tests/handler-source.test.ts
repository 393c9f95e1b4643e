// manifest.json under dev says where each handler is (for the dev console): the file relative to
// the manifest's folder, the export, the line that exports it (in each way a module writes an
// export; none when it is not found) and the absolute path; createGateway's openInEditor is
// checked at start and shown there; without dev, none of it.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { createGateway } from "../gateway/index.ts";
import { gatewayFor, memoryLogger, rejectionOf, tempApp } from "./helpers/app.ts";
import { request } from "./helpers/http.ts";

const MANIFEST = `version: 1
commands:
${[
  ["plain", "handlers/plain.ts"],
  ["arrow", "handlers/arrow.ts"],
  ["listed-default", "handlers/listed.ts"],
  ["fn", "handlers/named.ts#fn"],
  ["gen", "handlers/named.ts#gen"],
  ["value", "handlers/named.ts#value"],
  ["dollar", "handlers/named.ts#$dollar"],
  ["listed", "handlers/listed.ts#listedName"],
  ["renamed", "handlers/listed.ts#renamed"],
  ["nested", "handlers/deep/nested.ts"],
].map(([name, handler]) => `  ${name}:\n    handler: ${handler}`).join("\n")}
`;

const FILES = {
  "gateway.yaml": MANIFEST,
  "handlers/plain.ts": "// export default is mentioned in a comment first\n\nexport default function plain() {\n  return 1;\n}\n",
  "handlers/arrow.ts": "const x = 1;\r\n  export default () => x;\r\n",
  "handlers/named.ts": [
    "export const fnLike = () => 0; // a longer name that starts the same",
    "export async function fn() {",
    "  return 1;",
    "}",
    "export function* gen() {}",
    "export const value = () => 2;",
    "export const $dollar = () => 3;",
    "",
  ].join("\n"),
  "handlers/listed.ts": [
    "const listedName = () => 1;",
    "const other = () => 2;",
    "function main() {",
    "  return 3;",
    "}",
    "export {",
    "  listedName,",
    "  other as renamed,",
    "  main as default,",
    "};",
    "",
  ].join("\n"),
  "handlers/deep/nested.ts": "const handler = () => 1;\nexport default handler;\n",
};

describe("under dev", () => {
  let ctx: Awaited<ReturnType<typeof gatewayFor>>;
  let manifest: any;

  beforeAll(async () => {
    ctx = await gatewayFor(FILES, { dev: true, openInEditor: "/__open-in-editor" });
    const { url } = await ctx.gw.listen({ port: 0 });
    manifest = (await request(`${url}/__gateway/manifest.json`, { method: "GET" })).json();
  });
  afterAll(async () => ctx?.close());

  test("each command's handler: file relative to the manifest, export, the line that exports it, absolute path", () => {
    const at = (file: string, exportName: string, line: number) => ({ file, export: exportName, line, path: ctx.app.path(file) });
    expect(Object.fromEntries(Object.entries(manifest.commands).map(([name, c]: [string, any]) => [name, c.handler]))).toEqual({
      plain: at("handlers/plain.ts", "default", 3),
      arrow: at("handlers/arrow.ts", "default", 2),
      "listed-default": at("handlers/listed.ts", "default", 6),
      fn: at("handlers/named.ts", "fn", 2),
      gen: at("handlers/named.ts", "gen", 5),
      value: at("handlers/named.ts", "value", 6),
      dollar: at("handlers/named.ts", "$dollar", 7),
      listed: at("handlers/listed.ts", "listedName", 6),
      renamed: at("handlers/listed.ts", "renamed", 6),
      nested: at("handlers/deep/nested.ts", "default", 2),
    });
    expect(manifest.openInEditor).toBe("/__open-in-editor");
  });
});

test("an export the file does not write in a way recognized here has no line; the rest is there", async () => {
  const ctx = await gatewayFor(
    {
      "gateway.yaml": "version: 1\ncommands:\n  again:\n    handler: handlers/again.ts#greet\n",
      "handlers/again.ts": 'export * from "./impl.ts";\n',
      "handlers/impl.ts": "export const greet = () => 1;\n",
    },
    { dev: true },
  );
  try {
    const { url } = await ctx.gw.listen({ port: 0 });
    const manifest = (await request(`${url}/__gateway/manifest.json`, { method: "GET" })).json();
    expect(manifest.commands.again.handler).toEqual({ file: "handlers/again.ts", export: "greet", path: ctx.app.path("handlers/again.ts") });
    expect(manifest.openInEditor).toBeNull();
  } finally {
    await ctx.close();
  }
});

test("openInEditor is a path or an http(s) URL without ? or #: anything else is a one-line TypeError at start; without dev it shows nowhere", async () => {
  const app = tempApp({ "gateway.yaml": "version: 1\ncommands: {}\n" });
  try {
    for (const bad of ["__open-in-editor", "//elsewhere/open", "/open?x=1", "/open#x", "javascript:alert(1)", "", 42]) {
      const error = await rejectionOf(createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger(), dev: true, openInEditor: bad as string }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/^createGateway: openInEditor must be a path such as "\/__open-in-editor" or an http\(s\) URL, without \? or # \(the console adds \?file=\); got .+$/);
    }
    for (const good of ["/__open-in-editor", "http://127.0.0.1:5173/__open-in-editor"]) {
      const gw = await createGateway({ config: app.path("gateway.yaml"), logger: memoryLogger(), dev: true, openInEditor: good });
      await gw.close();
    }
  } finally {
    app.remove();
  }

  // Not under dev: manifest.json names no file and no editor.
  const ctx = await gatewayFor(FILES, { openInEditor: "/__open-in-editor" });
  try {
    const { url } = await ctx.gw.listen({ port: 0 });
    const res = await request(`${url}/__gateway/manifest.json`, { method: "GET" });
    expect(Object.keys(res.json())).toEqual(["generation", "commands", "channels", "events"]);
    expect(res.json().commands.plain).toEqual({ body: null, returns: null, errors: null, timeout: 30000 });
    expect(res.text).not.toContain("handlers/");
  } finally {
    await ctx.close();
  }
});
