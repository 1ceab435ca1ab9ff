/* model.c - a model is its layers in order, one block of parameter values,
 * one of gradients, and activations planned for a maximum batch. */
#include "model_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* each tensor starts on a 64-byte boundary */

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static void *alloc_aligned(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? round_up(bytes, 64) : 64))
        return NULL;
    return p;
}

nn_param *nn_layer_add_param(nn_layer *l, const char *name, int ndims,
                             const int *dims, nn_init init, int fan_in,
                             int fan_out, int trainable)
{
    if (l->nparam >= NN_MAX_PARAMS || ndims < 1 || ndims > 4)
        return NULL;
    nn_param *p = &l->param[l->nparam++];
    memset(p, 0, sizeof *p);
    p->name = name;
    p->ndims = ndims;
    p->size = 1;
    for (int i = 0; i < ndims; i++) {
        p->dims[i] = dims[i];
        p->size *= (size_t)dims[i];
    }
    p->init = init;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    p->trainable = trainable;
    return p;
}

nn_param *nn_layer_find_param(nn_layer *l, const char *name)
{
    for (int i = 0; i < l->nparam; i++)
        if (strcmp(l->param[i].name, name) == 0)
            return &l->param[i];
    return NULL;
}

/* One block for all values and one for all gradients, same layout. */
static int alloc_params(nn_model *m, nn_error *e)
{
    size_t total = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++)
            total += round_up(m->layers[i].param[j].size, ALIGN_FLOATS);
    m->nvalues = total;
    /* calloc: large blocks come zeroed from the system, so gradients of a
     * model that only runs inference never become resident */
    m->values = calloc(total ? total : 1, sizeof(float));
    m->grads = calloc(total ? total : 1, sizeof(float));
    if (!m->values || !m->grads)
        return nn_fail(e, "out of memory for %zu parameters", total);
    size_t off = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++) {
            nn_param *p = &m->layers[i].param[j];
            p->value = m->values + off;
            p->grad = p->trainable ? m->grads + off : NULL;
            off += round_up(p->size, ALIGN_FLOATS);
        }
    return 0;
}

nn_model *nn_model_from_arch(const char *text, const char *file, int classes,
                             nn_error *e)
{
    nn_model *m = calloc(1, sizeof *m);
    if (!m) {
        nn_fail(e, "%s: out of memory", file);
        return NULL;
    }
    m->arch_text = strdup(text);
    m->arch_file = strdup(file);
    for (int c = 0; c < 4; c++)
        m->mean[c] = 0, m->std[c] = 1;
    if (!m->arch_text || !m->arch_file) {
        nn_fail(e, "%s: out of memory", file);
        goto fail;
    }
    if (nn_arch_parse(m, text, file, classes, e) < 0 || alloc_params(m, e) < 0)
        goto fail;
    /* classes is what "dense classes" resolved to, else the last layer's size */
    nn_dims out = m->layers[m->nlayers - 1].out;
    m->classes = classes > 0 ? classes : (int)nn_dims_size(out);
    return m;
fail:
    nn_model_free(m);
    return NULL;
}

