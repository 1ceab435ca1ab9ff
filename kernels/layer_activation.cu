// layer_activation.cu - relu, leakyrelu, sigmoid and tanh on the GPU, value
// by value with the CPU's formulas (lib/layer_activation.c).
#include "cuda_impl.h"

enum { RELU, LEAKY, SIGMOID, TANH };

__global__ void act_forward(int kind, float slope, const float *x, float *y, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float v = x[i];
    switch (kind) {
    case RELU: y[i] = v < 0 ? 0.0f : v; break; // NaN stays NaN
    case LEAKY: y[i] = v > 0 ? v : slope * v; break;
    case SIGMOID: {
        float t = expf(-fabsf(v)); // exp of a non-positive number only
        y[i] = v >= 0 ? 1.0f / (1.0f + t) : t / (1.0f + t);
        break;
    }
    default: y[i] = tanhf(v);
    }
}

__global__ void act_backward(int kind, float slope, const float *x, const float *y,
                             const float *dy, float *dx, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    switch (kind) {
    case RELU: dx[i] = y[i] > 0 ? dy[i] : 0.0f; break;
    case LEAKY: dx[i] = x[i] > 0 ? dy[i] : slope * dy[i]; break;
    case SIGMOID: dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
    default: dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    }
}

static int kind_of(const nn_layer *l)
{
    const char *k = l->type->keyword;
    return k[0] == 'r' ? RELU : k[0] == 'l' ? LEAKY : k[0] == 's' ? SIGMOID : TANH;
}

static int forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    (void)p;
    size_t total = (size_t)n * nn_dims_size(d->l->in);
    act_forward<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(kind_of(d->l), d->l->cfg.p, x,
                                                                  y, total);
    LAUNCHED();
    return 0;
}

static int backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)p;
    if (!dx)
        return 0;
    size_t total = (size_t)n * nn_dims_size(d->l->in);
    act_backward<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(kind_of(d->l), d->l->cfg.p,
                                                                   x, y, dy, dx, total);
    LAUNCHED();
    return 0;
}

const nn_cuda_type nn_cuda_relu = {"relu", NULL, NULL, forward, backward};
const nn_cuda_type nn_cuda_leakyrelu = {"leakyrelu", NULL, NULL, forward, backward};
const nn_cuda_type nn_cuda_sigmoid = {"sigmoid", NULL, NULL, forward, backward};
const nn_cuda_type nn_cuda_tanh = {"tanh", NULL, NULL, forward, backward};
