// In-process invocations per second of a validated command, against the floor: the same ajv
// validators and the same handler function called directly, with no gateway in between.
import { fileURLToPath } from "node:url";
import { createGateway } from "../gateway/index.ts";
import type { Validator } from "../gateway/config/schemas.ts";
import { measureRate, type Figure } from "./measure.ts";

const EXAMPLE = fileURLToPath(new URL("../gateway.yaml", import.meta.url));

export async function benchInProcess(): Promise<Figure[]> {
  const gw = await createGateway({ config: EXAMPLE });
  // The first call loads a handler module the disk cache deferred; the floor must call the real function.
  await gw.invoke("greet", { name: "Ada" });
  const command = gw.generation.commands.get("greet")!;
  const validateBody = (command.body as { validate: Validator }).validate;
  const validateReturn = (command.returns as { validate: Validator }).validate;
  const handler = command.handler;
  const body = { name: "Ada" };

  const floor = async () => {
    if (!validateBody(body)) throw new Error("invalid body");
    const value = await handler({ body } as never);
    if (!validateReturn(value)) throw new Error("invalid return");
  };
  const gateway = async () => {
    await gw.invoke("greet", body);
  };

  const rates = await measureRate({ floor, gateway });
  await gw.close();
  return [
    { name: "in-process: floor (validators + handler called directly)", value: rates.floor, unit: "calls/s" },
    { name: "in-process: gateway invoke", value: rates.gateway, unit: "calls/s" },
    { name: "in-process: gateway / floor", value: rates.gateway / rates.floor, unit: "ratio", target: ">= 0.333 (overhead at most 3x)", pass: rates.gateway / rates.floor >= 1 / 3 },
  ];
}
