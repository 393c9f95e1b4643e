// The example app's frontend: written against the official @tauri-apps/api, exactly as it
// would be inside Tauri. Bundled with esbuild into web/dist/main.js (npm run build:web).
import { Channel, invoke } from "@tauri-apps/api/core";
import { emit, listen } from "@tauri-apps/api/event";
import { pyInvoke } from "tauri-plugin-pytauri-api";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const value = (id: string) => $<HTMLInputElement>(id).value;

function show(id: string, result: unknown, failed = false): void {
  const out = $(id);
  out.textContent = typeof result === "string" ? result : JSON.stringify(result, null, 1);
  out.classList.toggle("error", failed);
}

/** Run an invocation and show what it resolved or rejected with. */
function wire(button: string, output: string, call: () => Promise<unknown>): void {
  $(button).addEventListener("click", () => {
    call().then(
      (result) => show(output, result),
      (error: unknown) => show(output, error, true),
    );
  });
}

wire("greet", "greet-out", () => invoke("greet", { name: value("greet-name") }));
wire("greet-py", "greet-out", () => pyInvoke("greet", { name: value("greet-name") }));
wire("shout", "shout-out", () => invoke("shout", value("shout-text") as never));
wire("reverse", "reverse-out", async () => {
  const bytes = await invoke<ArrayBuffer>("reverse", new TextEncoder().encode(value("reverse-text")));
  return new TextDecoder().decode(bytes);
});
wire("add", "math-out", () => invoke("add", { a: Number(value("a")), b: Number(value("b")) }));
wire("divide", "math-out", () => invoke("divide", { a: Number(value("a")), b: Number(value("b")) }));

wire("download", "download-out", () => {
  const bar = $<HTMLProgressElement>("progress");
  bar.value = 0;
  const onProgress = new Channel<{ step: number; of: number; percent: number }>((progress) => {
    bar.value = progress.percent;
    show("download-out", `step ${progress.step} of ${progress.of}`);
  });
  return invoke("download", { steps: 40, onProgress });
});

interface ChatMessage {
  from: string;
  text: string;
}
const me = `page-${Math.random().toString(36).slice(2, 6)}`;
void listen<ChatMessage>("chat-message", (event) => {
  const item = document.createElement("li");
  item.textContent = `${event.payload.from}: ${event.payload.text}`;
  $("chat-log").append(item);
});
wire("chat-send", "chat-out", async () => {
  await emit("chat-message", { from: me, text: value("chat-text") } satisfies ChatMessage);
  return "emitted";
});
wire("chat-history", "chat-out", () => invoke("chat-history"));

void listen<{ text: string }>("announcement", (event) => {
  const item = document.createElement("li");
  item.textContent = `announcement: ${event.payload.text}`;
  $("announcements").append(item);
});
wire("announce", "announce-out", async () => {
  await invoke("announce", { text: value("announce-text") });
  return "announced to every page";
});

// gateway dev pushes these when a reload succeeds or an edit is broken.
const banner = $("banner");
void listen<{ generation: number }>("gateway://reload", (event) => {
  banner.className = "reload";
  banner.textContent = `reloaded: generation ${event.payload.generation}`;
  setTimeout(() => (banner.className = ""), 2500);
});
void listen<{ message: string }>("gateway://error", (event) => {
  banner.className = "error";
  banner.textContent = event.payload.message;
});
