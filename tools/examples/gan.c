/*
 * gan.c - a GAN trained with libslope, in a loop of its own: two models from
 * two configs, two optimizers, the discriminator's gradient flowing into the
 * generator.  Per epoch: an 8x8 grid of samples from a fixed latent batch (PNG,
 * libpng), the classifier score of generated samples under a classifier slope
 * trained, the discriminator's dead units, one JSON line of metrics, and both
 * models saved with their optimizers (resumable exactly).
 *
 *   gan --generator models/gan_generator.json --discriminator models/gan_discriminator.json
 *       --classifier fashion_cnn.safetensors --epochs 20 --out gan-run
 *
 * The pattern, step by step (D: discriminator, G: generator, one graph reused):
 *   D step  G frozen (sl_model_set_trainable(g, 0)): G(z) records nothing; D sees
 *           real and fake rows in one batch, BCE-with-logits against 1 and 0.
 *   G step  D frozen: D(G(z)) against 1 (the non-saturating loss); the gradient
 *           passes through D into G, D's parameters and gradients are left alone.
 * Build: cc -std=c11 gan.c $(pkg-config --cflags --libs slope libpng) -lm -o gan
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, mkdir */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <slope/slope.h>

#define GRID 8 /* the sample grid is GRID x GRID images */
#define MAX_SETS 32

typedef struct args {
    const char *gen_cfg, *disc_cfg, *classifier, *classifier_cfg, *out;
    const char *gen_set[MAX_SETS], *disc_set[MAX_SETS];
    size_t n_gen_set, n_disc_set;
    int epochs, resume, threads;
    long max_batches, score_samples;
    float real_label; /* D's target for real images: 1, or less for one-sided smoothing */
} args;

/* Everything the loop works with. */
typedef struct gan {
    args a;
    sl_config *gcfg, *dcfg;
    sl_model *gen, *disc, *classifier;
    sl_optimizer *gopt, *dopt;
    sl_run_data data;
    sl_batch_iter *iter;
    sl_graph *graph;
    int64_t batch, latent, image; /* batch size, latent and image sizes (floats) */
    float *real, *fixed_z;        /* a batch of real images; the grid's latent batch */
    int32_t *labels;
    sl_dataset *probe;            /* real test images with label 0, for D's statistics */
    float *probe_x;               /* its storage (a dataset from arrays borrows them) */
    int32_t *probe_y;
    sl_stats *stats;
    int epoch;                    /* epochs done */
    double real_score;
} gan;

typedef struct epoch_sums {
    double d_loss, g_loss, d_real, d_fake;
    int64_t steps;
} epoch_sums;

static int fail(const sl_error *err)
{
    fprintf(stderr, "gan: %s\n", err->message[0] ? err->message : sl_status_name(err->status));
    return err->status == SL_ERR_NOMEM ? 6 : err->status == SL_ERR_IO ? 5 : 3;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: gan --generator CFG --discriminator CFG [options]\n"
            "  --classifier CKPT       a slope classifier checkpoint (fashion_cnn) for the score\n"
            "  --classifier-config C   its config, when the checkpoint does not carry one\n"
            "  --epochs N              (the discriminator config's train.epochs)\n"
            "  --out DIR               where samples, metrics and checkpoints go (gan-run)\n"
            "  --resume                continue from DIR's checkpoints\n"
            "  --set-g PATH=V, --set-d PATH=V   override a key of either config\n"
            "  --max-batches K         stop each epoch after K batches (quick runs)\n"
            "  --score-samples N       generated samples the score is taken over (10000)\n"
            "  --real-label V          D's target for real images, in (0.5, 1] (1; 0.9: one-sided\n"
            "                          label smoothing, Salimans et al. 2016; fakes stay 0)\n"
            "  --threads N             slope's threads\n");
}

