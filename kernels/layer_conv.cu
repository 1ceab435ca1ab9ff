// layer_conv.cu - 2-D convolution on the GPU with cuDNN (cross-correlation,
// strict float32: FMA math, no TF32), as lib/layer_conv.c:
//   forward   y = conv(x, weight) + bias
//   backward  dx = conv^T(dy, weight), dweight += conv(x, dy), dbias += sum dy
// Algorithms come from cuDNN's heuristics (deterministic ones first),
// chosen once per batch size and kept (CACHE sizes); they share the
// context's workspace. cuDNN pads evenly: uneven padding (SAME with an even
// kernel or stride, extra at the bottom and right) copies the input into a
// zero-bordered buffer first, and backward crops the gradient out of one.
#include "cuda_impl.h"

#include <stdlib.h>

#define CACHE 4

struct algos {
    int n; // batch size, 0: unused
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t data;
    cudnnConvolutionBwdFilterAlgo_t filter;
    size_t bytes; // the largest workspace of the three
};

struct conv_state {
    cudnnTensorDescriptor_t x, y, b;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    int even;        // padding even on both sides: cuDNN pads
    int hp, wp;      // the input as cuDNN sees it (padded when uneven)
    float *xp, *dxp; // uneven: [max_batch, C, hp, wp]
    int n;           // batch the x and y descriptors are set for
    algos cache[CACHE];
    int next; // the cache entry to replace
};

// dst [n, C, hp, wp] = src [n, C, h, w] at (pt, pl), zero around it (pad),
// or src = the window of dst (crop)
__global__ void pad_copy(const float *src, float *dst, int h, int w, int hp, int wp, int pt,
                         int pl, int crop, size_t total)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= total)
        return;
    if (!crop) { // i indexes dst
        int q = (int)(i % wp) - pl, r = (int)(i / wp % hp) - pt;
        size_t t = i / ((size_t)hp * wp);
        dst[i] = r >= 0 && r < h && q >= 0 && q < w ? src[(t * h + r) * w + q] : 0.0f;
    } else { // i indexes the cropped [n, C, h, w], written to dst
        int q = (int)(i % w), r = (int)(i / w % h);
        size_t t = i / ((size_t)h * w);
        dst[i] = src[(t * hp + r + pt) * wp + q + pl];
    }
}

static void release(nn_cuda_layer *d)
{
    conv_state *s = (conv_state *)d->state;
    if (!s)
        return;
    // (a setup that failed, or no forward yet, leaves some of them unmade)
    if (s->x)
        V(cudnnDestroyTensorDescriptor)(s->x);
    if (s->y)
        V(cudnnDestroyTensorDescriptor)(s->y);
    if (s->b)
        V(cudnnDestroyTensorDescriptor)(s->b);
    if (s->w)
        V(cudnnDestroyFilterDescriptor)(s->w);
    if (s->conv)
        V(cudnnDestroyConvolutionDescriptor)(s->conv);
    cudaFree(s->xp), cudaFree(s->dxp);
    free(s);
}

