/*
 * test_born_dead_grid.c - the born-dead grid (slope/stats.h): every cell equals
 * sl_born_dead on its own width and depth, with theory only where it applies;
 * the CSV reads back to the cells; the gnuplot script holds one datablock per
 * width and the theory band only with theory; unwritable paths are SL_ERR_IO.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "slope/stats.h"

static const int widths[] = {1, 3}, depths[] = {1, 2, 4};
#define N_CELLS 6

typedef struct seen {
    int count, width[N_CELLS], depth[N_CELLS];
} seen;

static void on_cell(const sl_born_dead_cell *c, void *user)
{
    seen *s = user;
    s->width[s->count] = c->width;
    s->depth[s->count++] = c->depth;
}

static sl_born_dead_spec small_spec(void)
{
    sl_born_dead_spec spec = sl_born_dead_defaults();
    spec.trials = 300;
    spec.seed = 9;
    return spec;
}

/* The 2 x 3 grid of small_spec, into cells. */
static void small_grid(sl_born_dead_cell *cells)
{
    sl_error err = {0};
    sl_born_dead_spec spec = small_spec();
    assert_int_equal(sl_born_dead_grid(&spec, widths, 2, depths, 3, cells, NULL, NULL, &err),
                     SL_OK);
}

static void test_grid_cells_are_single_runs(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_born_dead_spec spec = small_spec();
    sl_born_dead_cell cells[N_CELLS];
    seen s = {0};
    assert_int_equal(sl_born_dead_grid(&spec, widths, 2, depths, 3, cells, on_cell, &s, &err),
                     SL_OK);
    assert_int_equal(s.count, N_CELLS);
    for (int k = 0; k < N_CELLS; k++) {
        assert_int_equal(s.width[k], widths[k / 3]); /* widths outer, in order */
        assert_int_equal(s.depth[k], depths[k % 3]);
        sl_born_dead_spec one = spec;
        one.width = widths[k / 3];
        one.depth = depths[k % 3];
        sl_born_dead_result r;
        assert_int_equal(sl_born_dead(&one, &r, &err), SL_OK);
        assert_int_equal(cells[k].res.dead, r.dead);
        assert_int_equal(cells[k].has_theory, 1); /* ReLU, zero biases, input dim 1 */
        double lo, hi;
        assert_int_equal(cells[k].theory_exact, sl_born_dead_theory(one.width, one.depth, &lo, &hi));
        assert_float_equal(cells[k].theory_lo, lo, 0.0);
        assert_float_equal(cells[k].theory_hi, hi, 0.0);
    }
    /* Leaky ReLU: measured, but no theory. */
    assert_int_equal(sl_layer_spec_parse("leaky_relu:0.1", &spec.act, &err), SL_OK);
    assert_int_equal(sl_born_dead_grid(&spec, widths, 1, depths, 1, cells, NULL, NULL, &err),
                     SL_OK);
    assert_int_equal(cells[0].has_theory, 0);
}

static void test_csv_reads_back(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_born_dead_cell cells[N_CELLS];
    small_grid(cells);
    cells[5].has_theory = 0; /* that row's theory columns are empty */
    char path[] = "/tmp/slope_bd_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(sl_born_dead_write_csv(path, cells, N_CELLS, &err), SL_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "width,depth,trials,p_dead,stderr,mean_dead_layers,theory_lo,"
                              "theory_hi\n");
    for (int k = 0; k < N_CELLS; k++) {
        assert_non_null(fgets(line, sizeof line, f));
        int w, d;
        long long trials;
        double p, se, mean, lo = NAN, hi = NAN;
        int fields = sscanf(line, "%d,%d,%lld,%lf,%lf,%lf,%lf,%lf", &w, &d, &trials, &p, &se,
                            &mean, &lo, &hi);
        assert_int_equal(fields, k == 5 ? 6 : 8);
        assert_int_equal(w, cells[k].width);
        assert_int_equal(d, cells[k].depth);
        assert_int_equal(trials, 300);
        assert_float_equal(p, cells[k].res.p_dead, 1e-5);
        if (k < 5)
            assert_float_equal(hi, cells[k].theory_hi, 1e-5);
    }
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
    remove(path);
    assert_int_equal(sl_born_dead_write_csv("/nonexistent-dir/x.csv", cells, 1, &err), SL_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent-dir/x.csv"));
}

/* How often needle occurs in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        for (const char *p = line; (p = strstr(p, needle)); p++)
            n++;
    fclose(f);
    return n;
}

static void test_plot_script(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_born_dead_cell cells[N_CELLS];
    small_grid(cells);
    char path[] = "/tmp/slope_bd_gp_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(sl_born_dead_write_plot(path, "out.png", "a title", 1, cells, N_CELLS, &err),
                     SL_OK);
    assert_int_equal(count_in_file(path, "<< EOD"), 2); /* one block per width */
    assert_int_equal(count_in_file(path, "filledcurves"), 2);
    assert_int_equal(count_in_file(path, "set output 'out.png'"), 1);
    assert_int_equal(count_in_file(path, "P(dead at init)"), 1);
    for (int k = 0; k < N_CELLS; k++)
        cells[k].has_theory = 0;
    assert_int_equal(sl_born_dead_write_plot(path, "out.png", "t", 0, cells, N_CELLS, &err), SL_OK);
    assert_int_equal(count_in_file(path, "filledcurves"), 0);
    assert_int_equal(count_in_file(path, "wholly negative"), 1);
    remove(path);
    assert_int_equal(sl_born_dead_write_plot(path, "o.png", "it's", 1, cells, 1, &err),
                     SL_ERR_INVALID);
    assert_int_equal(sl_born_dead_write_plot("/nonexistent-dir/p.gp", "o.png", "t", 1, cells, 1,
                                             &err),
                     SL_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_cells_are_single_runs),
        cmocka_unit_test(test_csv_reads_back),
        cmocka_unit_test(test_plot_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
