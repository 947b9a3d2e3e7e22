-- Transactional outbox and consumer deduplication.
-- depends: 0001.catalog-and-orders

-- Rows are written in the same transaction as the state change they announce;
-- the relay publishes them and sets published_at only after EventBridge accepted them.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    event_type   text NOT NULL,
    source       text NOT NULL,
    detail       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- A consumer writes (consumer, event_id) in the same transaction as its effect,
-- so a redelivered message finds its row and is acknowledged without effect.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
