/*
 * golden.h - reading the committed golden JSON files of the reference tests
 * (the files under tests/golden/: {"count": N, "cases": [...]}, written by tools/torch_*.py).
 */
#ifndef SLOPE_GOLDEN_H
#define SLOPE_GOLDEN_H

#include <cjson/cJSON.h>

typedef struct tu_golden {
    cJSON *doc;         /* the parsed file, or NULL */
    const char *error;  /* why it could not be used, or NULL */
    int declared;       /* the file's "count" */
    int present;        /* entries of its "cases" array */
} tu_golden;

/* Loads rel_path (relative to the source tree); on failure doc is NULL and error says why,
 * naming generator, the script that writes the file.  The caller frees doc. */
void tu_golden_load(tu_golden *g, const char *rel_path, const char *generator);

/* Field access that fails the current test, naming the case `who`, when the field is missing
 * or of the wrong type. */
const cJSON *tu_json_need(const char *who, const cJSON *obj, const char *key);
double tu_json_number(const char *who, const cJSON *obj, const char *key);
const char *tu_json_string(const char *who, const cJSON *obj, const char *key);

#endif
