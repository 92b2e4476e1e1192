/*
 * data_named.c - named datasets: a JSON descriptor <dir>/<name>.json says
 * where the files of each split are and what the samples are; this opens
 * one split with the matching loader.
 *
 *   { "name": "fashion-mnist", "format": "idx", "classes": 10,
 *     "input": [1, 28, 28], "directory": "/usr/share/datasets/fashion-mnist",
 *     "debian_package": "dataset-fashion-mnist", "class_names": [...],
 *     "splits": { "train": { "images": "...", "labels": "..." }, ... } }
 *
 * "format" "csv" splits have { "file": "..." }; "format" "spiral" has
 * "generator": { "points_per_class": N, "noise": x } and splits { "seed": S }.
 *
 * sl_datasets_dir (slope/run.h) is here too: where descriptors are looked for.
 */
#define _POSIX_C_SOURCE 200809L /* readlink */

#include "alloc.h"
#include "data_internal.h"
#include "io_internal.h" /* sl_io_open_regular */

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slope/run.h" /* sl_datasets_dir */

#define DESCRIPTOR_MAX_BYTES (1u << 20)
#define PATH_MAX_LEN 4096

typedef struct descriptor {
    const char *file; /* the descriptor's path, for messages */
    const char *name;
    const char *split;
    cJSON *root;
    const cJSON *split_obj;
    char where[80]; /* "splits.<split>." */
    const char *format;
    int classes;
    char directory[PATH_MAX_LEN];
    const char *package;
    const char *hint;
} descriptor;

/* ---- where descriptors are ------------------------------------------------ */

/* The installed descriptors beside the running program: <its directory>/<SLOPE_BIN_TO_DATASETS>
 * ("../share/slope/datasets"), so an installed slope finds its own wherever the prefix is. */
static char exe_datasets[PATH_MAX_LEN];
static pthread_once_t exe_once = PTHREAD_ONCE_INIT;

static void find_exe_datasets(void)
{
#ifdef SLOPE_BIN_TO_DATASETS
    char exe[PATH_MAX_LEN];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    int w = snprintf(exe_datasets, sizeof exe_datasets, "%s/%s", exe, SLOPE_BIN_TO_DATASETS);
    if (w < 0 || (size_t)w >= sizeof exe_datasets)
        exe_datasets[0] = '\0';
#endif
}

/* The built-in places, in the order they are tried; NULL entries are skipped. */
static void candidates(const char *out[3])
{
    pthread_once(&exe_once, find_exe_datasets);
    out[0] = exe_datasets[0] ? exe_datasets : NULL;
#ifdef SLOPE_SOURCE_DIR
    /* A program run where slope was built uses that tree's descriptors; elsewhere the
     * directory does not exist and this is skipped. */
    out[1] = SLOPE_SOURCE_DIR "/datasets";
#else
    out[1] = NULL;
#endif
#ifdef SLOPE_INSTALL_DATASETS_DIR
    out[2] = SLOPE_INSTALL_DATASETS_DIR; /* the configured prefix's */
#else
    out[2] = NULL;
#endif
}

static int is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *sl_datasets_dir(void)
{
    const char *env = getenv("SLOPE_DATASETS_DIR");
    if (env && *env)
        return env;
    const char *c[3];
    candidates(c);
    for (int i = 0; i < 3; i++)
        if (is_dir(c[i]))
            return c[i];
    return "datasets";
}

/* "; descriptors are looked for in ..." for a descriptor not found. */
static void search_text(char *buf, size_t size)
{
    const char *env = getenv("SLOPE_DATASETS_DIR");
    if (env && *env) {
        snprintf(buf, size, "; SLOPE_DATASETS_DIR is set (%s), so only it is searched", env);
        return;
    }
    const char *c[3];
    candidates(c);
    int used = snprintf(buf, size, "; SLOPE_DATASETS_DIR is unset, so descriptors are looked "
                                   "for in the first of");
    const char *sep = " ";
    for (int i = 0; i < 3 && used >= 0 && (size_t)used < size; i++)
        if (c[i]) {
            used += snprintf(buf + used, size - (size_t)used, "%s%s%s", sep, c[i],
                             is_dir(c[i]) ? "" : " (missing)");
            sep = ", ";
        }
    if (used >= 0 && (size_t)used < size)
        snprintf(buf + used, size - (size_t)used,
                 " that exists (else ./datasets): set SLOPE_DATASETS_DIR to the directory "
                 "that holds the descriptor");
}

