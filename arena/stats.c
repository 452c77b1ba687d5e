/*
 * Statistics: per arena (hak_arena_stats), as JSON for dashboards, as a text report through the caller's
 * writer (the core has no stdio), and process-wide (hak_stats_total, in budget.c). `in_use` comes from the layout
 * (_hak_in_use): summed from the page headers when asked (size classes), so the fast paths pay nothing for it, or a
 * counter (compact); the counters are bumped on the fast paths only when Kconfig HAK_STATS is on.
 */
#include "arena/internal.h"

void _hak_stats_locked(hak_arena_t *a, hak_arena_stats_t *out)
{
    *out = (hak_arena_stats_t){
        .in_use = _hak_in_use(a),
        .committed = a->committed,
        .reserved = a->reserved,
        .peak_committed = a->peak_committed,
        .limit = a->limit,
        .superslabs = a->nslabs,
        .allocs = a->allocs,
        .frees = a->frees,
        .failed_allocs = a->failed_allocs,
        .platform_calls = a->platform_calls,
    };
}

int hak_arena_stats(const hak_arena_t *ca, hak_arena_stats_t *out)
{
    int rc = out ? _hak_arena_enter(ca) : HAK_EINVAL;
    if (rc)
        return rc;
    hak_arena_t *a = (hak_arena_t *)ca;
    _hak_stats_locked(a, out);
    hak_unlock(&a->lock);
    return 0;
}

/* A bounded writer: counts every byte it is offered, stores what fits, keeps the buffer NUL-terminated. */
typedef struct {
    char  *buf;
    size_t cap, len;
} sink_t;

static void put(sink_t *s, const char *text)
{
    for (; *text; text++, s->len++)
        if (s->len + 1 < s->cap)
            s->buf[s->len] = *text;
    if (s->cap)
        s->buf[s->len < s->cap ? s->len : s->cap - 1] = 0;
}

static void put_u64(sink_t *s, uint64_t v)
{
    char digits[24], *d = digits + sizeof digits - 1;
    *d = 0;
    do
        *--d = (char)('0' + v % 10);
    while (v /= 10);
    put(s, d);
}

/* Bytes of the well-formed UTF-8 sequence at t (RFC 3629: no overlong forms, surrogates or values above
 * U+10FFFF), or 0. A name cut at HAK_NAME_MAX - 1 bytes may end inside one. */
static size_t utf8_len(const unsigned char *t)
{
    unsigned char c = t[0];
    size_t        n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80, hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (!n || t[1] < lo || t[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((t[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* A name as text or a JSON string: quotes and backslashes escaped (JSON), control characters and bytes that are
 * not well-formed UTF-8 shown as '?', so the output is always valid UTF-8 (as JSON requires). */
static void put_escaped(sink_t *s, const char *text, bool json)
{
    char one[5] = {0};
    for (const unsigned char *t = (const unsigned char *)text; *t;) {
        size_t n = *t < 0x80 ? 1 : utf8_len(t);
        if (json && (*t == '"' || *t == '\\'))
            put(s, "\\");
        if (n == 0 || *t < 0x20) {
            put(s, "?");
            t++;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            one[i] = (char)t[i];
        one[n] = 0;
        put(s, one);
        t += n;
    }
}

static const char *policy_name(const hak_arena_t *a)
{
    return a->policy == HAK_POLICY_LEAN ? "lean" : "fast";
}

static void write_stats(sink_t *s, const hak_arena_t *a, const hak_arena_stats_t *st, bool json)
{
    static const char *const names[] = {"in_use", "committed", "reserved", "peak_committed", "limit", "superslabs",
                                        "allocs", "frees", "failed_allocs", "platform_calls"};
    uint64_t values[] = {st->in_use, st->committed, st->reserved, st->peak_committed, st->limit, st->superslabs,
                         st->allocs, st->frees, st->failed_allocs, st->platform_calls};
    put(s, json ? "{\"name\":\"" : "arena ");
    put_escaped(s, a->name[0] ? a->name : "(unnamed)", json);
    put(s, json ? "\",\"policy\":\"" : " policy=");
    put(s, policy_name(a));
    put(s, json ? "\"" : "");
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        put(s, json ? ",\"" : " ");
        put(s, names[i]);
        put(s, json ? "\":" : "=");
        put_u64(s, values[i]);
    }
    put(s, json ? "}" : "");
}

size_t hak_arena_stats_json(const hak_arena_t *a, char *buf, size_t len)
{
    sink_t            s = {buf, buf ? len : 0, 0};
    hak_arena_stats_t st;
    if (s.cap)
        buf[0] = 0;
    if (hak_arena_stats(a, &st) != 0)
        return 0;
    write_stats(&s, a, &st, true);
    return s.len;
}

int hak_arena_report(const hak_arena_t *a, void (*write)(const char *line, void *arg), void *arg)
{
    hak_arena_stats_t st;
    if (!write)
        return HAK_EINVAL;
    int rc = hak_arena_stats(a, &st);
    if (rc)
        return rc;
    char   line[512];
    sink_t s = {line, sizeof line, 0};
    write_stats(&s, a, &st, false);
    write(line, arg);
    return 0;
}
