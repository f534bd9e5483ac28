-- splitter schema, version 1.
--
-- The events table is the ledger's source of truth; expenses, payments and
-- balances are projections the worker keeps in step with it, in the same
-- transaction that records each event.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    currency   char(3) NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Bumped by every applied ledger event and every membership change.
    version    bigint NOT NULL DEFAULT 1,
    -- Sequence number of the last applied ledger event of this group.
    last_seq   bigint NOT NULL DEFAULT 0
);

CREATE TABLE members (
    id         uuid PRIMARY KEY,
    group_id   uuid NOT NULL REFERENCES groups (id),
    name       text NOT NULL,
    user_id    uuid REFERENCES users (id),
    position   bigserial NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (group_id, user_id)
);
CREATE INDEX members_group ON members (group_id, position);
CREATE INDEX members_user ON members (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE invites (
    token_hash bytea PRIMARY KEY,
    group_id   uuid NOT NULL REFERENCES groups (id),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- The ledger: every applied event, in per-group order. Append-only.
CREATE TABLE events (
    event_id        uuid PRIMARY KEY,
    group_id        uuid NOT NULL REFERENCES groups (id),
    seq             bigint NOT NULL,
    type            text NOT NULL,
    actor           uuid NOT NULL REFERENCES users (id),
    accepted_at     timestamptz NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT now(),
    idempotency_key text,
    payload         jsonb NOT NULL,
    UNIQUE (group_id, seq)
);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- Events the worker refused at apply time; they never reach the ledger.
CREATE TABLE rejected_events (
    event_id    uuid PRIMARY KEY,
    group_id    uuid NOT NULL,
    type        text NOT NULL,
    actor       uuid NOT NULL,
    accepted_at timestamptz NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    problem     jsonb NOT NULL
);

CREATE TABLE expenses (
    id                       uuid PRIMARY KEY,
    group_id                 uuid NOT NULL REFERENCES groups (id),
    description              text NOT NULL,
    amount                   bigint NOT NULL CHECK (amount > 0),
    currency                 char(3) NOT NULL,
    exchange_rate            text NOT NULL,
    amount_in_group_currency bigint NOT NULL CHECK (amount_in_group_currency >= 0),
    date                     date NOT NULL,
    category                 text,
    paid_by                  jsonb NOT NULL,
    split                    jsonb NOT NULL,
    -- Each member's part in group-currency minor units, payers and split
    -- members merged: [{"member_id", "paid", "owed"}], in first-seen order.
    shares                   jsonb NOT NULL,
    created_by               uuid NOT NULL REFERENCES users (id),
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    version                  bigint NOT NULL DEFAULT 1,
    deleted                  boolean NOT NULL DEFAULT false,
    seq                      bigint NOT NULL
);
CREATE INDEX expenses_group_list ON expenses (group_id, created_at DESC, id DESC) WHERE NOT deleted;

CREATE TABLE payments (
    id          uuid PRIMARY KEY,
    group_id    uuid NOT NULL REFERENCES groups (id),
    from_member uuid NOT NULL REFERENCES members (id),
    to_member   uuid NOT NULL REFERENCES members (id),
    amount      bigint NOT NULL CHECK (amount > 0),
    date        date NOT NULL,
    note        text,
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    seq         bigint NOT NULL
);
CREATE INDEX payments_group ON payments (group_id, created_at DESC, id DESC);

-- The balances projection: one row per member, kept incrementally.
CREATE TABLE balances (
    group_id  uuid NOT NULL REFERENCES groups (id),
    member_id uuid NOT NULL REFERENCES members (id),
    paid      bigint NOT NULL DEFAULT 0,
    owed      bigint NOT NULL DEFAULT 0,
    sent      bigint NOT NULL DEFAULT 0,
    received  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, member_id)
);

-- Partition fencing: a worker commits only while its lease token is the
-- newest one seen for the partition.
CREATE TABLE partitions (
    p     int PRIMARY KEY,
    token bigint NOT NULL DEFAULT 0
);
