-- Catalogue, orders, status history and idempotency keys.
-- depends:

CREATE TABLE products (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku         text NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    -- The CHECK is the last line of defence against oversell: even a buggy
    -- decrement cannot commit negative stock.
    stock       integer NOT NULL CHECK (stock >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    -- Monotonic position for keyset pagination: (created_at, id) can tie and
    -- clocks can step, a sequence cannot.
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    customer_id      text NOT NULL,
    status           text NOT NULL
                     CHECK (status IN ('PENDING', 'STOCK_VALIDATED', 'CONFIRMED', 'REJECTED')),
    total_cents      bigint NOT NULL CHECK (total_cents >= 0),
    rejection_reason text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'REJECTED') = (rejection_reason IS NOT NULL))
);
CREATE INDEX orders_by_customer ON orders (customer_id, seq DESC);
CREATE INDEX orders_by_status ON orders (status, seq DESC);

CREATE TABLE order_lines (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          smallint NOT NULL,
    product_id       uuid NOT NULL REFERENCES products (id),
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_cents integer NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status      text NOT NULL,
    reason      text,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX order_status_history_by_order ON order_status_history (order_id, id);

CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now()
);
