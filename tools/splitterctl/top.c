/* splitterctl top: a live view of the partitions, refreshed each second. */
#include "splitterctl.h"

#include "xalloc.h"

#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>

/* One frame's figures: queue_gather and workers_gather at one moment. */
struct top_sample {
    struct stream_stats *st; /* owned, partitions entries */
    long long dead;
    struct workers w;
    struct timeval at;
};

static void top_sample_free(struct top_sample *s)
{
    if (s->st)
        for (unsigned p = 0; p < partitions; p++)
            json_decref(s->st[p].consumers);
    free(s->st);
    workers_free(&s->w);
    memset(s, 0, sizeof(*s));
}

static int top_sample_take(redisContext *rd, struct top_sample *s)
{
    memset(s, 0, sizeof(*s));
    s->st = xcalloc(partitions, sizeof(*s->st));
    gettimeofday(&s->at, NULL);
    if (queue_gather(rd, s->st, &s->dead) != 0 || workers_gather(rd, &s->w) != 0) {
        top_sample_free(s);
        return -1;
    }
    return 0;
}

/* The group's counters behind the rates: entries added to the stream (read + lag) and
   entries acknowledged (read - pending); -1 when Redis does not know. */
static long long top_added(const struct stream_stats *s)
{
    return s->entries_read < 0 || s->lag < 0 ? -1 : s->entries_read + s->lag;
}

static long long top_acked(const struct stream_stats *s)
{
    return s->entries_read < 0 || s->pending < 0 ? -1 : s->entries_read - s->pending;
}

/* Per second between two samples of a counter; -1 when unknown (a counter that went
   back, after Redis lost its data, is unknown too). */
static double top_rate(long long before, long long now, double secs)
{
    if (before < 0 || now < before || secs <= 0)
        return -1;
    return (double)(now - before) / secs;
}

enum top_sort { TOP_BY_PARTITION, TOP_BY_LAG, TOP_BY_PENDING };

static const struct top_sample *top_cur; /* for the qsort comparator */
static enum top_sort top_by;

static int top_cmp(const void *a, const void *b)
{
    unsigned pa = *(const unsigned *)a, pb = *(const unsigned *)b;
    long long va = 0, vb = 0;
    if (top_by == TOP_BY_LAG) {
        va = top_cur->st[pa].lag;
        vb = top_cur->st[pb].lag;
    } else if (top_by == TOP_BY_PENDING) {
        va = top_cur->st[pa].pending;
        vb = top_cur->st[pb].pending;
    }
    if (va != vb)
        return va < vb ? 1 : -1; /* largest first */
    return pa < pb ? -1 : pa > pb;
}

