/* Resident memory of the calling process, for test programs outside Criterion (Linux /proc). */
#ifndef HAK_TEST_RSS_H
#define HAK_TEST_RSS_H
#include <stdio.h>

/* VmRSS in KiB, or -1 where /proc is not available. */
static inline long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char  line[256];
    long  kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}
#endif