/* ---- reading the JSON ----------------------------------------------------- */

static char *read_text(const char *path, size_t *len, sl_error *err)
{
    /* Never blocks on a FIFO; refuses whatever is not a regular file. */
    int fd = sl_io_open_regular(path, NULL, err);
    if (fd < 0 && errno == ENOENT) {
        char where[3 * PATH_MAX_LEN + 512];
        search_text(where, sizeof where);
        sl_error_set(err, SL_ERR_READ, "%s: no dataset descriptor here: %s%s", path,
                     strerror(ENOENT), where);
    }
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (fd >= 0) {
            close(fd);
            sl_error_set(err, SL_ERR_NOMEM, "%s: cannot open: out of memory", path);
        }
        return NULL;
    }
    char *text = sl_malloc(DESCRIPTOR_MAX_BYTES + 1);
    *len = text ? fread(text, 1, DESCRIPTOR_MAX_BYTES + 1, f) : 0;
    int failed = text ? ferror(f) : 1;
    fclose(f);
    if (failed || *len > DESCRIPTOR_MAX_BYTES) {
        sl_error_set(err, text ? SL_ERR_READ : SL_ERR_NOMEM, "%s: %s", path,
                     !text ? "cannot allocate" : failed ? "read failed" : "larger than 1 MiB");
        sl_free(text);
        return NULL;
    }
    text[*len] = '\0';
    return text;
}

/* The 1-based line of pos in text (1 when cJSON gave no position). */
static int line_of(const char *text, const char *pos)
{
    int line = 1;
    for (const char *p = text; pos && p < pos && *p; p++)
        line += *p == '\n';
    return line;
}

/* The first key repeated within one object anywhere under v, or NULL.  cJSON keeps
 * both copies and lookups see the first, so a later one would be silently ignored. */
static const char *duplicate_key(const cJSON *v)
{
    for (const cJSON *item = v ? v->child : NULL; item; item = item->next) {
        if (cJSON_IsObject(v))
            for (const cJSON *p = v->child; p != item; p = p->next)
                if (strcmp(p->string, item->string) == 0)
                    return item->string;
        const char *inner = duplicate_key(item);
        if (inner)
            return inner;
    }
    return NULL;
}

/*
 * Parses text as the descriptor's one JSON object, as strictly as config files
 * are parsed: a NUL byte, anything but whitespace after the object and a key
 * repeated in an object are errors, not silently ignored.
 */
static sl_status parse_text(descriptor *d, const char *text, size_t len, sl_error *err)
{
    const char *end = NULL;
    if (strlen(text) != len)
        return sl_error_set(err, SL_ERR_FORMAT, "%s:%d: invalid JSON: a NUL byte", d->file,
                            line_of(text, text + strlen(text)));
    d->root = cJSON_ParseWithOpts(text, &end, 0);
    if (!d->root || !cJSON_IsObject(d->root))
        return sl_error_set(err, SL_ERR_FORMAT, "%s:%d: %s", d->file, line_of(text, end),
                            d->root ? "expected a JSON object" : "invalid JSON");
    end += strspn(end, " \t\r\n");
    if (*end)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s:%d: invalid JSON: unexpected text after the object",
                            d->file, line_of(text, end));
    const char *dup = duplicate_key(d->root);
    if (dup)
        return sl_error_set(err, SL_ERR_FORMAT, "%s: duplicate key \"%.64s\"", d->file, dup);
    return SL_OK;
}

static sl_status parse_json(descriptor *d, sl_error *err)
{
    size_t len = 0;
    char *text = read_text(d->file, &len, err);
    if (!text)
        return err ? err->status : SL_ERR_READ;
    sl_status st = parse_text(d, text, len, err);
    sl_free(text);
    return st;
}

/* ---- fields --------------------------------------------------------------- */

static sl_status bad_field(const descriptor *d, const char *prefix, const char *key,
                           const char *problem, sl_error *err)
{
    return sl_error_set(err, SL_ERR_FORMAT, "%s: %s%s: %s", d->file, prefix, key, problem);
}

