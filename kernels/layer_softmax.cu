// layer_softmax.cu - softmax over each sample's C*H*W features on the GPU,
// a block per sample: y = exp(x - max) / sum; dx = y (dy - sum(dy y)).
#include "cuda_impl.h"

#define THREADS 256

// The block's sum (op 0) or max (op 1) of v; every thread gets it.
__device__ float block_reduce(float v, int op, float *part)
{
    part[threadIdx.x] = v;
    __syncthreads();
    for (int m = THREADS / 2; m > 0; m /= 2) {
        if ((int)threadIdx.x < m) {
            float a = part[threadIdx.x], b = part[threadIdx.x + m];
            part[threadIdx.x] = op ? fmaxf(a, b) : a + b;
        }
        __syncthreads();
    }
    float r = part[0];
    __syncthreads();
    return r;
}

__global__ void softmax_forward(const float *x, float *y, size_t k)
{
    __shared__ float part[THREADS];
    const float *xi = x + blockIdx.x * k;
    float *yi = y + blockIdx.x * k, mx = -INFINITY, s = 0;
    for (size_t j = threadIdx.x; j < k; j += THREADS)
        mx = fmaxf(mx, xi[j]);
    mx = block_reduce(mx, 1, part);
    for (size_t j = threadIdx.x; j < k; j += THREADS) {
        yi[j] = expf(xi[j] - mx);
        s += yi[j];
    }
    float inv = 1.0f / block_reduce(s, 0, part);
    for (size_t j = threadIdx.x; j < k; j += THREADS)
        yi[j] *= inv;
}

__global__ void softmax_backward(const float *y, const float *dy, float *dx, size_t k)
{
    __shared__ float part[THREADS];
    const float *yi = y + blockIdx.x * k, *dyi = dy + blockIdx.x * k;
    float *dxi = dx + blockIdx.x * k, dot = 0;
    for (size_t j = threadIdx.x; j < k; j += THREADS)
        dot += dyi[j] * yi[j];
    dot = block_reduce(dot, 0, part);
    for (size_t j = threadIdx.x; j < k; j += THREADS)
        dxi[j] = yi[j] * (dyi[j] - dot);
}

static int forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    (void)p;
    softmax_forward<<<n, THREADS, 0, d->g->stream>>>(x, y, nn_dims_size(d->l->in));
    LAUNCHED();
    return 0;
}

static int backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)x, (void)p;
    if (!dx)
        return 0;
    softmax_backward<<<n, THREADS, 0, d->g->stream>>>(y, dy, dx, nn_dims_size(d->l->in));
    LAUNCHED();
    return 0;
}

const nn_cuda_type nn_cuda_softmax = {"softmax", NULL, NULL, forward, backward};
