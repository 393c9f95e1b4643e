// Where a verb is about to write, looked at before anything is written: a folder on the way that is
// a file, a symbolic link to nothing, a name too long for the file system, a folder that may not be
// written in. So a verb refuses with one line and leaves nothing behind, instead of failing midway.
import { accessSync, constants, lstatSync, statSync, type Stats } from "node:fs";
import { dirname, sep } from "node:path";
import { reasonOf, shown } from "./file-errors.ts";

/** The most bytes in one name that common file systems take (ext4, XFS, APFS, NTFS ...). */
export const NAME_MAX = 255;
/** Linux's PATH_MAX, its terminating NUL included. */
const PATH_MAX = 4096;

/** What stops a write, and the path it is about (a folder on the way, or the target itself). */
export interface Obstacle {
  path: string;
  why: string;
}

/** What a target path holds now: nothing, a file, a folder, a symbolic link to nothing, or a FIFO, device or socket. */
export type Existing = "none" | "file" | "folder" | "link-to-nothing" | "other";

export interface Target {
  existing: Existing;
  /** Why nothing can be written there; undefined when a write can go ahead (given `existing`). */
  obstacle?: Obstacle;
}

/** `path: why`, as printed. */
export function obstacleLine(obstacle: Obstacle): string {
  return `${shown(obstacle.path)}: ${obstacle.why}`;
}

/**
 * What is at `target` (an absolute path) and what would stop writing there, the folders it needs
 * included; `spare` bytes are kept free in its last name (for a suffix a caller adds).
 */
export function inspectTarget(target: string, spare = 0): Target {
  const tooLong = nameTooLong(target, spare);
  if (tooLong !== undefined) return { existing: "none", obstacle: tooLong };

  let deepest = target; // the deepest folder on the way that exists
  for (const folder of foldersAbove(target)) {
    const stats = look(folder, statSync);
    if (stats === "ENOENT") {
      if (look(folder, lstatSync) !== "ENOENT") return { existing: "none", obstacle: { path: folder, why: "is a symbolic link to nothing" } };
      break;
    }
    if (typeof stats === "string") return { existing: "none", obstacle: { path: folder, why: reasonOf(stats) } };
    if (!stats.isDirectory()) return { existing: "none", obstacle: { path: folder, why: `${stats.isFile() ? "is a file, not a folder" : "is not a folder"} (${shown(target)} would be inside it)` } };
    deepest = folder;
  }

  const found = existingAt(target);
  if ("code" in found) return { existing: "none", obstacle: { path: target, why: reasonOf(found.code) } };
  const existing = found.existing;
  const writable = existing === "none" ? deepest : target;
  if (existing === "none" || existing === "file") {
    try {
      accessSync(writable, constants.W_OK);
    } catch (error) {
      const why = reasonOf((error as NodeJS.ErrnoException).code ?? "EACCES");
      return { existing, obstacle: { path: writable, why: `${existing === "none" ? "cannot be written in" : "cannot be written"}: ${why}` } };
    }
  }
  return { existing };
}

/** The folders above `path`, the file system's root first. */
function foldersAbove(path: string): string[] {
  const folders: string[] = [];
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    folders.unshift(folder);
    if (dirname(folder) === folder) return folders;
  }
}

function nameTooLong(target: string, spare: number): Obstacle | undefined {
  const names = target.split(sep);
  const last = names.length - 1;
  for (const [i, name] of names.entries()) {
    const bytes = Buffer.byteLength(name) + (i === last ? spare : 0);
    if (bytes > NAME_MAX) {
      const path = names.slice(0, i + 1).join(sep);
      return { path, why: `the name is too long (${Buffer.byteLength(name)} bytes; file systems take at most ${NAME_MAX - (i === last ? spare : 0)})` };
    }
  }
  const bytes = Buffer.byteLength(target) + spare;
  if (bytes >= PATH_MAX) return { path: target, why: `the path is too long (${bytes} bytes; at most ${PATH_MAX - 1})` };
  return undefined;
}

function existingAt(target: string): { existing: Existing } | { code: string } {
  const own = look(target, lstatSync);
  if (own === "ENOENT") return { existing: "none" };
  if (typeof own === "string") return { code: own };
  const stats = own.isSymbolicLink() ? look(target, statSync) : own;
  if (stats === "ENOENT") return { existing: "link-to-nothing" };
  if (typeof stats === "string") return { code: stats };
  return { existing: stats.isFile() ? "file" : stats.isDirectory() ? "folder" : "other" };
}

/** The path's stats, or the error code that stopped looking. */
function look(path: string, stat: (path: string) => Stats): Stats | string {
  try {
    return stat(path);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? "EIO";
  }
}