static sl_status get_string(const descriptor *d, const cJSON *obj, const char *prefix,
                            const char *key, int required, const char **out, sl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return required ? bad_field(d, prefix, key, "missing", err) : SL_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bad_field(d, prefix, key, "expected a non-empty string", err);
    *out = v->valuestring;
    return SL_OK;
}

static sl_status get_number(const descriptor *d, const cJSON *obj, const char *prefix,
                            const char *key, double lo, double hi, int integer, double *out,
                            sl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return bad_field(d, prefix, key, "missing", err);
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(x >= lo && x <= hi) || (integer && x != floor(x))) {
        char problem[96];
        snprintf(problem, sizeof problem, "expected %s in %.17g..%.17g",
                 integer ? "an integer" : "a number", lo, hi);
        return bad_field(d, prefix, key, problem, err);
    }
    *out = x;
    return SL_OK;
}

static sl_status join_path(const char *dir, const char *file, char *out, sl_error *err)
{
    int dir_len = (int)strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--;
    int n = file[0] == '/' ? snprintf(out, PATH_MAX_LEN, "%s", file)
                           : snprintf(out, PATH_MAX_LEN, "%.*s/%s", dir_len, dir, file);
    if (n < 0 || n >= PATH_MAX_LEN)
        return sl_error_set(err, SL_ERR_INVALID, "%s/%s: path too long", dir, file);
    return SL_OK;
}

/* ---- the descriptor ------------------------------------------------------- */

static sl_status read_common(descriptor *d, const char *datasets_dir, sl_error *err)
{
    double classes = 0;
    const char *dir = NULL;
    sl_status st = get_string(d, d->root, "", "format", 1, &d->format, err);
    if (st == SL_OK)
        st = get_number(d, d->root, "", "classes", 1, SL_DATA_MAX_CLASSES, 1, &classes, err);
    if (st == SL_OK)
        st = get_string(d, d->root, "", "directory", 0, &dir, err);
    if (st == SL_OK)
        st = get_string(d, d->root, "", "debian_package", 0, &d->package, err);
    if (st == SL_OK)
        st = get_string(d, d->root, "", "install_hint", 0, &d->hint, err);
    if (st == SL_OK)
        st = join_path(datasets_dir, dir ? dir : ".", d->directory, err);
    d->classes = (int)classes;
    return st;
}

static sl_status find_split(descriptor *d, sl_error *err)
{
    const cJSON *splits = cJSON_GetObjectItemCaseSensitive(d->root, "splits");
    if (!cJSON_IsObject(splits))
        return bad_field(d, "", "splits", "expected an object of splits", err);
    d->split_obj = cJSON_GetObjectItemCaseSensitive(splits, d->split);
    snprintf(d->where, sizeof d->where, "splits.%s.", d->split);
    if (cJSON_IsObject(d->split_obj))
        return SL_OK;
    char have[128] = "";
    const cJSON *s;
    cJSON_ArrayForEach(s, splits)
    {
        size_t used = strlen(have);
        snprintf(have + used, sizeof have - used, "%s%s", used ? ", " : "", s->string);
    }
    return sl_error_set(err, SL_ERR_FORMAT, "%s: splits: no split \"%s\" (it has: %s)", d->file,
                        d->split, have);
}

/* The path of a split's file, checked to exist: a missing one names its package. */
static sl_status data_file(const descriptor *d, const char *key, char *path, sl_error *err)
{
    const char *file = NULL;
    sl_status st = get_string(d, d->split_obj, d->where, key, 1, &file, err);
    if (st == SL_OK)
        st = join_path(d->directory, file, path, err);
    if (st != SL_OK)
        return st;
    int fd = sl_io_open_regular(path, NULL, err);
    if (fd >= 0) {
        close(fd);
        return SL_OK;
    }
    if (errno != ENOENT) /* there, but a FIFO, a directory, unreadable: as the helper says */
        return SL_ERR_READ;
    const char *why = "no such file";
    if (d->package)
        return sl_error_set(err, SL_ERR_READ,
                            "%s: %s; the %s dataset comes from the Debian package %s: "
                            "install it with: apt-get install %s",
                            path, why, d->name, d->package, d->package);
    return sl_error_set(err, SL_ERR_READ, "%s: %s%s%s", path, why, d->hint ? "; " : "",
                        d->hint ? d->hint : "");
}

