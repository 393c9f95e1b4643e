import type { Invoke } from "ipc-gateway";

/** Bytes in, bytes out: `body: binary` gives a Uint8Array, `returns: binary` sends one back raw. */
export default function reverse({ body }: Invoke<Uint8Array>): Uint8Array {
  return Uint8Array.from(body).reverse();
}