static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->out = "gan-run";
    a->score_samples = 10000;
    a->real_label = 1.0f;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (strcmp(o, "--resume") == 0) {
            a->resume = 1;
            used = 0;
        } else if (!v) {
            usage();
            return 2;
        } else if (strcmp(o, "--generator") == 0) a->gen_cfg = v;
        else if (strcmp(o, "--discriminator") == 0) a->disc_cfg = v;
        else if (strcmp(o, "--classifier") == 0) a->classifier = v;
        else if (strcmp(o, "--classifier-config") == 0) a->classifier_cfg = v;
        else if (strcmp(o, "--out") == 0) a->out = v;
        else if (strcmp(o, "--epochs") == 0) a->epochs = atoi(v);
        else if (strcmp(o, "--threads") == 0) a->threads = atoi(v);
        else if (strcmp(o, "--max-batches") == 0) a->max_batches = atol(v);
        else if (strcmp(o, "--score-samples") == 0) a->score_samples = atol(v);
        else if (strcmp(o, "--real-label") == 0) a->real_label = strtof(v, NULL);
        else if (strcmp(o, "--set-g") == 0 && a->n_gen_set < MAX_SETS) a->gen_set[a->n_gen_set++] = v;
        else if (strcmp(o, "--set-d") == 0 && a->n_disc_set < MAX_SETS) a->disc_set[a->n_disc_set++] = v;
        else {
            usage();
            return 2;
        }
        i += used;
    }
    if (!a->gen_cfg || !a->disc_cfg || a->epochs < 0 || a->score_samples < 1 ||
        !(a->real_label > 0.5f && a->real_label <= 1.0f)) {
        usage();
        return 2;
    }
    return 0;
}

/* ---- set-up ------------------------------------------------------------------------------ */

static sl_optimizer *optimizer_for(sl_model *m, const sl_config *cfg, sl_error *err)
{
    return sl_optimizer_new(sl_model_param(m, 0), sl_model_num_params(m), &cfg->optimizer, err);
}

