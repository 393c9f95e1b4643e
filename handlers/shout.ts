import type { Invoke } from "ipc-gateway";

export default function shout({ body }: Invoke<string>): string {
  return body.toUpperCase();
}
