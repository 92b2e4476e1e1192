#include <stdio.h>
#include <slope/slope.h>
int main(int argc, char **argv)
{
    const char *config = argc > 1 ? argv[1] : "models/fashion_mlp.json";
    sl_error err = {0};
    sl_run *run = sl_run_new_file(config, NULL, 0, NULL, &err);
    int ok = run && sl_run_train(run, &err) == SL_OK;
    if (ok)
        printf("test accuracy: %.2f%%\n", 100.0 * sl_run_last_epoch(run)->test.accuracy);
    else
        fprintf(stderr, "%s\n", err.message);
    sl_run_free(run);
    return ok ? 0 : 1;
}
