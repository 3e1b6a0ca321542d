-- What a UI shows beside the text: where a click goes, and who did it. Both optional, so
-- existing rows and producers that send neither are unchanged (no rewrite of the table:
-- adding a nullable column without a default only changes the catalog).
ALTER TABLE "notification" ADD COLUMN "url" TEXT;
ALTER TABLE "notification" ADD COLUMN "actor" JSONB;
