// Reading a file that may not be one: a FIFO named as a manifest, a schema or a cache entry would
// block a plain readFileSync until some writer shows up (forever, usually), and a device may never
// end. Such a name is refused instead, with the code NOT_REGULAR.
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";

/** The error code of a path that exists but is not a regular file (a FIFO, device, socket or folder). */
export const NOT_REGULAR = "ENOTREGULAR";

/** The error code of a file over the `maxBytes` its reader allows (as it was looked at, or as it was read). */
export const TOO_LARGE = "ETOOLARGE";

/**
 * Non-blocking: should a FIFO take the file's place between the look and the read, the read ends
 * (empty, or EAGAIN) instead of waiting for a writer. A regular file reads as usual.
 */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
// readFileSync takes numeric flags as fs.open does (its typings say string only).
const READ_FLAGS = OPEN_FLAGS as unknown as string;

export interface ReadOptions {
  /** The caller has just seen it listed as a regular file (a folder's listing tells each entry's type). */
  known?: "regular";
  /** Refuse (TOO_LARGE) a file of more bytes, without reading more than one byte past it. */
  maxBytes?: number;
}

/**
 * The file's content. It is looked at before it is opened (opening some devices does something
 * by itself), unless `known` says the caller has just seen it listed as a regular file. One stat
 * and Node's own read: this runs for every schema, module and cache entry of a start.
 */
export function readRegularFile(path: string, encoding?: undefined, options?: "regular" | ReadOptions): Buffer;
export function readRegularFile(path: string, encoding: "utf8", options?: "regular" | ReadOptions): string;
export function readRegularFile(path: string, encoding?: "utf8", options?: "regular" | ReadOptions): Buffer | string {
  const { known, maxBytes } = typeof options === "string" ? { known: options, maxBytes: undefined } : (options ?? {});
  if (known !== "regular" && !statSync(path).isFile()) throw notRegular(path);
  if (maxBytes !== undefined) {
    const bytes = readAtMost(path, maxBytes);
    return encoding === undefined ? bytes : bytes.toString(encoding);
  }
  return encoding === undefined ? readFileSync(path, { flag: READ_FLAGS }) : readFileSync(path, { encoding, flag: READ_FLAGS });
}

/**
 * The file's bytes, when there are no more than `maxBytes`: its size is looked at once it is open,
 * and a file that grows past the limit while it is read is cut off there and refused all the same.
 */
function readAtMost(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw notRegular(path);
    if (stat.size > maxBytes) throw tooLarge(path, maxBytes);
    // One byte more than its size: a read that fills it tells a file that grew since.
    let buffer = Buffer.allocUnsafe(stat.size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw tooLarge(path, maxBytes);
        const larger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buffer.length * 2));
        buffer.copy(larger, 0, 0, length);
        buffer = larger;
      }
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) return buffer.subarray(0, length);
      length += read;
    }
  } finally {
    closeSync(fd);
  }
}

function notRegular(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path}: not a regular file`), { code: NOT_REGULAR, path });
}

function tooLarge(path: string, maxBytes: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path}: larger than ${maxBytes} bytes`), { code: TOO_LARGE, path });
}
