import { InvokeError, type Invoke } from "ipc-gateway";

export function divide({ body }: Invoke<{ a: number; b: number }>): number {
  if (body.b === 0) throw new InvokeError({ code: "division-by-zero", message: "cannot divide by zero" });
  return body.a / body.b;
}
