/* exec.c - a model run on the CPU or on a GPU behind one interface, for
 * the programs whose inputs and results are small next to the network's
 * work (nn-vis: an image in, its gradient out). On the CPU the calls are
 * nn_model's; on a GPU the model lives there (nn_cuda_model), each call
 * uploads its input and downloads its result, and nothing is allocated
 * after the first call of a size. */
#include "nn.h"

#include <stdlib.h>

struct nn_exec {
    nn_model *m;
    nn_cuda *g;            /* NULL: the CPU */
    nn_cuda_model *cm;
    int max_batch;
    float *dlast, *dx;     /* device: the gradient in, the input gradient out */
    float *out;            /* host: a layer's output */
    size_t out_floats;
};

void nn_exec_free(nn_exec *x)
{
    if (!x)
        return;
    if (x->g) {
        nn_cuda_free(x->g, x->dlast);
        nn_cuda_free(x->g, x->dx);
        nn_cuda_model_free(x->cm);
    }
    free(x->out);
    free(x);
}

/* Floats of the largest layer output (or input) for a batch. */
static size_t largest(const nn_model *m, int n)
{
    size_t big = nn_dims_size(m->input);
    for (int i = 0; i < m->nlayers; i++)
        if (nn_dims_size(m->layers[i].out) > big)
            big = nn_dims_size(m->layers[i].out);
    return big * (size_t)n;
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
    size_t in = nn_dims_size(m->input) * (size_t)max_batch;
    if (!(x->cm = nn_cuda_model_new(g, m, max_batch, e)) ||
        !(x->dlast = nn_cuda_alloc(g, largest(m, max_batch), e)) ||
        !(x->dx = nn_cuda_alloc(g, in, e)))
        goto fail;
    return x;
fail:
    nn_exec_free(x);
    return NULL;
}

const float *nn_exec_forward_to(nn_exec *x, const float *in, int n, int last,
                                const nn_pass *p, nn_error *e)
{
    if (!x->g)
        return nn_model_forward_to(x->m, in, n, last, p);
    size_t nin = nn_dims_size(x->m->input) * (size_t)n;
    size_t nout = nn_dims_size(x->m->layers[last].out) * (size_t)n;
    if (nout > x->out_floats) {
        float *o = realloc(x->out, nout * sizeof *o);
        if (!o) {
            nn_fail(e, "out of memory");
            return NULL;
        }
        x->out = o, x->out_floats = nout;
    }
    float *gin = nn_cuda_model_input(x->cm);
    const float *a;
    if (nn_cuda_upload(x->g, gin, in, nin, e) < 0 ||
        !(a = nn_cuda_model_forward_to(x->cm, gin, n, last, p, e)) ||
        nn_cuda_download(x->g, x->out, a, nout, e) < 0)
        return NULL;
    return x->out;
}

int nn_exec_backward_from(nn_exec *x, int from, const float *dlast, float *dx, int n,
                          const nn_pass *p, nn_error *e)
{
    if (!x->g) {
        nn_model_backward_from(x->m, from, dlast, dx, n, p);
        return 0;
    }
    size_t nd = nn_dims_size(x->m->layers[from].out) * (size_t)n;
    size_t nin = nn_dims_size(x->m->input) * (size_t)n;
    if (nn_cuda_upload(x->g, x->dlast, dlast, nd, e) < 0 ||
        nn_cuda_model_backward_from(x->cm, from, x->dlast, dx ? x->dx : NULL, n, p, e) < 0)
        return -1;
    return dx ? nn_cuda_download(x->g, dx, x->dx, nin, e) : nn_cuda_sync(x->g, e);
}
