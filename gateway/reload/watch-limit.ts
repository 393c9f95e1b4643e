// What to tell the user when the system refuses a folder watch: which limit, its value, and the
// commands that raise it. Said once per run (the watcher polls those folders meanwhile).
import { readFileSync } from "node:fs";

/** The sysctl behind each error inotify gives when a limit is reached. */
const SYSCTL: Record<string, string> = {
  ENOSPC: "fs.inotify.max_user_watches",
  EMFILE: "fs.inotify.max_user_instances",
};

/** The message for a folder watch refused with `code`; `polled`: how many folders are polled instead. */
export function watchLimitMessage(code: string | undefined, polled: number): string {
  const folders = `${polled} folder${polled === 1 ? " is" : "s are"} polled instead (edits there are seen within about a second, at some CPU cost)`;
  const sysctl = code === undefined ? undefined : SYSCTL[code];
  if (sysctl === undefined) return `gateway: some folders cannot be watched (${code ?? "unknown error"}): ${folders}`;
  const current = currentLimit(sysctl);
  // A limit already large is doubled; a usual default is raised to what IDEs recommend.
  const wanted = sysctl.endsWith("watches") ? Math.max(524288, (current ?? 0) * 2) : Math.max(1024, (current ?? 0) * 2);
  return (
    `gateway: the system's limit on file watches is reached (${sysctl} = ${current ?? "?"}, shared by every program of this user): ${folders}. ` +
    `Raise it with \`sudo sysctl ${sysctl}=${wanted}\`, and to keep it after a reboot, ` +
    `\`echo ${sysctl}=${wanted} | sudo tee /etc/sysctl.d/60-inotify.conf\`; then restart gateway dev.`
  );
}

/**
 * The limit in force: the sysctl, or its user namespace's own value when lower (containers,
 * sandboxes). The fs.inotify values are global: only ever read.
 */
function currentLimit(sysctl: string): number | undefined {
  const perNamespace = sysctl.endsWith("watches") ? "/proc/sys/user/max_inotify_watches" : "/proc/sys/user/max_inotify_instances";
  const values = [`/proc/sys/${sysctl.replaceAll(".", "/")}`, perNamespace].map(readNumber).filter((v): v is number => v !== undefined);
  return values.length > 0 ? Math.min(...values) : undefined;
}

function readNumber(file: string): number | undefined {
  try {
    const value = Number(readFileSync(file, "utf8").trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