static void top_fmt_rate(char *buf, size_t len, double r)
{
    if (r < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", r);
}

/* One frame into f: a header with the totals, then a line per partition (at most rows
   lines in all when rows > 0). eol ends each line ("\n", or clear-to-end-of-line then
   "\r\n" on the terminal). prev may be NULL (first frame: rates unknown). */
static void top_render(FILE *f, const struct top_sample *prev, const struct top_sample *cur,
                       int rows, const char *eol)
{
    static const char *const sort_names[] = {"partition", "lag", "pending"};
    double secs = prev ? (double)(cur->at.tv_sec - prev->at.tv_sec) +
                             (double)(cur->at.tv_usec - prev->at.tv_usec) / 1e6
                       : 0;
    double accepted = 0, applied = 0;
    int rates_known = prev != NULL;
    long long tlen = 0, tlag = 0, tpend = 0;
    int live = 0, lines = 0;
    unsigned *order = xcalloc(partitions, sizeof(*order));
    double *applied_p = xcalloc(partitions, sizeof(*applied_p));
    char when[32], acc[32], app[32];
    time_t now = cur->at.tv_sec;
    struct tm tm;

    for (unsigned p = 0; p < partitions; p++) {
        const struct stream_stats *s = &cur->st[p];
        order[p] = p;
        applied_p[p] = -1;
        if (prev) {
            double a = top_rate(top_added(&prev->st[p]), top_added(s), secs);
            applied_p[p] = top_rate(top_acked(&prev->st[p]), top_acked(s), secs);
            if (a < 0 || applied_p[p] < 0)
                rates_known = 0;
            else {
                accepted += a;
                applied += applied_p[p];
            }
        }
        tlen += s->length;
        tlag += s->lag > 0 ? s->lag : 0;
        tpend += s->pending > 0 ? s->pending : 0;
    }
    for (size_t i = 0; i < cur->w.n; i++)
        live += cur->w.cs[i].live;
    top_cur = cur;
    qsort(order, partitions, sizeof(*order), top_cmp);
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    top_fmt_rate(acc, sizeof(acc), rates_known ? accepted : -1);
    top_fmt_rate(app, sizeof(app), rates_known ? applied : -1);

    fprintf(f, "splitterctl top  %s UTC  partitions %u  sorted by %s%s", when, partitions,
            sort_names[top_by], eol);
    fprintf(f, "accepted/s %s  applied/s %s  length %lld  lag %lld  pending %lld%s", acc, app, tlen,
            tlag, tpend, eol);
    fprintf(f, "live workers %d  dead letters %lld%s", live, cur->dead, eol);
    fprintf(f, "%s", eol);
    fprintf(f, "%-20s %8s %8s %8s %10s  %s%s", "STREAM", "LENGTH", "LAG", "PENDING", "APPLIED/S",
            "OWNER", eol);
    lines = 5;
    for (unsigned i = 0; i < partitions && (rows <= 0 || lines < rows - 1); i++, lines++) {
        unsigned p = order[i];
        const struct stream_stats *s = &cur->st[p];
        int o = cur->w.owner[p];
        char rate[32], lag[24];
        top_fmt_rate(rate, sizeof(rate), applied_p[p]);
        if (s->lag < 0) /* Redis cannot tell */
            snprintf(lag, sizeof(lag), "-");
        else
            snprintf(lag, sizeof(lag), "%lld", s->lag);
        fprintf(f, "%-20s %8lld %8s %8lld %10s  %s%s", s->name, s->length, lag, s->pending, rate,
                o < 0 ? "-" : cur->w.cs[o].name, eol);
    }
    if (rows > 0)
        fputs("q quit  l sort by lag  p by pending  n by partition", f);
    free(order);
    free(applied_p);
}

static volatile sig_atomic_t top_stop;    /* a signal asked top to end */
static volatile sig_atomic_t top_resized; /* the terminal changed size: redraw */

static void top_on_signal(int sig)
{
    if (sig == SIGWINCH)
        top_resized = 1;
    else
        top_stop = 1;
}

/* Terminal rows (0 when unknown). */
static int top_rows(void)
{
    struct winsize ws;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_row : 0;
}

/* Draw one frame: full screen on the terminal, plain lines otherwise. */
static void top_draw(int tty, const struct top_sample *prev, const struct top_sample *cur)
{
    if (tty) {
        fputs("\033[H", stdout);
        top_render(stdout, prev, cur, top_rows(), "\033[K\r\n");
        fputs("\033[K\033[J", stdout);
    } else {
        top_render(stdout, prev, cur, 0, "\n");
    }
    fflush(stdout);
}

int cmd_top(int argc, char **argv)
{
    int once = 0, tty, rc = 1, raw_on = 0, have_prev = 0;
    struct termios saved, raw;
    struct top_sample prev = {0}, cur = {0};
    struct sigaction sa;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            once = 1;
        else
            return usage();
    }
    redisContext *rd = redis_open();
    if (!rd)
        return 1;
    /* Full screen and keys only on a terminal; --once prints one plain frame. */
    tty = !once && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = top_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            raw_on = 1;
        /* alternate screen, cursor hidden, no wrapping: a narrow window cuts lines short */
        fputs("\033[?1049h\033[?25l\033[?7l", stdout);
    }
    if (top_sample_take(rd, &cur) != 0)
        goto out;
    for (;;) {
        struct timeval due, now;
        /* Rates need two samples a second apart: the terminal shows the first frame
           without them, plain output waits for the second. */
        if (tty || have_prev) {
            top_draw(tty, have_prev ? &prev : NULL, &cur);
            if (!tty && !once)
                putchar('\n');
        }
        if (once && have_prev)
            break;
        /* Wait a second for the next frame, answering keys meanwhile. */
        gettimeofday(&due, NULL);
        due.tv_sec += 1;
        for (;;) {
            fd_set in;
            struct timeval left;
            char key;
            enum top_sort was = top_by;
            if (top_stop)
                goto done;
            if (top_resized) {
                top_resized = 0;
                top_draw(tty, have_prev ? &prev : NULL, &cur);
            }
            gettimeofday(&now, NULL);
            long long us =
                (long long)(due.tv_sec - now.tv_sec) * 1000000 + (due.tv_usec - now.tv_usec);
            if (us <= 0)
                break;
            left.tv_sec = (time_t)(us / 1000000);
            left.tv_usec = (suseconds_t)(us % 1000000);
            FD_ZERO(&in);
            if (tty)
                FD_SET(STDIN_FILENO, &in);
            if (select(tty ? STDIN_FILENO + 1 : 0, &in, NULL, NULL, &left) <= 0 ||
                read(STDIN_FILENO, &key, 1) != 1)
                continue; /* the second is over (checked above), or a signal */
            if (key == 'q' || key == 'Q')
                goto done;
            if (key == 'l')
                top_by = TOP_BY_LAG;
            else if (key == 'p')
                top_by = TOP_BY_PENDING;
            else if (key == 'n')
                top_by = TOP_BY_PARTITION;
            if (top_by != was) /* redraw at once, same figures */
                top_draw(tty, have_prev ? &prev : NULL, &cur);
        }
        top_sample_free(&prev);
        prev = cur;
        have_prev = 1;
        if (top_sample_take(rd, &cur) != 0)
            goto out;
    }
done:
    rc = 0;
out:
    if (tty) {
        fputs("\033[?7h\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        if (raw_on)
            tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
    if (rc != 0)
        error("top: cannot read the queue and the workers from Redis");
    top_sample_free(&prev);
    top_sample_free(&cur);
    redisFree(rd);
    return rc;
}
