import type { Hono } from "hono";
import { page } from "../render.js";
import { can } from "../auth.js";
import { BarChart, LineChart } from "../charts.js";
import type { ConsoleEnv, ConsoleState } from "../context.js";
import { countByStatus } from "../key-list.js";
import { BASE } from "../layout.js";
import { rates, shares, type Totals } from "../sampler.js";

const FAILURES = ["invalid_format", "expired", "revoked", "not_found", "signature_invalid", "internal", "ip_not_allowed"];

function Charts({ samples }: { samples: Totals[] }) {
  const v = (t: Totals) => t.verifications;
  return (
    <div class="charts">
      <LineChart
        id="chart-verifications"
        title="Verifications per second by outcome"
        lines={[
          { label: "valid", cls: "ok", points: rates(samples, v, ["valid"]) },
          { label: "refused", cls: "bad", points: rates(samples, v, FAILURES) },
          { label: "rate limited", cls: "caution", points: rates(samples, v, ["rate_limited"]) },
        ]}
      />
      <LineChart
        id="chart-cache"
        title="Cache hit ratio"
        percent
        lines={[{ label: "hits", cls: "ok", points: shares(samples, (t) => ({ hit: t.cache.hit ?? 0, miss: t.cache.miss ?? 0 }), ["hit"]) }]}
      />
      <LineChart id="chart-limited" title="Rate-limited share of verifications" percent lines={[{ label: "rate limited", cls: "caution", points: shares(samples, v, ["rate_limited"]) }]} />
    </div>
  );
}

export function overviewRoutes(app: Hono<ConsoleEnv>, s: ConsoleState): void {
  const ctx = s.deps.app.ctx;
  app.get(BASE, async (c) => {
    const p = c.get("principal");
    const counts = can(p, "keys:read") ? await countByStatus(ctx) : null;
    const samples = s.sampler ? await s.sampler.series() : null;
    return page(
      s,
      c,
      "Overview",
      "overview",
      <>
        {counts && (
          <BarChart
            id="chart-status"
            title={`Keys by status${counts.truncated ? " (first 10,000 of each kind)" : ""}`}
            bars={[
              { label: "active", cls: "ok", value: counts.counts.active },
              { label: "expiring soon", cls: "caution", value: counts.counts.expiring },
              { label: "revoked", cls: "bad", value: counts.counts.revoked },
              { label: "expired", cls: "muted", value: counts.counts.expired },
            ]}
          />
        )}
        {samples ? <Charts samples={samples} /> : <p>Charts need the server's metrics; this console was built without them.</p>}
        <p class="note">Sampled from this process's own metrics every 10 s over the last hour.</p>
      </>,
    );
  });
}
