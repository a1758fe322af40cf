/** The development HMAC secret of `talos serve --dev`: persisted under the dev directory, created once. */
import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DEV_SECRET_FILE = "hmac-secret";
const MIN_SECRET_LENGTH = 32;

export function devHmacSecret(dir: string, warnings: string[], issues: string[]): string | undefined {
  const file = join(dir, DEV_SECRET_FILE);
  const existing = readDevSecret(file, issues);
  if (existing === null) return undefined;
  if (existing !== undefined) {
    warnings.push(`DEV MODE: secrets.hmac.current is the development secret stored in ${file}. Never use --dev in production.`);
    try {
      if ((statSync(file).mode & 0o077) !== 0) warnings.push(`${file} is accessible to other users; restrict it with chmod 600`);
    } catch {
      // the file was just read; a failing stat only loses the permission hint
    }
    return existing;
  }

  // 36 random bytes → 48 URL-safe characters. Written to a private temp file and linked into place,
  // so a concurrent start either wins or reads the winner's complete file.
  const secret = randomBytes(36).toString("base64url");
  const tmp = join(dir, `.${DEV_SECRET_FILE}.${process.pid}.${randomBytes(4).toString("hex")}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(tmp, `${secret}\n`, { mode: 0o600, flag: "wx" });
    try {
      linkSync(tmp, file);
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
      return devHmacSecret(dir, warnings, issues);
    }
  } catch (err) {
    issues.push(`secrets.hmac.current: cannot store a development secret in ${file} (${errorCode(err)})`);
    return undefined;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already gone
    }
  }
  warnings.push(
    `DEV MODE: no secrets.hmac.current configured; generated a development HMAC secret and saved it to ${file} (mode 0600). ` +
      `Keys issued now verify only while this file is kept. Never use --dev in production.`,
  );
  return secret;
}

/** The stored secret; undefined when there is no file yet; null when unusable (issue recorded). */
function readDevSecret(file: string, issues: string[]): string | undefined | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    issues.push(`secrets.hmac.current: cannot read the development secret ${file} (${errorCode(err)})`);
    return null;
  }
  const secret = text.trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    issues.push(
      `secrets.hmac.current: the development secret in ${file} is shorter than ${MIN_SECRET_LENGTH} characters; delete the file to generate a new one`,
    );
    return null;
  }
  return secret;
}

export function errorCode(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return "unknown error";
}
