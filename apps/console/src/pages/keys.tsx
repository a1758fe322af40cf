import type { Hono } from "hono";
import { forbidden, page } from "../render.js";
import type { ConsoleEnv, ConsoleState } from "../context.js";
import { listPage, parseListQuery, type ListQuery } from "../key-list.js";
import { BASE } from "../layout.js";
import { keyHref, StatusBadge, when } from "../view.js";

const opt = (value: string, label: string, current: string) => (
  <option value={value} selected={value === current}>
    {label}
  </option>
);

function Filters({ q }: { q: ListQuery }) {
  return (
    <form method="get" action={`${BASE}/keys`} class="filters" hx-get={`${BASE}/keys`} hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true" hx-trigger="change, keyup changed delay:400ms from:input[type=search], submit">
      <div>
        <label for="f-q">Key id or name prefix</label>
        <input id="f-q" name="q" type="search" value={q.q} />
      </div>
      <div>
        <label for="f-actor">Actor</label>
        <input id="f-actor" name="actor" type="text" value={q.actor} />
      </div>
      <div>
        <label for="f-status">Status</label>
        <select id="f-status" name="status">
          {opt("", "Any", q.status)}
          {opt("active", "Active", q.status)}
          {opt("expiring", "Expiring soon", q.status)}
          {opt("revoked", "Revoked", q.status)}
          {opt("expired", "Expired", q.status)}
        </select>
      </div>
      <div>
        <label for="f-kind">Kind</label>
        <select id="f-kind" name="kind">
          {opt("", "Any", q.kind)}
          {opt("issued", "Issued", q.kind)}
          {opt("imported", "Imported", q.kind)}
        </select>
      </div>
      <div>
        <label for="f-sort">Sort by</label>
        <select id="f-sort" name="sort">
          {opt("created", "Created (newest first)", q.sort)}
          {opt("last_used", "Last used (latest first)", q.sort)}
          {opt("expiry", "Expiry (soonest first)", q.sort)}
        </select>
      </div>
      <button type="submit">Apply</button>
    </form>
  );
}

function pageHref(q: ListQuery, page: number): string {
  const p = new URLSearchParams();
  for (const k of ["q", "actor", "status", "kind", "sort"] as const) if (q[k]) p.set(k, q[k]);
  p.set("page", String(page));
  return `${BASE}/keys?${p}`;
}

export function keyListRoutes(app: Hono<ConsoleEnv>, s: ConsoleState): void {
  const ctx = s.deps.app.ctx;
  app.get(`${BASE}/keys`, async (c) => {
    const denied = forbidden(s, c, "keys:read");
    if (denied) return denied;
    const q = parseListQuery((n) => c.req.query(n));
    const out = await listPage(ctx, q);
    const now = ctx.clock();
    return page(
      s,
      c,
      "Keys",
      "keys",
      <>
        <Filters q={q} />
        <section id="results" aria-live="polite">
          <p>
            {out.total} {out.total === 1 ? "key" : "keys"}
            {out.truncated ? " (the list reads at most 10,000 keys per kind: narrow it by actor)" : ""}
          </p>
          <div class="table-wrap">
            <table class="stack">
              <caption class="sr-only">Keys</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Key id</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {out.rows.map((r) => (
                  <tr>
                    <td data-label="Name">
                      <a href={keyHref(r)}>{r.name || "(no name)"}</a>
                    </td>
                    <td data-label="Key id" class="mono">{r.keyId.length > 18 ? `${r.keyId.slice(0, 18)}…` : r.keyId}</td>
                    <td data-label="Kind">{r.kind}</td>
                    <td data-label="Actor">{r.actorId}</td>
                    <td data-label="Status">
                      <StatusBadge rec={r} now={now} />
                    </td>
                    <td data-label="Created">{when(r.createTime)}</td>
                    <td data-label="Last used">{when(r.lastUsedTime)}</td>
                    <td data-label="Expires">{when(r.expireTime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav aria-label="Pages" class="pager">
            {out.page > 1 && <a href={pageHref(q, out.page - 1)}>Previous</a>}
            <span>
              Page {out.page} of {out.pages}
            </span>
            {out.page < out.pages && <a href={pageHref(q, out.page + 1)}>Next</a>}
          </nav>
        </section>
      </>,
    );
  });
}
