/* cuda_none.c - the CUDA entry points of a build without nvcc. */
#include "nn.h"

int nn_cuda_built(void) { return 0; }
int nn_cuda_device_count(void) { return 0; }

int nn_cuda_libraries(nn_error *e)
{
    return nn_fail(e, "this build of nn has no CUDA backend");
}

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

float *nn_cuda_host_alloc(nn_cuda *g, size_t n, nn_error *e)
{
    (void)g, (void)n;
    nn_fail(e, "this build of nn has no CUDA backend");
    return NULL;
}

void nn_cuda_host_free(nn_cuda *g, float *p) { (void)g, (void)p; }

int nn_cuda_upload_queued(nn_cuda *g, float *dev, const float *host, size_t n, nn_error *e)
{
    (void)g, (void)dev, (void)host, (void)n;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_zero(nn_cuda *g, float *dev, size_t n, nn_error *e)
{
    (void)g, (void)dev, (void)n;
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
    if (loss)
        *loss = 0;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_optim_update(nn_cuda *g, const nn_optim *o, float *w, const float *grad,
                         float *const *slots, size_t n, float lr, long step, nn_error *e)
{
    (void)g, (void)o, (void)w, (void)grad, (void)slots, (void)n, (void)lr, (void)step;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_sync(nn_cuda *g, nn_error *e)
{
    (void)g;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

nn_cuda_model *nn_cuda_model_new(nn_cuda *g, nn_model *m, int max_batch, nn_error *e)
{
    (void)g, (void)m, (void)max_batch;
    nn_fail(e, "this build of nn has no CUDA backend");
    return NULL;
}

void nn_cuda_model_free(nn_cuda_model *cm) { (void)cm; }
float *nn_cuda_model_input(nn_cuda_model *cm) { (void)cm; return NULL; }
float *nn_cuda_model_output(nn_cuda_model *cm, int layer) { (void)cm, (void)layer; return NULL; }

const float *nn_cuda_model_forward_to(nn_cuda_model *cm, const float *x, int n, int last,
                                      const nn_pass *p, nn_error *e)
{
    (void)cm, (void)x, (void)n, (void)last, (void)p;
    nn_fail(e, "this build of nn has no CUDA backend");
    return NULL;
}

int nn_cuda_model_backward_from(nn_cuda_model *cm, int from, const float *dlast, float *dx,
                                int n, const nn_pass *p, nn_error *e)
{
    (void)cm, (void)from, (void)dlast, (void)dx, (void)n, (void)p;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_model_zero_grads(nn_cuda_model *cm, nn_error *e)
{
    (void)cm;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_model_loss_backward(nn_cuda_model *cm, const void *labels, int n, float *dx,
                                const nn_pass *p, float *loss, nn_error *e)
{
    (void)cm, (void)labels, (void)n, (void)dx, (void)p;
    if (loss)
        *loss = 0;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_model_step(nn_cuda_model *cm, nn_optim *o, float lr, nn_error *e)
{
    (void)cm, (void)o, (void)lr;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_model_download(nn_cuda_model *cm, nn_optim *o, nn_error *e)
{
    (void)cm, (void)o;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

size_t nn_cuda_memory_in_use(nn_cuda *g)
{
    (void)g;
    return 0;
}

int nn_cuda_resize_bicubic(nn_cuda *g, const float *src, int planes, int h, int w, float *dst,
                           int oh, int ow, nn_error *e)
{
    (void)g, (void)src, (void)planes, (void)h, (void)w, (void)dst, (void)oh, (void)ow;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_blur_box(nn_cuda *g, float *img, int planes, int h, int w, int k, float *tmp,
                     nn_error *e)
{
    (void)g, (void)img, (void)planes, (void)h, (void)w, (void)k, (void)tmp;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_pixels(nn_cuda *g, nn_pixels_op op, const float *x, float *y, int n, int c,
                   size_t plane, const float mean[4], const float std[4], nn_error *e)
{
    (void)g, (void)op, (void)x, (void)y, (void)n, (void)c, (void)plane, (void)mean, (void)std;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_channel_means(nn_cuda *g, const float *act, int n, nn_dims d, float *means,
                          nn_error *e)
{
    (void)g, (void)act, (void)n, (void)d, (void)means;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_sums(nn_cuda *g, const float *x, size_t n, double sums[2], nn_error *e)
{
    (void)g, (void)x, (void)n, (void)sums;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

int nn_cuda_gather(nn_cuda *g, const float *x, size_t first, size_t stride, size_t count,
                   float *out, nn_error *e)
{
    (void)g, (void)x, (void)first, (void)stride, (void)count, (void)out;
    return nn_fail(e, "this build of nn has no CUDA backend");
}

nn_cuda_stage *nn_cuda_stage_new(nn_cuda *g, size_t floats, nn_error *e)
{
    (void)g, (void)floats;
    nn_fail(e, "this build of nn has no CUDA backend");
    return NULL;
}

void nn_cuda_stage_free(nn_cuda_stage *st) { (void)st; }
size_t nn_cuda_stage_floats(const nn_cuda_stage *st) { (void)st; return 0; }
float *nn_cuda_stage_host(nn_cuda_stage *st, int slot) { (void)st, (void)slot; return NULL; }
int nn_cuda_stage_send(nn_cuda_stage *st, int slot, size_t floats)
{
    (void)st, (void)slot, (void)floats;
    return -1;
}
void nn_cuda_stage_release(nn_cuda_stage *st, int slot) { (void)st, (void)slot; }
const float *nn_cuda_stage_take(nn_cuda_stage *st, int slot)
{
    (void)st, (void)slot;
    return NULL;
}
