/* error.c - status codes and messages (see slope/error.h). */
#include "slope/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sl_error_clear(sl_error *err)
{
    if (!err)
        return;
    err->status = SL_OK;
    err->message[0] = '\0';
}

sl_status sl_error_set(sl_error *err, sl_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof err->message) /* cut: say so */
        memcpy(err->message + sizeof err->message - 4, "...", 4);
    return status;
}

const char *sl_status_name(sl_status status)
{
    switch (status) {
    case SL_OK: return "SL_OK";
    case SL_ERR_INVALID: return "SL_ERR_INVALID";
    case SL_ERR_SHAPE: return "SL_ERR_SHAPE";
    case SL_ERR_NOMEM: return "SL_ERR_NOMEM";
    case SL_ERR_IO: return "SL_ERR_IO";
    case SL_ERR_FORMAT: return "SL_ERR_FORMAT";
    case SL_ERR_CONFIG: return "SL_ERR_CONFIG";
    case SL_ERR_NUMERIC: return "SL_ERR_NUMERIC";
    case SL_ERR_STATE: return "SL_ERR_STATE";
    case SL_ERR_UNSUPPORTED: return "SL_ERR_UNSUPPORTED";
    case SL_ERR_READ: return "SL_ERR_READ";
    }
    return "SL_ERR_UNKNOWN";
}
