import { randomUUID } from "node:crypto";
import type { Hono } from "hono";
import { importKey, issueKey } from "@talos/core";
import { ImportApiKeyRequest, IssueApiKeyRequest, parseWith } from "@talos/http";
import { forbidden, page, problemOf } from "../render.js";
import type { ConsoleEnv, ConsoleState, Ctx } from "../context.js";
import { keyFields } from "../forms.js";
import { KeyFields } from "../key-form.js";
import { BASE, Csrf } from "../layout.js";
import { ErrorNote, keyHref, SecretBox } from "../view.js";

function IssueForm({ csrf, values, error }: { csrf: string; values?: Record<string, unknown>; error?: string }) {
  return (
    <form method="post" action={`${BASE}/keys`} class="card" aria-labelledby="issue-heading">
      <h2 id="issue-heading">Issue a key</h2>
      <ErrorNote message={error} />
      <Csrf token={csrf} />
      {/* a resubmitted form (reload, back) replays the first result, without the secret */}
      <input type="hidden" name="request_id" value={randomUUID()} />
      <KeyFields create values={values} />
      <button type="submit">Issue key</button>
    </form>
  );
}

function ImportForm({ csrf, values, error }: { csrf: string; values?: Record<string, unknown>; error?: string }) {
  return (
    <form method="post" action={`${BASE}/keys/import`} class="card" aria-labelledby="import-heading">
      <h2 id="import-heading">Import a key</h2>
      <ErrorNote message={error} />
      <Csrf token={csrf} />
      <label for="k-raw">Raw key (made elsewhere; only its hash is stored)</label>
      <input id="k-raw" name="raw_key" type="password" autocomplete="off" required />
      <KeyFields create values={values} />
      <button type="submit">Import key</button>
    </form>
  );
}

export function issueRoutes(app: Hono<ConsoleEnv>, s: ConsoleState): void {
  const ctx = s.deps.app.ctx;
  const show = (c: Ctx, opts: { issue?: [Record<string, unknown>, string]; imp?: [Record<string, unknown>, string] } = {}, status = 200) =>
    page(
      s,
      c,
      "Issue or import a key",
      "issue",
      <>
        <p>
          Importing many keys? Use the <a href={`${BASE}/keys/import/batch`}>batch import</a> (a CSV or JSON file).
        </p>
        <div class="cols">
          <IssueForm csrf={c.get("csrf")} values={opts.issue?.[0]} error={opts.issue?.[1]} />
          <ImportForm csrf={c.get("csrf")} values={opts.imp?.[0]} error={opts.imp?.[1]} />
        </div>
      </>,
      status,
    );
  const principalCtx = (c: Ctx) => {
    const subject = c.get("principal").subject;
    return subject ? { ...ctx, principal: { source: "admin_api" as const, name: subject } } : ctx;
  };

  app.get(`${BASE}/keys/new`, (c) => forbidden(s, c, "keys:write") ?? show(c));

  app.post(`${BASE}/keys`, async (c) => {
    const denied = forbidden(s, c, "keys:write");
    if (denied) return denied;
    const form = c.get("form");
    try {
      const out = await issueKey(principalCtx(c), parseWith(IssueApiKeyRequest, keyFields(form)));
      const body = out.replay ? (
        <p role="alert">This form was already submitted: the key exists, and its secret was shown then and cannot be shown again.</p>
      ) : (
        <SecretBox secret={out.secret} label="The new key's secret" />
      );
      return page(
        s,
        c,
        "Key issued",
        "issue",
        <>
          {body}
          <p>
            <a href={keyHref(out.record)}>Open the key {out.record.name ? `“${out.record.name}”` : out.record.keyId}</a>
          </p>
        </>,
        out.replay ? 200 : 201,
      );
    } catch (e) {
      const p = problemOf(s, c, e);
      return show(c, { issue: [form, p.message] }, p.status);
    }
  });

  app.post(`${BASE}/keys/import`, async (c) => {
    const denied = forbidden(s, c, "keys:write");
    if (denied) return denied;
    const form = c.get("form");
    const { raw_key: _omit, ...values } = form;
    try {
      const out = await importKey(principalCtx(c), parseWith(ImportApiKeyRequest, keyFields(form)));
      return page(
        s,
        c,
        "Key imported",
        "issue",
        <p role="status">
          Imported. <a href={keyHref(out.record)}>Open the key</a>
        </p>,
        201,
      );
    } catch (e) {
      const p = problemOf(s, c, e);
      // the raw key is never echoed back into the page
      return show(c, { imp: [values, p.message] }, p.status);
    }
  });
}