/* ---- the formats ---------------------------------------------------------- */

static sl_dataset *open_idx(const descriptor *d, sl_error *err)
{
    char images[PATH_MAX_LEN], labels[PATH_MAX_LEN];
    if (data_file(d, "images", images, err) != SL_OK ||
        data_file(d, "labels", labels, err) != SL_OK)
        return NULL;
    return sl_dataset_load_idx(images, labels, d->classes, err);
}

static sl_dataset *open_csv(const descriptor *d, sl_error *err)
{
    char path[PATH_MAX_LEN];
    if (data_file(d, "file", path, err) != SL_OK)
        return NULL;
    return sl_dataset_load_csv(path, d->classes, err);
}

static sl_dataset *open_spiral(const descriptor *d, sl_error *err)
{
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(d->root, "generator");
    double points = 0, noise = 0, seed = 0;
    if (!cJSON_IsObject(gen)) {
        bad_field(d, "", "generator", "expected an object", err);
        return NULL;
    }
    sl_status st =
        get_number(d, gen, "generator.", "points_per_class", 1, 1 << 24, 1, &points, err);
    if (st == SL_OK)
        st = get_number(d, gen, "generator.", "noise", 0, 1e6, 0, &noise, err);
    if (st == SL_OK) /* seeds up to 2^53: every one a JSON number holds exactly */
        st = get_number(d, d->split_obj, d->where, "seed", 0, 9007199254740992.0, 1, &seed, err);
    if (st != SL_OK)
        return NULL;
    return sl_dataset_spiral(d->classes, (int64_t)points, (float)noise, (uint64_t)seed, err);
}

static sl_dataset *open_format(const descriptor *d, sl_error *err)
{
    if (strcmp(d->format, "idx") == 0)
        return open_idx(d, err);
    if (strcmp(d->format, "csv") == 0)
        return open_csv(d, err);
    if (strcmp(d->format, "spiral") == 0)
        return open_spiral(d, err);
    bad_field(d, "", "format", "expected \"idx\", \"csv\" or \"spiral\"", err);
    return NULL;
}

/* ---- what the descriptor says about the samples --------------------------- */

static sl_status apply_input(const descriptor *d, sl_dataset *ds, sl_error *err)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(d->root, "input");
    if (!input)
        return SL_OK;
    int ndim = cJSON_GetArraySize(input);
    int64_t shape[SL_DATA_MAX_DIMS];
    if (!cJSON_IsArray(input) || ndim < 1 || ndim > SL_DATA_MAX_DIMS)
        return bad_field(d, "", "input", "expected 1 to 3 positive integers", err);
    for (int k = 0; k < ndim; k++) {
        const cJSON *v = cJSON_GetArrayItem(input, k);
        double x = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (!(x >= 1 && x <= 1e9) || x != floor(x))
            return bad_field(d, "", "input", "expected 1 to 3 positive integers", err);
        shape[k] = (int64_t)x;
    }
    double features = 1; /* in double: three dims of 1e9 do not overflow it */
    for (int k = 0; k < ndim; k++)
        features *= (double)shape[k];
    if (features != (double)sl_dataset_sample_size(ds))
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: input: %.0f features a sample, but the data has %lld", d->file,
                            features, (long long)sl_dataset_sample_size(ds));
    return sl_dataset_reshape(ds, ndim, shape, err);
}

static char **copy_names(const cJSON *names, int count)
{
    char **out = sl_calloc((size_t)count, sizeof *out);
    for (int k = 0; out && k < count; k++) {
        const char *s = cJSON_GetArrayItem(names, k)->valuestring;
        size_t len = strlen(s) + 1;
        if ((out[k] = sl_malloc(len)) == NULL) {
            while (k-- > 0)
                sl_free(out[k]);
            sl_free(out);
            return NULL;
        }
        memcpy(out[k], s, len);
    }
    return out;
}

