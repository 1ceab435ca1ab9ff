// layer_pool.cu - max pooling, average pooling and global average pooling
// on the GPU, with the CPU's rules (lib/layer_pool.c): only the cells
// inside the input count; max: the first largest in row-major window
// order wins, a NaN wins, and the winner's index in its plane is kept for
// backward; avg: the mean of the real cells. Backward gathers, for each
// input cell, the outputs whose windows hold it, in output order: no
// atomics, and the same sums as the CPU's scatter.
#include "cuda_impl.h"

#include <stdint.h>

struct window {
    int h, w, oh, ow, kh, kw, sh, sw, pt, pl;
};

static window window_of(const nn_layer *l)
{
    const nn_layer_cfg *c = &l->cfg;
    return window{l->in.h, l->in.w, l->out.h, l->out.w, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl};
}

// Output (plane t, r, q) from plane x of t; max keeps its argmax.
__global__ void pool_forward(window g, int is_max, const float *x, float *y, int32_t *arg,
                             size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int q = (int)(i % g.ow), r = (int)(i / g.ow % g.oh);
    size_t t = i / ((size_t)g.oh * g.ow);
    const float *xp = x + t * g.h * g.w;
    int r0 = r * g.sh - g.pt, q0 = q * g.sw - g.pl;
    int i0 = max(r0, 0), i1 = min(r0 + g.kh, g.h), j0 = max(q0, 0), j1 = min(q0 + g.kw, g.w);
    if (is_max) {
        float m = 0;
        int k = -1;
        for (int a = i0; a < i1; a++)
            for (int b = j0; b < j1; b++) {
                float v = xp[a * g.w + b];
                if (k < 0 || v > m || isnan(v))
                    m = v, k = a * g.w + b;
            }
        y[i] = m, arg[i] = k;
    } else {
        float s = 0;
        for (int a = i0; a < i1; a++)
            for (int b = j0; b < j1; b++)
                s += xp[a * g.w + b];
        y[i] = s / (float)((i1 - i0) * (j1 - j0));
    }
}

// dx of input cell (plane t, a, b).
__global__ void pool_backward(window g, int is_max, const float *dy, const int32_t *arg,
                              float *dx, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int b = (int)(i % g.w), a = (int)(i / g.w % g.h);
    size_t t = i / ((size_t)g.h * g.w);
    // outputs r with r*sh - pt <= a < r*sh - pt + kh (a numerator below 0
    // truncates to a bound <= 0, which the max makes 0, as it should)
    int r0 = max((a + g.pt - g.kh + g.sh) / g.sh, 0), r1 = min((a + g.pt) / g.sh, g.oh - 1);
    int q0 = max((b + g.pl - g.kw + g.sw) / g.sw, 0), q1 = min((b + g.pl) / g.sw, g.ow - 1);
    size_t plane = (size_t)g.oh * g.ow;
    float s = 0;
    for (int r = r0; r <= r1; r++)
        for (int q = q0; q <= q1; q++) {
            size_t o = t * plane + (size_t)r * g.ow + q;
            if (is_max) {
                if (arg[o] == a * g.w + b)
                    s += dy[o];
            } else {
                int rr = r * g.sh - g.pt, qq = q * g.sw - g.pl;
                int cnt = (min(rr + g.kh, g.h) - max(rr, 0)) * (min(qq + g.kw, g.w) - max(qq, 0));
                s += dy[o] / (float)cnt;
            }
        }
    dx[i] = s;
}

static int max_setup(nn_cuda_layer *d, nn_error *e)
{
    return nn_cuda_alloc_bytes(&d->state, (size_t)d->max_batch * nn_dims_size(d->l->out) *
                                              sizeof(int32_t), e);
}

static void max_release(nn_cuda_layer *d) { cudaFree(d->state); }

static int forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    (void)p;
    size_t total = (size_t)n * nn_dims_size(d->l->out);
    int is_max = d->type == &nn_cuda_maxpool;
    pool_forward<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(
        window_of(d->l), is_max, x, y, (int32_t *)d->state, total);
    LAUNCHED();
    return 0;
}

static int backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)x, (void)y, (void)p;
    if (!dx)
        return 0;
    size_t total = (size_t)n * nn_dims_size(d->l->in);
    int is_max = d->type == &nn_cuda_maxpool;
    pool_backward<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(
        window_of(d->l), is_max, dy, (const int32_t *)d->state, dx, total);
    LAUNCHED();
    return 0;
}

const nn_cuda_type nn_cuda_maxpool = {"maxpool", max_setup, max_release, forward, backward};
const nn_cuda_type nn_cuda_avgpool = {"avgpool", NULL, NULL, forward, backward};

// ---- gap: y [n, C, 1, 1] = the mean of each plane, a block per plane ----

__global__ void gap_forward(const float *x, float *y, int hw)
{
    __shared__ float part[256];
    const float *xp = x + (size_t)blockIdx.x * hw;
    float s = 0;
    for (int k = threadIdx.x; k < hw; k += blockDim.x)
        s += xp[k];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int m = blockDim.x / 2; m > 0; m /= 2) {
        if ((int)threadIdx.x < m)
            part[threadIdx.x] += part[threadIdx.x + m];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        y[blockIdx.x] = part[0] / (float)hw;
}

__global__ void gap_backward(const float *dy, float *dx, int hw, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        dx[i] = dy[i / hw] / (float)hw;
}

static int gap_fwd(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    (void)p;
    int hw = d->l->in.h * d->l->in.w;
    gap_forward<<<(unsigned)((size_t)n * d->l->in.c), 256, 0, d->g->stream>>>(x, y, hw);
    LAUNCHED();
    return 0;
}

static int gap_bwd(nn_cuda_layer *d, const float *x, const float *y, const float *dy, float *dx,
                   int n, const nn_pass *p, nn_error *e)
{
    (void)x, (void)y, (void)p;
    if (!dx)
        return 0;
    size_t total = (size_t)n * nn_dims_size(d->l->in);
    gap_backward<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(
        dy, dx, d->l->in.h * d->l->in.w, total);
    LAUNCHED();
    return 0;
}

const nn_cuda_type nn_cuda_gap = {"gap", NULL, NULL, gap_fwd, gap_bwd};
