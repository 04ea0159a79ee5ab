ALTER TABLE "call_sessions" ADD COLUMN "trunk_id" uuid;--> statement-breakpoint
ALTER TABLE "call_sessions" ADD COLUMN "external_number" text;--> statement-breakpoint
ALTER TABLE "call_sessions" ADD COLUMN "did" text;--> statement-breakpoint
ALTER TABLE "call_sessions" ADD COLUMN "caller_id_presented" text;