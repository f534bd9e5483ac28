-- 010: one definition of the timestamp format every resource uses (RFC 3339, UTC, "Z").
-- rfc3339() has whole seconds, as every resource shows them; rfc3339_us() keeps the
-- microseconds, for cursors and exports that must order exactly.
CREATE OR REPLACE FUNCTION rfc3339(ts timestamptz) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

CREATE OR REPLACE FUNCTION rfc3339_us(ts timestamptz) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
