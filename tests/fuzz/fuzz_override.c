/*
 * fuzz_override.c - `--set PATH=VALUE` override parsing.
 *
 * Input: up to 32 assignments, one per line, applied in order to a fixed
 * valid config (a small CNN that names every section), then validated like
 * any config: an accepted result goes through fuzz_check_config.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define MAX_OVERRIDES 32

static const char base_config[] =
    "{\n"
    "  \"name\": \"fuzz-base\",\n"
    "  \"seed\": 7,\n"
    "  \"data\": { \"train\": { \"images\": \"a.idx\", \"labels\": \"b.idx\" },\n"
    "            \"classes\": 4, \"normalize\": \"scale01\", \"validation\": 0.25 },\n"
    "  \"model\": {\n"
    "    \"input\": [1, 6, 6],\n"
    "    \"init\": \"kaiming_uniform\",\n"
    "    \"layers\": [\n"
    "      { \"type\": \"conv2d\", \"out\": 2, \"kernel\": 3, \"padding\": 1 },\n"
    "      { \"type\": \"batch_norm\" },\n"
    "      { \"type\": \"prelu\", \"num_parameters\": \"channel\", \"init\": 0.25 },\n"
    "      { \"type\": \"max_pool2d\", \"kernel\": 2 },\n"
    "      { \"type\": \"flatten\" },\n"
    "      { \"type\": \"dropout\", \"p\": 0.1 },\n"
    "      { \"type\": \"linear\", \"out\": 5 },\n"
    "      { \"type\": \"leaky_relu\", \"alpha\": 0.01 },\n"
    "      { \"type\": \"linear\", \"out\": 4 }\n"
    "    ]\n"
    "  },\n"
    "  \"loss\": \"cross_entropy\",\n"
    "  \"optimizer\": { \"type\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9, \"weight_decay\": 0 },\n"
    "  \"schedule\": { \"type\": \"cosine\", \"warmup_epochs\": 0 },\n"
    "  \"train\": { \"epochs\": 2, \"batch_size\": 8 },\n"
    "  \"checkpoint\": { \"path\": \"x.safetensors\", \"every\": 1 },\n"
    "  \"stats\": { \"enabled\": true, \"probe\": { \"split\": \"train\", \"count\": 16 },\n"
    "             \"every\": \"epoch\" }\n"
    "}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    const char *overrides[MAX_OVERRIDES];
    size_t n = 0;
    char *line = text;
    while (n < MAX_OVERRIDES && line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        overrides[n++] = line;
        line = nl ? nl + 1 : NULL;
    }

    sl_error err = {0};
    sl_config *cfg = sl_config_parse(base_config, "base.json", overrides, n, &err);
    if (cfg) {
        fuzz_check_config(cfg);
        sl_config_free(cfg);
    } else {
        fuzz_check_error(&err, "sl_config_parse with overrides");
        if (err.status != SL_ERR_CONFIG && err.status != SL_ERR_NOMEM)
            fuzz_fail("unexpected status %s: %s", sl_status_name(err.status), err.message);
    }
    free(text);
    return 0;
}
