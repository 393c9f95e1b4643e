// The public API of ipc-gateway: what handler files and embedding apps import.
export { InvokeError } from "./invoke-error.ts";
export { logStrayErrors } from "./stray-errors.ts";
export { createGateway, type Gateway, type GatewayOptions, type InvokeOptions } from "./gateway.ts";
export { ConfigError, formatProblem, type Problem } from "./problems.ts";
export { ERROR_STATUS, type ErrorKind, type GatewayErrorValue } from "./errors.ts";
export type { Logger } from "./invoke.ts";
export type { Channel } from "./channels.ts";
export type { SetupContext } from "./lifecycle.ts";
export { GatewayError } from "./errors.ts";
export type { ListenOptions, Listening } from "./transports/http.ts";
export type {
  AppHandle,
  EventCallback,
  EventMessage,
  EventTarget,
  Handler,
  HeadersInput,
  Invoke,
  InvokeHandler,
  InvokeHeaders,
  InvokeRequest,
  InvokeResponse,
  WindowHandle,
} from "./types.ts";