/* A copy of the descriptor's "class_names" into *out, or NULL when it has none. */
static sl_status class_names(const descriptor *d, char ***out, sl_error *err)
{
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(d->root, "class_names");
    *out = NULL;
    if (!names)
        return SL_OK;
    int ok = cJSON_IsArray(names) && cJSON_GetArraySize(names) == d->classes;
    for (int k = 0; ok && k < d->classes; k++)
        ok = cJSON_IsString(cJSON_GetArrayItem(names, k));
    if (!ok) {
        char problem[64];
        snprintf(problem, sizeof problem, "expected %d strings (one per class)", d->classes);
        return bad_field(d, "", "class_names", problem, err);
    }
    *out = copy_names(names, d->classes);
    if (!*out)
        return sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate class names", d->file);
    return SL_OK;
}

static sl_status apply_class_names(const descriptor *d, sl_dataset *ds, sl_error *err)
{
    char **names = NULL;
    sl_status st = class_names(d, &names, err);
    if (names)
        sl_data_set_class_names(ds->store, names);
    return st;
}

/* ---- opening -------------------------------------------------------------- */

static int valid_name(const char *name)
{
    if (!name[0] || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return strlen(name) < 64;
}

static sl_dataset *open_described(descriptor *d, const char *datasets_dir, sl_error *err)
{
    if (parse_json(d, err) != SL_OK || read_common(d, datasets_dir, err) != SL_OK ||
        find_split(d, err) != SL_OK)
        return NULL;
    sl_dataset *ds = open_format(d, err);
    if (!ds)
        return NULL;
    if (apply_input(d, ds, err) != SL_OK || apply_class_names(d, ds, err) != SL_OK) {
        sl_dataset_free(ds);
        return NULL;
    }
    char label[SL_DATA_NAME_MAX];
    snprintf(label, sizeof label, "%s/%s", d->name, d->split);
    memcpy(ds->name, label, sizeof label);
    return ds;
}

/* The descriptor's path <datasets_dir>/<name>.json into file and its name into base. */
static sl_status descriptor_file(const char *datasets_dir, const char *name, char *file,
                                 char base[64], sl_error *err)
{
    char json[80];
    size_t len = strlen(name); /* "fashion-mnist.json" means "fashion-mnist" too */
    if (len > 5 && strcmp(name + len - 5, ".json") == 0)
        len -= 5;
    snprintf(base, 64, "%.*s", (int)len, name);
    snprintf(json, sizeof json, "%s.json", base);
    return join_path(datasets_dir, json, file, err);
}

sl_status sl_data_descriptor_names(const char *datasets_dir, const char *name, char ***names,
                                   int *count, sl_error *err)
{
    char file[PATH_MAX_LEN], base[64];
    *names = NULL;
    *count = 0;
    if (!valid_name(name))
        return sl_error_set(err, SL_ERR_INVALID, "dataset name \"%s\": not a descriptor name",
                            name);
    sl_status st = descriptor_file(datasets_dir, name, file, base, err);
    descriptor d = {.file = file, .name = base, .split = ""};
    if (st == SL_OK)
        st = parse_json(&d, err);
    if (st == SL_OK)
        st = read_common(&d, datasets_dir, err);
    if (st == SL_OK && (st = class_names(&d, names, err)) == SL_OK && *names)
        *count = d.classes;
    cJSON_Delete(d.root);
    return st;
}

void sl_data_free_names(char **names, int count)
{
    for (int k = 0; names && k < count; k++)
        sl_free(names[k]);
    sl_free(names);
}

sl_dataset *sl_dataset_open(const char *datasets_dir, const char *name, const char *split,
                            sl_error *err)
{
    if (!datasets_dir || !name || !split || !valid_name(name) || !valid_name(split)) {
        sl_error_set(err, SL_ERR_INVALID,
                     "open dataset: need a directory, a name and a split made of letters, "
                     "digits, '.', '_' and '-' (got \"%s\", \"%s\")",
                     name ? name : "(null)", split ? split : "(null)");
        return NULL;
    }
    char file[PATH_MAX_LEN], base[64];
    if (descriptor_file(datasets_dir, name, file, base, err) != SL_OK)
        return NULL;
    descriptor d = {.file = file, .name = base, .split = split};
    sl_dataset *ds = open_described(&d, datasets_dir, err);
    cJSON_Delete(d.root);
    return ds;
}
