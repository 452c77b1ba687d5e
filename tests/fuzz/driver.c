/*
 * Runs the fuzz target without libFuzzer: over the files named on the command line (a corpus), then over
 * N pseudo-random inputs (first argument "-random=N"). Lets builds without libFuzzer — gcc, -m32 — run the
 * same model-checked API sequences: make test-m32.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Resident memory of this process in MiB (Linux), or -1. */
static long rss_mib(void)
{
    long kb = rss_kib();
    return kb < 0 ? -1 : kb / 1024;
}

int main(int argc, char **argv)
{
    long     random_inputs = 0, files = 0, max_rss = 0;
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-random=", 8) == 0) {
            random_inputs = atol(argv[i] + 8);
            continue;
        }
        if (strncmp(argv[i], "-max-rss-mb=", 12) == 0) { /* memory every input gave back must really be gone */
            max_rss = atol(argv[i] + 12);
            continue;
        }
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        static uint8_t buf[1 << 16];
        size_t         n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        files++;
    }
    for (long r = 0; r < random_inputs; r++) {
        static uint8_t buf[2048];
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t n = 1 + (size_t)(s % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            buf[i] = (uint8_t)s;
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    long rss = rss_mib();
    if (max_rss && rss > max_rss) {
        printf("fuzz driver: FAILED: %ld MiB resident after the inputs (limit %ld): memory was not given back\n", rss,
               max_rss);
        return 1;
    }
    printf("fuzz driver: %ld corpus files and %ld random inputs passed (%ld MiB resident at the end)\n", files,
           random_inputs, rss);
    return 0;
}
