/**
 * The admin console in a real browser: Debian's Chromium driven by playwright-core (browsers
 * cannot be downloaded here; .ci/run installs the package). Signs in through the authenticator
 * seam, lists and filters, issues a key and reads its one-time secret, verifies it in the tester,
 * sees the live quota it spent (twice, unchanged), rotates (lineage, events), revokes with a
 * reason, batch-imports a 1500-row CSV to 100 %, renders the overview charts, checks escaping,
 * the CSP (no violation, no alert) and the 375 px layout, and takes
 * screenshots (TALOS_CONSOLE_SCREENSHOTS=dir; the README's come from docs/console).
 */
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConsoleServer, adminAuthOverrides, type ConsoleServer } from "./support.js";

const CHROMIUM = process.env.TALOS_TEST_CHROMIUM ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`\n!!! SKIPPED: console browser tests — no Chromium at ${CHROMIUM} (apt-get install chromium; CI does).\n`);

const SHOTS = process.env.TALOS_CONSOLE_SCREENSHOTS ?? path.join(tmpdir(), "talos-console-screenshots");
const XSS_NAME = "<img src=x onerror=alert(1)>";

describe.skipIf(!HAVE_CHROMIUM)("console in Chromium", { timeout: 120_000 }, () => {
  let s: ConsoleServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const shot = async (name: string, fullPage = true) => {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  };
  const go = (p: string) => page.goto(s.base + p);

  beforeAll(async () => {
    s = await startConsoleServer({ overrides: adminAuthOverrides() });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    // a CSP violation or a script error is a failure; so is any alert() (XSS)
    page.on("console", (m) => {
      // the one expected failure: the wrong token's 401 sign-in page
      if (m.type() === "error" && !m.text().includes("status of 401")) problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("dialog", async (d) => {
      if (d.type() === "confirm") return d.accept();
      problems.push(`dialog: ${d.type()} ${d.message()}`);
      return d.dismiss();
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it("signs in with an admin token", async () => {
    await go("/console/keys");
    expect(page.url()).toContain("/console/sign-in");
    await shot("sign-in");
    await page.getByLabel("Admin token or identity-provider JWT").fill("wrong-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Sign-in failed");
    await page.getByLabel("Admin token or identity-provider JWT").fill("admin-token-0123456789");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/console\/keys$/);
    expect(await page.textContent("header")).toContain("alice");
  });

  let secret = "";
  it("issues a key and reads the one-time secret", async () => {
    await go("/console/keys/new");
    const form = page.locator("form", { has: page.getByRole("heading", { name: "Issue a key" }) });
    await form.getByLabel("Name").fill("browser key");
    await form.getByLabel("Actor id").fill("browser-actor");
    await form.getByLabel("Scopes (one a line)").fill("read\nwrite");
    await form.getByLabel("Metadata (a JSON object)").fill('{"team": "payments", "note": "<script>alert(3)</script>"}');
    await form.getByLabel("Requests").fill("100");
    await form.getByLabel("Per window").fill("3600s");
    await form.getByRole("button", { name: "Issue key" }).click();
    await page.waitForSelector("#secret");
    secret = await page.inputValue("#secret");
    expect(secret.length).toBeGreaterThan(20);
    expect(await page.textContent(".secret")).toContain("only time it is shown");
    await shot("issued-secret");
    await page.getByRole("link", { name: /Open the key/ }).click();
    expect(await page.textContent("main")).toContain("payments");
    expect(await page.textContent("main")).toContain("100 of 100 remaining");
    expect(await page.content()).not.toContain(secret);
    await shot("key-detail");
  });

  it("verifies the secret in the tester", async () => {
    await go("/console/tools");
    await page.getByLabel("API key or derived token").fill(secret);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForSelector("#verify-result");
    expect(await page.textContent("#verify-result")).toContain('"is_valid": true');
    expect(await page.content()).not.toContain(secret);
    // the key page shows the quota that verify spent, without spending more
    await go("/console/keys?actor=browser-actor");
    await page.getByRole("link", { name: "browser key" }).click();
    expect(await page.textContent("main")).toContain("99 of 100 remaining in this window");
    await page.reload();
    expect(await page.textContent("main")).toContain("99 of 100 remaining in this window");
  });

  it("lists and filters keys, and renders a hostile name as text", async () => {
    await go("/console/keys/new");
    const form = page.locator("form", { has: page.getByRole("heading", { name: "Issue a key" }) });
    await form.getByLabel("Name").fill(XSS_NAME);
    await form.getByLabel("Actor id").fill("browser-xss");
    await form.getByRole("button", { name: "Issue key" }).click();
    await page.waitForSelector("#secret");
    await go("/console/keys");
    await page.getByLabel("Actor").fill("browser-xss");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.textContent("#results")).toContain("1 key");
    expect(await page.getByRole("link", { name: XSS_NAME }).count()).toBe(1);
    expect(await page.locator("img").count()).toBe(0);
    await page.getByLabel("Kind").selectOption("imported");
    await expect.poll(() => page.textContent("#results")).toContain("0 keys");
    await go("/console/keys");
    await shot("keys-desktop");
  });

  it("rotates (new secret once), links the two keys, and revokes with a reason", async () => {
    await go("/console/keys?actor=browser-actor");
    await page.getByRole("link", { name: "browser key" }).click();
    const oldUrl = page.url();
    await page.getByRole("button", { name: "Rotate" }).click();
    await page.waitForSelector("#secret");
    const rotated = await page.inputValue("#secret");
    expect(rotated).not.toBe(secret);
    await page.getByRole("link", { name: "Open the new key" }).click();
    // lineage from the api_key.rotated event, and the key's events
    const from = page.locator("dt:text-is('Rotated from') + dd a");
    expect(s.base + (await from.getAttribute("href"))).toBe(oldUrl);
    expect(await page.textContent("#key-events")).toContain("api_key.rotated");
    expect(await page.textContent("#key-events")).toContain("alice (admin_api)");
    await shot("key-rotated");
    await page.getByLabel("Revocation reason").selectOption("REVOCATION_REASON_KEY_COMPROMISE");
    await page.getByRole("button", { name: "Revoke" }).click();
    await expect.poll(() => page.textContent("main")).toContain("Revoked (key compromise)");
    expect(await page.content()).not.toContain(rotated);
  });

  it("batch-imports a 1500-row CSV and watches the progress reach 100 %", async () => {
    const rows = ["raw_key,name,actor_id,scopes"];
    for (let i = 0; i < 1500; i++) rows.push(`ext-browser-batch-key-${i.toString().padStart(5, "0")}-abcdef,batch ${i},batch-actor,read write`);
    rows[1000] = "x,,batch-actor,"; // one bad row: no name
    await go("/console/keys/import/batch");
    await page.getByLabel("File").setInputFiles({ name: "keys.csv", mimeType: "text/csv", buffer: Buffer.from(rows.join("\n")) });
    await page.getByRole("button", { name: "Import" }).click();
    await page.waitForSelector("progress");
    await page.waitForSelector('.pct[data-finished="true"]', { timeout: 120_000 });
    expect(await page.textContent(".pct")).toContain("100 %");
    expect(await page.getAttribute("progress", "value")).toBe("1500");
    expect(await page.textContent("#progress")).toContain("1499 imported, 1 failed");
    expect(await page.textContent("#progress table")).toContain("name: is required");
    await shot("batch-import", false);
  }, 180_000);

  it("renders the overview charts", async () => {
    await go("/console");
    for (const id of ["chart-status", "chart-verifications", "chart-cache", "chart-limited"]) {
      expect(await page.locator(`#${id} svg`).count(), id).toBe(1);
    }
    expect(await page.locator("#chart-status rect").count()).toBe(4);
    await shot("overview-desktop");
  });

  it("is usable at 375 px: no page-wide horizontal scrolling, keyboard skip link first", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const p of ["/console", "/console/keys", "/console/keys/new", "/console/tools"]) {
      await go(p);
      const width = (await page.evaluate("document.documentElement.scrollWidth")) as number;
      expect(width, p).toBeLessThanOrEqual(375);
    }
    await go("/console/keys");
    await shot("keys-375", false);
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("saw no CSP violation, script error or alert", () => {
    expect(problems).toEqual([]);
  });

  it("never logged a secret", () => {
    expect(s.logger.lines.join("\n")).not.toContain(secret);
  });
});
