/*
 * mpi_compare.c - compares two slope checkpoints tensor by tensor, for the
 * MPI tests (tests/mpi_tests.cmake).
 *
 * usage: mpi_compare A.safetensors B.safetensors TOLERANCE
 *
 * Every tensor of A must be in B with the same shape, and the metadata
 * slope.steps and slope.epoch must match.  Prints the largest absolute
 * difference (and where), and exits 0 when it is <= TOLERANCE, 1 when it is
 * larger or the files do not correspond, 2 when a file cannot be read.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slope/slope.h"

static int same_meta(const sl_safetensors *a, const sl_safetensors *b, const char *key)
{
    const char *va = sl_safetensors_metadata(a, key), *vb = sl_safetensors_metadata(b, key);
    if ((va == NULL) != (vb == NULL) || (va && strcmp(va, vb) != 0)) {
        printf("metadata %s differs: %s vs %s\n", key, va ? va : "(none)", vb ? vb : "(none)");
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s A.safetensors B.safetensors TOLERANCE\n", argv[0]);
        return 2;
    }
    double tol = strtod(argv[3], NULL);
    sl_error err = {0};
    sl_safetensors *a = sl_safetensors_read(argv[1], &err);
    sl_safetensors *b = a ? sl_safetensors_read(argv[2], &err) : NULL;
    if (!a || !b) {
        fprintf(stderr, "mpi_compare: %s\n", err.message);
        sl_safetensors_free(a);
        return 2;
    }
    int ok = same_meta(a, b, "slope.steps") && same_meta(a, b, "slope.epoch");
    double worst = 0.0;
    const char *worst_name = "-";
    size_t n = sl_safetensors_count(a);
    for (size_t i = 0; i < n; i++) {
        sl_named_tensor ta = sl_safetensors_at(a, i);
        const sl_tensor *tb = sl_safetensors_get(b, ta.name);
        if (!tb || !sl_tensor_same_shape(ta.tensor, tb)) {
            printf("%s: %s in %s\n", ta.name, tb ? "another shape" : "missing", argv[2]);
            ok = 0;
            continue;
        }
        for (int64_t j = 0; j < tb->size; j++) {
            double d = fabs((double)ta.tensor->data[j] - (double)tb->data[j]);
            if (!(d <= worst)) { /* NaN counts as worst */
                worst = isnan(d) ? INFINITY : d;
                worst_name = ta.name;
            }
        }
    }
    if (sl_safetensors_count(b) != n) {
        printf("%zu tensors in %s, %zu in %s\n", n, argv[1], sl_safetensors_count(b), argv[2]);
        ok = 0;
    }
    printf("%zu tensors, max |difference| %.3g (%s), tolerance %.3g\n", n, worst, worst_name, tol);
    sl_safetensors_free(a);
    sl_safetensors_free(b);
    return ok && worst <= tol ? 0 : 1;
}
