// Reading a file that may not be one: a FIFO named as a manifest, a schema or a cache entry would
// block a plain readFileSync until some writer shows up (forever, usually), and a device may never
// end. Such a name is refused instead, with the code NOT_REGULAR.
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from "node:fs";

/** The error code of a path that exists but is not a regular file (a FIFO, device, socket or folder). */
export const NOT_REGULAR = "ENOTREGULAR";

export function readRegularFile(path: string): Buffer;
export function readRegularFile(path: string, encoding: "utf8"): string;
export function readRegularFile(path: string, encoding?: "utf8"): Buffer | string {
  // Looked at before it is opened: opening some devices does something by itself.
  if (!statSync(path).isFile()) throw notRegular(path);
  // Non-blocking, so that a FIFO put in its place since the stat does not block the open, and
  // checked again once open, on what was actually opened.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(path);
    return encoding === undefined ? readFileSync(fd) : readFileSync(fd, encoding);
  } finally {
    closeSync(fd);
  }
}

function notRegular(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path}: not a regular file`), { code: NOT_REGULAR, path });
}
