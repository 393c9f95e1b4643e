// Processes as Linux's /proc shows them (tests that look at the children a gateway starts).
import { readdirSync, readFileSync } from "node:fs";

/** Child processes of `pid` whose command name is `name` (as /proc/<pid>/stat gives it). */
export function childrenOf(pid: number, name: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        return stat.startsWith(`${entry} (${name}) `) && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false; // ended meanwhile
      }
    })
    .map(Number);
}

/**
 * SIGSTOP `pid` and wait until it is stopped. A signal is acted on only when the process next
 * runs: on a busy machine a signal sent right after SIGSTOP (a SIGTERM, say) can reach it first
 * (Linux delivers the lower-numbered pending signal first), and a stopped-looking process still
 * answers one last request.
 */
export async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, "SIGSTOP");
  for (let waited = 0; stateOf(pid) !== "T"; waited += 5) {
    if (waited > 10_000) throw new Error(`process ${pid} did not stop within 10 s after SIGSTOP (state ${stateOf(pid)})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The process's state letter in /proc/<pid>/stat (R running, S sleeping, T stopped, Z zombie, ...). */
function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}
