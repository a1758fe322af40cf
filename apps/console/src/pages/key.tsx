import type { Hono } from "hono";
import {
  deleteImportedKey,
  getKey,
  keyEvents,
  keyLineage,
  KeyStatus,
  keyStatus,
  revokeKey,
  rotateKey,
  updateKey,
  type KeyEvent,
  type KeyKind,
  type KeyLineage,
  type KeyQuota,
  type KeyRecord,
} from "@talos/core";
import { parseWith, RevokeApiKeyBody, RotateIssuedApiKeyBody, UpdateApiKeyFields, REVOCATION_REASON } from "@talos/http";
import { forbidden, page, problemOf } from "../render.js";
import { can } from "../auth.js";
import type { ConsoleEnv, ConsoleState, Ctx } from "../context.js";
import { keyFields, text } from "../forms.js";
import { EventList, KEY_EVENTS_SHOWN, lineageRows, QuotaText } from "../key-history.js";
import { KeyFields } from "../key-form.js";
import { BASE, Csrf } from "../layout.js";
import { ErrorNote, keyHref, reasonText, SecretBox, StatusBadge, when } from "../view.js";

const KINDS = new Set(["issued", "imported"]);

function Details({ rec, now, quota, lineage }: { rec: KeyRecord; now: number; quota: KeyQuota | null; lineage: KeyLineage }) {
  const row = (label: string, value: unknown) => (
    <>
      <dt>{label}</dt>
      <dd>{value as string}</dd>
    </>
  );
  return (
    <dl class="fields">
      {row("Name", rec.name || "(no name)")}
      {row("Key id", <span class="mono">{rec.keyId}</span>)}
      {row("Kind", rec.kind)}
      {row("Actor", rec.actorId || "—")}
      {row("Status", <StatusBadge rec={rec} now={now} />)}
      {rec.revoked && rec.revocationDescription !== "" && row("Revocation note", rec.revocationDescription)}
      {row("Visibility", rec.visibility === 2 ? "public" : "secret")}
      {row("Created", when(rec.createTime))}
      {row("Updated", when(rec.updateTime))}
      {row("Expires", when(rec.expireTime))}
      {row("Last used", when(rec.lastUsedTime))}
      {row(
        "Scopes",
        rec.scopes.length ? (
          <ul class="chips">
            {rec.scopes.map((sc) => (
              <li>{sc}</li>
            ))}
          </ul>
        ) : (
          "—"
        ),
      )}
      {lineageRows(lineage).map(([label, value]) => row(label, value))}
      {row("Rate limit", <QuotaText rec={rec} quota={quota} now={now} />)}
      {row("Allowed networks", rec.allowedCidrs?.length ? <span class="mono">{rec.allowedCidrs.join(", ")}</span> : "anywhere")}
      {row("Metadata", rec.metadata ? <pre class="mono">{JSON.stringify(rec.metadata, null, 2)}</pre> : "—")}
    </dl>
  );
}

function Actions({ rec, c, now, error }: { rec: KeyRecord; c: Ctx; now: number; error?: string }) {
  const p = c.get("principal");
  if (!can(p, "keys:write")) return null;
  const csrf = c.get("csrf");
  const href = keyHref(rec);
  const active = keyStatus(rec, now) === KeyStatus.ACTIVE;
  return (
    <section aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      <ErrorNote message={error} />
      {!rec.revoked && (
        <details class="card">
          <summary>Update</summary>
          <form method="post" action={`${href}/update`}>
            <Csrf token={csrf} />
            <KeyFields rec={rec} />
            <button type="submit">Save changes</button>
          </form>
        </details>
      )}
      {rec.kind === "issued" && active && (
        <form method="post" action={`${href}/rotate`} class="card inline" data-confirm="Rotate this key? The current secret stops working now.">
          <Csrf token={csrf} />
          <p>Rotate: a new key with a new secret replaces this one, which is revoked as superseded.</p>
          <button type="submit">Rotate</button>
        </form>
      )}
      {!rec.revoked && (
        <form method="post" action={`${href}/revoke`} class="card" data-confirm="Revoke this key? This cannot be undone.">
          <Csrf token={csrf} />
          <label for="r-reason">Revocation reason</label>
          <select id="r-reason" name="reason">
            {REVOCATION_REASON.filter((r) => r !== "REVOCATION_REASON_SUPERSEDED").map((r, i) => (
              <option value={r}>{reasonText(i === 0 ? 0 : REVOCATION_REASON.indexOf(r))}</option>
            ))}
          </select>
          <label for="r-desc">Description (only with “privilege withdrawn”)</label>
          <input id="r-desc" name="description" type="text" maxlength={1024} />
          <button type="submit" class="danger">
            Revoke
          </button>
        </form>
      )}
      {rec.kind === "imported" && (
        <form method="post" action={`${href}/delete`} class="card inline" data-confirm="Delete this imported key? This cannot be undone.">
          <Csrf token={csrf} />
          <button type="submit" class="danger">
            Delete imported key
          </button>
        </form>
      )}
    </section>
  );
}

