import { getKeyUsage } from "@talos/core";
import { KeyUsageResponse, encodeUsage, json, queryOne, type AppDeps, type RouteDef } from "@talos/http";
import { errors } from "./common.js";

/** docs/observability.md#usage-history */
export function usageRoutes(deps: AppDeps): RouteDef[] {
  return [
    {
      method: "GET",
      path: "/v2alpha1/admin/apiKeys/{key_id}/usage",
      operationId: "adminGetApiKeyUsage",
      summary: "Verifications of an issued or imported key per hour or day, by outcome",
      tags: ["ApiKeys"],
      query: {
        granularity: "hour (default) or day (UTC)",
        start_time: "RFC 3339, inclusive; default 24 hours or 30 days before end_time",
        end_time: "RFC 3339, exclusive; default the end of the current hour or day",
      },
      responses: { 200: { description: "The series", schema: KeyUsageResponse }, ...errors(400, 404) },
      handler: async (c, p) => {
        const url = new URL(c.req.url);
        const out = await getKeyUsage(deps.ctx, {
          keyId: p.key_id!,
          granularity: queryOne(url, "granularity"),
          startTime: queryOne(url, "start_time"),
          endTime: queryOne(url, "end_time"),
        });
        return json(200, encodeUsage(out));
      },
    },
  ];
}