static int64_t flat_size(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

/* G's output must be D's input, element for element. */
static sl_status check_shapes(gan *s, sl_error *err)
{
    int64_t shape[4];
    s->latent = flat_size(shape, sl_model_layer_shape(s->gen, -1, shape));
    int64_t g_out = flat_size(shape, sl_model_output_shape(s->gen, shape));
    s->image = flat_size(shape, sl_model_layer_shape(s->disc, -1, shape));
    int64_t d_out = flat_size(shape, sl_model_output_shape(s->disc, shape));
    if (g_out != s->image || d_out != 1)
        return sl_error_set(err, SL_ERR_SHAPE, "%s gives %lld values per sample and %s takes %lld "
                            "and gives %lld (must be 1)", s->a.gen_cfg, (long long)g_out,
                            s->a.disc_cfg, (long long)s->image, (long long)d_out);
    return SL_OK;
}

static sl_status open_models(gan *s, sl_error *err)
{
    s->gcfg = sl_config_load(s->a.gen_cfg, s->a.gen_set, s->a.n_gen_set, err);
    s->dcfg = s->gcfg ? sl_config_load(s->a.disc_cfg, s->a.disc_set, s->a.n_disc_set, err) : NULL;
    if (!s->dcfg)
        return err->status;
    s->gen = sl_run_build_model(s->gcfg, err);
    /* G's input is latent noise: no data normalisation before it, in training (the graph
     * takes z as it is) and in sl_predict alike, whatever its config's data section says. */
    if (s->gen && sl_model_set_input_normalize(s->gen, SL_NORMALIZE_NONE, 0, 1, err) != SL_OK)
        return err->status;
    s->disc = s->gen ? sl_run_build_model(s->dcfg, err) : NULL;
    if (!s->disc || check_shapes(s, err) != SL_OK)
        return err->status;
    s->gopt = optimizer_for(s->gen, s->gcfg, err);
    s->dopt = s->gopt ? optimizer_for(s->disc, s->dcfg, err) : NULL;
    return s->dopt ? SL_OK : err->status;
}

/* The training images as D's config reads them (normalised to tanh's [-1, 1] by it). */
static sl_status open_data(gan *s, sl_error *err)
{
    if (sl_run_data_open(s->dcfg, sl_datasets_dir(), &s->data, err) != SL_OK)
        return err->status;
    if (sl_dataset_sample_size(s->data.train) != s->image)
        return sl_error_set(err, SL_ERR_SHAPE, "%s: images of %lld values, the models take %lld",
                            s->a.disc_cfg, (long long)sl_dataset_sample_size(s->data.train),
                            (long long)s->image);
    s->batch = s->dcfg->train.batch_size;
    sl_batch_options bo = {.batch_size = s->batch, .shuffle = 1, .seed = s->dcfg->seed,
                           .drop_last = 1};
    s->iter = sl_batch_iter_new(s->data.train, &bo, err);
    s->real = calloc((size_t)(s->batch * s->image), sizeof(float));
    s->labels = calloc((size_t)s->batch, sizeof(int32_t));
    s->fixed_z = calloc((size_t)(GRID * GRID * s->latent), sizeof(float));
    if (!s->iter || !s->real || !s->labels || !s->fixed_z)
        return err->status ? err->status : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    s->graph = sl_graph_new(s->gcfg->seed, err);
    return s->graph ? SL_OK : err->status;
}

/* Up to 1,000 real test images with label 0: D has one output, so one class. */
static sl_status open_probe(gan *s, sl_error *err)
{
    const sl_dataset *src = s->data.test ? s->data.test : s->data.train;
    int64_t n = sl_dataset_count(src) < 1000 ? sl_dataset_count(src) : 1000, shape[4];
    float *x = s->probe_x = malloc((size_t)(n * s->image) * sizeof *x);
    int32_t *y = s->probe_y = calloc((size_t)n, sizeof *y);
    sl_status st = x && y ? sl_dataset_read(src, 0, n, x, NULL, err)
                          : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    int nd = sl_model_layer_shape(s->disc, -1, shape);
    if (st == SL_OK)
        s->probe = sl_dataset_from_arrays(x, y, n, nd, shape, 1, err);
    if (s->probe)
        s->stats = sl_stats_new(s->disc, s->probe, 256, SL_LOSS_CROSS_ENTROPY, err);
    return s->stats ? SL_OK : err->status;
}

/* The classifier, and its score on real test images: the ceiling generated ones aim at. */
static sl_status open_classifier(gan *s, sl_error *err)
{
    if (!s->a.classifier)
        return SL_OK;
    s->classifier = sl_checkpoint_model(s->a.classifier, s->a.classifier_cfg, NULL, err);
    if (!s->classifier)
        return err->status;
    sl_dataset *test = s->data.test ? s->data.test : s->data.train;
    int64_t n = sl_dataset_count(test) < s->a.score_samples ? sl_dataset_count(test)
                                                              : s->a.score_samples;
    float *x = malloc((size_t)(n * s->image) * sizeof *x);
    if (!x)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    /* Raw pixels, as the classifier takes them: undo D's normalisation. */
    sl_dataset_set_normalize(test, SL_NORMALIZE_NONE, 0, 1, NULL);
    sl_status st = sl_dataset_read(test, 0, n, x, NULL, err);
    sl_dataset_set_normalize(test, s->data.normalize, s->data.mean, s->data.std, NULL);
    if (st == SL_OK)
        st = sl_classifier_score(s->classifier, x, n, 500, &s->real_score, err);
    free(x);
    if (st == SL_OK)
        printf("classifier score of %lld real test images: %.3f (the ceiling)\n", (long long)n,
               s->real_score);
    return st;
}

/* ---- checkpoints --------------------------------------------------------------------------- */

static void out_path(const gan *s, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", s->a.out, name);
}

static sl_status save(gan *s, sl_error *err)
{
    char epoch[32], path[1024];
    snprintf(epoch, sizeof epoch, "%d", s->epoch);
    sl_kv meta[1] = {{"gan.epoch", epoch}};
    out_path(s, "generator.safetensors", path, sizeof path);
    if (sl_model_save_with_optimizer(s->gen, s->gopt, path, meta, 1, err) != SL_OK)
        return err->status;
    out_path(s, "discriminator.safetensors", path, sizeof path);
    return sl_model_save_with_optimizer(s->disc, s->dopt, path, meta, 1, err);
}

static sl_status resume(gan *s, sl_error *err)
{
    char path[1024];
    out_path(s, "generator.safetensors", path, sizeof path);
    if (sl_model_load_with_optimizer(s->gen, s->gopt, path, err) != SL_OK)
        return err->status;
    sl_safetensors *st = sl_safetensors_read(path, err);
    const char *e = st ? sl_safetensors_metadata(st, "gan.epoch") : NULL;
    s->epoch = e ? atoi(e) : 0;
    sl_safetensors_free(st);
    out_path(s, "discriminator.safetensors", path, sizeof path);
    if (sl_model_load_with_optimizer(s->disc, s->dopt, path, err) != SL_OK)
        return err->status;
    printf("resumed after epoch %d\n", s->epoch);
    return sl_batch_iter_seek(s->iter, s->epoch, 0, err);
}

/* ---- one step ------------------------------------------------------------------------------- */

static float mean_sigmoid(const float *logits, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += 1.0 / (1.0 + exp(-(double)logits[i]));
    return (float)(sum / (double)n);
}

/* The graph's noise for this step depends on (seed, step) only, so a resume repeats it. */
static void reset_graph(gan *s, int64_t step, int stream)
{
    sl_graph_reset(s->graph);
    sl_graph_set_training(s->graph, 1);
    sl_rng_seed(sl_graph_rng(s->graph), s->gcfg->seed * 1000003u + (uint64_t)step * 2u +
                                            (uint64_t)stream);
}

/* The config's optimizer.lr through its schedule (constant unless the config has one). */
static float learning_rate(const gan *s, const sl_config *cfg, int64_t step)
{
    return sl_schedule_lr(&cfg->schedule, cfg->optimizer.lr, step,
                          sl_batch_iter_batches(s->iter), s->a.epochs);
}

static sl_status disc_step(gan *s, int64_t step, epoch_sums *sum, sl_error *err)
{
    reset_graph(s, step, 0);
    int64_t b = s->batch, zshape[2] = {b, s->latent}, xshape[2] = {2 * b, s->image},
            tshape[2] = {2 * b, 1};
    sl_model_set_trainable(s->gen, 0); /* G(z) is data here */
    sl_tensor *fake = sl_model_forward(s->gen, s->graph, sl_graph_randn(s->graph, 2, zshape, 0, 1));
    sl_tensor *both = sl_graph_tensor(s->graph, 2, xshape);
    sl_tensor *target = sl_graph_tensor(s->graph, 2, tshape);
    if (!fake || !both || !target)
        return sl_graph_take_error(s->graph, err);
    memcpy(both->data, s->real, (size_t)(b * s->image) * sizeof(float));
    memcpy(both->data + b * s->image, fake->data, (size_t)(b * s->image) * sizeof(float));
    for (int64_t i = 0; i < b; i++)
        target->data[i] = s->a.real_label; /* real rows; the fake ones stay 0 */
    sl_tensor *logits = sl_model_forward(s->disc, s->graph, sl_reshape(s->graph, both, 2, xshape));
    sl_tensor *loss = sl_bce_with_logits(s->graph, logits, target);
    sl_model_zero_grad(s->disc);
    if (!loss || sl_backward(s->graph, loss) != SL_OK)
        return sl_graph_take_error(s->graph, err);
    sum->d_loss += loss->data[0];
    sum->d_real += mean_sigmoid(logits->data, b);
    sum->d_fake += mean_sigmoid(logits->data + b, b);
    sl_model_set_trainable(s->gen, 1);
    return sl_optimizer_step(s->dopt, learning_rate(s, s->dcfg, step), err);
}

static sl_status gen_step(gan *s, int64_t step, epoch_sums *sum, sl_error *err)
{
    reset_graph(s, step, 1);
    int64_t zshape[2] = {s->batch, s->latent}, one = 1;
    sl_model_set_trainable(s->disc, 0); /* the gradient passes D by, D stays as it is */
    sl_tensor *fake = sl_model_forward(s->gen, s->graph, sl_graph_randn(s->graph, 2, zshape, 0, 1));
    sl_tensor *real = sl_graph_tensor(s->graph, 1, &one);
    if (real)
        real->data[0] = 1.0f;
    sl_tensor *loss = sl_bce_with_logits(s->graph, sl_model_forward(s->disc, s->graph, fake), real);
    sl_model_zero_grad(s->gen);
    sl_status st = !loss || sl_backward(s->graph, loss) != SL_OK
                       ? sl_graph_take_error(s->graph, err)
                       : sl_optimizer_step(s->gopt, learning_rate(s, s->gcfg, step), err);
    sl_model_set_trainable(s->disc, 1);
    if (st == SL_OK)
        sum->g_loss += loss->data[0];
    return st;
}

/* ---- per epoch ------------------------------------------------------------------------------ */

/* G on n latent rows in evaluation mode (batch norm's running statistics), into out. */
static sl_status generate(gan *s, const float *z, int64_t n, float *out, sl_error *err)
{
    return sl_predict(s->gen, z, n, out, NULL, err);
}

/* [-1, 1] -> 0..255. */
static unsigned char to_byte(float v)
{
    float p = (v + 1.0f) * 127.5f;
    return (unsigned char)(p < 0.0f ? 0.0f : p > 255.0f ? 255.0f : p + 0.5f);
}

static int write_png(const char *path, const unsigned char *pixels, int w, int h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)w));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return fclose(f) == 0 ? 0 : -1;
}

