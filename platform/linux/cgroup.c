/*
 * The memory limit of the container this process runs in, read from its cgroup the way container runtimes
 * expose it: the process's cgroup path comes from /proc/self/cgroup, the hierarchy's mount point and root from
 * /proc/self/mountinfo; cgroup v2 gives `memory.max` ("max" = unlimited), v1 `memory.limit_in_bytes` (a value
 * near 2^63 = unlimited). The limit is the smallest over the cgroup and its ancestors up to the mount root.
 *
 * Called from inside malloc when hakmem backs it (shim/), on whatever thread allocates first, so it uses only
 * open/read on small stack buffers: no stdio, no malloc, and about 4 KiB of stack at its deepest (the files are
 * read line by line; a path or a line too long for its buffer is skipped).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "platform/linux/cgroup.h"
#include "platform/platform.h"

#define PATH_LEN 512                /* cgroup paths and mount points (a Kubernetes pod's: ~150 bytes) */
#define LINE_LEN (2 * PATH_LEN)     /* longer lines of /proc/self/cgroup and mountinfo are skipped */
#define LIMIT_FILE "/memory.limit_in_bytes" /* the longer of the two limit files' names */

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    return n;
}

/* Calls fn on each line of a file (NUL-terminated, without its newline) until fn returns true, reading through
 * one LINE_LEN buffer on the stack: a file of any length (a host's mountinfo may have thousands of lines) costs
 * no memory that stays resident. Returns whether fn returned true. */
static bool each_line(const char *path, bool (*fn)(char *line, void *ctx), void *ctx)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char   buf[LINE_LEN];
    size_t n = 0;
    bool   found = false, overlong = false;
    while (!found) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0) {
            buf[n] = 0;
            found = n && !overlong && fn(buf, ctx); /* a last line without a newline */
            break;
        }
        n += (size_t)r;
        char *line = buf, *nl;
        while (!found && (nl = memchr(line, '\n', (size_t)(buf + n - line)))) {
            *nl = 0;
            found = !overlong && fn(line, ctx);
            overlong = false;
            line = nl + 1;
        }
        n -= (size_t)(line - buf);
        memmove(buf, line, n);
        if (n == sizeof buf - 1) { /* no newline in a full buffer: skip the line up to its end */
            overlong = true;
            n = 0;
        }
    }
    close(fd);
    return found;
}

/* The n-th (0-based) space-separated field of a line, copied into out. */
static bool field(const char *line, int n, char *out, size_t cap)
{
    while (n--) {
        line = strchr(line, ' ');
        if (!line)
            return false;
        line++;
    }
    size_t len = strcspn(line, " ");
    if (len >= cap)
        return false;
    memcpy(out, line, len);
    out[len] = 0;
    return true;
}

/* Decodes in place the octal escapes mountinfo writes for space, tab, newline and backslash in paths (\040...). */
static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = 0;
}

/* out = a + b, truncated to cap. */
static void join(char *out, size_t cap, const char *a, const char *b)
{
    size_t n = 0;
    for (const char *parts[] = {a, b, NULL}, **p = parts; *p; p++)
        for (const char *s = *p; *s && n + 1 < cap; s++)
            out[n++] = *s;
    out[n] = 0;
}

