CREATE TABLE "registrations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"extension_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"contact_uri" text NOT NULL,
	"call_id" text NOT NULL,
	"cseq" integer NOT NULL,
	"transport" text NOT NULL,
	"source_address" text NOT NULL,
	"source_port" integer NOT NULL,
	"user_agent" text,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "registrations" ADD CONSTRAINT "registrations_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "registrations" ADD CONSTRAINT "registrations_extension_id_extensions_id_fk" FOREIGN KEY ("extension_id") REFERENCES "public"."extensions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "registrations_binding_key" ON "registrations" USING btree ("extension_id","contact_uri");--> statement-breakpoint
CREATE INDEX "registrations_tenant_idx" ON "registrations" USING btree ("tenant_id","number");