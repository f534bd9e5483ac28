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

void waiter_notify(const char *event_id, size_t len)
{
    h2o_linklist_t *node, *next;
    if (len != 36)
        return;
    for (node = api.waiters.next; node != &api.waiters; node = next) {
        next = node->next;
        struct rctx *c = H2O_STRUCT_FROM_MEMBER(struct rctx, waiting, node);
        if (memcmp(c->event_id, event_id, 36) == 0)
            end_wait(c);
    }
}

void waiter_flush(void)
{
    while (!h2o_linklist_is_empty(&api.waiters))
        end_wait(H2O_STRUCT_FROM_MEMBER(struct rctx, waiting, api.waiters.next));
}
