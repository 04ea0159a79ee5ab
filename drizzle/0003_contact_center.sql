CREATE TABLE "agent_activity_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"extension_id" uuid NOT NULL,
	"user_id" uuid,
	"from_status" text NOT NULL,
	"to_status" text NOT NULL,
	"reason" text,
	"call_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "call_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"call_id" text NOT NULL,
	"direction" text NOT NULL,
	"from_number" text NOT NULL,
	"to_number" text NOT NULL,
	"queue_id" uuid,
	"extension_id" uuid,
	"status" text NOT NULL,
	"queued_at" timestamp with time zone,
	"offered_at" timestamp with time zone,
	"answered_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"wait_ms" integer DEFAULT 0 NOT NULL,
	"talk_ms" integer DEFAULT 0 NOT NULL,
	"hold_ms" integer DEFAULT 0 NOT NULL,
	"wrap_up_ms" integer DEFAULT 0 NOT NULL,
	"end_cause" text,
	"disposition" text,
	"notes" text,
	"contact_id" text,
	"recording_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "queue_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"queue_id" uuid NOT NULL,
	"call_id" text,
	"extension_id" uuid,
	"event" text NOT NULL,
	"data" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "queue_members" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"queue_id" uuid NOT NULL,
	"extension_id" uuid NOT NULL,
	"penalty" integer DEFAULT 0 NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"pause_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "queues" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"number" integer NOT NULL,
	"strategy" text DEFAULT 'ringall' NOT NULL,
	"ring_timeout" integer DEFAULT 15 NOT NULL,
	"retry_delay" integer DEFAULT 2 NOT NULL,
	"wrap_up_time" integer DEFAULT 10 NOT NULL,
	"max_wait" integer DEFAULT 300 NOT NULL,
	"max_callers" integer DEFAULT 0 NOT NULL,
	"fallback" jsonb DEFAULT '{"type":"hangup"}'::jsonb NOT NULL,
	"join_when_empty" text DEFAULT 'yes' NOT NULL,
	"service_level" integer DEFAULT 20 NOT NULL,
	"auto_pause_after" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "away_reasons" jsonb DEFAULT '["Break","Lunch","Training","Meeting"]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_activity_log" ADD CONSTRAINT "agent_activity_log_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "call_sessions" ADD CONSTRAINT "call_sessions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_events" ADD CONSTRAINT "queue_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_members" ADD CONSTRAINT "queue_members_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_members" ADD CONSTRAINT "queue_members_queue_id_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."queues"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_members" ADD CONSTRAINT "queue_members_extension_id_extensions_id_fk" FOREIGN KEY ("extension_id") REFERENCES "public"."extensions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queues" ADD CONSTRAINT "queues_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_activity_tenant_ext_idx" ON "agent_activity_log" USING btree ("tenant_id","extension_id","created_at");--> statement-breakpoint
CREATE INDEX "call_sessions_tenant_created_idx" ON "call_sessions" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "call_sessions_agent_status_idx" ON "call_sessions" USING btree ("tenant_id","extension_id","status");--> statement-breakpoint
CREATE INDEX "call_sessions_call_idx" ON "call_sessions" USING btree ("call_id");--> statement-breakpoint
CREATE INDEX "queue_events_tenant_queue_idx" ON "queue_events" USING btree ("tenant_id","queue_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "queue_members_key" ON "queue_members" USING btree ("queue_id","extension_id");--> statement-breakpoint
CREATE UNIQUE INDEX "queues_tenant_number_key" ON "queues" USING btree ("tenant_id","number");