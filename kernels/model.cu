// model.cu - a whole network on the GPU, as lib/model.c does it on the
// CPU: the parameters in one device block of values and one of gradients
// (the same offsets as the model's), the layers' GPU sides viewing them,
// activations for a batch of up to max_batch, two backward buffers, and
// the optimizer's state once the first step needs it. Nothing is
// allocated after that in forward, backward, loss or step.
#include "cuda_impl.h"

#include <stdlib.h>
#include <string.h>

struct nn_cuda_model {
    nn_cuda *g;
    nn_model *m;
    int max_batch;
    float *values, *grads, *state; // state: the optimizer's slots, NULL until a step
    int nslots;                    // state's blocks of nvalues
    nn_cuda_layer **layers;
    float *input, **act, *dbuf[2];
    const float *x; // the input of the last forward
};

extern "C" void nn_cuda_model_free(nn_cuda_model *cm)
{
    if (!cm)
        return;
    cudaStreamSynchronize(cm->g->stream);
    for (int i = 0; cm->layers && i < cm->m->nlayers; i++)
        nn_cuda_layer_free(cm->layers[i]);
    for (int i = 0; cm->act && i < cm->m->nlayers; i++)
        cudaFree(cm->act[i]);
    cudaFree(cm->values), cudaFree(cm->grads), cudaFree(cm->state);
    cudaFree(cm->input), cudaFree(cm->dbuf[0]), cudaFree(cm->dbuf[1]);
    free(cm->layers), free(cm->act);
    free(cm);
}

static int make(nn_cuda_model *cm, nn_error *e)
{
    nn_model *m = cm->m;
    size_t nv = m->nvalues ? m->nvalues : 1, dmax = nn_dims_size(m->input);
    CUDA_TRY(cudaMalloc(&cm->values, nv * sizeof(float)));
    CUDA_TRY(cudaMalloc(&cm->grads, nv * sizeof(float)));
    CUDA_TRY(cudaMemcpyAsync(cm->values, m->values, m->nvalues * sizeof(float),
                             cudaMemcpyHostToDevice, cm->g->stream));
    CUDA_TRY(cudaMemsetAsync(cm->grads, 0, nv * sizeof(float), cm->g->stream));
    cm->layers = (nn_cuda_layer **)calloc(m->nlayers, sizeof *cm->layers);
    cm->act = (float **)calloc(m->nlayers, sizeof *cm->act);
    if (!cm->layers || !cm->act)
        return nn_fail(e, "out of memory");
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        float *value[NN_MAX_PARAMS] = {0}, *grad[NN_MAX_PARAMS] = {0};
        for (int j = 0; j < l->nparam; j++) {
            value[j] = cm->values + (l->param[j].value - m->values);
            grad[j] = l->param[j].grad ? cm->grads + (l->param[j].grad - m->grads) : NULL;
        }
        if (!(cm->layers[i] = nn_cuda_layer_make(cm->g, l, cm->max_batch, value, grad, e)))
            return -1;
        size_t out = nn_dims_size(l->out);
        dmax = out > dmax ? out : dmax;
        CUDA_TRY(cudaMalloc(&cm->act[i], (size_t)cm->max_batch * out * sizeof(float)));
    }
    size_t in = (size_t)cm->max_batch * nn_dims_size(m->input) * sizeof(float);
    CUDA_TRY(cudaMalloc(&cm->input, in));
    for (int k = 0; k < 2; k++)
        CUDA_TRY(cudaMalloc(&cm->dbuf[k], (size_t)cm->max_batch * dmax * sizeof(float)));
    CUDA_TRY(cudaStreamSynchronize(cm->g->stream));
    return 0;
}

extern "C" nn_cuda_model *nn_cuda_model_new(nn_cuda *g, nn_model *m, int max_batch,
                                            nn_error *e)
{
    nn_cuda_model *cm = (nn_cuda_model *)calloc(1, sizeof *cm);
    if (!cm) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    cm->g = g, cm->m = m, cm->max_batch = max_batch < 1 ? 1 : max_batch;
    if (make(cm, e) < 0) {
        nn_fail_within(e, "the model on the GPU: ");
        nn_cuda_model_free(cm);
        return NULL;
    }
    return cm;
}

extern "C" float *nn_cuda_model_input(nn_cuda_model *cm) { return cm->input; }

extern "C" float *nn_cuda_model_output(nn_cuda_model *cm, int layer) { return cm->act[layer]; }

extern "C" const float *nn_cuda_model_forward_to(nn_cuda_model *cm, const float *x, int n,
                                                 int last, const nn_pass *p, nn_error *e)
{
    if (n > cm->max_batch) {
        nn_fail(e, "a batch of %d on the GPU, set up for %d", n, cm->max_batch);
        return NULL;
    }
    cm->x = x;
    for (int i = 0; i <= last; i++)
        if (nn_cuda_forward(cm->layers[i], i ? cm->act[i - 1] : x, cm->act[i], n, p, e) < 0)
            return NULL;
    return cm->act[last];
}

extern "C" int nn_cuda_model_backward_from(nn_cuda_model *cm, int from, const float *dlast,
                                           float *dx, int n, const nn_pass *p, nn_error *e)
{
    const float *d = dlast;
    for (int i = from; i >= 0; i--) {
        float *out = i == 0 ? dx : d == cm->dbuf[0] ? cm->dbuf[1] : cm->dbuf[0];
        if (nn_cuda_backward(cm->layers[i], i ? cm->act[i - 1] : cm->x, cm->act[i], d, out, n, p,
                             e) < 0)
            return -1;
        d = out;
    }
    return 0;
}

