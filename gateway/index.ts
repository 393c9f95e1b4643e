// The public API of ipc-gateway: what handler files and embedding apps import.
export { InvokeError } from "./runtime/invoke-error.ts";
export { logStrayErrors } from "./runtime/stray-errors.ts";
export { createGateway, type Gateway, type GatewayOptions, type GatewaySettings, type InvokeOptions, type CloseOptions, type ProblemReport } from "./gateway.ts";
export { ConfigError, formatProblem, type Problem } from "./config/problems.ts";
export { ERROR_STATUS, type ErrorKind, type GatewayErrorValue } from "./runtime/errors.ts";
export type { Logger } from "./runtime/logger.ts";
export type { Channel } from "./runtime/channels.ts";
export type { SetupContext } from "./reload/lifecycle.ts";
export { GatewayError } from "./runtime/errors.ts";
export type { AttachTarget, Attached, ListenOptions, Listening, Readiness } from "./transports/http.ts";
export type { Principal, PrincipalClaims, PrincipalInput } from "./access/principal.ts";
export type { AuthHandler, AuthRequest } from "./access/policy.ts";
export type {
  AppHandle,
  BodyOf,
  CommandBody,
  CommandError,
  CommandName,
  CommandReturns,
  Commands,
  ErrorOf,
  EventCallback,
  EventMessage,
  EventTarget,
  Handler,
  HandlerResult,
  HeadersInput,
  Invoke,
  InvokeContext,
  InvokeHandler,
  InvokeHeaders,
  InvokeRequest,
  InvokeResponse,
  PrincipalTarget,
  WindowHandle,
} from "./runtime/types.ts";
