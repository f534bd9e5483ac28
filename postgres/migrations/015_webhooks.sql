-- Webhooks: a group's subscriptions to its applied ledger events, and the
-- outbox of their deliveries.
--
-- The worker inserts one delivery per matching webhook in the transaction
-- that applies an event; delivery threads (worker/webhooks.c) claim due rows
-- (FOR UPDATE SKIP LOCKED), POST them off the apply path and record the
-- outcome. Deleting a webhook deletes its deliveries.

CREATE TABLE webhooks (
    id         uuid PRIMARY KEY,
    group_id   uuid NOT NULL REFERENCES groups (id),
    url        text NOT NULL,
    -- The event types it wants; NULL: every type.
    events     text[],
    -- The HMAC-SHA256 key of its signatures, shown once at creation.
    secret     text NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A delivery thread is sending one of its deliveries until then: a webhook has one
    -- delivery in flight at a time, so a slow receiver holds one thread (a crashed worker's
    -- claim lapses).
    busy_until timestamptz
);
CREATE INDEX webhooks_group ON webhooks (group_id, created_at);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Creation order, the key of the deliveries list.
    seq              bigserial NOT NULL UNIQUE,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES events (event_id),
    type             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    first_attempt_at timestamptz,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, seq);
