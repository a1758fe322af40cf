export type { KeyPatch, LastUsedTouch, ListQuery, MigrationState, Repo, Store, StoreStats, UsageCount } from "./types.js";
export {
  DriverErrorSummary,
  isConnectionError,
  isStatementTimeout,
  isStoreError,
  rawDriverError,
  StatementTimeoutError,
  StoreError,
  StoreUnavailableError,
  wrapDbError,
} from "./errors.js";
export { DEFAULT_MIGRATIONS_FOLDER, dsnKind, openStore, pgliteDir, redactDsn } from "./open.js";
export type { DsnKind, OpenStoreOptions } from "./open.js";
export { createRepo, recordToRow, rowToRecord } from "./repo.js";
export type { AnyPgDatabase } from "./repo.js";
export { apiKeys, networks } from "./schema.js";
export type { ApiKeyInsert, ApiKeyRow } from "./schema.js";
export type { DeliveryOutcome, DeliveryStats, EventRepo, NewDelivery } from "./events-repo.js";
export { eventDeliveries, eventExpiryMarks, events } from "./schema.js";