/* The fixed latent batch's images as a GRID x GRID PNG (square images). */
static sl_status write_grid(gan *s, sl_error *err)
{
    int side = (int)lround(sqrt((double)s->image)), n = GRID * GRID, w = GRID * side;
    float *img = malloc((size_t)(n * s->image) * sizeof *img);
    unsigned char *pix = malloc((size_t)(w * w));
    sl_status st = img && pix ? generate(s, s->fixed_z, n, img, err)
                              : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    char path[1024], name[64];
    snprintf(name, sizeof name, "samples_epoch%02d.png", s->epoch);
    out_path(s, name, path, sizeof path);
    if (st == SL_OK && (int64_t)side * side == s->image) {
        for (int k = 0; k < n; k++)
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                    pix[(k / GRID * side + y) * w + k % GRID * side + x] =
                        to_byte(img[(int64_t)k * s->image + y * side + x]);
        if (write_png(path, pix, w, w) != 0)
            st = sl_error_set(err, SL_ERR_IO, "%s: cannot write the PNG", path);
    }
    free(img);
    free(pix);
    return st;
}

/* The classifier score of score_samples generated images (raw pixels, as the classifier
 * takes them), from a latent stream of its own so that it does not move training's. */
static sl_status score(gan *s, double *out, sl_error *err)
{
    *out = NAN;
    if (!s->classifier)
        return SL_OK;
    int64_t n = s->a.score_samples, chunk = 500;
    float *img = malloc((size_t)(n * s->image) * sizeof *img);
    sl_graph *noise = sl_graph_new(s->gcfg->seed + 7, err);
    sl_status st = img && noise ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t at = 0; st == SL_OK && at < n; at += chunk) {
        int64_t k = n - at < chunk ? n - at : chunk, zshape[2] = {k, s->latent};
        sl_graph_reset(noise);
        sl_tensor *z = sl_graph_randn(noise, 2, zshape, 0, 1);
        st = z ? generate(s, z->data, k, img + at * s->image, err) : sl_graph_take_error(noise, err);
    }
    for (int64_t i = 0; st == SL_OK && i < n * s->image; i++)
        img[i] = (float)to_byte(img[i]);
    if (st == SL_OK)
        st = sl_classifier_score(s->classifier, img, n, chunk, out, err);
    sl_graph_free(noise);
    free(img);
    return st;
}

