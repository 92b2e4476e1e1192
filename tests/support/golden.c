#include "golden.h"

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* The whole file as a NUL-terminated string, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

void tu_golden_load(tu_golden *g, const char *rel_path, const char *generator)
{
    static char why[512];
    g->doc = NULL;
    g->declared = g->present = 0;
    char *text = slurp(tu_source_path(rel_path));
    if (!text) {
        snprintf(why, sizeof why, "cannot read %s (run %s)", rel_path, generator);
        g->error = why;
        return;
    }
    g->doc = cJSON_Parse(text);
    free(text);
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(g->doc, "count");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(g->doc, "cases");
    if (!g->doc || !cJSON_IsNumber(count) || !cJSON_IsArray(cases)) {
        snprintf(why, sizeof why, "%s is not JSON with \"count\" and \"cases\"", rel_path);
        g->error = why;
        cJSON_Delete(g->doc);
        g->doc = NULL;
        return;
    }
    g->declared = count->valueint;
    g->present = cJSON_GetArraySize(cases);
    g->error = NULL;
}

const cJSON *tu_json_need(const char *who, const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item)
        fail_msg("%s: reference lacks \"%s\"", who, key);
    return item;
}

double tu_json_number(const char *who, const cJSON *obj, const char *key)
{
    const cJSON *item = tu_json_need(who, obj, key);
    if (!cJSON_IsNumber(item))
        fail_msg("%s: \"%s\" is not a number", who, key);
    return item->valuedouble;
}

const char *tu_json_string(const char *who, const cJSON *obj, const char *key)
{
    const char *s = cJSON_GetStringValue(tu_json_need(who, obj, key));
    if (!s)
        fail_msg("%s: \"%s\" is not a string", who, key);
    return s;
}
