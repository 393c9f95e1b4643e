// Why a verb stopped, as the one line it prints: its own refusals, and the file system's errors
// (EACCES, ENOTDIR ...) on the paths it was given, said in words with the path they are about.
import { resolve } from "node:path";
import { displayPath } from "../config/problems.ts";

/** A reason to stop: printed as `gateway <verb>: <message>`, exit 1. Nothing was written. */
export class Refusal extends Error {}

const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a folder",
  ENOTDIR: "a part of the path is a file, not a folder",
  ENAMETOOLONG: "the name is too long",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exceeded",
  EEXIST: "already exists",
  ENOENT: "not found",
  ELOOP: "too many levels of symbolic links",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
  EBUSY: "the file is busy",
  EIO: "input/output error",
  ENOTEMPTY: "the folder is not empty",
  ETXTBSY: "the file is busy",
  EFBIG: "the file is too large",
  EINVAL: "invalid argument",
  ENXIO: "no such device",
};

/** The words for an errno code ("EACCES" -> "permission denied"). */
export function reasonOf(code: string): string {
  return REASONS[code] ?? code;
}

/** A file system error (an errno code such as EACCES), as Node throws them. */
export function isFileError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && /^E[A-Z0-9]+$/.test((error as NodeJS.ErrnoException).code!) && typeof (error as NodeJS.ErrnoException).syscall === "string";
}

/** `path: reason` for a file system error; `path` when the error names none (a write's ENOSPC). */
export function fileErrorLine(error: NodeJS.ErrnoException & { code: string }, path?: string): string {
  const about = error.path ?? path;
  return about === undefined ? reasonOf(error.code) : `${shown(about)}: ${reasonOf(error.code)}`;
}

/** A path as the user would type it, with any over-long name cut short (so the line stays readable). */
export function shown(path: string): string {
  return (resolve(path) === process.cwd() ? "." : displayPath(path))
    .split("/")
    .map((part) => (part.length > LONG_NAME ? `${part.slice(0, 32)}…` : part))
    .join("/");
}

/** Names longer than this are cut short by shown(). */
const LONG_NAME = 64;
