/* exec.c - a model run on the CPU or on a GPU behind one interface: what
 * nn-vis, nn-featmap and the trainer need. On the CPU the calls are
 * nn_model's; on a GPU the model lives there (nn_cuda_model: weights,
 * gradients and the optimizer's state stay on the device). forward_to
 * takes and gives host buffers (it uploads its input and downloads its
 * result), the _at calls device buffers, and the reductions bring
 * back only their results. A training batch made in the stage's host
 * slots is on the device already. Nothing is allocated after the first
 * call of a size. nn_exec_sync brings the weights back to the host model
 * when they are to be read there (saving, checks, pictures). */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

struct nn_exec {
    nn_model *m;
    nn_cuda *g;            /* NULL: the CPU */
    nn_cuda_model *cm;
    int max_batch;
    float *labels;         /* device: int labels or float targets of a batch */
    float *hlabels;        /* page-locked host copy they go up from (NULL: none) */
    float *out;            /* host: a layer's output */
    size_t out_floats;
    float *means;          /* device: channel means, made by the first that needs them */
    size_t means_floats;
    nn_cuda_stage *stage;  /* batches staged for the GPU (nn_exec_stage) */
    int stage_tried;
};

void nn_exec_free(nn_exec *x)
{
    if (!x)
        return;
    if (x->g) {
        nn_error ignored = {""}; /* queued work may still use what is freed below */
        nn_cuda_sync(x->g, &ignored);
        nn_cuda_free(x->g, x->labels);
        nn_cuda_host_free(x->g, x->hlabels);
        nn_cuda_free(x->g, x->means);
        nn_cuda_stage_free(x->stage);
        nn_cuda_model_free(x->cm);
    }
    free(x->out);
    free(x);
}

nn_exec *nn_exec_new(nn_model *m, nn_cuda *g, int max_batch, nn_error *e)
{
    nn_exec *x = calloc(1, sizeof *x);
    if (!x) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    x->m = m, x->g = g, x->max_batch = max_batch;
    if (!g) {
        if (nn_model_reserve(m, max_batch, e) < 0)
            goto fail;
        return x;
    }
    size_t k = m->nlayers ? nn_dims_size(m->layers[m->nlayers - 1].out) : 1;
    if (!(x->cm = nn_cuda_model_new(g, m, max_batch, e)) ||
        !(x->labels = nn_cuda_alloc(g, k * (size_t)max_batch, e)))
        goto fail;
    nn_error ignored = {""}; /* without it labels go up the slow way */
    x->hlabels = nn_cuda_host_alloc(g, k * (size_t)max_batch, &ignored);
    return x;
fail:
    nn_exec_free(x);
    return NULL;
}

/* 0 when a batch of n fits the device buffers (checked before an upload
 * writes them). */
static int fits(const nn_exec *x, int n, nn_error *e)
{
    if (n > x->max_batch)
        return nn_fail(e, "a batch of %d on the GPU, set up for %d", n, x->max_batch);
    return 0;
}

/* The host copy of n samples of device buffer dev (layer layer's output). */
static const float *download(nn_exec *x, const float *dev, int layer, int n, nn_error *e)
{
    size_t nout = nn_dims_size(x->m->layers[layer].out) * (size_t)n;
    if (nout > x->out_floats) {
        float *o = realloc(x->out, nout * sizeof *o);
        if (!o) {
            nn_fail(e, "out of memory");
            return NULL;
        }
        x->out = o, x->out_floats = nout;
    }
    return nn_cuda_download(x->g, x->out, dev, nout, e) < 0 ? NULL : x->out;
}

int nn_exec_forward(nn_exec *x, const float *in, int n, int last, const nn_pass *p,
                    nn_error *e)
{
    if (!x->g)
        return nn_model_forward_to(x->m, in, n, last, p) ? 0 : -1;
    size_t nin = nn_dims_size(x->m->input) * (size_t)n;
    const float *gin = NULL;
    for (int s = 0; x->stage && !gin && s < 2; s++) /* a staged batch is there already */
        if (in == nn_cuda_stage_host(x->stage, s))
            gin = nn_cuda_stage_take(x->stage, s);
    if (fits(x, n, e) < 0)
        return -1;
    if (!gin) {
        float *up = nn_cuda_model_input(x->cm);
        if (nn_cuda_upload(x->g, up, in, nin, e) < 0)
            return -1;
        gin = up;
    }
    return nn_cuda_model_forward_to(x->cm, gin, n, last, p, e) ? 0 : -1;
}

const float *nn_exec_forward_to(nn_exec *x, const float *in, int n, int last,
                                const nn_pass *p, nn_error *e)
{
    if (nn_exec_forward(x, in, n, last, p, e) < 0)
        return NULL;
    return nn_exec_output(x, last, n, e);
}

const float *nn_exec_forward_at(nn_exec *x, const float *in, int n, int last,
                                const nn_pass *p, nn_error *e)
{
    if (!x->g)
        return nn_model_forward_to(x->m, in, n, last, p);
    return fits(x, n, e) < 0 ? NULL : nn_cuda_model_forward_to(x->cm, in, n, last, p, e);
}

