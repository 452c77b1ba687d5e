/*
 * The memory limit of the container this process runs in, read from its cgroup the way container runtimes
 * expose it: the process's cgroup path comes from /proc/self/cgroup, the hierarchy's mount point and root from
 * /proc/self/mountinfo; cgroup v2 gives `memory.max` ("max" = unlimited), v1 `memory.limit_in_bytes` (a value
 * near 2^63 = unlimited). The limit is the smallest over the cgroup and its ancestors up to the mount root.
 *
 * Called from inside malloc when hakmem backs it (shim/), so it uses only open/read on stack buffers: no stdio,
 * no malloc.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"

#define PATH_LEN 1024
#define FILE_LEN 16384

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

/* The n-th (0-based) space-separated field of a line, copied into out. */
static bool field(const char *line, int n, char *out, size_t cap)
{
    while (n--) {
        line = strchr(line, ' ');
        if (!line)
            return false;
        line++;
    }
    size_t len = strcspn(line, " \n");
    if (len >= cap)
        return false;
    memcpy(out, line, len);
    out[len] = 0;
    return true;
}

/* out = a + b + c, truncated to cap. */
static void join(char *out, size_t cap, const char *a, const char *b, const char *c)
{
    size_t n = 0;
    for (const char *parts[] = {a, b, c, NULL}, **p = parts; *p; p++)
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

/* Finds the mount of the hierarchy (v2 if `v2`, else the v1 one with the memory controller). */
static bool find_mount(char *mountinfo, bool v2, char *point, char *root)
{
    for (char *line = mountinfo; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *dash = strstr(line, " - ");
        const char *eol = strchr(line, '\n');
        if (!dash || (eol && dash > eol))
            continue;
        char type[32], opts[256];
        if (!field(dash + 3, 0, type, sizeof type) || !field(dash + 3, 2, opts, sizeof opts))
            continue;
        bool ok = v2 ? strcmp(type, "cgroup2") == 0
                     : strcmp(type, "cgroup") == 0 && (strstr(opts, ",memory") || strncmp(opts, "memory", 6) == 0);
        if (ok && field(line, 3, root, PATH_LEN) && field(line, 4, point, PATH_LEN))
            return true;
    }
    return false;
}

size_t hak_platform_memory_limit(void)
{
    static char self[FILE_LEN], mounts[FILE_LEN]; /* called once, under hakmem's global lock */
    if (!read_file("/proc/self/cgroup", self, sizeof self) || !read_file("/proc/self/mountinfo", mounts, sizeof mounts))
        return 0;
    char cg[PATH_LEN] = "";
    bool v2 = false;
    for (char *line = self; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            break;
        size_t clen = (size_t)(c2 - c1 - 1), plen = strcspn(c2 + 1, "\n");
        bool   mem_v1 = clen >= 6 && (strncmp(c1 + 1, "memory", 6) == 0 || memmem(c1 + 1, clen, ",memory", 7));
        bool   unified = clen == 0 && strncmp(line, "0:", 2) == 0;
        if ((mem_v1 || (unified && !cg[0])) && plen < PATH_LEN) {
            memcpy(cg, c2 + 1, plen);
            cg[plen] = 0;
            v2 = !mem_v1;
            if (mem_v1)
                break;
        }
    }
    char point[PATH_LEN], root[PATH_LEN];
    if (!cg[0] || !find_mount(mounts, v2, point, root))
        return 0;
    const char *rel = cg;
    size_t      rlen = strlen(root);
    if (strcmp(root, "/") != 0 && strncmp(cg, root, rlen) == 0)
        rel = cg + rlen; /* the mount shows only the subtree below `root` */
    char dir[2 * PATH_LEN + 32];
    join(dir, sizeof dir, point, strcmp(rel, "/") == 0 ? "" : rel, "");
    uint64_t best = 0;
    for (;;) {
        char file[sizeof dir + 32];
        join(file, sizeof file, dir, "/", v2 ? "memory.max" : "memory.limit_in_bytes");
        uint64_t v = read_limit(file);
        if (v && (!best || v < best))
            best = v;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < strlen(point))
            break;
        *slash = 0;
    }
    return best > SIZE_MAX ? SIZE_MAX : (size_t)best;
}
