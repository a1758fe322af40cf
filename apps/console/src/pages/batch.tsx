import type { Hono } from "hono";
import { forbidden, page, problemOf } from "../render.js";
import { parseBatchFile } from "../batch-file.js";
import type { BatchJob } from "../batch-jobs.js";
import type { ConsoleEnv, ConsoleState, Ctx } from "../context.js";
import { BASE, Csrf } from "../layout.js";
import { ErrorNote } from "../view.js";

const PATH = `${BASE}/keys/import/batch`;

function UploadForm({ csrf, error }: { csrf: string; error?: string }) {
  return (
    <form method="post" action={PATH} enctype="multipart/form-data" class="card">
      <ErrorNote message={error} />
      <Csrf token={csrf} />
      <p>
        A CSV file with the header <code>raw_key,name,actor_id,scopes,ttl,metadata</code> (scopes separated by spaces; metadata as JSON;
        only the first three are required), or a JSON array of import bodies as the batch API takes them.
      </p>
      <label for="b-file">File</label>
      <input id="b-file" name="file" type="file" accept=".csv,.json,text/csv,application/json" required />
      <button type="submit">Import</button>
    </form>
  );
}

/** The progress bar and, once finished, the per-row results; polls itself (htmx) until done. */
export function Progress({ job }: { job: BatchJob }) {
  const pct = job.total ? Math.floor((job.done / job.total) * 100) : 100;
  const failed = job.results.filter((r) => r.error !== "");
  const poll = job.finished ? {} : { "hx-get": `${PATH}/${job.id}/progress`, "hx-trigger": "every 500ms", "hx-swap": "outerHTML" };
  return (
    <section id="progress" {...poll} aria-live="polite">
      <label for="b-progress">
        Imported {job.done} of {job.total} rows
      </label>
      <progress id="b-progress" max={job.total} value={job.done}>
        {pct} %
      </progress>
      <p class="pct" data-finished={String(job.finished)}>
        {pct} %{job.finished ? " — finished" : ""}
      </p>
      {!job.finished && (
        <p class="noscript-hint">
          <a href={`${PATH}/${job.id}`}>Refresh</a>
        </p>
      )}
      {job.failure && <p class="error" role="alert">{job.failure}</p>}
      {job.finished && (
        <>
          <p>
            {job.results.length - failed.length} imported, {failed.length} failed.
          </p>
          <div class="table-wrap">
            <table>
              <caption>Per-row results</caption>
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Result</th>
                  <th scope="col">Key id or error</th>
                </tr>
              </thead>
              <tbody>
                {[...failed, ...job.results.filter((r) => r.error === "")].map((r) => (
                  <tr>
                    <td>{r.row}</td>
                    <td>{r.error ? <span class="badge revoked">failed</span> : <span class="badge active">imported</span>}</td>
                    <td class={r.error ? "" : "mono"}>{r.error || r.keyId}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

export function batchRoutes(app: Hono<ConsoleEnv>, s: ConsoleState): void {
  const ctx = s.deps.app.ctx;
  const show = (c: Ctx, error?: string, status = 200) => page(s, c, "Batch import", "issue", <UploadForm csrf={c.get("csrf")} error={error} />, status);
  const job = (c: Ctx) => s.jobs.get(c.req.param("job") ?? "");

  app.get(PATH, (c) => forbidden(s, c, "keys:write") ?? show(c));

  app.post(PATH, async (c) => {
    const denied = forbidden(s, c, "keys:write");
    if (denied) return denied;
    const file = c.get("form").file;
    if (!(file instanceof File) || file.size === 0) return show(c, "Choose a CSV or JSON file.", 400);
    try {
      const items = parseBatchFile(file.name, await file.text());
      const subject = c.get("principal").subject;
      const actx = subject ? { ...ctx, principal: { source: "admin_api" as const, name: subject } } : ctx;
      const started = s.jobs.start(actx, items, ctx.clock());
      return c.redirect(`${PATH}/${started.id}`, 303);
    } catch (e) {
      const p = problemOf(s, c, e);
      return show(c, p.message, p.status);
    }
  });

  app.get(`${PATH}/:job`, (c) => {
    const denied = forbidden(s, c, "keys:write");
    if (denied) return denied;
    const j = job(c);
    return j ? page(s, c, "Batch import", "issue", <Progress job={j} />) : c.notFound();
  });

  app.get(`${PATH}/:job/progress`, (c) => {
    const denied = forbidden(s, c, "keys:write");
    if (denied) return denied;
    const j = job(c);
    return j ? c.html((<Progress job={j} />).toString()) : c.notFound();
  });
}
