/* place.c - memory where work runs: the host (g NULL) or a GPU's device
 * memory, so that code such as nn-vis's keeps its buffers beside the
 * model whichever runs it. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

float *nn_place_alloc(nn_cuda *g, size_t n, nn_error *e)
{
    float *p;
    if (g) {
        if ((p = nn_cuda_alloc(g, n, e)) && nn_cuda_zero(g, p, n, e) < 0) {
            nn_cuda_free(g, p);
            return NULL;
        }
        return p;
    }
    if (!(p = calloc(n ? n : 1, sizeof *p)))
        nn_fail(e, "out of memory for %zu floats", n);
    return p;
}

void nn_place_free(nn_cuda *g, float *p)
{
    if (g)
        nn_cuda_free(g, p);
    else
        free(p);
}

int nn_place_put(nn_cuda *g, float *dst, const float *host, size_t n, nn_error *e)
{
    if (g)
        return nn_cuda_upload(g, dst, host, n, e);
    memmove(dst, host, n * sizeof *dst);
    return 0;
}

int nn_place_get(nn_cuda *g, float *host, const float *src, size_t n, nn_error *e)
{
    if (g)
        return nn_cuda_download(g, host, src, n, e);
    memmove(host, src, n * sizeof *host);
    return 0;
}
