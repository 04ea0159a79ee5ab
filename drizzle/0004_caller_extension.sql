ALTER TABLE "call_sessions" ADD COLUMN "caller_extension_id" uuid;--> statement-breakpoint
CREATE INDEX "call_sessions_caller_idx" ON "call_sessions" USING btree ("tenant_id","caller_extension_id");