static int setup(nn_cuda_layer *d, nn_error *e)
{
    const nn_layer *l = d->l;
    const nn_layer_cfg *c = &l->cfg;
    conv_state *s = (conv_state *)calloc(1, sizeof *s);
    if (!(d->state = s))
        return nn_fail(e, "out of memory");
    s->even = c->pt == c->pb && c->pl == c->pr;
    s->hp = s->even ? l->in.h : l->in.h + c->pt + c->pb;
    s->wp = s->even ? l->in.w : l->in.w + c->pl + c->pr;
    CUDNN_TRY(V(cudnnCreateFilterDescriptor)(&s->w));
    CUDNN_TRY(V(cudnnSetFilter4dDescriptor)(s->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, l->out.c,
                                         l->in.c, c->kh, c->kw));
    CUDNN_TRY(V(cudnnCreateConvolutionDescriptor)(&s->conv));
    CUDNN_TRY(V(cudnnSetConvolution2dDescriptor)(s->conv, s->even ? c->pt : 0, s->even ? c->pl : 0,
                                              c->sh, c->sw, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
    CUDNN_TRY(V(cudnnSetConvolutionMathType)(s->conv, CUDNN_FMA_MATH));
    if (c->bias && nn_cuda_tensor(&s->b, 1, l->out.c, 1, 1, e) < 0)
        return -1;
    if (!s->even) {
        size_t bytes = (size_t)d->max_batch * l->in.c * s->hp * s->wp * sizeof(float);
        if (nn_cuda_alloc_bytes((void **)&s->xp, bytes, e) < 0 ||
            nn_cuda_alloc_bytes((void **)&s->dxp, bytes, e) < 0)
            return -1;
    }
    return 0;
}

// Workspace an algorithm may ask for before one that needs less is
// preferred (the heuristics may rank an FFT first whose scratch would not
// fit beside the network).
#define WORKSPACE_SOFT_LIMIT ((size_t)1 << 30)

// The first of the heuristics' ranking r[0..n) that runs in float32 (the
// descriptor stays at FMA math; an entry that would need tensor-op math
// is skipped), deterministic ones first, so that a run repeats bit for
// bit where cuDNN has such an algorithm, and within the workspace limit
// before beyond it; -1: none.
template <typename Perf> static int pick(const Perf *r, int n)
{
    for (int pass = 0; pass < 3; pass++) // deterministic and small, small, any
        for (int i = 0; i < n; i++)
            if (r[i].status == CUDNN_STATUS_SUCCESS &&
                (r[i].mathType == CUDNN_FMA_MATH || r[i].mathType == CUDNN_DEFAULT_MATH) &&
                (pass > 0 || r[i].determinism == CUDNN_DETERMINISTIC) &&
                (pass > 1 || r[i].memory <= WORKSPACE_SOFT_LIMIT))
                return i;
    return -1;
}

// The x and y descriptors for a batch of n, and its algorithms.
static const algos *for_batch(nn_cuda_layer *d, int n, nn_error *e)
{
    conv_state *s = (conv_state *)d->state;
    const nn_layer *l = d->l;
    if (s->n != n) {
        int on = 0, oc = 0, oh = 0, ow = 0;
        if (nn_cuda_tensor(&s->x, n, l->in.c, s->hp, s->wp, e) < 0 ||
            nn_cuda_tensor(&s->y, n, l->out.c, l->out.h, l->out.w, e) < 0)
            return NULL;
        cudnnStatus_t st = V(cudnnGetConvolution2dForwardOutputDim)(s->conv, s->x, s->w, &on, &oc,
                                                                  &oh, &ow);
        if (st != CUDNN_STATUS_SUCCESS || on != n || oc != l->out.c || oh != l->out.h ||
            ow != l->out.w) {
            nn_fail(e, "cuDNN gives a %dx%dx%d output where the layer has %dx%dx%d", oc, oh, ow,
                    l->out.c, l->out.h, l->out.w);
            return NULL;
        }
        s->n = n;
    }
    for (int i = 0; i < CACHE; i++)
        if (s->cache[i].n == n)
            return &s->cache[i];
    algos *a = &s->cache[s->next];
    s->next = (s->next + 1) % CACHE;
    a->n = 0, a->bytes = 0;
    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int nf = 0, nd = 0, nw = 0, f, b, w;
    cudnnHandle_t h = d->g->cudnn;
    if (V(cudnnGetConvolutionForwardAlgorithm_v7)(h, s->x, s->w, s->conv, s->y,
                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &nf,
                                               fp) != CUDNN_STATUS_SUCCESS ||
        V(cudnnGetConvolutionBackwardDataAlgorithm_v7)(h, s->w, s->y, s->conv, s->x,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &nd,
                                                    dp) != CUDNN_STATUS_SUCCESS ||
        V(cudnnGetConvolutionBackwardFilterAlgorithm_v7)(h, s->x, s->y, s->conv, s->w,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                      &nw, wp) != CUDNN_STATUS_SUCCESS) {
        nn_fail(e, "cuDNN found no convolution algorithms");
        return NULL;
    }
    f = pick(fp, nf), b = pick(dp, nd), w = pick(wp, nw);
    if (f < 0 || b < 0 || w < 0) {
        nn_fail(e, "cuDNN has no float32 algorithm for this convolution");
        return NULL;
    }
    a->fwd = fp[f].algo, a->data = dp[b].algo, a->filter = wp[w].algo;
    size_t bytes[3];
    if (V(cudnnGetConvolutionForwardWorkspaceSize)(h, s->x, s->w, s->conv, s->y, a->fwd,
                                                &bytes[0]) != CUDNN_STATUS_SUCCESS ||
        V(cudnnGetConvolutionBackwardDataWorkspaceSize)(h, s->w, s->y, s->conv, s->x, a->data,
                                                     &bytes[1]) != CUDNN_STATUS_SUCCESS ||
        V(cudnnGetConvolutionBackwardFilterWorkspaceSize)(h, s->x, s->y, s->conv, s->w, a->filter,
                                                       &bytes[2]) != CUDNN_STATUS_SUCCESS) {
        nn_fail(e, "cuDNN could not size a workspace");
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        a->bytes = bytes[i] > a->bytes ? bytes[i] : a->bytes;
    a->n = n;
    return a;
}

// x as cuDNN reads it: x itself, or its zero-bordered copy.
static const float *padded_input(nn_cuda_layer *d, const float *x, int n, nn_error *e)
{
    conv_state *s = (conv_state *)d->state;
    const nn_layer *l = d->l;
    if (s->even)
        return x;
    size_t total = (size_t)n * l->in.c * s->hp * s->wp;
    pad_copy<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(
        x, s->xp, l->in.h, l->in.w, s->hp, s->wp, l->cfg.pt, l->cfg.pl, 0, total);
    if (cudaGetLastError() != cudaSuccess) {
        nn_fail(e, "CUDA: the padding kernel did not start");
        return NULL;
    }
    return s->xp;
}

static int forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    (void)p;
    conv_state *s = (conv_state *)d->state;
    const algos *a = for_batch(d, n, e);
    const float *xin = a ? padded_input(d, x, n, e) : NULL;
    void *ws = xin ? nn_cuda_workspace(d->g, a->bytes, e) : NULL;
    if (!xin || (a->bytes && !ws))
        return -1;
    float one = 1, zero = 0;
    CUDNN_TRY(V(cudnnConvolutionForward)(d->g->cudnn, &one, s->x, xin, s->w, d->value[0], s->conv,
                                      a->fwd, ws, a->bytes, &zero, s->y, y));
    if (d->l->cfg.bias)
        CUDNN_TRY(V(cudnnAddTensor)(d->g->cudnn, &one, s->b, d->value[1], &one, s->y, y));
    return 0;
}

static int backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)y;
    conv_state *s = (conv_state *)d->state;
    const nn_layer *l = d->l;
    int grads = p->param_grads;
    if (!dx && !grads)
        return 0;
    const algos *a = for_batch(d, n, e);
    const float *xin = a && grads ? padded_input(d, x, n, e) : x;
    void *ws = a && xin ? nn_cuda_workspace(d->g, a->bytes, e) : NULL;
    if (!a || !xin || (a->bytes && !ws))
        return -1;
    float one = 1, zero = 0;
    cudnnHandle_t h = d->g->cudnn;
    if (grads) {
        CUDNN_TRY(V(cudnnConvolutionBackwardFilter)(h, &one, s->x, xin, s->y, dy, s->conv, a->filter,
                                                 ws, a->bytes, &one, s->w, d->grad[0]));
        if (l->cfg.bias)
            CUDNN_TRY(V(cudnnConvolutionBackwardBias)(h, &one, s->y, dy, &one, s->b, d->grad[1]));
    }
    if (!dx)
        return 0;
    CUDNN_TRY(V(cudnnConvolutionBackwardData)(h, &one, s->w, d->value[0], s->y, dy, s->conv, a->data,
                                           ws, a->bytes, &zero, s->x, s->even ? dx : s->dxp));
    if (!s->even) {
        size_t total = (size_t)n * nn_dims_size(l->in);
        pad_copy<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(
            s->dxp, dx, l->in.h, l->in.w, s->hp, s->wp, l->cfg.pt, l->cfg.pl, 1, total);
        LAUNCHED();
    }
    return 0;
}

const nn_cuda_type nn_cuda_conv = {"conv", setup, release, forward, backward};
