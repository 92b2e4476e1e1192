/*
 * export_onnx.c - sl_export_onnx (slope/export_model.h).
 *
 * Not written yet: this build has no ONNX writer (the protobuf-c one from
 * Debian's onnx.proto is the plan), so the calls say so instead.
 */
#include "slope/export_model.h"

int sl_export_onnx_available(void) { return 0; }

sl_status sl_export_onnx(const sl_model *m, const char *path, sl_error *err)
{
    if (!m || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_export_onnx: NULL argument");
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "%s: this build of slope cannot write ONNX yet",
                        path);
}
