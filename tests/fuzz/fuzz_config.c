/*
 * fuzz_config.c - the JSON config loader, model building included.
 *
 * Input: the text of a config file.  It goes through sl_config_parse (the
 * text in memory) and, for one input in 8, sl_config_load_file (the same
 * bytes as a file, which must get the same verdict); an
 * accepted config is emitted and parsed back, its model is built and, when
 * small, initialised and run forward and backward (fuzz_check_config).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static void check_failure(const sl_error *err, const char *what)
{
    fuzz_check_error(err, what);
    if (err->status != SL_ERR_CONFIG && err->status != SL_ERR_NOMEM &&
        err->status != SL_ERR_READ)
        fuzz_fail("%s: unexpected status %s: %s", what, sl_status_name(err->status),
                  err->message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;

    sl_error err = {0};
    sl_config *cfg = sl_config_parse(text, "fuzz.json", NULL, 0, &err);
    if (cfg) {
        fuzz_check_config(cfg);
        sl_config_free(cfg);
    } else {
        check_failure(&err, "sl_config_parse");
    }

    /*
     * The file entry point for one input in 8 (chosen by length, so libFuzzer
     * explores both): sl_config_load_file allocates a 16 MiB buffer per call,
     * which costs ~30 ms under ASan.
     */
    if (size % 8 == 0) {
        sl_error ferr = {0};
        sl_config *fcfg = sl_config_load_file(fuzz_file(0, data, size), &ferr);
        if (fcfg)
            sl_config_free(fcfg);
        else
            check_failure(&ferr, "sl_config_load_file");
        /* Text without NUL bytes must get the same verdict from both entry points. */
        if (memchr(data, '\0', size) == NULL && (cfg != NULL) != (fcfg != NULL))
            fuzz_fail("sl_config_parse %s but sl_config_load_file %s: %s%s",
                      cfg ? "accepts" : "refuses", fcfg ? "accepts" : "refuses", err.message,
                      ferr.message);
    }
    free(text);
    return 0;
}
