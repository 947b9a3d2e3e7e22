ALTER TABLE outbox DROP COLUMN parked_at;
