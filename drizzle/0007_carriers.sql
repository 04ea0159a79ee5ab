CREATE TABLE "outbound_routes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"priority" integer NOT NULL,
	"patterns" jsonb NOT NULL,
	"strip" integer DEFAULT 0 NOT NULL,
	"prepend" text DEFAULT '' NOT NULL,
	"trunk_ids" jsonb NOT NULL,
	"caller_id" text,
	"withhold_caller_id" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "phone_numbers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"number" text NOT NULL,
	"trunk_id" uuid,
	"destination" jsonb NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "trunks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"servers" jsonb NOT NULL,
	"outbound_proxy" text,
	"auth" text NOT NULL,
	"allowed_addresses" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"username" text,
	"auth_username" text,
	"password_sealed" text,
	"from_domain" text,
	"register_expires" integer DEFAULT 3600 NOT NULL,
	"codecs" jsonb DEFAULT '["PCMU","PCMA"]'::jsonb NOT NULL,
	"dtmf_mode" text DEFAULT 'rfc4733' NOT NULL,
	"number_format" text DEFAULT 'e164' NOT NULL,
	"country" text NOT NULL,
	"dialled_number_header" text DEFAULT 'request-uri' NOT NULL,
	"max_calls" integer DEFAULT 0 NOT NULL,
	"max_calls_per_second" integer DEFAULT 0 NOT NULL,
	"keepalive_seconds" integer DEFAULT 30 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "queues" ADD COLUMN "caller_id" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "country" text DEFAULT 'US' NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "emergency_numbers" jsonb DEFAULT '["911","112"]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "max_external_calls" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "dial_classes" jsonb DEFAULT '{"ADMIN":["emergency","internal","tollfree","national","mobile"],"MANAGER":["emergency","internal","tollfree","national","mobile"],"SUPERVISOR":["emergency","internal","tollfree","national","mobile"],"AGENT":["emergency","internal","tollfree","national","mobile"]}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "dial_classes" jsonb;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "caller_id" text;--> statement-breakpoint
ALTER TABLE "outbound_routes" ADD CONSTRAINT "outbound_routes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD CONSTRAINT "phone_numbers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD CONSTRAINT "phone_numbers_trunk_id_trunks_id_fk" FOREIGN KEY ("trunk_id") REFERENCES "public"."trunks"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "trunks" ADD CONSTRAINT "trunks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "outbound_routes_tenant_priority_idx" ON "outbound_routes" USING btree ("tenant_id","priority");--> statement-breakpoint
CREATE UNIQUE INDEX "phone_numbers_number_key" ON "phone_numbers" USING btree ("number");--> statement-breakpoint
CREATE INDEX "phone_numbers_tenant_idx" ON "phone_numbers" USING btree ("tenant_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "trunks_tenant_name_key" ON "trunks" USING btree ("tenant_id","name");