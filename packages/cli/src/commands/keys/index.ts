import { Option, type Command } from "commander";
import type { Kind } from "./get.js";
import type { BatchImportOptions } from "./batch-import.js";
import type { BulkRevokeOptions } from "./bulk-revoke.js";
import type { ImportOptions } from "./import.js";
import type { IssueOptions } from "./issue.js";
import type { ListOptions } from "./list.js";
import type { RevokeOptions, RevokeTarget, SelfRevokeOptions } from "./revoke.js";
import type { RotateOptions } from "./rotate.js";
import type { UpdateOptions } from "./update.js";
import type { VerifyOptions } from "./verify.js";
import type { DeriveOptions } from "./derive.js";
import type { UsageOptions } from "./usage.js";
import * as p from "./parse.js";

/**
 * The HTTP client commands of docs/cli.md#client-commands: `talos keys …` and `talos jwk get`. Registration
 * only declares options (this module loads on every `talos` start); each action imports its
 * command file, and with it fetch and yaml, when it runs.
 */
export function registerKeysCommands(program: Command, jwk: Command): void {
  const keys = program.command("keys").description("manage API keys on a running server (admin API; self-revoke uses the public API)");

  common(keyFlags(keys.command("issue").description("issue a new API key and print its secret (shown only once)").argument("[name]", "key name")))
    .option("--allow-replay", "a --request-id that was already used is not an error: print the earlier key (its secret is not shown again)")
    .action((name: string | undefined, opts: IssueOptions) => exec(async () => (await import("./issue.js")).issueCommand(name, opts)));

  const issued = keys.command("issued").description("issued keys: get, list, update, rotate, revoke");
  kindCommands(issued, "issued");
  common(
    issued
      .command("rotate")
      .description("replace a key with a new one (new secret); the old key is revoked as superseded")
      .argument("<key-id>")
      .option("--name <name>", "name of the new key (default: inherited)")
      .option("--scopes <list>", "scopes of the new key, comma-separated ('' for none)", p.parseList)
      .option("--metadata <json>", "metadata of the new key, a JSON object ('' for none)", p.parseJsonObject)
      .option("--visibility <visibility>", "secret or public (default: inherited)", p.parseVisibility),
  ).action((keyId: string, opts: RotateOptions) => exec(async () => (await import("./rotate.js")).rotateCommand(keyId, opts)));
  revokeCommand(issued.command("revoke").description("revoke an issued key"), "issued");

  const imported = keys.command("imported").description("imported keys: import, batch-import, get, list, update, revoke, delete");
  common(
    keyFlags(
      imported
        .command("import")
        .description("register a key created elsewhere (only its hash is stored)")
        .argument("[name]", "key name (required by the server)")
        .requiredOption("--raw-key <key>", "the key to import, or - to read it from stdin"),
    ),
  ).action((name: string | undefined, opts: ImportOptions) => exec(async () => (await import("./import.js")).importCommand(name, opts)));
  common(
    imported
      .command("batch-import")
      .description("import keys from a file of any size (JSON array, JSON lines or CSV), 1000 per request; safe to re-run")
      .requiredOption("--file <path>", "input file, or - to read stdin")
      .option("--input-format <format>", "json, jsonl or csv (default: from the file extension; json for stdin)")
      .option("--failed-file <path>", "where the failed rows go (default: <file>.failed.jsonl, or batch-import.failed.jsonl for stdin)"),
  ).action((opts: BatchImportOptions) => exec(async () => (await import("./batch-import.js")).batchImportCommand(opts)));
  kindCommands(imported, "imported");
  revokeCommand(imported.command("revoke").description("revoke an imported key"), "imported");
  common(imported.command("delete").description("delete an imported key for good (it may be imported again)").argument("<key-id>")).action(
    (keyId: string, opts: p.CommonOptions) => exec(async () => (await import("./delete.js")).deleteCommand(keyId, opts)),
  );

  revokeAnyCommand(keys.command("revoke").description("revoke an issued (UUID) or imported (64 hex) key by id, or with --actor every active key of one actor"));
  common(
    keys
      .command("bulk-revoke")
      .description("revoke the keys listed in a file of any size (JSON array, JSON lines or CSV); safe to re-run")
      .requiredOption("--file <path>", "input file, or - to read stdin")
      .option("--input-format <format>", "json, jsonl or csv (default: from the file extension; json for stdin)")
      .option("--reason <reason>", "for rows without their own: key_compromise, affiliation_changed, superseded or privilege_withdrawn", p.parseReason)
      .option("--description <text>", "for rows without their own; only with privilege_withdrawn")
      .option("--concurrency <n>", "revocations in flight (default 8, at most 64)")
      .option("--failed-file <path>", "where the failed rows go (default: <file>.failed.jsonl, or bulk-revoke.failed.jsonl for stdin)"),
  ).action((opts: BulkRevokeOptions) => exec(async () => (await import("./bulk-revoke.js")).bulkRevokeCommand(opts)));
  common(
    keys
      .command("self-revoke")
      .description("revoke a key by presenting its secret (public API)")
      .argument("<secret>", "the secret or raw key, or - to read it from stdin")
      .option("--reason <reason>", "key_compromise, affiliation_changed or superseded", p.parseReason),
  ).action((secret: string, opts: SelfRevokeOptions) => exec(async () => (await import("./revoke.js")).selfRevokeCommand(secret, opts)));

  common(
    verifyFlags(keys.command("verify").description("verify a credential; exit code 0 only when it is valid").argument("<credential>", "secret, raw key or derived token, or - for stdin")),
  ).action((credential: string, opts: VerifyOptions) => exec(async () => (await import("./verify.js")).verifyCommand(credential, opts)));
  common(
    verifyFlags(
      keys
        .command("batch-verify")
        .description("verify up to 100 credentials; exit code 0 only when all are valid")
        .argument("<credential...>", "credentials, or a single - to read one per line from stdin"),
    ),
  ).action((credentials: string[], opts: VerifyOptions) => exec(async () => (await import("./verify.js")).batchVerifyCommand(credentials, opts)));

  common(
    keys
      .command("derive-token")
      .description("mint a short-lived JWT or macaroon from a key")
      .argument("<secret>", "the parent's secret or raw key, or - to read it from stdin")
      .option("--algorithm <algorithm>", "jwt (default) or macaroon", p.parseAlgorithm)
      .option("--ttl <duration>", "token lifetime, e.g. 15m (default: the server's, 1h)", p.parseTtl)
      .option("--scopes <list>", "comma-separated subset of the parent's scopes", p.parseList)
      .option("--claims <json>", "custom claims, a JSON object", p.parseJsonObject),
  ).action((secret: string, opts: DeriveOptions) => exec(async () => (await import("./derive.js")).deriveCommand(secret, opts)));

  common(
    keys
      .command("usage")
      .description("verifications of a key per hour or day, by outcome (a sparkline on a terminal)")
      .argument("<key-id>")
      .addOption(new Option("--granularity <granularity>", "bucket size").choices(["hour", "day"]).default("hour"))
      .option("--start <time>", "RFC 3339 start (default: 24 hours or 30 days back)")
      .option("--end <time>", "RFC 3339 end, exclusive (default: the current hour or day included)"),
  ).action((keyId: string, opts: UsageOptions) => exec(async () => (await import("./usage.js")).usageCommand(keyId, opts)));

  common(jwk.command("get").description("print the JWK Set the server publishes for derived JWTs"), "json-pretty").action((opts: p.CommonOptions) =>
    exec(async () => (await import("./jwk-get.js")).jwkGetCommand(opts)),
  );
}

