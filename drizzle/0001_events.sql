CREATE TABLE "event_deliveries" (
	"event_id" uuid NOT NULL,
	"webhook_id" text NOT NULL,
	"nid" uuid NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_time" timestamp (3) with time zone NOT NULL,
	"last_attempt_time" timestamp (3) with time zone,
	"last_status" integer,
	"last_error" text DEFAULT '' NOT NULL,
	"delivered_time" timestamp (3) with time zone,
	CONSTRAINT "event_deliveries_pkey" PRIMARY KEY("event_id","webhook_id"),
	CONSTRAINT "event_deliveries_state_check" CHECK ("event_deliveries"."state" in ('pending', 'delivered', 'dead'))
);
--> statement-breakpoint
CREATE TABLE "event_expiry_marks" (
	"nid" uuid NOT NULL,
	"key_id" text COLLATE "C" NOT NULL,
	"mark" text NOT NULL,
	"create_time" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_expiry_marks_pkey" PRIMARY KEY("nid","key_id","mark")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"nid" uuid NOT NULL,
	"type" text NOT NULL,
	"key_id" text COLLATE "C" NOT NULL,
	"key_kind" text NOT NULL,
	"actor_id" text DEFAULT '' NOT NULL,
	"source" text NOT NULL,
	"principal" text DEFAULT '' NOT NULL,
	"occurred_time" timestamp (3) with time zone NOT NULL,
	"payload" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "event_deliveries" ADD CONSTRAINT "event_deliveries_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "event_deliveries_pending_idx" ON "event_deliveries" USING btree ("webhook_id","next_attempt_time") WHERE "event_deliveries"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "events_nid_id_idx" ON "events" USING btree ("nid","id");--> statement-breakpoint
CREATE INDEX "events_nid_key_id_id_idx" ON "events" USING btree ("nid","key_id","id");--> statement-breakpoint
CREATE INDEX "events_nid_actor_id_id_idx" ON "events" USING btree ("nid","actor_id","id");--> statement-breakpoint
CREATE INDEX "events_nid_type_id_idx" ON "events" USING btree ("nid","type","id");--> statement-breakpoint
CREATE INDEX "events_occurred_time_idx" ON "events" USING btree ("occurred_time");