nn_model *nn_model_from_arch_file(const char *path, int classes, nn_error *e)
{
    int in = strcmp(path, "-") == 0; /* standard input */
    FILE *f = in ? stdin : fopen(path, "rb");
    if (!f) {
        nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (in)
        path = "stdin";
    size_t cap = 4096, n = 0;
    char *text = malloc(cap);
    while (text) {
        n += fread(text + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *t = realloc(text, cap *= 2);
        if (!t)
            free(text);
        text = t;
    }
    int bad = ferror(f);
    if (!in)
        fclose(f);
    if (!text || bad) {
        free(text);
        nn_fail(e, "%s: cannot read", path);
        return NULL;
    }
    text[n] = 0;
    if (strlen(text) != n) {
        free(text);
        nn_fail(e, "%s: not an architecture text file (it holds a NUL byte)", path);
        return NULL;
    }
    nn_model *m = nn_model_from_arch(text, path, classes, e);
    free(text);
    return m;
}

/* The pass a layer sees: the model's scratch, and no more threads than it
 * was sized for (nn_set_threads may have raised the count since). */
static nn_pass model_pass(const nn_model *m, const nn_pass *p)
{
    nn_pass pass = *p;
    int t = nn_threads();
    pass.work = m->work;
    pass.threads = t < m->work_threads ? t : m->work_threads;
    return pass;
}

static void free_activations(nn_model *m)
{
    if (m->act)
        for (int i = 0; i < m->nlayers; i++)
            free(m->act[i]);
    free(m->act);
    free(m->dbuf[0]);
    free(m->dbuf[1]);
    free(m->work);
    free(m->saved_block);
    m->act = NULL;
    m->dbuf[0] = m->dbuf[1] = m->work = NULL;
    m->saved_block = NULL;
    m->max_batch = 0;
}

void nn_model_free(nn_model *m)
{
    if (!m)
        return;
    free_activations(m);
    free(m->values);
    free(m->grads);
    free(m->layers);
    free(m->arch_text);
    free(m->arch_file);
    free(m->train_state);
    nn_strv_free(m->class_names);
    free(m);
}

/* Each parameter gets its own stream derived from (seed, layer, param), so
 * adding a layer does not change the others' initial values. */
void nn_model_init_params(nn_model *m, uint64_t seed)
{
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++) {
            nn_param *p = &m->layers[i].param[j];
            nn_init init = p->init;
            if (init.kind == NN_INIT_DEFAULT)
                init.kind = strcmp(p->name, "weight") == 0 ? NN_INIT_HE_NORMAL : NN_INIT_ZEROS;
            nn_rng r;
            nn_rng_seed(&r, seed ^ nn_hash64(((uint64_t)i << 8) + (uint64_t)j));
            nn_init_fill(init, p->value, p->size, p->fan_in, p->fan_out, &r);
        }
}

int nn_model_reserve(nn_model *m, int n, nn_error *e)
{
    if (n <= m->max_batch)
        return 0;
    free_activations(m);
    size_t dmax = nn_dims_size(m->input), work = 0, saved = 0;
    m->act = calloc(m->nlayers, sizeof *m->act);
    if (!m->act)
        goto oom;
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        size_t out = nn_dims_size(l->out);
        if (out > dmax)
            dmax = out;
        if (!(m->act[i] = alloc_aligned((size_t)n * out * sizeof(float))))
            goto oom;
        if (l->type->work_floats) {
            size_t w = l->type->work_floats(l, n);
            if (w > work)
                work = w;
        }
        if (l->type->saved_bytes)
            saved += round_up(l->type->saved_bytes(l, n), 64);
    }
    m->dbuf[0] = alloc_aligned((size_t)n * dmax * sizeof(float));
    m->dbuf[1] = alloc_aligned((size_t)n * dmax * sizeof(float));
    m->work = alloc_aligned(work * sizeof(float));
    m->saved_block = alloc_aligned(saved);
    if (!m->dbuf[0] || !m->dbuf[1] || !m->work || !m->saved_block)
        goto oom;
    m->work_floats = work;
    m->work_threads = nn_threads();
    char *s = m->saved_block;
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        size_t b = l->type->saved_bytes ? round_up(l->type->saved_bytes(l, n), 64) : 0;
        l->saved = b ? s : NULL;
        s += b;
    }
    m->max_batch = n;
    return 0;
oom:
    free_activations(m);
    return nn_fail(e, "out of memory for activations of a batch of %d", n);
}

const float *nn_model_forward_to(nn_model *m, const float *x, int n, int last,
                                 const nn_pass *p)
{
    nn_pass pass = model_pass(m, p);
    m->x = x;
    for (int i = 0; i <= last; i++) {
        nn_layer *l = &m->layers[i];
        l->type->forward(l, i ? m->act[i - 1] : x, m->act[i], n, &pass);
    }
    return m->act[last];
}

