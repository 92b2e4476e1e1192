/*
 * data_csv.c - the CSV reader: "label,feature,feature,..." per line.
 *
 * Read through zlib, so a .csv.gz works as well as a plain file.  A UTF-8
 * byte-order mark at the start is skipped.  The first non-blank row is a
 * header when none of its fields is a number; a first row mixing text and
 * numbers is an error (a corrupt first data row is reported, not taken for
 * a header and dropped).  Numbers are parsed with strtod (the C locale's '.'
 * as decimal point unless the program changed the locale).
 *
 * Memory: lines longer than sl_data_max_line are refused as soon as that
 * many bytes have arrived, and every growth of the line, the fields and the
 * rows is checked against the memory budget first (data_budget.c), so a
 * small .gz that inflates to gigabytes of rows stops at the budget.
 */
#include "alloc.h"
#include "data_internal.h"
#include "io_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* How much of a field an error message quotes, and the buffer for it escaped. */
#define SHOW_MAX 40
#define SHOW_BUF (SHOW_MAX * 4 + 1)

typedef struct csv_reader {
    const char *path;
    gzFile f;
    char chunk[1 << 16];
    size_t pos, len; /* unread bytes of chunk: [pos, len) */
    char *line;
    size_t line_cap;
    long lineno;
    char **fields;
    int fields_cap;
    int nfields;
    int columns;       /* expected per row; 0 before the first row */
    long columns_line; /* the row that set columns */
    int num_classes;   /* 0: any non-negative label */
    int labelled;      /* 1: the first column is the label; 0: there is none (labels 0) */
    float *x;
    int32_t *y;
    int64_t rows, rows_cap;
    sl_data_budget budget;
    uint64_t max_line; /* bytes, its line end included */
} csv_reader;

/* ---- lines ---------------------------------------------------------------- */

/* Features per row. */
static int features_of(const csv_reader *r)
{
    return r->columns - r->labelled;
}

/* The bytes the reader holds, with the line, fields and rows at these capacities. */
static uint64_t held(const csv_reader *r, size_t line_cap, int fields_cap, int64_t rows_cap)
{
    uint64_t row = r->columns > 0 ? (uint64_t)(features_of(r) + 1) * sizeof(float) : 0;
    return line_cap + (uint64_t)fields_cap * sizeof(char *) + (uint64_t)rows_cap * row;
}

/* Makes room for a line of need bytes and its terminator. */
static sl_status grow_line(csv_reader *r, size_t need, sl_error *err)
{
    if (need > r->max_line)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s:%ld: the line is longer than %llu bytes (the CSV line limit; "
                            "sl_data_set_max_line)",
                            r->path, r->lineno, (unsigned long long)r->max_line);
    size_t cap = r->line_cap ? r->line_cap : 4096;
    while (cap < need + 1)
        cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
    if (cap - 1 > r->max_line)
        cap = (size_t)r->max_line + 1;
    sl_status st = sl_data_budget_check(&r->budget, r->path, r->lineno,
                                        held(r, cap, r->fields_cap, r->rows_cap), "the line",
                                        err);
    if (st != SL_OK)
        return st;
    char *p = sl_realloc(r->line, cap);
    if (!p)
        return sl_error_set(err, SL_ERR_NOMEM, "%s:%ld: cannot allocate a %zu-byte line",
                            r->path, r->lineno, cap);
    r->line = p;
    r->line_cap = cap;
    return SL_OK;
}

static sl_status refill(csv_reader *r, sl_error *err)
{
    int n = gzread(r->f, r->chunk, sizeof r->chunk);
    r->pos = 0;
    r->len = n > 0 ? (size_t)n : 0;
    if (n < 0 || (n == 0 && sl_data_gz_failed(r->f)))
        return sl_data_gz_error(r->f, r->path, err);
    return SL_OK;
}

