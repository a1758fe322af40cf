import { openSync, closeSync, writeSync } from "node:fs";
import { stringify as yamlStringify } from "yaml";
import type { CommonOptions } from "./parse.js";
import { select } from "./select.js";

/**
 * What the bulk commands print while they run (docs/cli.md#bulk-import-and-revoke): a progress bar
 * on a terminal's stderr only, results streamed to stdout as they arrive (never all held in memory),
 * and the failed rows in a JSON lines file.
 */

export interface Progress {
  bytes(n: number): void;
  rows(done: number, failed: number): void;
  stop(): void;
}

/** A cli-progress bar when stderr is a terminal and not `-q`; otherwise silent. */
export async function progress(total: number | null, opts: CommonOptions): Promise<Progress> {
  if (!process.stderr.isTTY || opts.quiet) return { bytes() {}, rows() {}, stop() {} };
  const { SingleBar } = await import("cli-progress");
  const format = total ? "{bar} {percentage}% | {done} rows, {failed} failed" : "{done} rows, {failed} failed";
  const bar = new SingleBar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: true, barsize: 30 });
  let read = 0;
  bar.start(total ?? 0, 0, { done: 0, failed: 0 });
  return {
    bytes(n) {
      read += n;
      if (total) bar.update(Math.min(read, total));
    },
    rows(done, failed) {
      bar.update(total ? Math.min(read, total) : 0, { done, failed });
    },
    stop: () => bar.stop(),
  };
}

/**
 * Streams `{"results":[…], <summary>}` in the chosen machine format, one result at a time; the
 * table format prints only the summary (the failed rows are in the file), `-q` the given ids.
 */
export class ResultWriter {
  private first = true;
  constructor(private readonly opts: CommonOptions) {
    // `… | head`: a reader that has gone is not a failure of the import (the failed-rows file still is)
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
    });
    const f = opts.format;
    if (opts.quiet) return;
    if (f === "json") process.stdout.write('{"results":[');
    else if (f === "json-pretty") process.stdout.write('{\n  "results": [');
    else if (f === "yaml") process.stdout.write("results:\n");
  }

  result(r: object, quietId: string | null): void {
    const { format, quiet } = this.opts;
    if (quiet) {
      if (quietId) process.stdout.write(`${quietId}\n`);
      return;
    }
    const sep = this.first ? "" : ",";
    if (format === "json") process.stdout.write(sep + JSON.stringify(r));
    else if (format === "json-pretty") process.stdout.write(`${sep}\n    ${JSON.stringify(r, null, 2).replace(/\n/g, "\n    ")}`);
    else if (format === "yaml") process.stdout.write(yamlStringify([r]).replace(/^/gm, "  ").replace(/ +$/gm, ""));
    this.first = false;
  }

  /** Waits while stdout's buffer is full, so a slow reader holds the import back instead of memory growing. */
  async drained(): Promise<void> {
    if (process.stdout.writableNeedDrain) await new Promise<void>((r) => process.stdout.once("drain", () => r()));
  }

  /** Closes the document with the summary fields; the table format prints `table` instead. */
  end(summary: Record<string, unknown>, table: string): void {
    const { format, quiet } = this.opts;
    if (quiet) return;
    if (format === "json") process.stdout.write(`]${JSON.stringify(summary).replace(/^\{/, ",")}\n`);
    else if (format === "json-pretty") {
      const rest = JSON.stringify(summary, null, 2).replace(/^\{/, "");
      process.stdout.write(`${this.first ? "]" : "\n  ]"},${rest}\n`);
    } else if (format === "yaml") process.stdout.write(yamlStringify(summary));
    else if (format.startsWith("jsonpath=") || format.startsWith("jsonpointer=")) process.stdout.write(select(summary, format));
    else process.stdout.write(`${table}\n`);
  }
}

/** The failed rows, one JSON object a line; created on the first failure, mode 0600 (it names keys). */
export class FailedRows {
  private fd: number | null = null;
  count = 0;
  constructor(readonly path: string) {}

  add(row: Record<string, unknown>): void {
    this.fd ??= openSync(this.path, "w", 0o600);
    writeSync(this.fd, `${JSON.stringify(row)}\n`);
    this.count++;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
