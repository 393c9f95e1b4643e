// Reading a file that may not be one: a FIFO named as a manifest, a schema or a cache entry would
// block a plain readFileSync until some writer shows up (forever, usually), and a device may never
// end. Such a name is refused instead, with the code NOT_REGULAR.
import { constants, readFileSync, statSync } from "node:fs";

/** The error code of a path that exists but is not a regular file (a FIFO, device, socket or folder). */
export const NOT_REGULAR = "ENOTREGULAR";

/**
 * Non-blocking: should a FIFO take the file's place between the look and the read, the read ends
 * (empty, or EAGAIN) instead of waiting for a writer. A regular file reads as usual.
 */
// readFileSync takes numeric flags as fs.open does (its typings say string only).
const READ_FLAGS = (constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)) as unknown as string;

/**
 * The file's content. It is looked at before it is opened (opening some devices does something
 * by itself), unless `known` says the caller has just seen it listed as a regular file (a folder's
 * listing tells each entry's type). One stat and Node's own read: this runs for every schema,
 * module and cache entry of a start.
 */
export function readRegularFile(path: string, encoding?: undefined, known?: "regular"): Buffer;
export function readRegularFile(path: string, encoding: "utf8", known?: "regular"): string;
export function readRegularFile(path: string, encoding?: "utf8", known?: "regular"): Buffer | string {
  if (known !== "regular" && !statSync(path).isFile()) throw notRegular(path);
  return encoding === undefined ? readFileSync(path, { flag: READ_FLAGS }) : readFileSync(path, { encoding, flag: READ_FLAGS });
}

function notRegular(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path}: not a regular file`), { code: NOT_REGULAR, path });
}
