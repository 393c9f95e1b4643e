// Bundled into the test page: the real @tauri-apps/api and tauri-plugin-pytauri-api, unmodified,
// exposed on window.api for the tests to drive.
import { Channel, invoke, isTauri } from "@tauri-apps/api/core";
import { emit, emitTo, listen, once } from "@tauri-apps/api/event";
import { getCurrentWindow } from "@tauri-apps/api/window";
import { getCurrentWebviewWindow } from "@tauri-apps/api/webviewWindow";
import { pyInvoke } from "tauri-plugin-pytauri-api";

declare global {
  interface Window {
    api: typeof api;
    /** Defined by the gateway's /__gateway/tauri.js (the part tests look at). */
    __TAURI_INTERNALS__: { callbacks: Map<number, unknown>; gateway: { ready(): Promise<void>; page: string | null } };
  }
}

const api = { Channel, invoke, isTauri, emit, emitTo, listen, once, getCurrentWindow, getCurrentWebviewWindow, pyInvoke };
window.api = api;
