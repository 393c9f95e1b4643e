import type { SetupContext } from "ipc-gateway";

interface ChatMessage {
  from: string;
  text: string;
}

const history: ChatMessage[] = [];

/** Called once when the module starts serving: the backend listens to what pages emit. */
export function setup({ app }: SetupContext): void {
  app.listen<ChatMessage>("chat-message", (event) => {
    history.push(event.payload);
    if (history.length > 100) history.shift();
  });
}

/** Command `chat-history` (a drop-in): the last 100 messages pages emitted. */
export default function chatHistory(): ChatMessage[] {
  return history;
}
