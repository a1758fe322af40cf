import type { AdminAuthConfig } from "../config/admin-auth.js";
import { adminPrincipal, type AdminPrincipal } from "./permissions.js";

/** What is read of a verified client certificate (node's PeerCertificate has these fields). */
export interface ClientCertificate {
  subject?: { CN?: string | string[] } | null;
  /** node's form: `DNS:a.example, URI:spiffe://x, email:a@b` */
  subjectaltname?: string;
}

/** Matches a client certificate, already verified against serve.http.tls.client_ca_path, against the allowlist. */
export function createClientCertMatcher(clients: AdminAuthConfig["mtls"]["clients"]): (cert: ClientCertificate) => AdminPrincipal | null {
  const table = clients.map((c) => ({ ...c, principal: adminPrincipal(c.name || c.subject || c.san, "mtls", c.permissions) }));
  return (cert) => {
    const cn = cert.subject?.CN;
    const cns = Array.isArray(cn) ? cn : cn === undefined ? [] : [cn];
    const sans = (cert.subjectaltname ?? "").split(/,\s*/).filter((s) => s !== "");
    for (const c of table) {
      if (c.subject !== "" && cns.includes(c.subject)) return c.principal;
      if (c.san !== "" && sans.includes(c.san)) return c.principal;
    }
    return null;
  };
}
