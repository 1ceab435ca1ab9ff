// layer_batchnorm.cu - batch normalisation on the GPU, as
// lib/layer_batchnorm.c: per channel over n*H*W (a dense output, (C,1,1),
// per feature over the batch), cuDNN's spatial mode. Training uses the
// batch's mean and biased variance and moves the running statistics
// (cuDNN's running variance is the unbiased one, as the CPU's); eval uses
// the running ones. The mean and inverse std the forward used are kept
// for backward. Backward in training with dx is cuDNN's; the parameter
// gradients alone, and everything in eval (where dx = gamma istd dy), are
// a kernel of its own, a block per channel. A training batch of one value
// per channel (m = n*H*W = 1) is the CPU's special case, done here too:
// running_var stays, and dx = 0.
#include "cuda_impl.h"

#include <stdlib.h>

enum { GAMMA, BETA, RUNNING_MEAN, RUNNING_VAR };

struct bn_state {
    cudnnTensorDescriptor_t x, stats;
    int n;             // batch the descriptors are set for
    float *mean, *istd; // [C]
    float *unused;      // [2C]: cuDNN's parameter gradients when none are wanted
};

// mean = running mean, istd = 1 / sqrt(running var + eps)
__global__ void eval_stats(const float *rmean, const float *rvar, float eps, float *mean,
                           float *istd, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < C)
        mean[c] = rmean[c], istd[c] = (float)(1.0 / sqrt((double)rvar[c] + eps));
}

// A batch of one value per channel (m == 1) in training, as the CPU: the
// mean is x, the variance 0, y = beta, running_mean moves and running_var
// is left as it is (its unbiased update would divide by m - 1 = 0).
__global__ void train_one(const float *x, float *y, const float *gamma, const float *beta,
                          float *rmean, float mom, float eps, float *mean, float *istd, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    float mu = x[c], is = (float)(1.0 / sqrt((double)eps));
    rmean[c] = (1 - mom) * rmean[c] + mom * mu;
    mean[c] = mu, istd[c] = is;
    y[c] = (x[c] - mu) * (gamma[c] * is) + beta[c];
}

// Channel blockIdx.x: dgamma += sum dy xhat, dbeta += sum dy (grads), and
// dx = gamma istd dy (dx not NULL: eval).
__global__ void bn_grads(const float *x, const float *dy, const float *gamma, const float *mean,
                         const float *istd, float *dgamma, float *dbeta, float *dx, int n, int C,
                         int hw)
{
    __shared__ double ps[256], pq[256]; // in double, as the CPU adds them
    int c = blockIdx.x;
    float mu = mean[c], is = istd[c];
    double sdy = 0, sdyx = 0;
    size_t m = (size_t)n * hw;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        size_t i = ((j / hw) * C + c) * hw + j % hw;
        sdy += dy[i];
        sdyx += dy[i] * (x[i] - mu);
        if (dx)
            dx[i] = gamma[c] * is * dy[i];
    }
    ps[threadIdx.x] = sdy, pq[threadIdx.x] = sdyx;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k /= 2) {
        if ((int)threadIdx.x < k)
            ps[threadIdx.x] += ps[threadIdx.x + k], pq[threadIdx.x] += pq[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0 && dgamma)
        dgamma[c] += (float)(pq[0] * is), dbeta[c] += (float)ps[0];
}

static void release(nn_cuda_layer *d)
{
    bn_state *s = (bn_state *)d->state;
    if (!s)
        return;
    if (s->x)
        V(cudnnDestroyTensorDescriptor)(s->x);
    if (s->stats)
        V(cudnnDestroyTensorDescriptor)(s->stats);
    cudaFree(s->mean), cudaFree(s->istd), cudaFree(s->unused);
    free(s);
}

static int setup(nn_cuda_layer *d, nn_error *e)
{
    bn_state *s = (bn_state *)calloc(1, sizeof *s);
    if (!(d->state = s))
        return nn_fail(e, "out of memory");
    size_t bytes = d->l->in.c * sizeof(float);
    if (d->l->cfg.eps < CUDNN_BN_MIN_EPSILON)
        return nn_fail(e, "cuDNN needs eps >= %g", (double)CUDNN_BN_MIN_EPSILON);
    return nn_cuda_alloc_bytes((void **)&s->mean, bytes, e) < 0 ||
                   nn_cuda_alloc_bytes((void **)&s->istd, bytes, e) < 0 ||
                   nn_cuda_alloc_bytes((void **)&s->unused, 2 * bytes, e) < 0
               ? -1
               : 0;
}

