ALTER TABLE outbox ADD CONSTRAINT outbox_event_id_key UNIQUE (event_id);
