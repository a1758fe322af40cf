import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Transform, type Readable } from "node:stream";
import { UsageError } from "./parse.js";

/**
 * Reading bulk input files of any size (docs/cli.md#bulk-import-and-revoke) one record at a time:
 * a JSON array (or `{"requests":[…]}`), JSON lines, or CSV with a header row. Memory stays bounded
 * by one chunk of the file, never by its size.
 */

export type InputFormat = "json" | "jsonl" | "csv";
export const INPUT_FORMATS: readonly InputFormat[] = ["json", "jsonl", "csv"];

/** One input record: its 0-based position, and the parsed value or why it could not be parsed. */
export type InputRow = { index: number; value: Record<string, unknown> | string; error?: undefined } | { index: number; value?: undefined; error: string };

/** The format named by `--input-format`, else by the file's extension (stdin and anything else: json). */
export function inputFormat(file: string, flag: string | undefined): InputFormat {
  if (flag !== undefined) {
    if (!(INPUT_FORMATS as readonly string[]).includes(flag)) throw new UsageError(`--input-format must be one of ${INPUT_FORMATS.join(", ")}`);
    return flag as InputFormat;
  }
  const lower = file.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  return "json";
}

/** The file (or stdin for `-`), counting the bytes consumed so a progress bar can follow. */
export function openInput(file: string, onBytes: (n: number) => void): Readable {
  const source: Readable = file === "-" ? process.stdin : createReadStream(file);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  source.on("error", (e) => counter.destroy(e));
  return source.pipe(counter);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Records of `input` in `format`. A record that cannot be parsed is yielded with `error`; a broken file throws. */
export async function* readRows(input: Readable, format: InputFormat, label: string): AsyncGenerator<InputRow> {
  if (format === "jsonl") yield* jsonLines(input);
  else if (format === "csv") yield* csvRows(input, label);
  else yield* jsonArray(input, label);
}

async function* jsonLines(input: Readable): AsyncGenerator<InputRow> {
  let index = 0;
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      yield { index: index++, error: "not valid JSON" };
      continue;
    }
    yield isRecord(value) || typeof value === "string" ? { index: index++, value } : { index: index++, error: "expected a JSON object" };
  }
}

async function* csvRows(input: Readable, label: string): AsyncGenerator<InputRow> {
  const { parse } = await import("csv-parse");
  let index = 0;
  const parser = input.pipe(parse({ columns: true, skip_empty_lines: true, trim: true, bom: true, relax_column_count: false }));
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) yield { index: index++, value: record };
  } catch (e) {
    throw new Error(`${label}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Streams the elements of a top-level array, or of `requests` in a top-level object. */
async function* jsonArray(input: Readable, label: string): AsyncGenerator<InputRow> {
  const { JSONParser } = await import("@streamparser/json");
  let parser: InstanceType<typeof JSONParser> | undefined;
  let pending: InputRow[] = [];
  let failure: Error | undefined;
  let index = 0;
  let sawArray = false;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    if (!parser) {
      // the first significant byte says whether the array is the document or its `requests`
      const first = chunk.toString("utf8").trimStart()[0];
      if (first === undefined) continue;
      sawArray = first === "[";
      parser = new JSONParser({ paths: [sawArray ? "$.*" : "$.requests.*"], keepStack: false });
      parser.onValue = ({ value }) => {
        pending.push(isRecord(value) || typeof value === "string" ? { index: index++, value } : { index: index++, error: "expected a JSON object" });
      };
      parser.onError = (e) => {
        failure = e;
      };
    }
    parser.write(chunk);
    if (failure) throw new Error(`${label}: not valid JSON`);
    yield* pending;
    pending = [];
  }
  if (parser && !parser.isEnded) parser.end();
  if (failure || !parser) throw new Error(`${label}: not valid JSON`);
  yield* pending;
  if (index === 0 && !sawArray) throw new Error(`${label}: expected a JSON array of import requests`);
}
