-- Reverses 0000_init.sql: drops everything it created, and with it every key. Statements are
-- separated as in the up script; talos runs them in one transaction (docs/migrations.md).
DROP TABLE IF EXISTS "api_keys";
--> statement-breakpoint
DROP TABLE IF EXISTS "networks";