/** Runs a command; an error becomes one `error: …` line on stderr and exit code 1 (2 for usage). */
export async function exec(run: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof p.UsageError ? 2 : 1;
  }
}

export function common(cmd: Command, format: p.Format = "table"): Command {
  return cmd
    .option("-e, --endpoint <url>", "server URL", p.parseEndpoint, p.DEFAULT_ENDPOINT)
    .addOption(
      new Option("--format <format>", "output format: table, json, json-pretty, yaml, jsonpath=<expr> or jsonpointer=<pointer>")
        .argParser(p.parseFormat)
        .default(format),
    )
    .option("-q, --quiet", "print only ids, secrets or tokens")
    .option("-H, --header <header>", 'extra request header "Name: value" (repeatable)', p.collectHeader)
    .option("--token <token>", "admin API token, sent as Authorization: Bearer (default: TALOS_ADMIN_TOKEN)");
}

function keyFlags(cmd: Command): Command {
  return cmd
    .option("--actor <id>", "owner of the key (actor_id)")
    .option("--scopes <list>", "comma-separated scopes", p.parseList)
    .option("--ttl <duration>", "lifetime, e.g. 3600s, 90m, 720h, 30d, 1y (default: the server's)", p.parseTtl)
    .option("--metadata <json>", "JSON object stored with the key", p.parseJsonObject)
    .option("--allowed-cidrs <list>", "comma-separated CIDRs the key may be used from", p.parseList)
    .option("--rate-limit-quota <n>", "requests allowed per window", p.parseQuota)
    .option("--rate-limit-window <duration>", "rate limit window (default 60s)", p.parseWindow)
    .option("--visibility <visibility>", "secret (default) or public", p.parseVisibility)
    .option("--request-id <id>", "idempotency id: a retry with the same id and flags returns the same key");
}

