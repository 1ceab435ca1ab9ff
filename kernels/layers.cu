// layers.cu - the GPU side of a layer: its type's table entry, its
// parameters in device memory, and forward and backward through the type.
#include "cuda_impl.h"

#include <stdlib.h>
#include <string.h>

static const nn_cuda_type *const types[] = {
    &nn_cuda_conv,    &nn_cuda_dense,   &nn_cuda_maxpool, &nn_cuda_avgpool, &nn_cuda_gap,
    &nn_cuda_flatten, &nn_cuda_relu,    &nn_cuda_leakyrelu, &nn_cuda_sigmoid, &nn_cuda_tanh,
    &nn_cuda_dropout, &nn_cuda_softmax, &nn_cuda_batchnorm,
};

extern "C" void nn_cuda_layer_free(nn_cuda_layer *d)
{
    if (!d)
        return;
    if (d->g)
        cudaStreamSynchronize(d->g->stream);
    if (d->type && d->type->release)
        d->type->release(d);
    for (int i = 0; i < NN_MAX_PARAMS && d->own_params; i++)
        cudaFree(d->value[i]), cudaFree(d->grad[i]);
    free(d);
}

static int upload_params(nn_cuda_layer *d, nn_error *e)
{
    const nn_layer *l = d->l;
    for (int i = 0; i < l->nparam; i++) {
        const nn_param *p = &l->param[i];
        size_t bytes = p->size * sizeof(float);
        CUDA_TRY(cudaMalloc(&d->value[i], bytes));
        CUDA_TRY(cudaMemcpyAsync(d->value[i], p->value, bytes, cudaMemcpyHostToDevice,
                                 d->g->stream));
        if (p->grad) {
            CUDA_TRY(cudaMalloc(&d->grad[i], bytes));
            CUDA_TRY(cudaMemcpyAsync(d->grad[i], p->grad, bytes, cudaMemcpyHostToDevice,
                                     d->g->stream));
        }
    }
    CUDA_TRY(cudaStreamSynchronize(d->g->stream));
    return 0;
}

nn_cuda_layer *nn_cuda_layer_make(nn_cuda *g, const nn_layer *l, int max_batch,
                                  float *const *value, float *const *grad, nn_error *e)
{
    const nn_cuda_type *t = NULL;
    for (size_t i = 0; i < sizeof types / sizeof *types && !t; i++)
        if (strcmp(types[i]->keyword, l->type->keyword) == 0)
            t = types[i];
    if (!t) {
        nn_fail(e, "layer %d (%s): the CUDA backend has no '%s' layer", l->index, l->name,
                l->type->keyword);
        return NULL;
    }
    nn_cuda_layer *d = (nn_cuda_layer *)calloc(1, sizeof *d);
    if (!d) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    d->g = g, d->l = l, d->type = t, d->max_batch = max_batch < 1 ? 1 : max_batch;
    d->own_params = !value;
    for (int i = 0; value && i < l->nparam; i++)
        d->value[i] = value[i], d->grad[i] = grad[i];
    // (a setup that fails frees what it made in release)
    if ((d->own_params && upload_params(d, e) < 0) || (t->setup && t->setup(d, e) < 0)) {
        nn_fail_within(e, "layer %d (%s): ", l->index, l->name);
        nn_cuda_layer_free(d);
        return NULL;
    }
    return d;
}

extern "C" nn_cuda_layer *nn_cuda_layer_new(nn_cuda *g, const nn_layer *l, int max_batch,
                                            nn_error *e)
{
    return nn_cuda_layer_make(g, l, max_batch, NULL, NULL, e);
}

extern "C" int nn_cuda_layer_download(nn_cuda_layer *d, nn_layer *l, nn_error *e)
{
    for (int i = 0; i < l->nparam; i++) {
        nn_param *p = &l->param[i];
        size_t bytes = p->size * sizeof(float);
        CUDA_TRY(cudaMemcpyAsync(p->value, d->value[i], bytes, cudaMemcpyDeviceToHost,
                                 d->g->stream));
        if (p->grad && d->grad[i])
            CUDA_TRY(cudaMemcpyAsync(p->grad, d->grad[i], bytes, cudaMemcpyDeviceToHost,
                                     d->g->stream));
    }
    CUDA_TRY(cudaStreamSynchronize(d->g->stream));
    return 0;
}

extern "C" int nn_cuda_forward(nn_cuda_layer *d, const float *x, float *y, int n,
                               const nn_pass *p, nn_error *e)
{
    if (n > d->max_batch)
        return nn_fail(e, "layer %d (%s): a batch of %d on the GPU, set up for %d", d->l->index,
                       d->l->name, n, d->max_batch);
    if (n <= 0)
        return 0;
    if (d->type->forward(d, x, y, n, p, e) < 0)
        return nn_fail_within(e, "layer %d (%s) forward: ", d->l->index, d->l->name);
    return 0;
}

extern "C" int nn_cuda_backward(nn_cuda_layer *d, const float *x, const float *y,
                                const float *dy, float *dx, int n, const nn_pass *p,
                                nn_error *e)
{
    if (n > d->max_batch)
        return nn_fail(e, "layer %d (%s): a batch of %d on the GPU, set up for %d", d->l->index,
                       d->l->name, n, d->max_batch);
    if (n <= 0)
        return 0;
    if (d->type->backward(d, x, y, dy, dx, n, p, e) < 0)
        return nn_fail_within(e, "layer %d (%s) backward: ", d->l->index, d->l->name);
    return 0;
}