/* Reads the next line into r->line without its line end; *eof at the end. */
static sl_status read_line(csv_reader *r, int *eof, sl_error *err)
{
    size_t used = 0;
    r->lineno++;
    for (;;) {
        if (r->pos == r->len && refill(r, err) != SL_OK)
            return err ? err->status : SL_ERR_READ;
        if (r->len == 0) { /* the end of the file */
            *eof = used == 0;
            break;
        }
        char *start = r->chunk + r->pos;
        char *nl = memchr(start, '\n', r->len - r->pos);
        size_t take = nl ? (size_t)(nl - start) + 1 : r->len - r->pos;
        if (r->line_cap < used + take + 1) {
            sl_status st = grow_line(r, used + take, err);
            if (st != SL_OK)
                return st;
        }
        memcpy(r->line + used, start, take);
        used += take;
        r->pos += take;
        if (nl)
            break;
    }
    if (used > 0 && memchr(r->line, '\0', used)) /* r->line is NULL for an empty file */
        return sl_error_set(err, SL_ERR_FORMAT, "%s:%ld: the line holds a NUL byte (binary data?)",
                            r->path, r->lineno);
    while (used > 0 && (r->line[used - 1] == '\n' || r->line[used - 1] == '\r'))
        used--;
    if (r->line_cap > 0)
        r->line[used] = '\0';
    return SL_OK;
}

/* Drops a UTF-8 byte-order mark (EF BB BF) from the start of line 1: editors on
 * Windows write one, and it would glue itself to the first label. */
static void skip_bom(csv_reader *r)
{
    static const char bom[] = "\xEF\xBB\xBF";
    if (r->lineno == 1 && strncmp(r->line, bom, 3) == 0)
        memmove(r->line, r->line + 3, strlen(r->line + 3) + 1);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return s;
}

/* Cuts r->line at the commas into r->fields (trimmed). */
static sl_status split_fields(csv_reader *r, sl_error *err)
{
    r->nfields = 0;
    char *p = r->line;
    for (;;) {
        if (r->nfields == r->fields_cap) {
            int cap = r->fields_cap ? r->fields_cap * 2 : 64;
            sl_status st = sl_data_budget_check(&r->budget, r->path, r->lineno,
                                                held(r, r->line_cap, cap, r->rows_cap),
                                                "the line's fields", err);
            if (st != SL_OK)
                return st;
            char **grown = sl_realloc(r->fields, (size_t)cap * sizeof *grown);
            if (!grown)
                return sl_error_set(err, SL_ERR_NOMEM, "%s:%ld: cannot allocate fields",
                                    r->path, r->lineno);
            r->fields = grown;
            r->fields_cap = cap;
        }
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        r->fields[r->nfields++] = trim(p);
        if (!comma)
            return SL_OK;
        p = comma + 1;
    }
}

/* ---- fields --------------------------------------------------------------- */

/* The first SHOW_MAX bytes of s for a message, control characters escaped: a
 * raw '\r' (a file with CR-only line ends) would garble the terminal. */
static const char *show(const char *s, char buf[SHOW_BUF])
{
    size_t n = 0;
    for (int k = 0; k < SHOW_MAX && s[k]; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '\r' || c == '\n' || c == '\t')
            n += (size_t)snprintf(buf + n, SHOW_BUF - n, "\\%c",
                                  c == '\r' ? 'r' : c == '\n' ? 'n' : 't');
        else if (c < 0x20 || c == 0x7F)
            n += (size_t)snprintf(buf + n, SHOW_BUF - n, "\\x%02X", c);
        else
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
    return buf;
}

static int parse_number(const char *s, double *v)
{
    char *end = NULL;
    errno = 0;
    *v = strtod(s, &end);
    return *s != '\0' && end && *end == '\0';
}

/*
 * Classifies the first row: 1 for a header (no field is a number), 0 for
 * data (every field is one; bad values are left to the data checks).  A row
 * mixing both is neither: taking it for a header would silently drop a
 * corrupt first data row, so it is an error naming its first text field.
 */
static sl_status classify_first(const csv_reader *r, int *header, sl_error *err)
{
    int numbers = 0, text = -1;
    double v;
    for (int c = 0; c < r->nfields; c++) {
        if (parse_number(r->fields[c], &v))
            numbers++;
        else if (text < 0)
            text = c;
    }
    *header = numbers == 0;
    if (numbers == 0 || text < 0)
        return SL_OK;
    char buf[SHOW_BUF];
    return sl_error_set(err, SL_ERR_FORMAT,
                        "%s:%ld:%d: expected a number, got \"%s\" "
                        "(a header row would have no numeric fields)",
                        r->path, r->lineno, text + 1, show(r->fields[text], buf));
}

