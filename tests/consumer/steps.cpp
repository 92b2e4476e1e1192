// steps.cpp - libslope from C++, with the step-level API: a custom training
// loop of forward, loss, backward and optimizer step on the built-in spiral.
// Proves the headers' extern "C" (every call below links against the C
// library) and checks that the mean loss of the last epoch is well below the
// first one's.  Built by tests/consumer/build.sh next to example.c.
#include <slope/slope.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace {

template <typename T, void (*Free)(T *)> struct deleter {
    void operator()(T *p) const { Free(p); }
};
using model_ptr = std::unique_ptr<sl_model, deleter<sl_model, sl_model_free>>;
using dataset_ptr = std::unique_ptr<sl_dataset, deleter<sl_dataset, sl_dataset_free>>;
using graph_ptr = std::unique_ptr<sl_graph, deleter<sl_graph, sl_graph_free>>;
using optim_ptr = std::unique_ptr<sl_optimizer, deleter<sl_optimizer, sl_optimizer_free>>;
using iter_ptr = std::unique_ptr<sl_batch_iter, deleter<sl_batch_iter, sl_batch_iter_free>>;

int fail(const char *what, const sl_error &err)
{
    std::fprintf(stderr, "steps: %s: %s: %s\n", what, sl_status_name(err.status), err.message);
    return 1;
}

} // namespace

int main()
{
    sl_error err{};
    const int classes = 3;
    dataset_ptr data(sl_dataset_spiral(classes, 100, 0.1f, 1, &err));
    if (!data)
        return fail("spiral", err);

    const int64_t in_shape[1] = {2};
    model_ptr model(sl_model_new(1, in_shape, &err));
    if (!model)
        return fail("model", err);
    sl_layer_spec hidden = sl_layer_defaults(SL_LAYER_LINEAR);
    hidden.out = 32;
    sl_layer_spec act = sl_layer_defaults(SL_LAYER_PRELU);
    sl_layer_spec out = sl_layer_defaults(SL_LAYER_LINEAR);
    out.out = classes;
    for (const sl_layer_spec *s : {&hidden, &act, &hidden, &act, &out})
        if (sl_model_add(model.get(), s, &err) != SL_OK)
            return fail("add", err);
    if (sl_model_init(model.get(), SL_INIT_KAIMING_UNIFORM, 3, &err) != SL_OK)
        return fail("init", err);

    // The optimizer keeps a pointer to this array: it lives as long as opt.
    std::vector<sl_param> params;
    for (size_t i = 0; i < sl_model_num_params(model.get()); i++)
        params.push_back(*sl_model_param(model.get(), i));
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_ADAM);
    spec.lr = 0.02f;
    optim_ptr opt(sl_optimizer_new(params.data(), params.size(), &spec, &err));
    graph_ptr g(sl_graph_new(5, &err));
    const int64_t batch = 30;
    sl_batch_options bo{batch, 1, 9, 0};
    iter_ptr it(sl_batch_iter_new(data.get(), &bo, &err));
    if (!opt || !g || !it)
        return fail("setup", err);

    std::vector<float> x(static_cast<size_t>(batch) * 2);
    std::vector<int32_t> labels(static_cast<size_t>(batch));
    double first = 0.0, last = 0.0;
    const int epochs = 30;
    for (int epoch = 0; epoch < epochs; epoch++) {
        double sum = 0.0;
        int64_t seen = 0, n = 0;
        while (sl_batch_iter_next(it.get(), x.data(), labels.data(), &n, &err) == SL_OK && n > 0) {
            const int64_t shape[2] = {n, 2};
            sl_tensor *input = sl_graph_tensor(g.get(), 2, shape);
            if (input)
                std::copy(x.begin(), x.begin() + n * 2, input->data);
            sl_model_zero_grad(model.get());
            sl_tensor *y = sl_model_forward(model.get(), g.get(), input);
            sl_tensor *loss = sl_loss(g.get(), y, labels.data(), SL_LOSS_CROSS_ENTROPY);
            if (!loss || sl_backward(g.get(), loss) != SL_OK) {
                sl_graph_take_error(g.get(), &err);
                return fail("step", err);
            }
            sum += static_cast<double>(loss->data[0]) * static_cast<double>(n);
            seen += n;
            if (sl_optimizer_step(opt.get(), spec.lr, &err) != SL_OK)
                return fail("optimizer", err);
            sl_graph_reset(g.get());
        }
        if (err.status != SL_OK)
            return fail("batch", err);
        double mean = sum / static_cast<double>(seen);
        if (epoch == 0)
            first = mean;
        last = mean;
    }
    std::printf("steps (C++): loss %.4f -> %.4f over %d epochs, %lld optimizer steps\n", first,
                last, epochs, static_cast<long long>(sl_optimizer_steps(opt.get())));
    if (!(last < 0.5 * first)) {
        std::fprintf(stderr, "FAIL: the loss did not fall enough\n");
        return 1;
    }
    std::printf("ok\n");
    return 0;
}