const float *nn_model_forward(nn_model *m, const float *x, int n,
                              const nn_pass *p)
{
    return nn_model_forward_to(m, x, n, m->nlayers - 1, p);
}

void nn_model_backward_from(nn_model *m, int from, const float *dlast,
                            float *dx, int n, const nn_pass *p)
{
    nn_pass pass = model_pass(m, p);
    const float *g = dlast;
    for (int i = from; i >= 0; i--) {
        nn_layer *l = &m->layers[i];
        float *out = i == 0 ? dx : g == m->dbuf[0] ? m->dbuf[1] : m->dbuf[0];
        l->type->backward(l, i ? m->act[i - 1] : m->x, m->act[i], g, out, n, &pass);
        g = out;
    }
}

void nn_model_zero_grads(nn_model *m)
{
    memset(m->grads, 0, m->nvalues * sizeof(float));
}

float nn_model_loss_backward(nn_model *m, const void *labels, int n,
                             float *dx, const nn_pass *p, int *correct)
{
    int last = m->nlayers - 1;
    const nn_layer *l = &m->layers[last];
    const float *out = m->act[last];
    int k = (int)nn_dims_size(l->out);
    float loss, *d = m->dbuf[0];
    int from = last;
    if (m->loss == NN_LOSS_XENT) {
        const float *logits = out;
        if (strcmp(l->type->keyword, "softmax") == 0) { /* fused and stable */
            logits = last ? m->act[last - 1] : m->x;
            from = last - 1;
        }
        loss = nn_loss_softmax_xent(logits, labels, n, k, d);
        if (correct) {
            *correct = 0;
            for (int i = 0; i < n; i++)
                *correct += nn_argmax(out + (size_t)i * k, k) == ((const int *)labels)[i];
        }
    } else if (m->loss == NN_LOSS_MSE) {
        loss = nn_loss_mse(out, labels, n, k, d);
    } else {
        loss = nn_loss_sigmoid_bce(out, labels, n, k, d);
    }
    if (from >= 0)
        nn_model_backward_from(m, from, d, dx, n, p);
    else if (dx) /* the model is a lone softmax */
        memcpy(dx, d, (size_t)n * k * sizeof(float));
    return loss;
}

int nn_model_find_layer(const nn_model *m, const char *text)
{
    char *end;
    long i = strtol(text, &end, 10);
    if (end != text && *end == 0)
        return i >= 0 && i < m->nlayers ? (int)i : -1;
    for (int j = 0; j < m->nlayers; j++)
        if (strcmp(m->layers[j].name, text) == 0)
            return j;
    return -1;
}

size_t nn_model_param_count(const nn_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++)
            if (m->layers[i].param[j].trainable)
                n += m->layers[i].param[j].size;
    return n;
}

/* A table: index, name, type, output shape, parameters, multiply-adds. */
void nn_model_summary(const nn_model *m, FILE *f)
{
    double total_flops = 0;
    fprintf(f, "%5s  %-16s %-10s %-16s %12s %14s\n", "index", "name", "type",
            "output", "params", "mult-adds");
    fprintf(f, "%5s  %-16s %-10s %dx%dx%d\n", "", "input", "", m->input.c,
            m->input.h, m->input.w);
    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        size_t params = 0;
        char shape[48];
        for (int j = 0; j < l->nparam; j++)
            if (l->param[j].trainable)
                params += l->param[j].size;
        double flops = l->type->flops ? l->type->flops(l) : 0;
        total_flops += flops;
        snprintf(shape, sizeof shape, "%dx%dx%d", l->out.c, l->out.h, l->out.w);
        fprintf(f, "%5d  %-16s %-10s %-16s %12zu %14.0f\n", i, l->name,
                l->type->keyword, shape, params, flops);
    }
    fprintf(f, "total: %d layers, %zu trainable parameters, %.3g mult-adds per sample\n",
            m->nlayers, nn_model_param_count(m), total_flops);
}
