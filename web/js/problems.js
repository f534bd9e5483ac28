// What the server's problems (RFC 9457) say, in sentences for people. The API speaks to
// programs ("must differ from from_member", "/problems/version-conflict"); the reader gets a
// sentence per problem type and per field error, and a sensible sentence for anything new.

import { ApiError } from './api.js';
import { t } from './i18n.js';

/** The sentence for a problem type (the last segment of `type`), by status when unknown. */
const TYPES = {
    malformed: 'The app sent something the server could not read. Reload the page and try again.',
    unauthorized: 'Please log in again.',
    forbidden: 'You are not allowed to do that in this group.',
    'not-found': 'This no longer exists, or you are not a member of its group.',
    'method-not-allowed': 'The server does not offer this yet.',
    'version-conflict': 'Someone changed this meanwhile. Reload the page to see the latest version.',
    'email-taken': 'An account with this email already exists. Log in instead.',
    conflict: 'That clashes with a change someone just made. Reload the page and try again.',
    'duplicate-request': 'This was already saved.',
    'group-archived': 'This group is archived. Unarchive it to change it.',
    'precondition-failed': 'Someone changed this meanwhile. Reload the page to see the latest version.',
    'precondition-required': 'Reload the page and try again.',
    'too-large': 'That is more text than splitter accepts. Make it shorter.',
    'unsupported-media-type': 'The app sent something the server could not read. Reload the page and try again.',
    validation: 'Please check the highlighted fields.',
    'rate-limited': 'Too many attempts. Wait a moment and try again.',
    internal: 'Something went wrong on the server. Try again in a moment.',
    unavailable: 'splitter is busy or restarting. Try again in a moment.',
    timeout: 'splitter is busy or restarting. Try again in a moment.',
};

const BY_STATUS = {
    400: 'malformed', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 409: 'conflict',
    412: 'precondition-failed', 413: 'too-large', 422: 'validation', 429: 'rate-limited',
    500: 'internal', 502: 'unavailable', 503: 'unavailable', 504: 'timeout',
};

/** The problem's type name ("validation"), from its `type` or else its status. */
export function problemKind(err) {
    const type = String(err?.problem?.type ?? '');
    const m = /\/problems\/([a-z-]+)$/.exec(type);
    if (m && Object.hasOwn(TYPES, m[1])) return m[1];
    return BY_STATUS[err?.status] ?? null;
}

/** A sentence for any error a request can end with (ApiError, or a network failure). */
export function problemSentence(err) {
    if (err instanceof ApiError) {
        const kind = problemKind(err);
        if (kind) return t(TYPES[kind]);
        return t('That did not work (error {status}). Try again.', { status: err.status });
    }
    return globalThis.navigator?.onLine === false ? t('You seem to be offline. Try again.') : t('Could not reach splitter. Try again.');
}

// Field errors: the server's message patterns, most specific first. `f` is the field's last
// name (`split.members[2].value` -> "value"); each gives a message of the catalogues, or
// [message, placeholders].
const FIELD_RULES = [
    [/must not point to a private/, () => 'This address is inside a private network. Use a public https:// address.'],
    [/host that does not resolve/, () => 'This host name could not be found.'],
    [/must use https|must be an https URL/, () => 'Use an https:// address.'],
    [/must differ from from_member/, () => 'Pick two different people.'],
    [/percentages must sum to exactly 100/, () => 'The percentages must add up to 100%.'],
    [/exact values must sum to the expense amount/, () => 'The amounts must add up to the total.'],
    [/amounts must sum to the expense amount/, () => 'What the payers paid must add up to the total.'],
    [/overflow|too large/, () => 'That amount is too large.'],
    [/cursor|other filters/, () => 'The list changed meanwhile. Reload the page.'],
    [/cannot be compared reliably/, () => 'This contains a character splitter cannot compare reliably. Use plain letters.'],
    [/array of 1 to \d+ members/, () => 'Pick at least one person to split with.'],
    [/array of 1 to \d+ payers/, () => 'Tick who paid.'],
    [/at most (\d+) characters/, (f, m) => ['Use at most {max} characters.', { max: m[1] }]],
    [/must not be before from/, () => 'Pick a date on or after the first one.'],
    [/must be an integer from 1 to 366/, () => 'Enter a number from 1 to 366.'],
    [/must be one of day, week, month, year/, () => 'Pick how often it repeats.'],
    [/must not be before the expense's date/, () => 'Pick a day on or after the date.'],
    [/on an occurrence of a repeating expense|set by the schedule|cannot be changed|id of the repeating expense/, () => 'One occurrence of a repeating expense: changes apply to this one only.'],
    [/member id|lowercase UUID/, () => 'Pick someone from the list.'],
    [/is not a member of this group/, () => 'This person is not in the group.'],
    [/names a (member|payer) twice|appears more than once/, () => 'Someone is listed twice.'],
    [/is required when currency differs/, () => 'Enter the exchange rate.'],
    [/must be 1 when currency is the group's/, () => 'The exchange rate of the group’s own currency is 1.'],
    [/was used with a different request/, () => 'This form was already sent with other values. Reload the page and try again.'],
    [/already exists|already registered|is taken/, () => 'An account with this email already exists.'],
    [/^is required$/, (f) => (f === 'email' ? 'Enter your email address.' : f === 'password' ? 'Enter your password.' : 'This is required.')],
    [/must be a date/, () => 'Enter a valid date.'],
    [/ISO 4217/, () => 'Pick a currency.'],
    [/email address/, () => 'Enter a valid email address.'],
    [/must be (\d+) to (\d+) (characters|bytes) long/, (f, m) => (m[1] === '1' ? 'Use at most {max} characters.' : 'Use {min} to {max} characters.')],
    [/must be at most (\d+)/, () => 'That is more than allowed.'],
    [/must be positive|must be more than zero/i, () => 'Enter an amount more than zero.'],
    [/at most 2 decimals|minor units|must be an integer|decimal string/, (f) => (f === 'exchange_rate' ? 'Enter a positive number like 1.0825.' : 'Enter a number with at most 2 decimals.')],
    [/must be one of equal, exact, percent, shares/, () => 'Pick how to split.'],
    [/control, invisible or space characters|NUL characters/, () => 'Remove the invisible or special characters.'],
];

/** The sentence for one field error {field, message}. */
export function fieldSentence(e) {
    const path = String(e?.field ?? '');
    const f = path.replace(/\[\d+\]/g, '').split('.').pop();
    const msg = String(e?.message ?? '');
    for (const [re, fn] of FIELD_RULES) {
        const m = re.exec(msg);
        if (m) {
            const r = fn(f, m);
            const [text, vars] = Array.isArray(r) ? r : [r, m[2] ? { min: m[1], max: m[2] } : undefined];
            return t(text, vars);
        }
    }
    return t('This value is not accepted. Check it and try again.');
}

/** What the reader calls a field the form could not point at. */
const FIELD_LABELS = {
    description: 'Description', amount: 'Amount', currency: 'Currency', exchange_rate: 'Exchange rate',
    date: 'Date', category: 'Category', paid_by: 'Paid by', split: 'Split', members: 'Split',
    recurrence: 'Repeats',
    from_member: 'From', to_member: 'To', note: 'Note', name: 'Name', email: 'Email', password: 'Password',
};

/** "Split: The percentages must add up to 100%." for an error without a field to show it in. */
export function looseFieldSentence(e) {
    const first = String(e?.field ?? '').split(/[.[]/)[0];
    const label = FIELD_LABELS[first];
    return label ? `${t(label)}: ${fieldSentence(e)}` : fieldSentence(e);
}
