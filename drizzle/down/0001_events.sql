-- Reverses 0001_events: the outbox, its delivery records and the expiry-warning marks.
DROP TABLE IF EXISTS "event_deliveries";
--> statement-breakpoint
DROP TABLE IF EXISTS "event_expiry_marks";
--> statement-breakpoint
DROP TABLE IF EXISTS "events";
