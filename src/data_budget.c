/*
 * data_budget.c - how much memory one dataset load may hold, and the
 * longest CSV line (slope/data.h: sl_data_set_memory_budget).
 *
 * A small file can stand for a huge dataset (a .gz of zeros inflates a
 * thousandfold; an IDX header can promise 2^40 bytes), so the readers
 * check every growth of their buffers against a cap instead of letting the
 * allocator (or the kernel's OOM killer) decide.  The default cap is taken
 * when a load starts: 90% of the least of the memory the kernel says is
 * available, the room left under the address-space and data limits
 * (ulimit -v, ulimit -d) and the room left in a cgroup v2 memory limit.
 */
#include "data_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define DEFAULT_MAX_LINE ((uint64_t)16 << 20)

/* 0: not set, use the default. */
static _Atomic uint64_t g_budget;
static _Atomic uint64_t g_max_line;

void sl_data_set_memory_budget(uint64_t bytes)
{
    atomic_store(&g_budget, bytes);
}

void sl_data_set_max_line(uint64_t bytes)
{
    atomic_store(&g_max_line, bytes);
}

uint64_t sl_data_max_line(void)
{
    uint64_t v = atomic_load(&g_max_line);
    return v ? v : DEFAULT_MAX_LINE;
}

/* ---- what the machine has ------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The value of "key: N kB" in /proc/meminfo, in bytes; UINT64_MAX when unknown. */
static uint64_t meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    uint64_t v = UINT64_MAX;
    size_t len = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (strncmp(line, key, len) == 0 && sscanf(line + len, ": %llu", &kb) == 1) {
            v = (uint64_t)kb * 1024;
            break;
        }
    }
    if (f)
        fclose(f);
    return v;
}

/* Field `field` (0-based, in pages) of /proc/self/statm, in bytes; 0 when unknown. */
static uint64_t statm_bytes(int field)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long v[7] = {0};
    int n = f ? fscanf(f, "%llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5])
              : 0;
    if (f)
        fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n > field && page > 0 ? (uint64_t)v[field] * (uint64_t)page : 0;
}

/* The room left under a resource limit, given what the process uses of it. */
static uint64_t rlimit_room(int resource, uint64_t used)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    uint64_t cur = (uint64_t)rl.rlim_cur;
    return cur > used ? cur - used : 0;
}

/* A number from a one-line file ("max" and anything else unreadable: UINT64_MAX). */
static uint64_t file_number(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    int ok = f && fscanf(f, "%llu", &v) == 1;
    if (f)
        fclose(f);
    return ok ? (uint64_t)v : UINT64_MAX;
}

static uint64_t cgroup_room(void)
{
    uint64_t max = file_number("/sys/fs/cgroup/memory.max");
    uint64_t cur = file_number("/sys/fs/cgroup/memory.current");
    if (max == UINT64_MAX || cur == UINT64_MAX)
        return UINT64_MAX;
    return max > cur ? max - cur : 0;
}

/* 90% of the least room there is; UINT64_MAX when nothing is known. */
static uint64_t default_budget(void)
{
    uint64_t room = meminfo("MemAvailable");
    room = min_u64(room, rlimit_room(RLIMIT_AS, statm_bytes(0)));
#ifdef RLIMIT_DATA
    room = min_u64(room, rlimit_room(RLIMIT_DATA, statm_bytes(5)));
#endif
    room = min_u64(room, cgroup_room());
    return room == UINT64_MAX ? room : room - room / 10;
}

/* ---- SLOPE_DATA_BUDGET ---------------------------------------------------------- */

/* "512M", "2G", "1048576", "64KiB": bytes with an optional binary suffix; 0 if malformed. */
static uint64_t parse_size(const char *s)
{
    if (!isdigit((unsigned char)*s))
        return 0;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return 0;
    int shift = 0;
    const char *units = "KMGT";
    const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    if (u) {
        shift = 10 * (int)(u - units + 1);
        end++;
        if (*end == 'i')
            end++;
    }
    if (*end == 'B' || (*end == 'b' && shift))
        end++;
    if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
        return 0;
    return (uint64_t)v << shift;
}

static sl_status env_budget(uint64_t *out, sl_error *err)
{
    const char *env = getenv("SLOPE_DATA_BUDGET");
    *out = 0;
    if (!env || !*env)
        return SL_OK;
    *out = parse_size(env);
    if (*out == 0)
        return sl_error_set(err, SL_ERR_INVALID,
                            "SLOPE_DATA_BUDGET=\"%.40s\": expected a size in bytes like "
                            "1048576, 512M or 2G",
                            env);
    return SL_OK;
}

uint64_t sl_data_memory_budget(void)
{
    uint64_t v = atomic_load(&g_budget);
    if (v)
        return v;
    if (env_budget(&v, NULL) != SL_OK)
        return 0;
    return v ? v : default_budget();
}

/* ---- one load's budget ---------------------------------------------------------- */

sl_status sl_data_budget_init(sl_data_budget *b, sl_error *err)
{
    b->cap = atomic_load(&g_budget);
    b->source = "set by sl_data_set_memory_budget";
    if (b->cap)
        return SL_OK;
    sl_status st = env_budget(&b->cap, err);
    if (st != SL_OK)
        return st;
    b->source = "from SLOPE_DATA_BUDGET";
    if (b->cap)
        return SL_OK;
    b->cap = default_budget();
    b->source = "90% of the memory available; SLOPE_DATA_BUDGET sets another";
    return SL_OK;
}

/* "12.0 MiB" (bytes below 1 KiB as they are). */
static const char *human(uint64_t bytes, char *buf, size_t size)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes / 1024.0;
    int k = 0;
    while (v >= 1024.0 && k < 5) {
        v /= 1024.0;
        k++;
    }
    snprintf(buf, size, "%.1f %s", v, unit[k]);
    return buf;
}

sl_status sl_data_budget_check(const sl_data_budget *b, const char *path, long line,
                               uint64_t bytes, const char *what, sl_error *err)
{
    if (bytes <= b->cap)
        return SL_OK;
    char at[32] = "", need[32], cap[32];
    if (line > 0)
        snprintf(at, sizeof at, ":%ld", line);
    return sl_error_set(err, SL_ERR_NOMEM,
                        "%s%s: %s would hold %s (%llu bytes), past the memory budget of %s "
                        "(%llu bytes; %s)",
                        path, at, what, human(bytes, need, sizeof need),
                        (unsigned long long)bytes, human(b->cap, cap, sizeof cap),
                        (unsigned long long)b->cap, b->source);
}
