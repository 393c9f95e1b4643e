// The files and folders one run of a verb creates, taken away again when a write fails midway
// (a full disk, a permission changed since the look before): a failed run leaves nothing behind.
import { closeSync, lstatSync, mkdirSync, openSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export class Creation {
  /** What this run created, in order: undone in reverse. */
  private readonly made: { path: string; folder: boolean }[] = [];

  /** Writes a new file (never over anything already there), creating the folders it needs. */
  file(path: string, content: string | Uint8Array): void {
    this.folder(dirname(path));
    const fd = withPath(path, () => openSync(path, "wx"));
    this.made.push({ path, folder: false });
    try {
      withPath(path, () => writeFileSync(fd, content));
    } finally {
      closeSync(fd);
    }
  }

  /** Creates `dir` and the folders above it that are missing. */
  folder(dir: string): void {
    const missing: string[] = [];
    for (let folder = dir; !exists(folder) && dirname(folder) !== folder; folder = dirname(folder)) missing.unshift(folder);
    for (const folder of missing) {
      withPath(folder, () => mkdirSync(folder));
      this.made.push({ path: folder, folder: true });
    }
  }

  /** Removes what this run created (as far as it can: this runs after a failure already). */
  undo(): void {
    for (const { path, folder } of this.made.splice(0).reverse()) {
      try {
        if (folder) rmdirSync(path);
        else rmSync(path, { force: true });
      } catch {
        // something else put a file in the folder meanwhile: it stays
      }
    }
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `write`; an error that names no path (a write's ENOSPC) is given `path`. */
export function withPath<T>(path: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).path === undefined) (error as NodeJS.ErrnoException).path = path;
    throw error;
  }
}

/** Replaces a file's text; should that fail midway (a full disk), its old text is put back. */
export function replaceText(file: string, before: string, after: string): void {
  try {
    withPath(file, () => writeFileSync(file, after));
  } catch (error) {
    try {
      writeFileSync(file, before);
    } catch {
      // as good as it gets: the error names the file
    }
    throw error;
  }
}
