// What views share: the expenses seen recently (so an edit opens even before a reload) and
// small lookups on a group.

import { get, session } from './api.js';

/** expense id -> the last expense resource this page saw (from the list or a write). */
export const expenseCache = new Map();

export function remember(expense) {
    if (expense && expense.id) expenseCache.set(expense.id, expense);
}

export const loadGroup = (gid) => get(`groups/${encodeURIComponent(gid)}`);

/** The caller's own member in a group, if any. */
export function myMember(group) {
    const uid = session.user?.id;
    return group.members.find((m) => m.user_id && m.user_id === uid) ?? null;
}

export function memberName(group, id) {
    return group.members.find((m) => m.id === id)?.name ?? 'someone';
}

export const CATEGORIES = [
    'food', 'groceries', 'transport', 'accommodation', 'entertainment', 'shopping', 'utilities',
    'rent', 'health', 'travel', 'gifts', 'other',
];
