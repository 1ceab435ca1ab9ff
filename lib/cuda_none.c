/* cuda_none.c - the CUDA entry points of a build without nvcc. */
#include "nn.h"

int nn_cuda_built(void) { return 0; }
int nn_cuda_device_count(void) { return 0; }

nn_cuda *nn_cuda_open(int device, nn_error *e)
{
    (void)device;
    nn_fail(e, "this build of nn has no CUDA backend (nvcc was not found when it was built)");
    return NULL;
}

void nn_cuda_close(nn_cuda *g) { (void)g; }

float *nn_cuda_alloc(nn_cuda *g, size_t n, nn_error *e)
{
    (void)g, (void)n;
    nn_fail(e, "this build of nn has no CUDA backend");
    return NULL;
}

void nn_cuda_free(nn_cuda *g, float *p) { (void)g, (void)p; }

int nn_cuda_upload(nn_cuda *g, float *dev, const float *host, size_t n, nn_error *e)
{
    (void)g, (void)dev, (void)host, (void)n;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_download(nn_cuda *g, float *host, const float *dev, size_t n, nn_error *e)
{
    (void)g, (void)host, (void)dev, (void)n;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

nn_cuda_layer *nn_cuda_layer_new(nn_cuda *g, const nn_layer *l, int max_batch, nn_error *e)
{
    (void)g, (void)l, (void)max_batch;
    nn_fail(e, "this build of nn has no CUDA backend");
    return NULL;
}

void nn_cuda_layer_free(nn_cuda_layer *d) { (void)d; }

int nn_cuda_layer_download(nn_cuda_layer *d, nn_layer *l, nn_error *e)
{
    (void)d, (void)l;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_forward(nn_cuda_layer *d, const float *x, float *y, int n, const nn_pass *p,
                    nn_error *e)
{
    (void)d, (void)x, (void)y, (void)n, (void)p;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_backward(nn_cuda_layer *d, const float *x, const float *y, const float *dy,
                     float *dx, int n, const nn_pass *p, nn_error *e)
{
    (void)d, (void)x, (void)y, (void)dy, (void)dx, (void)n, (void)p;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_loss(nn_cuda *g, nn_loss_kind kind, const float *x, const void *target, int n,
                 int k, float *d, float *loss, nn_error *e)
{
    (void)g, (void)kind, (void)x, (void)target, (void)n, (void)k, (void)d;
    *loss = 0;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_optim_update(nn_cuda *g, const nn_optim *o, float *w, const float *grad,
                         float *const *slots, size_t n, float lr, long step, nn_error *e)
{
    (void)g, (void)o, (void)w, (void)grad, (void)slots, (void)n, (void)lr, (void)step;
    return nn_fail(e, "this build of nn has no CUDA backend");
}
