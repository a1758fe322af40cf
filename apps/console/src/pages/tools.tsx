import type { Hono } from "hono";
import { ConfigurationError, NO_SIGNING_KEYS, TokenAlgorithm } from "@talos/core";
import { clientIpOf, DeriveTokenRequest, encodeVerification, parseWith, remoteAddress, VerifyApiKeyRequest } from "@talos/http";
import { page, problemOf } from "../render.js";
import { can } from "../auth.js";
import type { ConsoleEnv, ConsoleState, Ctx } from "../context.js";
import { lines, text } from "../forms.js";
import { BASE, Csrf } from "../layout.js";
import { ErrorNote, SecretBox } from "../view.js";

const PATH = `${BASE}/tools`;

function VerifyForm({ csrf, error }: { csrf: string; error?: string }) {
  return (
    <form method="post" action={`${PATH}/verify`} class="card" aria-labelledby="verify-heading">
      <h2 id="verify-heading">Verify a credential</h2>
      <p>The server verifies it as it would for an API call from your address (counting toward its rate limit). It is never logged.</p>
      <ErrorNote message={error} />
      <Csrf token={csrf} />
      <label for="v-credential">API key or derived token</label>
      <input id="v-credential" name="credential" type="password" autocomplete="off" required />
      <button type="submit">Verify</button>
    </form>
  );
}

function DeriveForm({ csrf, error }: { csrf: string; error?: string }) {
  return (
    <form method="post" action={`${PATH}/derive`} class="card" aria-labelledby="derive-heading">
      <h2 id="derive-heading">Derive a token</h2>
      <ErrorNote message={error} />
      <Csrf token={csrf} />
      <label for="d-credential">Parent API key</label>
      <input id="d-credential" name="credential" type="password" autocomplete="off" required />
      <label for="d-alg">Algorithm</label>
      <select id="d-alg" name="algorithm">
        <option value="TOKEN_ALGORITHM_JWT">JWT</option>
        <option value="TOKEN_ALGORITHM_MACAROON">Macaroon</option>
      </select>
      <label for="d-ttl">Lifetime (empty: the default)</label>
      <input id="d-ttl" name="ttl" type="text" placeholder="15m" />
      <label for="d-scopes">Scopes (a subset of the key's, one a line; empty: all)</label>
      <textarea id="d-scopes" name="scopes" rows={2} />
      <button type="submit">Derive</button>
    </form>
  );
}

export function toolRoutes(app: Hono<ConsoleEnv>, s: ConsoleState): void {
  const deps = s.deps.app;
  const show = (c: Ctx, extra?: unknown, errors: { verify?: string; derive?: string } = {}, status = 200) => {
    const p = c.get("principal");
    return page(
      s,
      c,
      "Verify and derive",
      "tools",
      <>
        {extra as string}
        <div class="cols">
          {can(p, "keys:verify") && <VerifyForm csrf={c.get("csrf")} error={errors.verify} />}
          {can(p, "tokens:derive") && <DeriveForm csrf={c.get("csrf")} error={errors.derive} />}
        </div>
      </>,
      status,
    );
  };
  const view = (c: Ctx) => ({ header: (n: string) => c.req.header(n), remoteAddress: remoteAddress(c) });

  app.get(PATH, (c) => show(c));

  app.post(`${PATH}/verify`, async (c) => {
    if (!can(c.get("principal"), "keys:verify")) return show(c, undefined, { verify: "Your sign-in lacks the permission keys:verify." }, 403);
    try {
      const { credential } = parseWith(VerifyApiKeyRequest, { credential: text(c.get("form"), "credential") });
      if (!credential) return show(c, undefined, { verify: "credential is required" }, 400);
      const v = await deps.verifier.verify(credential, { cacheMode: "default", clientIp: clientIpOf(deps, view(c)) });
      const result = (
        <section class="card" aria-labelledby="result-heading">
          <h2 id="result-heading">Result: {v.isValid ? <span class="badge active">valid</span> : <span class="badge revoked">not valid</span>}</h2>
          <pre class="mono" id="verify-result">
            {JSON.stringify(encodeVerification(v), null, 2)}
          </pre>
        </section>
      );
      return show(c, result);
    } catch (e) {
      const p = problemOf(s, c, e);
      return show(c, undefined, { verify: p.message }, p.status);
    }
  });

  app.post(`${PATH}/derive`, async (c) => {
    if (!can(c.get("principal"), "tokens:derive")) return show(c, undefined, { derive: "Your sign-in lacks the permission tokens:derive." }, 403);
    const form = c.get("form");
    try {
      const scopes = lines(text(form, "scopes"));
      const b = parseWith(DeriveTokenRequest, {
        credential: text(form, "credential"),
        algorithm: text(form, "algorithm") || undefined,
        ...(text(form, "ttl") ? { ttl: text(form, "ttl") } : {}),
        ...(scopes.length ? { scopes } : {}),
      });
      if (!b.credential) return show(c, undefined, { derive: "credential is required" }, 400);
      if (!deps.tokens) throw new ConfigurationError(NO_SIGNING_KEYS);
      const t = await deps.tokens.derive(
        { credential: b.credential, algorithm: b.algorithm ?? TokenAlgorithm.UNSPECIFIED, ttlMs: b.ttl, scopes: b.scopes },
        clientIpOf(deps, view(c)),
      );
      return show(
        c,
        <>
          <SecretBox secret={t.token} label="The derived token" />
          <p>Expires {new Date(t.expireTime).toISOString()}; scopes: {t.scopes.join(", ") || "—"}.</p>
        </>,
        {},
        201,
      );
    } catch (e) {
      const p = problemOf(s, c, e);
      return show(c, undefined, { derive: p.message }, p.status);
    }
  });
}
