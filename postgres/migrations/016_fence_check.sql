-- The worker sends a batch's writes, its fence and its COMMIT in one pipeline (one round trip):
-- when the fence finds a partition's lease taken over, the fence statement itself must fail, so
-- that the COMMIT after it finds the transaction failed and applies nothing. fence_check(kept,
-- wanted) is true when the fence kept every partition of the batch, and raises SQLSTATE 55F01
-- (class 55, object not in prerequisite state: not the event's fault, the batch is retried
-- under a new lease) when it did not.
CREATE FUNCTION fence_check(kept bigint, wanted integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF kept <> wanted THEN
        RAISE EXCEPTION 'fenced off: % of % partitions kept their lease', kept, wanted
            USING ERRCODE = '55F01';
    END IF;
    RETURN true;
END
$$;
