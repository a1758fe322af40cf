CREATE TABLE "api_keys" (
	"nid" uuid NOT NULL,
	"key_id" text COLLATE "C" NOT NULL,
	"kind" text NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"actor_id" text DEFAULT '' NOT NULL,
	"scopes" text[] DEFAULT '{}'::text[] NOT NULL,
	"metadata" jsonb,
	"create_time" timestamp (3) with time zone NOT NULL,
	"update_time" timestamp (3) with time zone NOT NULL,
	"expire_time" timestamp (3) with time zone,
	"last_used_time" timestamp (3) with time zone,
	"rate_limit_quota" bigint,
	"rate_limit_window_seconds" integer,
	"rate_limit_unit" text,
	"allowed_cidrs" text[],
	"revoked" boolean DEFAULT false NOT NULL,
	"revocation_reason" smallint DEFAULT 0 NOT NULL,
	"revocation_description" text DEFAULT '' NOT NULL,
	"visibility" smallint DEFAULT 1 NOT NULL,
	"request_id" text,
	"request_fingerprint" text,
	CONSTRAINT "api_keys_pkey" PRIMARY KEY("nid","key_id"),
	CONSTRAINT "api_keys_nid_kind_request_id_key" UNIQUE("nid","kind","request_id"),
	CONSTRAINT "api_keys_kind_check" CHECK ("api_keys"."kind" in ('issued', 'imported'))
);
--> statement-breakpoint
CREATE TABLE "networks" (
	"nid" uuid PRIMARY KEY NOT NULL,
	"create_time" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "api_keys_nid_kind_actor_id_key_id_idx" ON "api_keys" USING btree ("nid","kind","actor_id","key_id");--> statement-breakpoint
CREATE INDEX "api_keys_nid_kind_revoked_expire_time_idx" ON "api_keys" USING btree ("nid","kind","revoked","expire_time");--> statement-breakpoint
CREATE INDEX "api_keys_nid_kind_key_id_idx" ON "api_keys" USING btree ("nid","kind","key_id");--> statement-breakpoint
INSERT INTO "networks" ("nid") VALUES ('00000000-0000-0000-0000-000000000000') ON CONFLICT DO NOTHING;
