import { InvokeError, type Invoke } from "ipc-gateway";

interface User {
  email: string;
  name: string;
}

// Module state lives as long as the module: both commands below share it.
const users = new Map<string, User>();

export function saveUser({ body }: Invoke<User>): User {
  users.set(body.email, body);
  return body;
}

export function getUser({ body }: Invoke<{ email: string }>): User {
  const user = users.get(body.email);
  if (!user) throw new InvokeError({ code: "not-found", email: body.email });
  return user;
}
