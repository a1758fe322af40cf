-- Reverts 0002_usage: the per-key usage history is dropped with its table.
DROP TABLE IF EXISTS "key_usage";
