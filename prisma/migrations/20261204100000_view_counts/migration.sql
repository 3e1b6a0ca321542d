-- Exact counts per view (issue 14): how many of a user's notifications are in each state a view
-- can select (category, type, archived, read, seen). A view's counts are then a sum over the
-- user's few rows here, whatever the size of the inbox.
CREATE TABLE "inbox_count" (
    "user_id" TEXT NOT NULL,
    "category" TEXT NOT NULL DEFAULT '',
    "type" "NotificationType" NOT NULL,
    "archived" BOOLEAN NOT NULL,
    "read" BOOLEAN NOT NULL,
    "seen" BOOLEAN NOT NULL,
    "n" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "inbox_count_pkey" PRIMARY KEY ("user_id","category","type","archived","read","seen")
);

-- Kept by statement-level triggers on "notification": every statement that inserts, updates or
-- deletes notifications (emits, updates in place, reads, archives, deletions, recalls, retention,
-- erasure, and instances of earlier releases during a rolling upgrade) moves the counts in the
-- same statement, so no write path can forget them. Rows are aggregated per statement (one upsert
-- per user and state, not per notification: a 10,000-recipient emit is 10,000 upserts in one
-- statement) and written in key order. Every writer of a user's notifications holds the user's
-- inbox_state row first, so these rows add no lock order of their own. An update that moves no
-- counted column (an idempotency key released) writes nothing. The body is a string with its
-- semicolons as \073: the Prisma CLI's pg adapter splits scripts on every semicolon, dollar quotes
-- included (see src/db/migrate.ts), so `prisma migrate deploy` keeps working on this file.
CREATE FUNCTION "herald_inbox_count"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  IF TG_OP = ''INSERT'' THEN
    INSERT INTO inbox_count AS c (user_id, category, type, archived, read, seen, n)
    SELECT recipient_id, COALESCE(category, ''''), type, archived_at IS NOT NULL, read_at IS NOT NULL, seen_at IS NOT NULL, count(*)::int
      FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (user_id, category, type, archived, read, seen) DO UPDATE SET n = c.n + EXCLUDED.n\073
  ELSIF TG_OP = ''DELETE'' THEN
    INSERT INTO inbox_count AS c (user_id, category, type, archived, read, seen, n)
    SELECT recipient_id, COALESCE(category, ''''), type, archived_at IS NOT NULL, read_at IS NOT NULL, seen_at IS NOT NULL, -count(*)::int
      FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (user_id, category, type, archived, read, seen) DO UPDATE SET n = c.n + EXCLUDED.n\073
  ELSE
    INSERT INTO inbox_count AS c (user_id, category, type, archived, read, seen, n)
    SELECT u, k, t, a, r, s, sum(d)::int FROM (
        SELECT recipient_id AS u, COALESCE(category, '''') AS k, type AS t, archived_at IS NOT NULL AS a, read_at IS NOT NULL AS r,
               seen_at IS NOT NULL AS s, 1 AS d FROM new_rows
        UNION ALL
        SELECT recipient_id, COALESCE(category, ''''), type, archived_at IS NOT NULL, read_at IS NOT NULL, seen_at IS NOT NULL, -1 FROM old_rows
      ) x
      GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (user_id, category, type, archived, read, seen) DO UPDATE SET n = c.n + EXCLUDED.n\073
  END IF\073
  RETURN NULL\073
END';

-- The triggers first: creating them waits for every write under way on "notification" and holds
-- off new ones until this migration commits, so the backfill below counts exactly what is stored.
CREATE TRIGGER "notification_count_insert" AFTER INSERT ON "notification"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "herald_inbox_count"();
CREATE TRIGGER "notification_count_update" AFTER UPDATE ON "notification"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "herald_inbox_count"();
CREATE TRIGGER "notification_count_delete" AFTER DELETE ON "notification"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "herald_inbox_count"();

INSERT INTO "inbox_count" ("user_id", "category", "type", "archived", "read", "seen", "n")
SELECT "recipient_id", COALESCE("category", ''), "type", "archived_at" IS NOT NULL, "read_at" IS NOT NULL, "seen_at" IS NOT NULL, count(*)::int
  FROM "notification" GROUP BY 1, 2, 3, 4, 5, 6;
