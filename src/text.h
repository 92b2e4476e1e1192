/* text.h - a string that grows, for the JSON the library writes (the safetensors header,
 * the metrics lines).  Every block comes from sl_realloc; an allocation that fails marks
 * the text failed and later appends do nothing, so a writer checks once at the end. */
#ifndef SLOPE_TEXT_H
#define SLOPE_TEXT_H

#include <stddef.h>

typedef struct sl_text {
    char *p; /* NUL-terminated once anything is appended; NULL before */
    size_t len, cap;
    int failed; /* an allocation failed: the text is incomplete */
} sl_text;

void sl_text_append(sl_text *t, const char *s, size_t n);
void sl_text_puts(sl_text *t, const char *s);
void sl_text_printf(sl_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Frees the text and leaves it empty (and not failed). */
void sl_text_free(sl_text *t);

#endif
