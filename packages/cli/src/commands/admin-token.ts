import { PERMISSIONS, generateAdminToken, hashAdminToken, isPermission } from "@talos/core";

/** `talos admin-token generate` (docs/admin-auth.md#static-tokens): the token once, and its configuration entry (hash only). */
export function adminTokenGenerateCommand(opts: { name: string; permissions: string }): number {
  const permissions = opts.permissions.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = permissions.filter((p) => !isPermission(p));
  if (opts.name.trim() === "" || permissions.length === 0 || bad.length > 0) {
    process.stderr.write(`error: --name must not be empty and --permissions must list some of: ${PERMISSIONS.join(", ")}\n`);
    return 2;
  }
  const token = generateAdminToken();
  const entry = { name: opts.name, hash: hashAdminToken(token), permissions };
  process.stdout.write(
    `token: ${token}\n` +
      `# shown once; configure only the hash:\n` +
      `serve.admin_auth.tokens entry: ${JSON.stringify(entry)}\n`,
  );
  return 0;
}
