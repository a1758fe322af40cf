import type { KeyEvent, KeyLineage, KeyQuota, KeyRecord } from "@talos/core";
import { keyHref, when } from "./view.js";

/** How many of a key's events its page shows (newest first). */
export const KEY_EVENTS_SHOWN = 20;

const at = (ms: number) => when(new Date(ms));

/** The rate-limit row: the policy, and the live bucket read without spending from it (Verifier.quota). */
export function QuotaText({ rec, quota, now }: { rec: Pick<KeyRecord, "rateLimitPolicy">; quota: KeyQuota | null; now: number }) {
  const p = rec.rateLimitPolicy;
  if (!p) return <>no rate limit</>;
  const policy = `${p.quota} requests per ${p.windowSeconds} s${p.unit ? ` (${p.unit})` : ""}`;
  let live: string;
  if (quota === null) live = "no live quota: the key is revoked or expired";
  else if (quota.state === "off") live = "not enforced: rate limiting is off (rate_limit.enabled)";
  else if (quota.state === "not_enforced") live = `advertised only: the unit “${quota.unit}” is not counted`;
  else if (quota.state === "unavailable") live = "live quota unknown: the rate limiter is unavailable";
  else if (quota.state === "none") live = "";
  else if (quota.remaining >= quota.limit || quota.resetTimeMs <= now)
    live = `${quota.limit} of ${quota.limit} remaining: the full quota is available`;
  else live = `${quota.remaining} of ${quota.limit} remaining in this window, resets at ${at(quota.resetTimeMs)}`;
  return (
    <>
      {policy}
      {live && (
        <>
          <br />
          <span class="quota">{live}</span>
        </>
      )}
    </>
  );
}

const issued = (keyId: string) => keyHref({ kind: "issued", keyId });

/** "Rotated from" / "Rotated to" rows, when the rotated events are still kept. */
export function lineageRows(l: KeyLineage): [label: string, value: unknown][] {
  const rows: [string, unknown][] = [];
  if (l.rotatedFrom) {
    rows.push([
      "Rotated from",
      <a href={issued(l.rotatedFrom.keyId)} class="mono" rel="prev">
        {l.rotatedFrom.keyId}
      </a>,
    ]);
  }
  if (l.rotatedTo) {
    rows.push([
      "Rotated to",
      <a href={issued(l.rotatedTo.keyId)} class="mono" rel="next">
        {l.rotatedTo.keyId}
      </a>,
    ]);
  }
  return rows;
}

const str = (v: unknown) => (typeof v === "string" ? v : v === null || v === undefined ? "" : JSON.stringify(v));
const reason = (v: unknown) => str(v).replace("REVOCATION_REASON_", "").toLowerCase().replaceAll("_", " ");
const clip = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** One line on what an event changed (its payload holds changed fields only, never a secret). */
export function eventSummary(e: KeyEvent, keyId: string): string {
  const p = e.payload;
  switch (e.type) {
    case "api_key.updated": {
      const f = Array.isArray(p["changed_fields"]) ? (p["changed_fields"] as unknown[]).map(str) : [];
      return f.length ? `changed ${f.join(", ")}` : "no field changed";
    }
    case "api_key.rotated":
      return e.keyId === keyId ? `replaced by ${str(p["new_key_id"])}` : `created by rotating ${e.keyId}`;
    case "api_key.revoked":
      return `reason: ${reason(p["reason"])}${p["description"] ? ` (${clip(str(p["description"]))})` : ""}`;
    case "api_key.leaked":
      return `leak reported${p["source"] ? ` by ${clip(str(p["source"]))}` : ""}${p["url"] ? ` at ${clip(str(p["url"]))}` : ""}`;
    case "api_key.issued":
    case "api_key.imported":
      return `${str(p["operation"]).replaceAll("_", " ")}${p["name"] ? `, name “${clip(str(p["name"]))}”` : ""}`;
    case "api_key.expiring":
      return `expires ${str(p["expire_time"])}${p["expiring_before"] ? ` (within ${str(p["expiring_before"])})` : ""}`;
    case "api_key.expired":
      return `expired ${str(p["expire_time"])}`;
    case "api_key.deleted":
      return "deleted";
    default:
      return clip(Object.keys(p).join(", "));
  }
}

/** The key's newest events (only for a principal with events:read). */
export function EventList({ events, keyId, recording }: { events: KeyEvent[]; keyId: string; recording: boolean }) {
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">Events</h2>
      {!recording && <p class="note">Event recording is off (events.enabled: false): only events recorded before are listed.</p>}
      {events.length === 0 ? (
        <p>No events for this key (events older than events.retention are pruned).</p>
      ) : (
        <div class="table-wrap">
          <table class="stack" id="key-events">
            <caption class="sr-only">Events of this key, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Type</th>
                <th scope="col">By</th>
                <th scope="col">Summary</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr>
                  <td data-label="Time">{when(e.occurredTime)}</td>
                  <td data-label="Type" class="mono">
                    {e.type}
                  </td>
                  <td data-label="By">{e.principal ? `${e.principal} (${e.source})` : e.source}</td>
                  <td data-label="Summary">{eventSummary(e, keyId)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="note">
        The newest {KEY_EVENTS_SHOWN}; all of them: <span class="mono">GET /v2alpha1/admin/events?filter=key_id="{keyId}"</span>
      </p>
    </section>
  );
}
