/*
 * waiters: requests holding a Prefer: wait until the worker announces their
 * event on the pub/sub channel, or until their time is up.
 *
 * A waiting request holds one reference (c->waiting_ref), dropped when the
 * wait ends: by notification, by its timer, or by answering. The race where
 * the worker finishes before the request starts waiting is closed by
 * reading the event's status once after registering.
 */
#include "api.h"

#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* Stop waiting and answer with whatever the status is now. */
static void end_wait(struct rctx *c)
{
    if (h2o_linklist_is_linked(&c->waiting))
        h2o_linklist_unlink(&c->waiting);
    if (h2o_timeout_is_linked(&c->wait_timer))
        h2o_timeout_unlink(&c->wait_timer);
    c->wait_s = 0;
    if (rctx_live(c))
        event_answer_wait(c);
    if (c->waiting_ref) {
        c->waiting_ref = 0;
        rctx_unref(c);
    }
}

static void on_wait_timeout(h2o_timeout_entry_t *entry)
{
    end_wait(H2O_STRUCT_FROM_MEMBER(struct rctx, wait_timer, entry));
}

void waiter_start(struct rctx *c)
{
    int s = c->wait_s > API_MAX_WAIT_S ? API_MAX_WAIT_S : c->wait_s;
    rctx_ref(c);
    c->waiting_ref = 1;
    /* The wait replaces the generic deadline. */
    if (h2o_timeout_is_linked(&c->deadline))
        h2o_timeout_unlink(&c->deadline);
    h2o_linklist_insert(&api.waiters, &c->waiting);
    c->wait_timer.cb = on_wait_timeout;
    h2o_timeout_link(api.ctx.loop, &api.wait_timeouts[s], &c->wait_timer);
    /* Already finished before we started listening? */
    event_answer_wait(c);
}

static size_t id_hash(const char *id)
{
    /* Event ids are random UUIDs: their leading hex digits hash well. */
    size_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h * 31 + (unsigned char)id[i];
    return h;
}

void waiter_notify(const char *msg, size_t len)
{
    h2o_linklist_t *node, *next;
    const char **table;
    size_t n, cap = 16;

    /* The message names the finished events, separated by single spaces. */
    if (h2o_linklist_is_empty(&api.waiters) || len < UUID_STR_LEN ||
        (len + 1) % (UUID_STR_LEN + 1) != 0)
        return;
    n = (len + 1) / (UUID_STR_LEN + 1);
    while (cap < 2 * n)
        cap *= 2;
    table = xcalloc(cap, sizeof(*table));
    for (size_t k = 0; k < n; k++) {
        const char *id = msg + k * (UUID_STR_LEN + 1);
        size_t i = id_hash(id) & (cap - 1);
        while (table[i])
            i = (i + 1) & (cap - 1);
        table[i] = id;
    }
    for (node = api.waiters.next; node != &api.waiters; node = next) {
        next = node->next;
        struct rctx *c = H2O_STRUCT_FROM_MEMBER(struct rctx, waiting, node);
        for (size_t i = id_hash(c->event_id) & (cap - 1); table[i]; i = (i + 1) & (cap - 1)) {
            if (memcmp(table[i], c->event_id, UUID_STR_LEN) == 0) {
                end_wait(c);
                break;
            }
        }
    }
    free(table);
}

void waiter_flush(void)
{
    while (!h2o_linklist_is_empty(&api.waiters))
        end_wait(H2O_STRUCT_FROM_MEMBER(struct rctx, waiting, api.waiters.next));
}
