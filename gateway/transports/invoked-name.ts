// The name an invocation's log line (and the dev console's feed) shows: the command it reaches.
import { readHeader } from "../runtime/codec.ts";
import { PYFUNC_COMMAND } from "../runtime/invoke.ts";
import type { HeadersInput } from "../runtime/types.ts";

/** pytauri's `plugin:pytauri|pyfunc` reaches the function named in its `pyfunc` header. */
export function invokedName(cmd: string, headers: HeadersInput | undefined): string {
  if (cmd !== PYFUNC_COMMAND) return cmd;
  return readHeader(headers, "pyfunc") || cmd;
}