static sl_status parse_label(csv_reader *r, int32_t *label, sl_error *err)
{
    const char *s = r->fields[0];
    long limit = r->num_classes > 0 ? r->num_classes : SL_DATA_MAX_CLASSES;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    char buf[SHOW_BUF];
    if (*s == '\0' || *end != '\0' || errno == ERANGE || v < 0)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s:%ld:1: expected a non-negative integer label, got \"%s\"",
                            r->path, r->lineno, show(s, buf));
    if (v >= limit)
        return sl_error_set(err, SL_ERR_FORMAT, "%s:%ld:1: label %lld is not in 0..%ld",
                            r->path, r->lineno, v, limit - 1);
    *label = (int32_t)v;
    return SL_OK;
}

static sl_status parse_feature(const csv_reader *r, int col, float *out, sl_error *err)
{
    double v = 0.0;
    const char *s = r->fields[col];
    char buf[SHOW_BUF];
    if (!parse_number(s, &v))
        return sl_error_set(err, SL_ERR_FORMAT, "%s:%ld:%d: expected a number, got \"%s\"",
                            r->path, r->lineno, col + 1, show(s, buf));
    if (!isfinite(v) || fabs(v) > FLT_MAX) /* strtod skips leading whitespace, '\r' too */
        return sl_error_set(err, SL_ERR_FORMAT, "%s:%ld:%d: %s is not a finite float",
                            r->path, r->lineno, col + 1, show(s, buf));
    *out = (float)v;
    return SL_OK;
}

/* ---- rows ----------------------------------------------------------------- */

static sl_status check_columns(csv_reader *r, sl_error *err)
{
    if (r->columns == 0) {
        if (r->nfields < 1 + r->labelled)
            return sl_error_set(err, SL_ERR_FORMAT,
                                "%s:%ld: a row needs a label and at least one feature",
                                r->path, r->lineno);
        r->columns = r->nfields;
        r->columns_line = r->lineno;
    }
    if (r->nfields != r->columns) {
        int col = (r->nfields < r->columns ? r->nfields : r->columns) + 1;
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s:%ld:%d: the row has %d columns, expected %d as on line %ld",
                            r->path, r->lineno, col, r->nfields, r->columns, r->columns_line);
    }
    return SL_OK;
}

/* The row capacity to grow to: double (the first: about 64 KiB of rows), but no more
 * than the budget leaves room for; SL_ERR_NOMEM when not even one more row fits. */
static sl_status next_row_cap(csv_reader *r, int64_t *cap, sl_error *err)
{
    uint64_t row = (uint64_t)(features_of(r) + 1) * sizeof(float); /* features and label */
    uint64_t others = held(r, r->line_cap, r->fields_cap, 0);
    uint64_t fit = r->budget.cap > others ? (r->budget.cap - others) / row : 0;
    uint64_t want = r->rows_cap ? (uint64_t)r->rows_cap * 2 : (65536 + row - 1) / row;
    if (fit > (uint64_t)INT64_MAX / 2)
        fit = (uint64_t)INT64_MAX / 2;
    if (want > fit)
        want = fit;
    if (want <= (uint64_t)r->rows) {
        char what[96];
        snprintf(what, sizeof what, "%lld rows of %d features", (long long)r->rows + 1,
                 features_of(r));
        sl_status st = sl_data_budget_check(&r->budget, r->path, r->lineno,
                                            others + ((uint64_t)r->rows + 1) * row, what, err);
        return st != SL_OK ? st : sl_error_set(err, SL_ERR_NOMEM, "%s: no room", r->path);
    }
    *cap = (int64_t)want;
    return SL_OK;
}

static sl_status reserve_row(csv_reader *r, sl_error *err)
{
    if (r->rows < r->rows_cap)
        return SL_OK;
    int64_t cap = 0;
    size_t features = (size_t)features_of(r);
    sl_status st = next_row_cap(r, &cap, err);
    if (st != SL_OK)
        return st;
    if ((uint64_t)cap > SIZE_MAX / sizeof(float) / features)
        return sl_error_set(err, SL_ERR_NOMEM, "%s:%ld: too many rows", r->path, r->lineno);
    float *x = sl_realloc(r->x, (size_t)cap * features * sizeof *x);
    if (x)
        r->x = x;
    int32_t *y = x ? sl_realloc(r->y, (size_t)cap * sizeof *y) : NULL;
    if (!y)
        return sl_error_set(err, SL_ERR_NOMEM, "%s:%ld: cannot allocate %lld rows", r->path,
                            r->lineno, (long long)cap);
    r->y = y;
    r->rows_cap = cap;
    return SL_OK;
}

