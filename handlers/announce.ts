import type { Invoke } from "ipc-gateway";

/** The backend emits `announcement` (declared in gateway.yaml, from: [backend]) to every page. */
export default function announce({ body, app }: Invoke<{ text: string }>): null {
  app.emit("announcement", { text: body.text });
  return null;
}
