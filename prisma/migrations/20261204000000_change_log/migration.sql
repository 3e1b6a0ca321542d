-- The inbox as a replayable log: every change to a user's inbox takes the next position of the
-- user's sequence (inbox_state.last_seq), not only additions. A notification's change_seq is the
-- position of its latest change, so a replay after a cursor reads each changed notification once,
-- in its latest state, by the index (recipient_id, change_seq).
CREATE TYPE "TaskState" AS ENUM ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- Rows stored so far changed last when they were added. The default (0) is for instances of the
-- previous release during a rolling upgrade, which insert without the column: their rows are
-- replayed by notificationAdded (by seq), not by an inboxEvents replay.
ALTER TABLE "notification" ADD COLUMN "change_seq" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN "progress" DOUBLE PRECISION,
ADD COLUMN "task_state" "TaskState",
ADD COLUMN "update_key" TEXT,
ADD COLUMN "updated_at" TIMESTAMPTZ(3);
UPDATE "notification" SET "change_seq" = "seq";

CREATE INDEX "notification_recipient_id_change_seq_idx" ON "notification"("recipient_id", "change_seq");

-- Update keys are unique per recipient, like idempotency keys. Rows without one are not indexed.
CREATE UNIQUE INDEX "notification_recipient_id_update_key_key" ON "notification"("recipient_id", "update_key") WHERE "update_key" IS NOT NULL;
-- A recall finds a key's notifications of every recipient.
CREATE INDEX "notification_update_key_idx" ON "notification"("update_key") WHERE "update_key" IS NOT NULL;

-- A deletion's position, so that a replay reports it (a deleted row leaves nothing else behind).
CREATE TABLE "notification_tombstone" (
    "recipient_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "notification_id" UUID NOT NULL,
    "notification_seq" BIGINT NOT NULL,
    "deleted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_tombstone_pkey" PRIMARY KEY ("recipient_id","seq")
);

-- Retention prunes tombstones by time, like notifications.
CREATE INDEX "notification_tombstone_deleted_at_idx" ON "notification_tombstone" USING BRIN ("deleted_at");