/* The fraction of D's activation units <= 0 on every probe image (dead for ReLU, inactive
 * for Leaky ReLU: sl_stats_unit_word), and that word. */
static sl_status dead_fraction(gan *s, double *frac, const char **word, sl_error *err)
{
    *word = "dead";
    if (sl_stats_measure(s->stats, s->epoch, sl_optimizer_steps(s->dopt), err) != SL_OK)
        return err->status;
    int64_t dead = 0, units = 0;
    for (size_t i = 0; i < sl_stats_num_layers(s->stats); i++) {
        const sl_layer_stats *l = sl_stats_layer(s->stats, i);
        dead += l->dead;
        units += l->units;
        *word = sl_stats_unit_word(l->type);
    }
    *frac = units ? (double)dead / (double)units : 0.0;
    return SL_OK;
}

static sl_status report(gan *s, const epoch_sums *sum, double seconds, sl_error *err)
{
    double sc = NAN, dead = 0.0;
    const char *word = "dead";
    if (write_grid(s, err) != SL_OK || score(s, &sc, err) != SL_OK ||
        dead_fraction(s, &dead, &word, err) != SL_OK)
        return err->status;
    double n = sum->steps ? (double)sum->steps : 1.0;
    printf("epoch %d/%d  d_loss %.4f  g_loss %.4f  D(x) %.3f  D(G(z)) %.3f  score %.3f  "
           "D %s %.1f%%  %.1fs\n", s->epoch, s->a.epochs, sum->d_loss / n, sum->g_loss / n,
           sum->d_real / n, sum->d_fake / n, sc, word, 100.0 * dead, seconds);
    char path[1024];
    out_path(s, "metrics.jsonl", path, sizeof path);
    FILE *f = fopen(path, "a");
    if (!f)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "{\"epoch\": %d, \"steps\": %lld, \"d_loss\": %.6g, \"g_loss\": %.6g, \"d_real\": "
               "%.6g, \"d_fake\": %.6g, \"score\": %.6g, \"real_score\": %.6g, "
               "\"d_dead_frac\": %.6g, \"seconds\": %.3f}\n",
            s->epoch, (long long)sl_optimizer_steps(s->dopt), sum->d_loss / n, sum->g_loss / n,
            sum->d_real / n, sum->d_fake / n, isfinite(sc) ? sc : -1.0,
            s->classifier ? s->real_score : -1.0, dead, seconds);
    return fclose(f) == 0 ? SL_OK : sl_error_set(err, SL_ERR_IO, "%s: write failed", path);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static sl_status train_epoch(gan *s, sl_error *err)
{
    epoch_sums sum = {0};
    double t0 = now();
    int64_t n = 0, per_epoch = sl_batch_iter_batches(s->iter);
    while (sl_batch_iter_next(s->iter, s->real, s->labels, &n, err) == SL_OK && n > 0) {
        int64_t step = (int64_t)s->epoch * per_epoch + sum.steps;
        if (disc_step(s, step, &sum, err) != SL_OK || gen_step(s, step, &sum, err) != SL_OK)
            return err->status;
        if (++sum.steps == s->a.max_batches) {
            sl_batch_iter_seek(s->iter, s->epoch + 1, 0, err); /* the epoch ends here */
            break;
        }
    }
    if (err->status != SL_OK)
        return err->status;
    s->epoch++;
    if (save(s, err) != SL_OK)
        return err->status;
    return report(s, &sum, now() - t0, err);
}

