CREATE TABLE "recordings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"call_id" text NOT NULL,
	"caller_number" integer,
	"callee_number" integer,
	"path" text NOT NULL,
	"duration_ms" integer NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"key_id" text NOT NULL,
	"channels" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "extensions" ADD COLUMN "recording_policy" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "recording_policy" text DEFAULT 'on-demand' NOT NULL;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "recordings_tenant_started_idx" ON "recordings" USING btree ("tenant_id","started_at");--> statement-breakpoint
CREATE INDEX "recordings_call_idx" ON "recordings" USING btree ("call_id");