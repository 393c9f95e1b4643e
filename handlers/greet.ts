import { InvokeError, type Invoke } from "ipc-gateway";

export default async function greet({ body }: Invoke<{ name: string }>) {
  // A string rejection: the caller's promise rejects with exactly this string.
  if (body.name === "nobody") throw new InvokeError("nobody is not a name");
  return { message: `Hello, ${body.name}!` };
}
