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
