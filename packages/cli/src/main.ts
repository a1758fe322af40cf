import cluster from "node:cluster";
import { Command, CommanderError } from "commander";
import { VERSION } from "@talos/core/version";
import { registerKeysCommands } from "./commands/keys/index.js";
import { registerEventsCommands } from "./commands/events/index.js";

/** `talos`: one file per command, heavy modules loaded lazily (docs/architecture.md#habits). */
const program = new Command()
  .name("talos")
  .description("Talos for TypeScript: an Ory Talos compatible API key server")
  .version(VERSION, "--version")
  .option("-c, --config <file>", "YAML or JSON config file")
  .exitOverride();

const globalConfig = () => program.opts<{ config?: string }>().config;

program
  .command("serve")
  .description("start the server: all (default), admin or public")
  .argument("[mode]", "all | admin | public")
  .option("-c, --config <file>", "YAML or JSON config file")
  .option("--dev", "development mode: embedded database and generated secrets under ./.talos/")
  .option("--migrate", "apply pending PostgreSQL migrations before serving")
  .action(async (mode: string | undefined, opts: { config?: string; dev?: boolean; migrate?: boolean }) => {
    const { serveCommand } = await import("./commands/serve.js");
    process.exitCode = await serveCommand(mode, { ...opts, config: opts.config ?? globalConfig() });
    // A cluster worker's IPC channel would keep it alive once it has finished. Through the worker
    // object, not process.disconnect(): node:cluster treats a bare disconnect as the primary having
    // gone and exits 0 at once, losing the exit code.
    if (cluster.isWorker && process.connected) cluster.worker?.disconnect();
  });

program
  .command("proxy")
  .description("verify-caching sidecar (default) or key-auth gateway in front of an upstream (docs/proxy.md)")
  .option("-c, --config <file>", "YAML or JSON config file (its proxy section)")
  .option("--mode <mode>", "sidecar | gateway")
  .option("--upstream <url>", "the central Talos (sidecar) or the protected app (gateway)")
  .option("--talos <url>", "gateway mode: the central Talos admin URL")
  .option("--listen <addr>", "[host]:port to listen on (default :8080)")
  .option("--metrics-listen <addr>", "[host]:port of health and /metrics (default :8081)")
  .option("--cache-ttl <duration>", "how long valid verify answers are cached (default 60s)")
  .option("--cache-max-size <bytes>", "cache size bound in bytes (default 100 MiB)")
  .option("--trust-x-forwarded-host", "take the host from X-Forwarded-Host")
  .option("--allowed-hosts <hosts>", "comma-separated hosts to serve; others get 403")
  .option("--invalidation <how>", "stream (default) | redis | none")
  .option("--redis <addrs>", "the central servers' Redis host:port (shared rate limits on hits)")
  .action(async (opts: Record<string, string | boolean | undefined>) => {
    const { proxyCommand } = await import("./commands/proxy.js");
    process.exitCode = await proxyCommand({ ...opts, config: (opts.config as string | undefined) ?? globalConfig() });
  });

const migrate = program.command("migrate").description("database migrations (PostgreSQL)");
for (const action of ["up", "status"] as const) {
  migrate
    .command(action)
    .description(action === "up" ? "apply pending migrations" : "list migrations and when they were applied")
    .option("--database <dsn>", "database DSN (default: TALOS_DB_DSN, DSN, then the config file)")
    .option("-c, --config <file>", "YAML or JSON config file")
    .action(async (opts: { database?: string; config?: string }) => {
      const { migrateCommand } = await import("./commands/migrate.js");
      process.exitCode = await migrateCommand(action, { ...opts, config: opts.config ?? globalConfig() });
    });
}

migrate
  .command("down")
  .description("roll back the newest applied migrations with their down scripts (PostgreSQL only)")
  .option("--steps <n>", "how many migrations to roll back (default 1)")
  .option("--database <dsn>", "database DSN (default: TALOS_DB_DSN, DSN, then the config file)")
  .option("-c, --config <file>", "YAML or JSON config file")
  .action(async (opts: { steps?: string; database?: string; config?: string }) => {
    const { migrateDownCommand } = await import("./commands/migrate-down.js");
    process.exitCode = await migrateDownCommand({ ...opts, config: opts.config ?? globalConfig() });
  });
migrate
  .command("force")
  .description("record the first <version> migrations as applied without running SQL (PostgreSQL only)")
  .argument("<version>", 'a number as "migrate status" prints it (0 = none), or a migration name')
  .option("--database <dsn>", "database DSN (default: TALOS_DB_DSN, DSN, then the config file)")
  .option("-c, --config <file>", "YAML or JSON config file")
  .action(async (version: string, opts: { database?: string; config?: string }) => {
    const { migrateForceCommand } = await import("./commands/migrate-down.js");
    process.exitCode = await migrateForceCommand(version, { ...opts, config: opts.config ?? globalConfig() });
  });

const jwk = program.command("jwk").description("JSON Web Keys for derived JWTs");
jwk
  .command("generate")
  .description("print a new private JWK: eddsa (default), rsa, ecdsa (P-256, ES256) or hmac (oct, never signs derived tokens)")
  .argument("[type]", "eddsa | rsa | ecdsa | hmac")
  .option("--kid <id>", "key id (default: RFC 7638 thumbprint)")
  .option("--bits <bits>", "RSA key size: 2048 (default), 3072 or 4096; HMAC: 256 (default), 384 or 512")
  .option("--jwks", 'wrap the key as a JWK Set {"keys":[…]}')
  .option("--base64", "print a base64:// URL for credentials.derived_tokens.jwt.signing_keys.urls (implies --jwks)")
  .action(async (type: string | undefined, opts: { kid?: string; bits?: string; jwks?: boolean; base64?: boolean }) => {
    const { jwkGenerateCommand } = await import("./commands/jwk.js");
    process.exitCode = await jwkGenerateCommand(type, opts);
  });

program
  .command("admin-token")
  .description("admin API tokens (serve.admin_auth.mode tokens)")
  .command("generate")
  .description("print a new random admin token and the serve.admin_auth.tokens entry that accepts it")
  .option("--name <name>", "name of the token's principal (logs, events)", "admin")
  .option("--permissions <list>", "comma-separated: keys:read, keys:write, keys:verify, tokens:derive, events:read, admin", "admin")
  .action(async (opts: { name: string; permissions: string }) => {
    const { adminTokenGenerateCommand } = await import("./commands/admin-token.js");
    process.exitCode = adminTokenGenerateCommand(opts);
  });

// `talos keys …` and `talos jwk get`: declarations only; each action loads its own file
registerKeysCommands(program, jwk);
registerEventsCommands(program);

program
  .command("version")
  .description("print the version")
  .action(() => {
    process.stdout.write(`${VERSION}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version exit 0; usage mistakes exit 2 (docs/cli.md).
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
