// "Call as": whom the console's invocations and emits are made as, for trying capabilities. The
// console itself (its own connection, the default), anonymous, a principal the manifest names
// (auth.tokens, ids in capabilities), or any id with any roles. Calls as someone go over HTTP
// with the Gateway-Principal header (api.ts, invokeAs), which only `gateway dev` honours.
import { useEffect, useReducer, useState } from "preact/hooks";
import type { CallAs, Principals } from "./api.ts";

/** undefined: the console's own connection (its token, or anonymous). */
let chosen: CallAs | undefined;
const subscribers = new Set<() => void>();

function choose(next: CallAs | undefined): void {
  chosen = next;
  subscribers.forEach((notify) => notify());
}

/** Whom calls are made as now (read when a call starts). */
export function currentCallAs(): CallAs | undefined {
  return chosen;
}

/** The choice, re-rendering the caller when it changes. */
export function useCallAs(): CallAs | undefined {
  const [, changed] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const notify = () => changed(undefined);
    subscribers.add(notify);
    return () => void subscribers.delete(notify);
  }, []);
  return chosen;
}

/** A choice in a few words: `alice (roles: admin)`, `anonymous`. */
export function describeCallAs(as: CallAs): string {
  if (as === null) return "anonymous";
  return as.roles.length > 0 ? `${as.id} (roles: ${as.roles.join(", ")})` : as.id;
}

const SELF = "";
const ANONYMOUS = "anonymous";
const CUSTOM = "custom";
const KNOWN = "principal:";

/** The control in the console's top bar. */
export function CallAsControl({ principals }: { principals: Principals }) {
  const [selected, setSelected] = useState(SELF);
  const [id, setId] = useState("");
  const [roles, setRoles] = useState<string[]>([]);
  const [otherRoles, setOtherRoles] = useState("");

  // The choice follows the fields; an empty id is no principal yet (the console's own calls meanwhile).
  useEffect(() => {
    if (selected === SELF) return choose(undefined);
    if (selected === ANONYMOUS) return choose(null);
    const all = [...roles, ...otherRoles.split(",").map((r) => r.trim()).filter(Boolean)];
    choose(id.trim() === "" ? undefined : { id: id.trim(), roles: [...new Set(all)] });
  }, [selected, id, roles, otherRoles]);
  useEffect(() => () => choose(undefined), []);

  const pick = (value: string) => {
    if (value.startsWith(KNOWN)) {
      // A known principal fills the fields, so that "someone else" starts from it.
      const known = principals.principals.find((p) => p.id === value.slice(KNOWN.length));
      setId(known?.id ?? "");
      setRoles(known?.roles ?? []);
      setOtherRoles("");
    }
    setSelected(value);
  };
  const allRoles = [...new Set([...principals.roles, ...roles])];

  return (
    <div class="call-as">
      <label>
        call as{" "}
        <select name="call-as" value={selected} onChange={(e) => pick(e.currentTarget.value)}>
          <option value={SELF}>this console (its connection)</option>
          <option value={ANONYMOUS}>anonymous</option>
          {principals.principals.map((p) => (
            <option key={p.id} value={KNOWN + p.id}>
              {describeCallAs({ id: p.id, roles: p.roles })}
            </option>
          ))}
          <option value={CUSTOM}>someone else…</option>
        </select>
      </label>
      {selected === CUSTOM && (
        <span class="custom">
          <input type="text" name="call-as-id" placeholder="principal id" value={id} onInput={(e) => setId(e.currentTarget.value)} />
          {allRoles.map((role) => (
            <label key={role} class="role">
              <input
                type="checkbox"
                name="call-as-role"
                value={role}
                checked={roles.includes(role)}
                onChange={(e) => setRoles(e.currentTarget.checked ? [...roles, role] : roles.filter((r) => r !== role))}
              />{" "}
              {role}
            </label>
          ))}
          <input type="text" name="call-as-other-roles" placeholder="other roles, comma-separated" value={otherRoles} onInput={(e) => setOtherRoles(e.currentTarget.value)} />
        </span>
      )}
    </div>
  );
}