/* Bytes in a limit file, or 0 for "max", a v1 "unlimited" sentinel, or no file. */
static uint64_t read_limit(const char *path)
{
    char buf[64];
    if (!read_file(path, buf, sizeof buf) || buf[0] < '0' || buf[0] > '9')
        return 0;
    uint64_t v = 0;
    for (const char *p = buf; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v >= ((uint64_t)1 << 62) ? 0 : v;
}

/* The process's memory cgroup: the v1 hierarchy with the memory controller if there is one, else the unified
 * (v2) one. */
typedef struct {
    char cg[PATH_LEN];
    bool v2;
} cgroup_t;

static bool cgroup_line(char *line, void *ctx)
{
    cgroup_t *g = ctx;
    char     *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return false;
    size_t clen = (size_t)(c2 - c1 - 1), plen = strlen(c2 + 1);
    bool   mem_v1 = clen >= 6 && (strncmp(c1 + 1, "memory", 6) == 0 || memmem(c1 + 1, clen, ",memory", 7));
    bool   unified = clen == 0 && strncmp(line, "0:", 2) == 0;
    if ((!mem_v1 && !(unified && !g->cg[0])) || plen >= PATH_LEN)
        return false;
    memcpy(g->cg, c2 + 1, plen + 1);
    g->v2 = !mem_v1;
    return mem_v1; /* the memory controller's own hierarchy: look no further */
}

/* A mount of that hierarchy (cgroup2, or cgroup with the memory controller) that shows the process's cgroup: its
 * mount point and root. A mount shows the subtree below its root, so the root must be "/" or the cgroup path or
 * one of its ancestors; a mount made outside this process's cgroup namespace has a root above the namespace's
 * ("/.." or "/../.."), and the cgroup's own directory is then not below it: such mounts are passed over. */
typedef struct {
    bool        v2;
    const char *cg;
    char        point[PATH_LEN], root[PATH_LEN];
} mount_t;

/* Whether a path has a ".." component (above the namespace's root), not just a name that starts with "..". */
static bool goes_up(const char *path)
{
    for (const char *s = path; (s = strstr(s, "/..")) != NULL; s += 3)
        if (s[3] == 0 || s[3] == '/')
            return true;
    return false;
}

static bool mount_line(char *line, void *ctx)
{
    mount_t    *m = ctx;
    const char *dash = strstr(line, " - ");
    char        type[32], opts[256];
    if (!dash || !field(dash + 3, 0, type, sizeof type) || !field(dash + 3, 2, opts, sizeof opts))
        return false;
    bool ok = m->v2 ? strcmp(type, "cgroup2") == 0
                    : strcmp(type, "cgroup") == 0 && (strstr(opts, ",memory") || strncmp(opts, "memory", 6) == 0);
    if (!ok || !field(line, 3, m->root, PATH_LEN) || !field(line, 4, m->point, PATH_LEN))
        return false;
    unescape(m->root);
    unescape(m->point);
    size_t rlen = strlen(m->root);
    return strcmp(m->root, "/") == 0 ||
           (strncmp(m->cg, m->root, rlen) == 0 && (m->cg[rlen] == 0 || m->cg[rlen] == '/') && !goes_up(m->root));
}

size_t _hak_cgroup_limit(const char *cgroup_file, const char *mountinfo_file)
{
    cgroup_t g = {.cg = ""};
    each_line(cgroup_file, cgroup_line, &g);
    mount_t m = {.v2 = g.v2, .cg = g.cg};
    if (!g.cg[0] || goes_up(g.cg) || !each_line(mountinfo_file, mount_line, &m))
        return 0; /* (a cgroup outside this namespace's view is shown as /../name: its files are not ours to read) */
    const char *rel = strcmp(m.root, "/") == 0 ? g.cg : g.cg + strlen(m.root); /* the path below the mount's root */
    char dir[2 * PATH_LEN + sizeof LIMIT_FILE]; /* the cgroup's directory, then each ancestor's, + the file */
    join(dir, 2 * PATH_LEN, m.point, strcmp(rel, "/") == 0 ? "" : rel);
    uint64_t best = 0;
    for (;;) {
        size_t len = strlen(dir);
        const char *name = g.v2 ? "/memory.max" : LIMIT_FILE;
        memcpy(dir + len, name, strlen(name) + 1);
        uint64_t v = read_limit(dir);
        if (v && (!best || v < best))
            best = v;
        dir[len] = 0;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < strlen(m.point))
            break;
        *slash = 0;
    }
    return best > SIZE_MAX ? SIZE_MAX : (size_t)best;
}

size_t hak_platform_memory_limit(void)
{
    int    saved = errno; /* a missing file (no /proc, v2's root has no memory.max) is no error of the caller's */
    size_t limit = _hak_cgroup_limit("/proc/self/cgroup", "/proc/self/mountinfo");
    errno = saved;
    return limit;
}
