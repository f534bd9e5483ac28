-- Idempotency keys of the synchronous writes (creating groups and members, invites, accepting
-- an invite).
--
-- These writes commit in PostgreSQL before they answer, so their Idempotency-Key lives here,
-- claimed in the same statement as the write: either both commit or neither does. A 503 (the
-- request's deadline cancelled the statement, a lock or statement timeout) therefore means
-- "not committed", or, when the commit won the race, a retry with the same key finds the row
-- and answers with what was committed.
--
-- One row per (actor, key): key_sha256 is the SHA-256 (hex) of the key as the client sent
-- it, request_sha256 the hash of the request (method, path and normalised body). result is
-- what the write's statement returned: a JSON array of rows, each an array of its columns as
-- text (null for NULL), from which the api answers a retry exactly as it answered the first
-- time. A row older than 24 hours no longer counts: the api ignores it and deletes it (the
-- key's own when it is used again, and a few of the oldest with every keyed write).
CREATE TABLE sync_request_keys (
    actor          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_sha256     text NOT NULL,
    request_sha256 text NOT NULL,
    result         json NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key_sha256)
);

CREATE INDEX sync_request_keys_created_at ON sync_request_keys (created_at);
