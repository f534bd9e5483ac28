-- Idempotency keys anchored in the ledger.
--
-- Redis holds each Idempotency-Key's first answer for the 24-hour window, but Redis can lose
-- its data (a failover to a lagging replica, a restore, FLUSHALL). The ledger keeps every
-- ledger write's key, per user, with the event it belongs to, so a retry after such a loss
-- still finds the first answer and nothing is applied twice.
--
-- One row per (actor, key): whichever of `events` (applied) or `rejected_events` (refused at
-- apply time) holds event_id says how it ended. A table of its own rather than columns of
-- those two: one unique index covers both outcomes, and rows past the window can be deleted
-- (`events` is append-only). The worker claims the key in the same transaction that records
-- the event, with INSERT ... ON CONFLICT, so a second event with a taken key is recognised,
-- never applied, and never aborts its batch.
--
-- key_sha256 is the SHA-256 (hex) of the key as the client sent it; request_sha256 the hash
-- of the request it came with (route, target, If-Match and normalised body: the api computes
-- both). A key older than 24 hours no longer counts: the api ignores it, and the next event
-- with it takes its row over.
CREATE TABLE idempotency_keys (
    actor          uuid NOT NULL,
    key_sha256     text NOT NULL,
    request_sha256 text NOT NULL,
    event_id       uuid NOT NULL,
    target_id      uuid NOT NULL,
    accepted_at    timestamptz NOT NULL,
    PRIMARY KEY (actor, key_sha256)
);
-- Whether the ledger holds any key of the last 24 hours (the api asks when Redis has no
-- idempotency horizon), and the purge of old keys.
CREATE INDEX idempotency_keys_accepted ON idempotency_keys (accepted_at);
