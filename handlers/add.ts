import type { Invoke } from "ipc-gateway";

// A drop-in: no manifest entry. The file name makes it command "add"; its schemas are
// schemas/add.body.yaml and schemas/add.returns.json, by convention.
export default function add({ body }: Invoke<{ a: number; b: number }>): number {
  return body.a + body.b;
}