export function keyDetailRoutes(app: Hono<ConsoleEnv>, s: ConsoleState): void {
  const ctx = s.deps.app.ctx;
  const actx = (c: Ctx) => {
    const subject = c.get("principal").subject;
    return subject ? { ...ctx, principal: { source: "admin_api" as const, name: subject } } : ctx;
  };
  const kindOf = (c: Ctx): KeyKind | null => (KINDS.has(c.req.param("kind") ?? "") ? (c.req.param("kind") as KeyKind) : null);
  const show = async (c: Ctx, kind: KeyKind, id: string, error?: string, status = 200) => {
    const rec = await getKey(ctx, kind, kind === "issued" ? id.toLowerCase() : id);
    const now = ctx.clock();
    const eventsShown = can(c.get("principal"), "events:read");
    // the live quota is read, never spent; a key verify refuses anyway (revoked, expired) has none
    const live = keyStatus(rec, now) === KeyStatus.ACTIVE;
    const [quota, history] = await Promise.all([
      live ? s.deps.app.verifier.quota(rec) : null,
      keyLineage(ctx, rec).then(async (lineage) => ({
        lineage,
        events: eventsShown ? await keyEvents(ctx, rec, KEY_EVENTS_SHOWN, lineage) : ([] as KeyEvent[]),
      })),
    ]);
    return page(
      s,
      c,
      rec.name ? `Key “${rec.name}”` : "Key",
      "keys",
      <>
        <Details rec={rec} now={now} quota={quota} lineage={history.lineage} />
        <Actions rec={rec} c={c} now={now} error={error} />
        {eventsShown && <EventList events={history.events} keyId={rec.keyId} recording={ctx.config.events.enabled} />}
      </>,
      status,
    );
  };

  app.get(`${BASE}/keys/:kind/:id`, async (c) => {
    const kind = kindOf(c);
    if (!kind) return c.notFound();
    return forbidden(s, c, "keys:read") ?? show(c, kind, c.req.param("id"));
  });

  /** Runs a mutating verb; on a refused input the detail page shows the API's message. */
  const action = (name: string, run: (c: Ctx, kind: KeyKind, id: string) => Promise<Response>) =>
    app.post(`${BASE}/keys/:kind/:id/${name}`, async (c) => {
      const kind = kindOf(c);
      if (!kind) return c.notFound();
      const denied = forbidden(s, c, "keys:write");
      if (denied) return denied;
      const id = c.req.param("id");
      try {
        return await run(c, kind, id);
      } catch (e) {
        const p = problemOf(s, c, e);
        if (p.status === 404) throw e;
        return show(c, kind, id, p.message, p.status);
      }
    });

  action("update", async (c, kind, id) => {
    const rec = await updateKey(actx(c), kind, kind === "issued" ? id.toLowerCase() : id, {
      fields: parseWith(UpdateApiKeyFields, keyFields(c.get("form"), { clearable: true })),
      mask: ["name", "scopes", "metadata", "rate_limit_policy", "ip_restriction"],
    });
    return c.redirect(keyHref(rec), 303);
  });

  action("rotate", async (c, kind, id) => {
    if (kind !== "issued") return c.notFound();
    const out = await rotateKey(actx(c), id, parseWith(RotateIssuedApiKeyBody, {}));
    return page(
      s,
      c,
      "Key rotated",
      "keys",
      <>
        <SecretBox secret={out.secret} label="The replacement key's secret" />
        <p>
          <a href={keyHref(out.record)}>Open the new key</a> · <a href={keyHref(out.old)}>the old key (revoked, superseded)</a>
        </p>
      </>,
      201,
    );
  });

  action("revoke", async (c, kind, id) => {
    const form = c.get("form");
    const input = parseWith(RevokeApiKeyBody, { reason: text(form, "reason") || undefined, description: text(form, "description") });
    await revokeKey(actx(c), kind, id, input);
    return c.redirect(`${BASE}/keys/${kind}/${encodeURIComponent(id)}`, 303);
  });

  action("delete", async (c, kind, id) => {
    if (kind !== "imported") return c.notFound();
    await deleteImportedKey(actx(c), id);
    return c.redirect(`${BASE}/keys`, 303);
  });
}
