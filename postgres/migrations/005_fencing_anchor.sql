-- Fencing anchored in PostgreSQL. A partition's token alone cannot tell two holders apart when
-- Redis, after losing its data, hands out a token PostgreSQL has already seen: the holder that
-- fenced with it is recorded too, and an equal token passes the fence only for that holder.
-- last_ms/last_seq keep the newest stream entry id applied in the partition, so a Redis restored
-- from an older snapshot (its stream behind what PostgreSQL applied) is recognised.
ALTER TABLE partitions
    ADD COLUMN holder text,
    ADD COLUMN last_ms bigint,
    ADD COLUMN last_seq bigint;
