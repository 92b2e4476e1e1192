/*
 * layer_reference.c - prints the markdown layer reference generated from the
 * layer table (sl_layer_reference_markdown), the text README.md carries
 * between <!-- layer-reference:begin --> and <!-- layer-reference:end -->.
 *
 *   layer_reference > reference.md
 */
#include <stdio.h>
#include <stdlib.h>

#include "slope/nn.h"

int main(void)
{
    char *text = sl_layer_reference_markdown();
    if (!text) {
        fprintf(stderr, "layer_reference: out of memory\n");
        return 1;
    }
    int ok = fputs(text, stdout) >= 0 && fflush(stdout) == 0;
    free(text);
    if (!ok)
        fprintf(stderr, "layer_reference: cannot write the reference\n");
    return ok ? 0 : 1;
}
