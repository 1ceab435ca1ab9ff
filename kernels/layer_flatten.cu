// layer_flatten.cu - flatten on the GPU: the same values, another shape.
#include "cuda_impl.h"

static int copy(nn_cuda_layer *d, const float *in, float *out, int n, nn_error *e)
{
    size_t total = (size_t)n * nn_dims_size(d->l->in);
    if (out != in)
        CUDA_TRY(cudaMemcpyAsync(out, in, total * sizeof(float), cudaMemcpyDeviceToDevice,
                                 d->g->stream));
    return 0;
}

static int flatten_forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                           nn_error *e)
{
    (void)p;
    return copy(d, x, y, n, e);
}

static int flatten_backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                            float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)x, (void)y, (void)p;
    return dx ? copy(d, dy, dx, n, e) : 0;
}

const nn_cuda_type nn_cuda_flatten = {"flatten", NULL, NULL, flatten_forward,
                                      flatten_backward};
