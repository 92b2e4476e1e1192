/* text.c - a string that grows (text.h). */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

/* Room for n more bytes and the NUL; 0 when the text failed or now fails. */
static int reserve(sl_text *t, size_t n)
{
    if (t->failed)
        return 0;
    if (t->len + n + 1 <= t->cap)
        return 1;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1)
        cap *= 2;
    char *p = sl_realloc(t->p, cap);
    if (!p) {
        t->failed = 1;
        return 0;
    }
    t->p = p;
    t->cap = cap;
    return 1;
}

void sl_text_append(sl_text *t, const char *s, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

void sl_text_puts(sl_text *t, const char *s)
{
    sl_text_append(t, s, strlen(s));
}

void sl_text_printf(sl_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (!reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void sl_text_free(sl_text *t)
{
    sl_free(t->p);
    memset(t, 0, sizeof *t);
}
