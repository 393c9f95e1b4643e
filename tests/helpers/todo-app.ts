// A small app with two drop-in handlers sharing a store in a helper module, and one that imports nothing.
/** The todo app of issue 17: add-todo and list-todos share the store in handlers/_store.ts. */
export const TODO_APP = {
  "gateway.yaml": "version: 1\ndiscover:\n  handlers: handlers\n",
  "handlers/_store.ts": [
    "export const todos: { id: number; text: string }[] = [];",
    "export const made = Date.now() + Math.random();",
    "export function dispose() { ((globalThis as any).__storesDisposed ??= []).push(todos.length); }",
    "",
  ].join("\n"),
  "handlers/add-todo.ts": [
    'import { todos } from "./_store.ts";',
    "export default ({ body }: { body: { text: string } }) => {",
    "  todos.push({ id: todos.length + 1, text: body.text });",
    "  return todos.length;",
    "};",
    "",
  ].join("\n"),
  // Extensionless, as many apps write it: the same file, so the same instance.
  "handlers/list-todos.ts": 'import { todos } from "./_store";\nexport default () => todos;\n',
  "handlers/ping.ts": 'export default () => "pong";\n',
};
