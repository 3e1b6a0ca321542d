-- Seen vs read: "seen" is the bell badge (the user opened the list), "read" is the item itself.
-- Reading implies seeing, so notifications read before this migration count as seen.
ALTER TABLE "notification" ADD COLUMN "seen_at" TIMESTAMPTZ(3);
UPDATE "notification" SET "seen_at" = "read_at" WHERE "read_at" IS NOT NULL;

-- The exact unseen count (unseen and unarchived), kept beside the unread count.
ALTER TABLE "inbox_state" ADD COLUMN "unseen_count" INTEGER NOT NULL DEFAULT 0;
UPDATE "inbox_state" s SET "unseen_count" = c.n
  FROM (SELECT "recipient_id", count(*)::int AS n FROM "notification"
         WHERE "seen_at" IS NULL AND "archived_at" IS NULL GROUP BY "recipient_id") c
  WHERE c."recipient_id" = s."user_id";
