// The example app (gateway.yaml, handlers/, schemas/) works as the README says.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { fileURLToPath } from "node:url";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { memoryLogger, rejectionOf } from "./helpers/app.ts";

let gw: Gateway;
beforeAll(async () => {
  gw = await createGateway({ config: fileURLToPath(new URL("../gateway.yaml", import.meta.url)), logger: memoryLogger() });
});
afterAll(async () => gw.close());

describe("the example app", () => {
  test("has its commands, the drop-in included", () => {
    expect([...gw.generation.commands.keys()].sort()).toEqual(["add", "announce", "chat-history", "divide", "download", "get-user", "greet", "reverse", "save-user", "shout"]);
  });

  test("greet: an object body with a shared $ref definition", async () => {
    expect(await gw.invoke("greet", { name: "Ada" })).toEqual({ message: "Hello, Ada!" });
    expect(await rejectionOf(gw.invoke("greet", { name: "" }))).toMatchObject({ kind: "invalid-body", errors: [{ instancePath: "/name", keyword: "minLength" }] });
    expect(await rejectionOf(gw.invoke("greet", { name: "nobody" }))).toBe("nobody is not a name");
  });

  test("shout: a string body", async () => {
    expect(await gw.invoke("shout", "quiet")).toBe("QUIET");
  });

  test("reverse: bytes in and out", async () => {
    expect([...(await gw.invoke<Uint8Array>("reverse", new Uint8Array([1, 2, 3])))]).toEqual([3, 2, 1]);
  });

  test("save-user / get-user share module state and a $ref'd user schema", async () => {
    await gw.invoke("save-user", { email: "ada@example.com", name: "Ada" });
    expect(await gw.invoke("get-user", { email: "ada@example.com" })).toEqual({ email: "ada@example.com", name: "Ada" });
    expect(await rejectionOf(gw.invoke("get-user", { email: "bob@example.com" }))).toEqual({ code: "not-found", email: "bob@example.com" });
    expect(await rejectionOf(gw.invoke("save-user", { email: "not-an-email", name: "X" }))).toMatchObject({ kind: "invalid-body" });
  });

  test("divide: an InvokeError with an object", async () => {
    expect(await gw.invoke("divide", { a: 1, b: 4 })).toBe(0.25);
    expect(await rejectionOf(gw.invoke("divide", { a: 1, b: 0 }))).toEqual({ code: "division-by-zero", message: "cannot divide by zero" });
  });

  test("add: a drop-in with convention schemas", async () => {
    expect(await gw.invoke("add", { a: 2, b: 40 })).toBe(42);
    expect(await rejectionOf(gw.invoke("add", { a: 2, b: "40" }))).toMatchObject({ kind: "invalid-body" });
  });
});
