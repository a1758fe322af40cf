import { RevocationReason, type KeyRecord } from "@talos/core";
import { REVOCATION_REASON } from "@talos/http";
import { badgeOf, type Badge } from "./key-list.js";
import { BASE } from "./layout.js";

export const BADGE_TEXT: Record<Badge, string> = { active: "Active", revoked: "Revoked", expired: "Expired", expiring: "Expiring soon" };

export const when = (d: Date | null) => (d ? d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—");

export const reasonText = (r: number) => (REVOCATION_REASON[r] ?? "REVOCATION_REASON_UNSPECIFIED").replace("REVOCATION_REASON_", "").toLowerCase().replaceAll("_", " ");

export const keyHref = (r: Pick<KeyRecord, "kind" | "keyId">) => `${BASE}/keys/${r.kind}/${encodeURIComponent(r.keyId)}`;

export function StatusBadge({ rec, now }: { rec: KeyRecord; now: number }) {
  const b = badgeOf(rec, now);
  const reason = b === "revoked" && rec.revocationReason !== RevocationReason.UNSPECIFIED ? ` (${reasonText(rec.revocationReason)})` : "";
  return <span class={`badge ${b}`}>{BADGE_TEXT[b] + reason}</span>;
}

/** A one-time secret: shown in a read-only field with a copy button and a warning. */
export function SecretBox({ secret, label }: { secret: string; label: string }) {
  return (
    <section class="secret card" aria-labelledby="secret-heading">
      <h2 id="secret-heading">{label}</h2>
      <p class="warn" role="alert">
        Copy it now: this is the only time it is shown. Talos stores only a hash of it.
      </p>
      <div class="copyrow">
        <label for="secret" class="sr-only">
          Secret
        </label>
        <input id="secret" class="mono" type="text" readonly value={secret} autocomplete="off" spellcheck={false} />
        <button type="button" data-copy="#secret">
          Copy
        </button>
      </div>
    </section>
  );
}

export function ErrorNote({ message }: { message?: string }) {
  return message ? (
    <p class="error" role="alert" id="form-error">
      {message}
    </p>
  ) : null;
}
