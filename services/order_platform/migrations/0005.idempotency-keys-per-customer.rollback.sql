-- Back to one global Idempotency-Key space. A key that several customers used can keep only
-- one owner: the first to use it keeps it; the later ones' orders stay, without their key.
DELETE FROM idempotency_keys k USING idempotency_keys first
 WHERE k.key = first.key
   AND (k.created_at, k.customer_id) > (first.created_at, first.customer_id);
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey, ADD PRIMARY KEY (key);
DROP TRIGGER idempotency_key_customer ON idempotency_keys;
DROP FUNCTION idempotency_key_customer();
ALTER TABLE idempotency_keys DROP COLUMN customer_id;
