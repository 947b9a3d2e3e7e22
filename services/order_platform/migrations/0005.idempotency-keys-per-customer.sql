-- Idempotency-Keys scoped to the customer who sent them.
-- depends: 0004.outbox-without-event-id-index

-- A key was global: a customer who sent a key that another customer had used got a 409 that
-- named the other customer's order, and could not place its own order with it. Keys are the
-- caller's own, as in every API that takes them: the primary key is (customer_id, key).
ALTER TABLE idempotency_keys ADD COLUMN customer_id text;
UPDATE idempotency_keys k SET customer_id = o.customer_id FROM orders o WHERE o.id = k.order_id;

-- The migration Job runs before the rollout, so the previous API version inserts keys for a
-- while longer, without a customer: such a row takes its order's customer, as the backfill
-- above did. The next schema change may drop the trigger once no such version runs.
CREATE FUNCTION idempotency_key_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.customer_id IS NULL THEN
        SELECT o.customer_id INTO NEW.customer_id FROM orders o WHERE o.id = NEW.order_id;
    END IF;
    RETURN NEW;
END
$$;
-- WHEN: the current version's inserts, which name the customer, call no function at all.
CREATE TRIGGER idempotency_key_customer BEFORE INSERT ON idempotency_keys
    FOR EACH ROW WHEN (NEW.customer_id IS NULL) EXECUTE FUNCTION idempotency_key_customer();

ALTER TABLE idempotency_keys ALTER COLUMN customer_id SET NOT NULL,
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD PRIMARY KEY (customer_id, key);
