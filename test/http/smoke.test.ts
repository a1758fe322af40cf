import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOn, testDatabases, type TestServer } from "../support/harness.js";

describe.each(testDatabases())("smoke on $name", (db) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startOn(db);
  });
  afterAll(() => s?.close());

  it("issues and verifies a key", async () => {
    const issued = await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "a", actor_id: "smoke" });
    expect(issued.status).toBe(201);
    expect(issued.headers.get("location")).toBe(`/v2alpha1/admin/issuedApiKeys/${issued.body.issued_api_key.key_id}`);
    const v = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: issued.body.secret });
    expect(v.body.is_valid).toBe(true);
    expect(v.body.key_id).toBe(issued.body.issued_api_key.key_id);
  });
});