static sl_status run(gan *s, sl_error *err)
{
    if (open_models(s, err) || open_data(s, err) || open_probe(s, err) || open_classifier(s, err))
        return err->status;
    sl_graph *z = sl_graph_new(s->gcfg->seed + 1, err); /* the grid's latent batch, fixed */
    int64_t zshape[2] = {GRID * GRID, s->latent};
    sl_tensor *fixed = z ? sl_graph_randn(z, 2, zshape, 0, 1) : NULL;
    if (fixed)
        memcpy(s->fixed_z, fixed->data, (size_t)(GRID * GRID * s->latent) * sizeof(float));
    sl_graph_free(z);
    if (!fixed)
        return err->status ? err->status : SL_ERR_NOMEM;
    if (mkdir(s->a.out, 0777) != 0 && errno != EEXIST)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot create: %s", s->a.out, strerror(errno));
    if (s->a.epochs == 0)
        s->a.epochs = s->dcfg->train.epochs;
    if (s->a.resume && resume(s, err) != SL_OK)
        return err->status;
    printf("gan: G %lld and D %lld parameters, batch %lld, %lld batches per epoch\n",
           (long long)sl_model_param_count(s->gen), (long long)sl_model_param_count(s->disc),
           (long long)s->batch, (long long)sl_batch_iter_batches(s->iter));
    while (s->epoch < s->a.epochs)
        if (train_epoch(s, err) != SL_OK)
            return err->status;
    return SL_OK;
}

static void close_all(gan *s)
{
    sl_stats_free(s->stats);
    sl_dataset_free(s->probe);
    sl_graph_free(s->graph);
    sl_batch_iter_free(s->iter);
    sl_run_data_close(&s->data);
    sl_optimizer_free(s->gopt);
    sl_optimizer_free(s->dopt);
    sl_model_free(s->gen);
    sl_model_free(s->disc);
    sl_model_free(s->classifier);
    sl_config_free(s->gcfg);
    sl_config_free(s->dcfg);
    free(s->real);
    free(s->labels);
    free(s->fixed_z);
    free(s->probe_x);
    free(s->probe_y);
}

int main(int argc, char **argv)
{
    gan s;
    memset(&s, 0, sizeof s);
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line per epoch, also into a log */
    int rc = parse_args(argc, argv, &s.a);
    if (rc)
        return rc;
    if (s.a.threads > 0)
        sl_set_num_threads(s.a.threads);
    sl_error err = {0};
    rc = run(&s, &err) == SL_OK ? 0 : fail(&err);
    close_all(&s);
    return rc;
}
