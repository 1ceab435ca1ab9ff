// layer_dropout.cu - inverted dropout on the GPU with the CPU's masks
// (lib/layer_dropout.c): value i of the batch is dropped iff the top 24
// bits of nn_hash64(seed ^ nn_hash64((step << 40) + i)) are below
// ceil(P 2^24), seed = nn_pass.seed ^ nn_hash64(layer index + 1); kept
// values are scaled by 1/(1-P) (rounded to float first). Nothing is
// stored: backward regenerates the mask. In eval y = x.
#include "cuda_impl.h"

#include <math.h>

__global__ void dropout_apply(const float *in, float *out, size_t n, uint64_t seed,
                              uint64_t base, uint64_t thresh, float scale)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    uint64_t v = nn_hash64(seed ^ nn_hash64(base + (uint64_t)i)) >> 40;
    out[i] = in[i] * (v >= thresh ? scale : 0.0f); // as the CPU: -0 and NaN alike
}

// y = mask(x) (forward) or dx = mask(dy) (backward)
static int apply(nn_cuda_layer *d, const float *in, float *out, int n, const nn_pass *p,
                 nn_error *e)
{
    size_t total = (size_t)n * nn_dims_size(d->l->in);
    float drop = d->l->cfg.p, scale = 1.0f / (1.0f - drop);
    if (!p->train || drop <= 0) {
        if (out != in)
            CUDA_TRY(cudaMemcpyAsync(out, in, total * sizeof(float), cudaMemcpyDeviceToDevice,
                                     d->g->stream));
        return 0;
    }
    uint64_t seed = p->seed ^ nn_hash64((uint64_t)d->l->index + 1), base = p->step << 40;
    uint64_t thresh = (uint64_t)ceilf(drop * 16777216.0f);
    dropout_apply<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(in, out, total, seed, base,
                                                                    thresh, scale);
    LAUNCHED();
    return 0;
}

static int forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    return apply(d, x, y, n, p, e);
}

static int backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)x, (void)y;
    return dx ? apply(d, dy, dx, n, p, e) : 0;
}

const nn_cuda_type nn_cuda_dropout = {"dropout", NULL, NULL, forward, backward};
