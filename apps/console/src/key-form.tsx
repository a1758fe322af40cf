import type { KeyRecord } from "@talos/core";

/** The editable key fields; `rec` fills them for update and rotate. Every input has a label. */
export function KeyFields({ rec, values, create }: { rec?: KeyRecord; values?: Record<string, unknown>; create?: boolean }) {
  const v = (name: string, fromRec: string) => (values && typeof values[name] === "string" ? (values[name] as string) : fromRec);
  const p = rec?.rateLimitPolicy;
  return (
    <>
      <label for="k-name">Name</label>
      <input id="k-name" name="name" type="text" maxlength={1024} value={v("name", rec?.name ?? "")} />
      {create && (
        <>
          <label for="k-actor">Actor id</label>
          <input id="k-actor" name="actor_id" type="text" value={v("actor_id", "")} aria-describedby="k-actor-help" />
          <small id="k-actor-help">Who owns the key (a user or service); it cannot be changed later.</small>
          <label for="k-ttl">Lifetime</label>
          <input id="k-ttl" name="ttl" type="text" placeholder="720h, 30d" value={v("ttl", "")} aria-describedby="k-ttl-help" />
          <small id="k-ttl-help">Empty uses the configured default.</small>
        </>
      )}
      <label for="k-scopes">Scopes (one a line)</label>
      <textarea id="k-scopes" name="scopes" rows={3}>
        {v("scopes", rec?.scopes.join("\n") ?? "")}
      </textarea>
      <label for="k-metadata">Metadata (a JSON object)</label>
      <textarea id="k-metadata" name="metadata" rows={4} class="mono">
        {v("metadata", rec?.metadata ? JSON.stringify(rec.metadata, null, 2) : "")}
      </textarea>
      <fieldset>
        <legend>Rate limit (empty: none)</legend>
        <label for="k-quota">Requests</label>
        <input id="k-quota" name="rate_quota" type="number" min={1} value={v("rate_quota", p ? String(p.quota) : "")} />
        <label for="k-window">Per window</label>
        <input id="k-window" name="rate_window" type="text" placeholder="60s" value={v("rate_window", p ? `${p.windowSeconds}s` : "")} />
      </fieldset>
      <label for="k-cidrs">Allowed networks (CIDRs, one a line; empty: anywhere)</label>
      <textarea id="k-cidrs" name="allowed_cidrs" rows={2} class="mono">
        {v("allowed_cidrs", rec?.allowedCidrs?.join("\n") ?? "")}
      </textarea>
    </>
  );
}
