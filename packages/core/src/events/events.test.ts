import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config/index.js";
import { parseEventFilter } from "./filter.js";
import { uuidv7 } from "./uuidv7.js";

const ENV = { TALOS_SECRETS_HMAC_CURRENT: "x".repeat(32), TALOS_CREDENTIALS_ISSUER: "https://i.test", TALOS_DB_DSN: "memory" };
const GOOD_SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

function issues(env: Record<string, string>): string[] {
  try {
    loadConfig({ env: { ...ENV, ...env } });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  return [];
}

describe("events config", () => {
  it("reads webhooks as a JSON array from the environment, and a list of warning windows", () => {
    const { config } = loadConfig({
      env: {
        ...ENV,
        TALOS_EVENTS_WEBHOOKS: JSON.stringify([{ id: "a", url: "https://h.example/x", secret: GOOD_SECRET, types: ["api_key.leaked"] }]),
        TALOS_EVENTS_EXPIRING_BEFORE: "1d,7d",
      },
    });
    expect(config.events.webhooks).toEqual([{ id: "a", url: "https://h.example/x", secret: GOOD_SECRET, types: ["api_key.leaked"], networks: [] }]);
    expect(config.events.expiring_before).toEqual([7 * 86_400_000, 86_400_000]);
  });

  it("lists every bad webhook field, never quoting the secret", () => {
    const bad = "whsec_tooshort";
    const got = issues({
      TALOS_EVENTS_WEBHOOKS: JSON.stringify([
        { id: "a", url: "ftp://x", secret: bad, types: ["api_key.nope"] },
        { id: "a", url: "https://u:p@h/", secret: GOOD_SECRET, extra: 1 },
      ]),
    });
    const text = got.join("\n");
    expect(text).toMatch(/events\.webhooks\[0\]\.url: must be an http/);
    expect(text).toMatch(/events\.webhooks\[0\]\.secret: must be a Standard Webhooks secret/);
    expect(text).toMatch(/events\.webhooks\[0\]\.types\[0\]: must be one of/);
    expect(text).toMatch(/events\.webhooks\[1\]\.url/);
    expect(text).not.toContain(bad);
    expect(text).not.toContain(GOOD_SECRET);
    expect(issues({ TALOS_EVENTS_WEBHOOKS: "not json" }).join()).toMatch(/events\.webhooks: is not a valid JSON array/);
    expect(issues({ TALOS_EVENTS_EXPIRING_BEFORE: "soon" }).join()).toMatch(/events\.expiring_before/);
  });
});

describe("event filter", () => {
  it("parses the documented terms", () => {
    expect(parseEventFilter('type="api_key.issued,api_key.revoked" AND key_id="k" AND actor_id="a\\"b" AND occurred_time>="2026-01-01T00:00:00Z" AND occurred_time<"2026-02-01T00:00:00Z"')).toEqual({
      types: ["api_key.issued", "api_key.revoked"],
      keyId: "k",
      actorId: 'a"b',
      from: Date.parse("2026-01-01T00:00:00Z"),
      to: Date.parse("2026-02-01T00:00:00Z"),
    });
    expect(parseEventFilter("")).toEqual({});
  });
  it.each(['type="x"', 'status="a"', 'key_id>"a"', 'actor_id="a" OR actor_id="b"', 'actor_id="a" AND', 'occurred_time>"x"'])("refuses %s", (f) => {
    expect(() => parseEventFilter(f)).toThrow(expect.objectContaining({ id: "bad_request" }));
  });
});

describe("uuidv7", () => {
  it("sorts in creation order, also within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
