CREATE TABLE "key_usage" (
	"nid" uuid NOT NULL,
	"key_id" text COLLATE "C" NOT NULL,
	"hour" timestamp (3) with time zone NOT NULL,
	"outcome" text NOT NULL,
	"count" bigint NOT NULL,
	CONSTRAINT "key_usage_pkey" PRIMARY KEY("nid","key_id","hour","outcome")
);
--> statement-breakpoint
CREATE INDEX "key_usage_hour_idx" ON "key_usage" USING btree ("hour");