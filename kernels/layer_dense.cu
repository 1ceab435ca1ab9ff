// layer_dense.cu - the fully connected layer on the GPU with cuBLAS
// (column-major: a row-major [r, c] matrix is its transpose [c, r]).
//   forward   y [n, out] = x [n, in] . weight^T + bias
//   backward  dx = dy . weight, dweight += dy^T . x, dbias += sum_b dy[b]
#include "cuda_impl.h"

// y[b, o] = bias[o]
__global__ void rows_of_bias(const float *bias, float *y, int out, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = bias[i % out];
}

// db[o] += sum_b dy[b, o], a thread per o, b in order
__global__ void bias_grad(const float *dy, float *db, int out, int n)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= out)
        return;
    float s = 0;
    for (int b = 0; b < n; b++)
        s += dy[(size_t)b * out + o];
    db[o] += s;
}

static int forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                   nn_error *e)
{
    (void)p;
    int in = d->l->in.c, out = d->l->out.c;
    const float *bias = d->l->cfg.bias ? d->value[1] : NULL;
    float one = 1, beta = 0;
    if (bias) {
        size_t total = (size_t)n * out;
        rows_of_bias<<<nn_cuda_blocks(total), 256, 0, d->g->stream>>>(bias, y, out, total);
        LAUNCHED();
        beta = 1;
    }
    // y^T [out, n] = weight [out, in] . x^T [in, n]
    CUBLAS_TRY(V(cublasSgemm)(d->g->cublas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, d->value[0],
                           in, x, in, &beta, y, out));
    return 0;
}

static int backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                    float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)y;
    int in = d->l->in.c, out = d->l->out.c;
    float one = 1, zero = 0;
    if (dx) // dx^T [in, n] = weight^T [in, out] . dy^T [out, n]
        CUBLAS_TRY(V(cublasSgemm)(d->g->cublas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one,
                               d->value[0], in, dy, out, &zero, dx, in));
    if (!p->param_grads)
        return 0;
    // dweight^T [in, out] += x^T [in, n] . dy [n, out]
    CUBLAS_TRY(V(cublasSgemm)(d->g->cublas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy,
                           out, &one, d->grad[0], in));
    if (d->l->cfg.bias) {
        bias_grad<<<nn_cuda_blocks(out), 256, 0, d->g->stream>>>(dy, d->grad[1], out, n);
        LAUNCHED();
    }
    return 0;
}

const nn_cuda_type nn_cuda_dense = {"dense", NULL, NULL, forward, backward};