static sl_status add_row(csv_reader *r, sl_error *err)
{
    sl_status st = check_columns(r, err);
    if (st == SL_OK)
        st = reserve_row(r, err);
    if (st == SL_OK && r->labelled)
        st = parse_label(r, &r->y[r->rows], err);
    if (st != SL_OK)
        return st;
    if (!r->labelled)
        r->y[r->rows] = 0;
    float *x = r->x + r->rows * features_of(r);
    for (int c = r->labelled; c < r->nfields; c++)
        if ((st = parse_feature(r, c, &x[c - r->labelled], err)) != SL_OK)
            return st;
    r->rows++;
    return SL_OK;
}

/* The first non-blank row: a header only sets the width, data is added. */
static sl_status first_row(csv_reader *r, sl_error *err)
{
    int header = 0;
    sl_status st = classify_first(r, &header, err);
    if (st != SL_OK)
        return st;
    return header ? check_columns(r, err) : add_row(r, err);
}

static sl_status read_rows(csv_reader *r, sl_error *err)
{
    int first = 1;
    for (;;) {
        int eof = 0;
        sl_status st = read_line(r, &eof, err);
        if (st != SL_OK)
            return st;
        if (eof)
            break;
        skip_bom(r);
        if (*trim(r->line) == '\0')
            continue;
        if ((st = split_fields(r, err)) != SL_OK)
            return st;
        st = first ? first_row(r, err) : add_row(r, err);
        if (st != SL_OK)
            return st;
        first = 0;
    }
    if (r->rows == 0)
        return sl_error_set(err, SL_ERR_FORMAT, "%s: no data rows", r->path);
    return SL_OK;
}

static void reader_free(csv_reader *r)
{
    if (r->f)
        gzclose(r->f);
    sl_free(r->line);
    sl_free(r->fields);
    sl_free(r->x);
    sl_free(r->y);
    sl_free(r);
}

/* Gives back the unused part of the doubled row arrays (a smaller realloc may not move,
 * and a failed one keeps the larger block, which is as good). */
static void shrink_rows(csv_reader *r)
{
    size_t features = (size_t)features_of(r);
    float *x = sl_realloc(r->x, (size_t)r->rows * features * sizeof *x);
    if (x)
        r->x = x;
    int32_t *y = sl_realloc(r->y, (size_t)r->rows * sizeof *y);
    if (y)
        r->y = y;
}

static sl_dataset *make_dataset(csv_reader *r, sl_error *err)
{
    int64_t features = features_of(r);
    shrink_rows(r);
    sl_data_store *st = sl_data_store_new(SL_DATA_F32, r->rows, features, r->x, r->y, err);
    r->x = NULL; /* the store owns them now, even on failure */
    r->y = NULL;
    if (!st)
        return NULL;
    if (sl_data_check_labels(st, r->num_classes, r->path, err) != SL_OK) {
        sl_data_store_release(st);
        return NULL;
    }
    return sl_data_handle_new(st, r->path, 1, &features, err);
}

static sl_dataset *load_csv(const char *path, int num_classes, int labelled, sl_error *err)
{
    csv_reader *r = sl_calloc(1, sizeof *r);
    if (!r) {
        sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a CSV reader", path);
        return NULL;
    }
    r->path = path;
    r->num_classes = num_classes;
    r->labelled = labelled;
    sl_dataset *ds = NULL;
    if (sl_data_budget_init(&r->budget, err) == SL_OK &&
        sl_data_gz_open(path, &r->f, NULL, err) == SL_OK) {
        uint64_t limit = sl_data_max_line();
        r->max_line = limit < r->budget.cap ? limit : r->budget.cap;
        if (read_rows(r, err) == SL_OK)
            ds = make_dataset(r, err);
    }
    reader_free(r);
    return ds;
}

sl_dataset *sl_dataset_load_csv(const char *path, int num_classes, sl_error *err)
{
    if (!path || num_classes < 0 || num_classes > SL_DATA_MAX_CLASSES) {
        sl_error_set(err, SL_ERR_INVALID, "load_csv: need a path and num_classes in 0..%d",
                     SL_DATA_MAX_CLASSES);
        return NULL;
    }
    return load_csv(path, num_classes, 1, err);
}

sl_dataset *sl_data_load_csv_features(const char *path, sl_error *err)
{
    return load_csv(path, 1, 0, err);
}