static int describe(nn_cuda_layer *d, int n, nn_error *e)
{
    bn_state *s = (bn_state *)d->state;
    const nn_layer *l = d->l;
    if (s->n == n)
        return 0;
    if (nn_cuda_tensor(&s->x, n, l->in.c, l->in.h, l->in.w, e) < 0)
        return -1;
    if (!s->stats)
        CUDNN_TRY(V(cudnnCreateTensorDescriptor)(&s->stats));
    CUDNN_TRY(V(cudnnDeriveBNTensorDescriptor)(s->stats, s->x, CUDNN_BATCHNORM_SPATIAL));
    s->n = n;
    return 0;
}

static int forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    bn_state *s = (bn_state *)d->state;
    const nn_layer_cfg *c = &d->l->cfg;
    float one = 1, zero = 0;
    if (describe(d, n, e) < 0)
        return -1;
    float **v = d->value;
    int C = d->l->in.c;
    if (p->train && (size_t)n * d->l->in.h * d->l->in.w == 1) {
        train_one<<<nn_cuda_blocks(C), 256, 0, d->g->stream>>>(
            x, y, v[GAMMA], v[BETA], v[RUNNING_MEAN], c->momentum, c->eps, s->mean, s->istd, C);
        LAUNCHED();
        return 0;
    }
    if (p->train) {
        CUDNN_TRY(V(cudnnBatchNormalizationForwardTraining)(
            d->g->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, s->x, x, s->x, y, s->stats,
            v[GAMMA], v[BETA], c->momentum, v[RUNNING_MEAN], v[RUNNING_VAR], c->eps, s->mean,
            s->istd));
        return 0;
    }
    CUDNN_TRY(V(cudnnBatchNormalizationForwardInference)(d->g->cudnn, CUDNN_BATCHNORM_SPATIAL, &one,
                                                      &zero, s->x, x, s->x, y, s->stats,
                                                      v[GAMMA], v[BETA], v[RUNNING_MEAN],
                                                      v[RUNNING_VAR], c->eps));
    eval_stats<<<nn_cuda_blocks(C), 256, 0, d->g->stream>>>(v[RUNNING_MEAN], v[RUNNING_VAR],
                                                             c->eps, s->mean, s->istd, C);
    LAUNCHED();
    return 0;
}

static int backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)y;
    bn_state *s = (bn_state *)d->state;
    const nn_layer *l = d->l;
    int grads = p->param_grads && d->grad[GAMMA] && d->grad[BETA];
    if (!dx && !grads)
        return 0;
    if (describe(d, n, e) < 0)
        return -1;
    if (p->train && dx && (size_t)n * l->in.h * l->in.w == 1) {
        // m == 1: dx = gamma istd (dy - dbeta/m - xhat dgamma/m) = 0, xhat being 0
        CUDA_TRY(cudaMemsetAsync(dx, 0, (size_t)l->in.c * sizeof(float), d->g->stream));
        dx = NULL;
        if (!grads)
            return 0;
    }
    if (p->train && dx) {
        float one = 1, zero = 0;
        float *dg = grads ? d->grad[GAMMA] : s->unused, *db = grads ? d->grad[BETA] : s->unused + l->in.c;
        CUDNN_TRY(V(cudnnBatchNormalizationBackward)(d->g->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                                  &one, grads ? &one : &zero, s->x, x, s->x, dy,
                                                  s->x, dx, s->stats, d->value[GAMMA], dg, db,
                                                  l->cfg.eps, s->mean, s->istd));
        return 0;
    }
    bn_grads<<<l->in.c, 256, 0, d->g->stream>>>(
        x, dy, d->value[GAMMA], s->mean, s->istd, grads ? d->grad[GAMMA] : NULL,
        grads ? d->grad[BETA] : NULL, p->train ? NULL : dx, n, l->in.c, l->in.h * l->in.w);
    LAUNCHED();
    return 0;
}

const nn_cuda_type nn_cuda_batchnorm = {"batchnorm", setup, release, forward, backward};
