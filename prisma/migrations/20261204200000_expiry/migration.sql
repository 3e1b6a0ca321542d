-- Expiry: a notification emitted with expiresAt leaves the inbox at that time. The expiry scan
-- (src/notifications/expiry.ts, on the instance holding its lease) reads what is due by this
-- index, oldest first. Rows without a time are not indexed.
ALTER TABLE "notification" ADD COLUMN "expires_at" TIMESTAMPTZ(3);

CREATE INDEX "notification_expires_at_idx" ON "notification"("expires_at") WHERE "expires_at" IS NOT NULL;
