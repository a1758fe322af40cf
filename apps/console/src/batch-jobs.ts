import { randomBytes } from "node:crypto";
import { batchImportKeys, isTalosError, type BatchItem, type ServiceContext } from "@talos/core";

export interface RowResult {
  row: number;
  keyId: string;
  error: string;
}

export interface BatchJob {
  id: string;
  total: number;
  done: number;
  results: RowResult[];
  finished: boolean;
  /** a failure of a whole chunk (database down): the rows after it were not tried */
  failure: string;
  createdAt: number;
}

/** Rows per call of the batch verb: small chunks so the progress bar moves. */
export const CHUNK = 100;
const KEEP_MS = 3600_000;
const MAX_JOBS = 50;

/**
 * Batch imports run in the background of this process, one chunk at a time; the page polls
 * their progress. Jobs live in memory for an hour (with several workers, the page polls the
 * worker that took the upload only by chance: the console is meant for one admin process).
 */
export class BatchJobs {
  readonly #jobs = new Map<string, BatchJob>();

  start(ctx: ServiceContext, items: BatchItem[], now: number): BatchJob {
    for (const [id, j] of this.#jobs) if (now - j.createdAt > KEEP_MS || this.#jobs.size >= MAX_JOBS) this.#jobs.delete(id);
    const job: BatchJob = { id: randomBytes(12).toString("base64url"), total: items.length, done: 0, results: [], finished: false, failure: "", createdAt: now };
    this.#jobs.set(job.id, job);
    void this.#run(ctx, job, items);
    return job;
  }

  get(id: string): BatchJob | undefined {
    return this.#jobs.get(id);
  }

  async #run(ctx: ServiceContext, job: BatchJob, items: BatchItem[]): Promise<void> {
    try {
      for (let at = 0; at < items.length; at += CHUNK) {
        const chunk = items.slice(at, at + CHUNK);
        const out = await batchImportKeys(ctx, chunk);
        for (const r of out.results) job.results.push({ row: at + r.index + 1, keyId: r.record?.keyId ?? "", error: r.errorMessage });
        job.done += chunk.length;
      }
    } catch (e) {
      job.failure = isTalosError(e) && e.id !== "internal_server_error" ? e.message : "the import stopped: an internal error occurred";
    } finally {
      job.finished = true;
    }
  }
}
