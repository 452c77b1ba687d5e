/* The cgroup reader behind hak_platform_memory_limit (cgroup.c), with its two /proc files as parameters so that
 * tests can feed it made-up ones. */
#ifndef HAK_PLATFORM_LINUX_CGROUP_H
#define HAK_PLATFORM_LINUX_CGROUP_H

#include <stddef.h>

/* The smallest memory limit over the cgroup named in `cgroup_file` (as /proc/self/cgroup) and its ancestors,
 * found through the mounts in `mountinfo_file` (as /proc/self/mountinfo); 0 if none or unknown. */
size_t _hak_cgroup_limit(const char *cgroup_file, const char *mountinfo_file);

#endif
