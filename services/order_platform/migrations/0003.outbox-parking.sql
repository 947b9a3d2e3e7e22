-- Parking: an outbox row EventBridge keeps rejecting stops being retried.
-- depends: 0002.outbox-and-processed-events

-- The relay sets parked_at after RELAY_MAX_ATTEMPTS rejected attempts and never claims
-- the row again; `order-dlq outbox` lists parked rows, `order-dlq outbox-retry` clears
-- parked_at (and the attempt count) so the relay tries once more.
-- Nullable without a default: a catalogue-only change, no table rewrite, no long lock.
-- No new index: a parked row is unpublished, so `outbox_unpublished` already covers
-- both the relay's claim and the listing of parked rows.
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;
