/* alloc.c — malloc wrappers with a test hook that fails the n-th allocation, so that tests
 * can prove every out-of-memory path returns an error instead of crashing (STYLE.md). */
#include <manouche/core.h>

#include <stdlib.h>
#include <string.h>

/* The countdown is per thread: a test arms it in its own thread, offload workers are untouched. */
static _Thread_local long fail_countdown;

void mn_alloc_fail_after(long n)
{
    fail_countdown = n > 0 ? n : 0;
}

/* True when this allocation is the one the test asked to fail. */
static bool should_fail(void)
{
    if (fail_countdown <= 0)
        return false;
    return --fail_countdown == 0;
}

void *mn_malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size ? size : 1);
}

void *mn_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *mn_realloc(void *ptr, size_t size)
{
    return should_fail() ? NULL : realloc(ptr, size ? size : 1);
}

void mn_free(void *ptr)
{
    free(ptr);
}

char *mn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = mn_malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}
