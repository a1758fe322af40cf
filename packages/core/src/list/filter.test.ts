import { describe, expect, it } from "vitest";
import { TalosError } from "../errors.js";
import { KeyStatus } from "../types.js";
import { normaliseFilter, parseFilter } from "./filter.js";

function rejection(text: string): TalosError {
  try {
    parseFilter(text);
  } catch (e) {
    if (e instanceof TalosError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("parseFilter: valid filters", () => {
  it.each([undefined, "", " ", " \t\r\n "])("treats %j as no filter", (text) => {
    expect(parseFilter(text)).toEqual({});
  });

  it.each([
    ['actor_id="alice"', { actorId: "alice" }],
    ['actor_id = "alice"', { actorId: "alice" }],
    ['  actor_id\t=\n"alice"  ', { actorId: "alice" }],
    ['actor_id=""', { actorId: "" }],
    ['actor_id="a b AND c OR d (e)"', { actorId: "a b AND c OR d (e)" }],
    ['actor_id="say \\"hi\\""', { actorId: 'say "hi"' }],
    ['actor_id="back\\\\slash"', { actorId: "back\\slash" }],
    ['actor_id="\\\\\\""', { actorId: '\\"' }],
    ['actor_id="ключ 🔑"', { actorId: "ключ 🔑" }],
    ["status=KEY_STATUS_ACTIVE", { status: KeyStatus.ACTIVE }],
    ['status="KEY_STATUS_REVOKED"', { status: KeyStatus.REVOKED }],
    ["status = KEY_STATUS_EXPIRED", { status: KeyStatus.EXPIRED }],
    ['actor_id="u1" AND status=KEY_STATUS_ACTIVE', { actorId: "u1", status: KeyStatus.ACTIVE }],
    ['status="KEY_STATUS_EXPIRED" AND actor_id="u1"', { actorId: "u1", status: KeyStatus.EXPIRED }],
    ['actor_id="u1"\tAND\nstatus=KEY_STATUS_REVOKED ', { actorId: "u1", status: KeyStatus.REVOKED }],
    ['status=KEY_STATUS_ACTIVE   AND   actor_id="x"', { actorId: "x", status: KeyStatus.ACTIVE }],
  ])("parses %s", (text, expected) => {
    expect(parseFilter(text)).toEqual(expected);
  });
});

describe("parseFilter: invalid filters", () => {
  it.each([
    ['actor_id="a" OR status=KEY_STATUS_ACTIVE', /OR is not supported/],
    ['actor_id="a" or status=KEY_STATUS_ACTIVE', /OR is not supported/],
    ["NOT status=KEY_STATUS_ACTIVE", /NOT is not supported/],
    ['actor_id="a" AND NOT status=KEY_STATUS_ACTIVE', /NOT is not supported/],
    ["-status=KEY_STATUS_ACTIVE", /NOT is not supported/],
    ['(actor_id="a")', /parentheses/],
    ['actor_id="a" AND (status=KEY_STATUS_ACTIVE)', /parentheses/],
    ['actor_id="a" AND(status=KEY_STATUS_ACTIVE)', /parentheses/],
    ['actor_id="a")', /parentheses/],
    ['name="a"', /unsupported field "name"/],
    ['ACTOR_ID="a"', /unsupported field/],
    ['actor_id.x="a"', /unsupported field/],
    ['actor_id!="a"', /unsupported operator "!="/],
    ['actor_id:"a"', /unsupported operator ":"/],
    ['actor_id=="a"', /unsupported operator "=="/],
    ["status>KEY_STATUS_ACTIVE", /unsupported operator ">"/],
    ['actor_id "a"', /expected = after actor_id/],
    ["actor_id", /expected = after actor_id/],
    ['actor_id="a" AND actor_id="b"', /actor_id may appear only once/],
    ["status=KEY_STATUS_ACTIVE AND status=KEY_STATUS_REVOKED", /status may appear only once/],
    ['actor_id="a" and status=KEY_STATUS_ACTIVE', /AND must be upper-case/],
    ['actor_id="a" And status=KEY_STATUS_ACTIVE', /AND must be upper-case/],
    ['actor_id="a"AND status=KEY_STATUS_ACTIVE', /unexpected "A"/],
    ['actor_id="a" ANDstatus=KEY_STATUS_ACTIVE', /expected AND/],
    ['actor_id="a" AND"x"', /expected whitespace after AND/],
    ['actor_id="a" AND', /expected a term after AND/],
    ['actor_id="a" AND  ', /expected a term after AND/],
    ["AND", /unsupported field "AND"/],
    ['actor_id="a" status=KEY_STATUS_ACTIVE', /expected AND, found "status"/],
    ['actor_id="abc', /unterminated string/],
    ['actor_id="abc\\"', /unterminated string/],
    ['actor_id="abc\\', /unterminated string/],
    ['actor_id="a\\nb"', /invalid escape/],
    ["actor_id=alice", /must be a double-quoted string/],
    ["actor_id='alice'", /must be a double-quoted string/],
    ["actor_id=", /must be a double-quoted string/],
    ["status=", /expected a status name/],
    ["status=ACTIVE", /unknown status "ACTIVE"/],
    ["status=key_status_active", /unknown status/],
    ["status=KEY_STATUS_UNSPECIFIED", /unknown status/],
    ['status="KEY_STATUS_ACTIVE', /unterminated string/],
    ['status=" KEY_STATUS_ACTIVE"', /unknown status/],
    ["status=KEY_STATUS_ACTIVE.x", /unexpected "\."/],
    ['status=KEY_STATUS_ACTIVE"', /unexpected/],
    ['status="KEY_STATUS_ACTIVE"x', /unexpected "x"/],
    ["status=1", /unknown status "1"/],
    ['actor_id="a" AND status=KEY_STATUS_ACTIVE AND actor_id="b"', /actor_id may appear only once/],
    ["=", /expected actor_id or status/],
    ["🔑", /expected actor_id or status/],
    ["\u0000", /expected actor_id or status/],
  ])("rejects %j", (text, problem) => {
    const e = rejection(text);
    expect(e.id).toBe("bad_request");
    expect(e.metadata).toEqual({ field: "filter" });
    expect(e.message).toMatch(/^filter: /);
    expect(e.message).toMatch(problem);
  });

  it("rejects very long garbage quickly and without crashing", () => {
    expect(rejection(`actor_id="${"x".repeat(100_000)}`).message).toMatch(/unterminated/);
    expect(rejection("(".repeat(100_000)).message).toMatch(/parentheses/);
  });
});

describe("normaliseFilter", () => {
  it.each([
    [{}, ""],
    [{ actorId: "alice" }, 'actor_id="alice"'],
    [{ status: KeyStatus.ACTIVE }, "status=KEY_STATUS_ACTIVE"],
    [{ status: KeyStatus.REVOKED }, "status=KEY_STATUS_REVOKED"],
    [{ status: KeyStatus.EXPIRED }, "status=KEY_STATUS_EXPIRED"],
    [{ actorId: "u1", status: KeyStatus.EXPIRED }, 'actor_id="u1" AND status=KEY_STATUS_EXPIRED'],
    [{ actorId: 'a"b\\c' }, 'actor_id="a\\"b\\\\c"'],
    [{ actorId: "" }, 'actor_id=""'],
  ])("normalises %j", (filter, expected) => {
    expect(normaliseFilter(filter)).toBe(expected);
  });

  it("gives equivalent filters the same canonical text", () => {
    const a = normaliseFilter(parseFilter('status="KEY_STATUS_ACTIVE"   AND actor_id = "u\\"1"'));
    const b = normaliseFilter(parseFilter('actor_id="u\\"1" AND status=KEY_STATUS_ACTIVE'));
    expect(a).toBe('actor_id="u\\"1" AND status=KEY_STATUS_ACTIVE');
    expect(b).toBe(a);
  });

  it("round-trips through parseFilter", () => {
    for (const f of [{}, { actorId: 'x"\\y' }, { actorId: "q", status: KeyStatus.REVOKED }, { status: KeyStatus.EXPIRED }]) {
      expect(parseFilter(normaliseFilter(f))).toEqual(f);
    }
  });
});

describe("parseFilter with the kind field (batch revoke)", () => {
  const FIELDS = ["actor_id", "kind"] as const;
  it("reads kind=issued, kind=\"imported\" next to actor_id", () => {
    expect(parseFilter('actor_id="u" AND kind=issued', FIELDS)).toEqual({ actorId: "u", kind: "issued" });
    expect(parseFilter('kind="imported" AND actor_id="u"', FIELDS)).toEqual({ actorId: "u", kind: "imported" });
    expect(normaliseFilter({ actorId: "u", kind: "imported" })).toBe('actor_id="u" AND kind=imported');
  });
  it.each([
    ['actor_id="u" AND kind=derived', "unknown kind; use issued or imported"],
    ['actor_id="u" AND kind=issued AND kind=issued', "kind may appear only once"],
    ["status=KEY_STATUS_ACTIVE", 'unsupported field "status"; only actor_id and kind can be filtered'],
  ])("rejects %s", (text, message) => {
    expect(() => parseFilter(text, FIELDS)).toThrow(message);
  });
  it("lists still refuse kind", () => {
    expect(() => parseFilter("kind=issued")).toThrow('unsupported field "kind"; only actor_id and status can be filtered');
  });
});
