import { describe, expect, it } from "vitest";
import { parseFormat } from "./parse.js";
import { NoMatchError, select } from "./select.js";

const answer = {
  issued_api_keys: [
    { key_id: "a", name: "one", scopes: ["read"], metadata: { "a/b": 1, "t~x": 2 } },
    { key_id: "b", name: "two", scopes: [], metadata: null },
  ],
  next_page_token: "",
};

describe("--format jsonpath= and jsonpointer=", () => {
  it("jsonpath: strings bare, other values as compact JSON, one match per line; $ optional", () => {
    expect(select(answer, "jsonpath=$.issued_api_keys[*].key_id")).toBe("a\nb\n");
    expect(select(answer, "jsonpath=issued_api_keys[0].scopes")).toBe('["read"]\n');
    expect(select(answer, "jsonpath=.issued_api_keys[1].metadata")).toBe("null\n");
    expect(select(answer, "jsonpath=$.issued_api_keys[?(@.name=='two')].key_id")).toBe("b\n");
    expect(select(answer, "jsonpath=next_page_token")).toBe("\n");
  });

  it("jsonpointer: RFC 6901, ~1 and ~0 escapes, array indexes, the whole document", () => {
    expect(select(answer, "jsonpointer=/issued_api_keys/0/key_id")).toBe("a\n");
    expect(select(answer, "jsonpointer=/issued_api_keys/0/metadata/a~1b")).toBe("1\n");
    expect(select(answer, "jsonpointer=/issued_api_keys/0/metadata/t~0x")).toBe("2\n");
    expect(select({ x: 1 }, "jsonpointer=")).toBe('{"x":1}\n');
  });

  it("a selection that matches nothing is an error naming the expression", () => {
    expect(() => select(answer, "jsonpath=$.nope")).toThrow(new NoMatchError("jsonpath $.nope matched nothing"));
    expect(() => select(answer, "jsonpointer=/issued_api_keys/7")).toThrow("jsonpointer /issued_api_keys/7 matched nothing");
  });

  it("parseFormat accepts the names and the two selectors, and refuses the rest", () => {
    for (const f of ["table", "json", "json-pretty", "yaml", "jsonpath=$.a", "jsonpointer=/a", "jsonpointer="]) expect(parseFormat(f)).toBe(f);
    expect(() => parseFormat("xml")).toThrow("expected table, json, json-pretty, yaml, jsonpath=<expr> or jsonpointer=<pointer>");
    expect(() => parseFormat("jsonpath=")).toThrow(/needs an expression/);
    expect(() => parseFormat("jsonpointer=a")).toThrow(/starts with \//);
  });
});
