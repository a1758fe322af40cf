import type { CommonOptions } from "./parse.js";

/** What a command prints: the API body in the machine formats, a table, and the `-q` lines. */
export interface View {
  /** Human rendering for `--format table` (without the final newline). */
  table: () => string;
  /** Lines printed with `-q`: ids, secrets or tokens only. */
  quiet: () => string[];
}

/** Writes `data` in the format chosen by `--format` / `-q` (`-q` wins). */
export async function emit(opts: CommonOptions, data: unknown, view: View): Promise<void> {
  let out: string;
  if (opts.quiet) {
    const lines = view.quiet();
    out = lines.length ? `${lines.join("\n")}\n` : "";
  } else if (opts.format === "json") out = `${JSON.stringify(data)}\n`;
  else if (opts.format === "json-pretty") out = `${JSON.stringify(data, null, 2)}\n`;
  else if (opts.format === "yaml") {
    const { stringify } = await import("yaml");
    out = stringify(data);
  } else if (opts.format.startsWith("jsonpath=") || opts.format.startsWith("jsonpointer=")) {
    const { select } = await import("./select.js");
    out = select(data, opts.format);
  } else {
    const t = view.table();
    out = t === "" ? "" : `${t}\n`;
  }
  process.stdout.write(out);
}

/** A compact left-aligned table: upper-case headers, two spaces between columns, no trailing blanks. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** `label: value` lines with aligned values. */
export function renderFields(fields: [string, string][]): string {
  const w = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${`${k}:`.padEnd(w)}  ${v}`).join("\n");
}

/** The API key shape as the server writes it (docs/wire.md#api-key-resource); only what the CLI reads. */
export interface ApiKey {
  key_id: string;
  name: string;
  actor_id: string;
  scopes: string[];
  status: string;
  expire_time: string | null;
  rate_limit_policy: { quota: string; window: string; unit: string } | null;
}

export const enumShort = (value: string | undefined, prefix: string): string =>
  value ? (value.startsWith(prefix) ? value.slice(prefix.length) : value).toLowerCase() : "-";

const dash = (s: string | undefined | null) => (s ? s : "-");

export function keyTable(keys: ApiKey[]): string {
  return renderTable(
    ["KEY_ID", "NAME", "ACTOR_ID", "STATUS", "SCOPES", "EXPIRE_TIME"],
    keys.map((k) => [k.key_id, dash(k.name), dash(k.actor_id), enumShort(k.status, "KEY_STATUS_"), dash(k.scopes?.join(",")), k.expire_time ?? "never"]),
  );
}

/** Reads stdin to the end (for `-` arguments). A lone trailing newline from `echo` or a file is dropped. */
export async function readStdin(what: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`reading ${what} from stdin (end with Ctrl-D)\n`);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}