function verifyFlags(cmd: Command): Command {
  return cmd.option("--no-cache", "bypass the server's verification cache").option("--no-store", "do not store the result in the cache");
}

/** get, list and update, the same for issued and imported keys. */
function kindCommands(group: Command, kind: Kind): void {
  common(group.command("get").description(`show one ${kind} key`).argument("<key-id>")).action((keyId: string, opts: p.CommonOptions) =>
    exec(async () => (await import("./get.js")).getCommand(kind, keyId, opts)),
  );
  common(
    group
      .command("list")
      .description(`list ${kind} keys, ordered by key id`)
      .option("--actor <id>", "only keys of this actor")
      .option("--status <status>", "active, revoked or expired", p.parseStatus)
      .option("--page-size <n>", "keys per page (server default 50, at most 1000)", p.parsePageSize)
      .option("--page-token <token>", "continue from a previous page")
      .option("--all", "follow next_page_token to the last page"),
  ).action((opts: ListOptions) => exec(async () => (await import("./list.js")).listCommand(kind, opts)));
  common(
    group
      .command("update")
      .description(`change an ${kind} key; only the fields given are written`)
      .argument("<key-id>")
      .option("--name <name>", "new name")
      .option("--scopes <list>", "comma-separated scopes ('' clears)", p.parseList)
      .option("--metadata <json>", "JSON object ('' clears)", p.parseJsonObject)
      .option("--allowed-cidrs <list>", "comma-separated CIDRs ('' clears the restriction)", p.parseList)
      .option("--rate-limit-quota <n>", "requests per window (0 clears the policy)", p.parseQuota)
      .option("--rate-limit-window <duration>", "rate limit window, e.g. 60s", p.parseWindow),
  ).action((keyId: string, opts: UpdateOptions) => exec(async () => (await import("./update.js")).updateCommand(kind, keyId, opts)));
}

/** `talos keys revoke <key-id>`, or `--actor <id>` for every active key of the actor (docs/leaked-keys.md#bulk-revoke-by-owner). */
function revokeAnyCommand(cmd: Command): void {
  common(
    cmd
      .argument("[key-id]")
      .option("--actor <id>", "instead of a key id: every active key of this actor (a progress bar on a terminal)")
      .option("--kind <kind>", "with --actor: only issued or only imported keys", p.parseKind)
      .option("--reason <reason>", "key_compromise, affiliation_changed, superseded or privilege_withdrawn", p.parseReason)
      .option("--description <text>", "free text, only with privilege_withdrawn"),
  ).action((keyId: string | undefined, opts: RevokeOptions & { actor?: string; kind?: "issued" | "imported" }) =>
    exec(async () => {
      if (opts.actor !== undefined) {
        if (keyId !== undefined) throw new p.UsageError("give a key id or --actor, not both");
        const actor = opts.actor;
        return (await import("./revoke-actor.js")).revokeActorCommand({ ...opts, actor });
      }
      if (keyId === undefined) throw new p.UsageError("missing key id (or --actor <id>)");
      if (opts.kind !== undefined) throw new p.UsageError("--kind goes with --actor");
      return (await import("./revoke.js")).revokeCommand("any", keyId, opts);
    }),
  );
}

function revokeCommand(cmd: Command, target: RevokeTarget): void {
  common(
    cmd
      .argument("<key-id>")
      .option("--reason <reason>", "key_compromise, affiliation_changed, superseded or privilege_withdrawn", p.parseReason)
      .option("--description <text>", "free text, only with privilege_withdrawn"),
  ).action((keyId: string, opts: RevokeOptions) => exec(async () => (await import("./revoke.js")).revokeCommand(target, keyId, opts)));
}