extern "C" int nn_cuda_model_zero_grads(nn_cuda_model *cm, nn_error *e)
{
    CUDA_TRY(cudaMemsetAsync(cm->grads, 0, cm->m->nvalues * sizeof(float), cm->g->stream));
    return 0;
}

extern "C" int nn_cuda_model_loss_backward(nn_cuda_model *cm, const void *labels, int n,
                                           float *dx, const nn_pass *p, float *loss,
                                           nn_error *e)
{
    nn_model *m = cm->m;
    int last = m->nlayers - 1, from = last;
    const nn_layer *l = &m->layers[last];
    int k = (int)nn_dims_size(l->out);
    const float *out = cm->act[last];
    float *d = cm->dbuf[0];
    if (m->loss == NN_LOSS_XENT && strcmp(l->type->keyword, "softmax") == 0) {
        out = last ? cm->act[last - 1] : cm->x; // fused and stable, as on the CPU
        from = last - 1;
    }
    if (loss)
        *loss = 0;
    // the loss comes back while the backward runs: one wait, at the end
    if (nn_cuda_loss_queue(cm->g, m->loss, out, labels, n, k, d, loss != NULL, e) < 0)
        return -1;
    if (from >= 0 && nn_cuda_model_backward_from(cm, from, d, dx, n, p, e) < 0)
        return -1;
    if (from < 0 && dx) // the model is a lone softmax
        CUDA_TRY(cudaMemcpyAsync(dx, d, (size_t)n * k * sizeof(float), cudaMemcpyDeviceToDevice,
                                 cm->g->stream));
    return loss ? nn_cuda_loss_take(cm->g, m->loss, n, k, loss, e) : 0;
}

// The optimizer's state so far (zero, or resumed) into device memory, or
// none (cm->state NULL) when a copy fails.
static int upload_state(nn_cuda_model *cm, const nn_optim *o, nn_error *e)
{
    size_t bytes = (size_t)o->nslots * cm->m->nvalues * sizeof(float);
    float *st = NULL;
    cudaError_t s = cudaMalloc(&st, bytes);
    if (s == cudaSuccess)
        s = cudaMemcpyAsync(st, o->state, bytes, cudaMemcpyHostToDevice, cm->g->stream);
    if (s != cudaSuccess) {
        cudaFree(st);
        return nn_fail(e, "CUDA: %s (%zu bytes)", cudaGetErrorString(s), bytes);
    }
    cm->state = st, cm->nslots = o->nslots;
    return 0;
}

// One launch of o's update over the values [off, off + n) (n 0: none).
static int update_run(nn_cuda_model *cm, const nn_optim *o, int ns, size_t off, size_t n,
                      float lr, nn_error *e)
{
    if (n == 0)
        return 0;
    float *slots[2] = {NULL, NULL};
    for (int s = 0; s < ns; s++)
        slots[s] = cm->state + (size_t)s * cm->m->nvalues + off;
    return nn_cuda_optim_update(cm->g, o, cm->values + off, cm->grads + off, slots, n, lr,
                                o->step, e);
}

extern "C" int nn_cuda_model_step(nn_cuda_model *cm, nn_optim *o, float lr, nn_error *e)
{
    nn_model *m = cm->m;
    int ns = nn_optim_slots(o->kind);
    if (o->nslots != ns || (ns > 0 && (!o->state || o->nvalues != m->nvalues)))
        return nn_fail(e, "the optimizer was not set up for this model");
    if (ns > 0 && !cm->state && upload_state(cm, o, e) < 0)
        return nn_fail_within(e, "the %s state on the GPU: ", nn_optim_name(o->kind));
    o->step++;
    // The update is element by element, and a parameter's gradient and
    // slots sit at its value's offset (lib/model.c lays the blocks out so):
    // adjacent trainable parameters are one launch; a buffer between them
    // (batch norm's running statistics) starts another.
    size_t start = 0, len = 0; // the run not yet updated
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++) {
            const nn_param *p = &m->layers[i].param[j];
            size_t off = (size_t)(p->value - m->values);
            if (!p->grad)
                continue;
            if (p->grad - m->grads != (ptrdiff_t)off)
                return nn_fail(e, "internal error: a gradient away from its value's offset");
            if (len && off == start + len) {
                len += p->size;
                continue;
            }
            if (update_run(cm, o, ns, start, len, lr, e) < 0)
                return -1;
            start = off, len = p->size;
        }
    return update_run(cm, o, ns, start, len, lr, e);
}

extern "C" int nn_cuda_model_download(nn_cuda_model *cm, nn_optim *o, nn_error *e)
{
    nn_model *m = cm->m;
    cudaStream_t s = cm->g->stream;
    size_t bytes = m->nvalues * sizeof(float);
    CUDA_TRY(cudaMemcpyAsync(m->values, cm->values, bytes, cudaMemcpyDeviceToHost, s));
    CUDA_TRY(cudaMemcpyAsync(m->grads, cm->grads, bytes, cudaMemcpyDeviceToHost, s));
    if (o && o->state && cm->state && o->nslots == cm->nslots && o->nvalues == m->nvalues)
        CUDA_TRY(cudaMemcpyAsync(o->state, cm->state, (size_t)o->nslots * bytes,
                                 cudaMemcpyDeviceToHost, s));
    CUDA_TRY(cudaStreamSynchronize(s));
    return 0;
}