int nn_exec_backward_at(nn_exec *x, int from, const float *dlast, float *dx, int n,
                        const nn_pass *p, nn_error *e)
{
    if (!x->g) {
        nn_model_backward_from(x->m, from, dlast, dx, n, p);
        return 0;
    }
    if (fits(x, n, e) < 0)
        return -1;
    return nn_cuda_model_backward_from(x->cm, from, dlast, dx, n, p, e);
}

nn_cuda_stage *nn_exec_stage(nn_exec *x)
{
    if (x->g && !x->stage_tried) {
        nn_error ignored = {""}; /* without it batches are copied as they come */
        x->stage_tried = 1;
        x->stage = nn_cuda_stage_new(x->g, nn_dims_size(x->m->input) * (size_t)x->max_batch,
                                     &ignored);
    }
    return x->stage;
}

int nn_exec_channel_means(nn_exec *x, int layer, int n, float *means, nn_error *e)
{
    nn_dims d = x->m->layers[layer].out;
    size_t k = (size_t)n * d.c;
    if (!x->g) {
        nn_channel_means(x->m->act[layer], n, d, means);
        return 0;
    }
    if (k > x->means_floats) {
        nn_cuda_free(x->g, x->means);
        x->means_floats = 0;
        if (!(x->means = nn_cuda_alloc(x->g, (size_t)x->max_batch * d.c, e)))
            return -1;
        x->means_floats = (size_t)x->max_batch * d.c;
    }
    if (nn_cuda_channel_means(x->g, nn_cuda_model_output(x->cm, layer), n, d, x->means, e) < 0)
        return -1;
    return nn_cuda_download(x->g, means, x->means, k, e);
}

int nn_exec_output_sums(nn_exec *x, int layer, int n, double sums[2], size_t first,
                        size_t stride, float *vals, size_t *nvals, nn_error *e)
{
    size_t cnt = nn_dims_size(x->m->layers[layer].out) * (size_t)n;
    size_t take = stride && first < cnt ? (cnt - first + stride - 1) / stride : 0;
    if (x->g) {
        const float *a = nn_cuda_model_output(x->cm, layer);
        if (nn_cuda_sums(x->g, a, cnt, sums, e) < 0 ||
            (take && nn_cuda_gather(x->g, a, first, stride, take, vals + *nvals, e) < 0))
            return -1;
        *nvals += take;
        return 0;
    }
    const float *a = x->m->act[layer];
    double s = 0, q = 0;
    for (size_t k = 0; k < cnt; k++)
        s += a[k], q += (double)a[k] * a[k];
    sums[0] = s, sums[1] = q;
    for (size_t j = 0; j < take; j++)
        vals[(*nvals)++] = a[first + j * stride];
    return 0;
}

const float *nn_exec_output(nn_exec *x, int layer, int n, nn_error *e)
{
    if (!x->g)
        return x->m->act[layer];
    return download(x, nn_cuda_model_output(x->cm, layer), layer, n, e);
}

int nn_exec_zero_grads(nn_exec *x, nn_error *e)
{
    if (!x->g) {
        nn_model_zero_grads(x->m);
        return 0;
    }
    return nn_cuda_model_zero_grads(x->cm, e);
}

int nn_exec_loss_backward(nn_exec *x, const void *labels, int n, const nn_pass *p, float *loss,
                          nn_error *e)
{
    if (!x->g) {
        *loss = nn_model_loss_backward(x->m, labels, n, NULL, p, NULL);
        return 0;
    }
    size_t k = nn_dims_size(x->m->layers[x->m->nlayers - 1].out);
    size_t nl = x->m->loss == NN_LOSS_XENT ? (size_t)n : (size_t)n * k; /* 4-byte values */
    if (fits(x, n, e) < 0)
        return -1;
    if (x->hlabels) { /* queued behind the forward: the loss's wait below covers the copy */
        memcpy(x->hlabels, labels, nl * sizeof(float));
        if (nn_cuda_upload_queued(x->g, x->labels, x->hlabels, nl, e) < 0)
            return -1;
    } else if (nn_cuda_upload(x->g, x->labels, labels, nl, e) < 0)
        return -1;
    return nn_cuda_model_loss_backward(x->cm, x->labels, n, NULL, p, loss, e);
}

int nn_exec_step(nn_exec *x, nn_optim *o, float lr, nn_error *e)
{
    if (!x->g) {
        nn_optim_step(o, x->m, lr);
        return 0;
    }
    return nn_cuda_model_step(x->cm, o, lr, e);
}

int nn_exec_sync(nn_exec *x, nn_optim *o, nn_error *e)
{
    return x->g ? nn_cuda_model_download(x->cm, o, e) : 0;
}

const float *nn_exec_logits(nn_exec *x, const float *in, const float *out, int n, nn_error *e)
{
    const nn_model *m = x->m;
    int last = m->nlayers - 1;
    if (strcmp(m->layers[last].type->keyword, "softmax") != 0)
        return out;
    return last ? nn_exec_output(x, last - 1, n, e) : in;
}
