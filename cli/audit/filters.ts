// Record filters shared by export and tail. They apply to the record line itself (what the chain
// authenticates), never to the database's index columns, which anyone with write access can edit.
import type { AuditRecord, Disposition } from "../../wire/audit/index.ts";
import { CliError } from "../errors.ts";

export interface FilterFlags {
  from?: string;
  to?: string;
  tenant?: string;
  agent?: string;
  tool?: string;
  disposition?: string;
  stream?: string[];
}

export interface RecordFilter {
  /** True when some flag narrows records (not only streams). */
  active: boolean;
  streams: ReadonlySet<string> | undefined;
  matches(record: AuditRecord): boolean;
  /** The flags as given, for reports. */
  described: Record<string, string | string[]>;
}

const DISPOSITIONS: readonly Disposition[] = ["allowed", "blocked", "escalated"];

function instant(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) throw new CliError(`${flag}: "${value}" is not an ISO 8601 date or time (e.g. 2025-06-01T00:00:00Z)`);
  return ms;
}

export function parseFilters(flags: FilterFlags): RecordFilter {
  const from = instant("--from", flags.from);
  const to = instant("--to", flags.to);
  if (from !== undefined && to !== undefined && from >= to) throw new CliError("--from must be before --to");
  if (flags.disposition !== undefined && !DISPOSITIONS.includes(flags.disposition as Disposition)) {
    throw new CliError(`--disposition must be one of ${DISPOSITIONS.join(", ")}`);
  }
  const { tenant, agent, tool, disposition } = flags;
  const described: RecordFilter["described"] = {};
  for (const key of ["stream", "from", "to", "tenant", "agent", "tool", "disposition"] as const) {
    const value = flags[key];
    if (value !== undefined) described[key] = value;
  }
  return {
    active: [from, to, tenant, agent, tool, disposition].some((v) => v !== undefined),
    streams: flags.stream === undefined ? undefined : new Set(flags.stream),
    described,
    matches(record) {
      const time = Date.parse(record.time);
      if (from !== undefined && !(time >= from)) return false;
      if (to !== undefined && !(time < to)) return false;
      if (tenant !== undefined && record.tenant !== tenant) return false;
      if (agent !== undefined && record.agent !== agent) return false;
      if (tool !== undefined && record.tool !== tool && `${record.server}.${record.tool}` !== tool) return false;
      if (disposition !== undefined && (record.kind !== "decision" || record.disposition !== disposition)) return false;
      return true;
    },
  };
}
