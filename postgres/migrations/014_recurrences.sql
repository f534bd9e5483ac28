-- Recurring expenses. An expense may carry a recurrence rule ({"every", "unit", "until"}, JSON
-- as the event gave it): it is then the rule's template and its first occurrence. The
-- occurrences the workers create for it are ordinary expenses that name it in recurrence_of.
ALTER TABLE expenses
    ADD COLUMN recurrence json,
    ADD COLUMN recurrence_of uuid;
CREATE INDEX expenses_recurring ON expenses (id) WHERE recurrence IS NOT NULL AND NOT deleted;

-- The scheduler's progress per rule (rule_id = the template expense's id): the latest date it
-- queued an occurrence for (at first the template's own date), the next date due (NULL when the
-- rule has ended) and the template's version that date was computed from. A rule whose
-- template changed (another version), was deleted or lost its recurrence is read again from
-- the template; the row itself is only the scheduler's, never the ledger's.
CREATE TABLE recurrences (
    rule_id      uuid PRIMARY KEY,
    group_id     uuid NOT NULL REFERENCES groups (id),
    last_date    date NOT NULL,
    next_date    date,
    rule_version bigint NOT NULL
);
CREATE INDEX recurrences_due ON recurrences (next_date) WHERE next_date IS NOT NULL;
CREATE INDEX recurrences_group ON recurrences (group_id);
