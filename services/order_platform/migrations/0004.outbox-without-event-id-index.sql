-- The outbox without a unique index on event_id.
-- depends: 0003.outbox-parking

-- event_id is a uuid4 the writer draws as it inserts the row, and nothing looks a row up by
-- it: the relay claims and marks by id, consumers dedupe on it in processed_events. The
-- index cost every outbox insert, and every publish mark (not a HOT update: published_at is
-- in outbox_unpublished's predicate), a second index entry and its WAL (bench-pipeline).
-- Dropping an index takes a brief ACCESS EXCLUSIVE lock and rewrites nothing.
ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_key;
