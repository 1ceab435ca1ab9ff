/* optim.c - the optimizers of torch.optim (PyTorch 1.13 semantics).
 *
 * State: nslots blocks of m->nvalues floats, each laid out like the model's
 * value block, so the state of a parameter value sits at the same offset as
 * the value in every block. Per value, with d the gradient after weight
 * decay (d = g + wd*w, except adamw) and t the step (1 on the first update):
 *
 *   sgd       w -= lr*d
 *   momentum  b = t==1 ? d : mu*b + d;  w -= lr*b
 *   nesterov  b as momentum;            w -= lr*(d + mu*b)
 *   adagrad   s += d*d;                 w -= lr*d/(sqrt(s) + eps)
 *   rmsprop   v = alpha*v + (1-alpha)*d*d;  a = sqrt(v) + eps
 *             mu > 0: b = mu*b + d/a; w -= lr*b    else: w -= lr*d/a
 *   adam      m = b1*m + (1-b1)*d;  v = b2*v + (1-b2)*d*d
 *             w -= lr/(1-b1^t) * m/(sqrt(v)/sqrt(1-b2^t) + eps)
 *   adamw     w *= 1 - lr*wd, then adam with d = g
 */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tensors at least this long are updated by all threads (a parallel
 * region costs a wake-up of the other threads: milliseconds on a busy
 * machine, more than a smaller update takes). */
#define PARALLEL_MIN (1 << 20)

#define OPTIM_NAMES "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw"

static const struct {
    const char *name;
    const char *keys;  /* the options it takes */
    int nslots;
    const char *slot[2]; /* PyTorch's state names */
} optims[] = {
    [NN_OPT_SGD] = {"sgd", "", 0, {NULL, NULL}},
    [NN_OPT_MOMENTUM] = {"momentum", "momentum", 1, {"momentum_buffer", NULL}},
    [NN_OPT_NESTEROV] = {"nesterov", "momentum", 1, {"momentum_buffer", NULL}},
    [NN_OPT_ADAGRAD] = {"adagrad", "eps", 1, {"sum", NULL}},
    [NN_OPT_RMSPROP] = {"rmsprop", "alpha, eps, momentum", 2,
                        {"square_avg", "momentum_buffer"}},
    [NN_OPT_ADAM] = {"adam", "beta1, beta2, eps", 2, {"exp_avg", "exp_avg_sq"}},
    [NN_OPT_ADAMW] = {"adamw", "beta1, beta2, eps", 2, {"exp_avg", "exp_avg_sq"}},
};
#define NOPTIMS ((int)(sizeof optims / sizeof optims[0]))

const char *nn_optim_name(nn_optim_kind kind)
{
    return (int)kind >= 0 && (int)kind < NOPTIMS ? optims[kind].name : "?";
}

int nn_optim_slots(nn_optim_kind kind)
{
    return (int)kind >= 0 && (int)kind < NOPTIMS ? optims[kind].nslots : 0;
}

int nn_optim_has_momentum(nn_optim_kind kind)
{
    return kind == NN_OPT_MOMENTUM || kind == NN_OPT_NESTEROV || kind == NN_OPT_RMSPROP;
}

const char *nn_optim_slot_name(nn_optim_kind kind, int i)
{
    if (i < 0 || i >= nn_optim_slots(kind))
        return NULL;
    return optims[kind].slot[i];
}

/* Is key one of the comma-separated words of list? */
static int has_key(const char *list, const char *key, size_t len)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, key, len) == 0)
            return 1;
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return 0;
}

/* The defaults of torch.optim; lr as the caller would start. */
static void set_defaults(nn_optim *o, nn_optim_kind kind)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lr = kind == NN_OPT_ADAM || kind == NN_OPT_ADAMW ? 0.001f : 0.01f;
    o->wd = kind == NN_OPT_ADAMW ? 0.01f : 0.0f;
    o->momentum = kind == NN_OPT_MOMENTUM || kind == NN_OPT_NESTEROV ? 0.9f : 0.0f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->alpha = 0.99f;
    o->eps = kind == NN_OPT_ADAGRAD ? 1e-10f : 1e-8f;
    o->nslots = optims[kind].nslots;
}

int nn_optim_parse(nn_optim *o, const char *text, nn_error *e)
{
    size_t len = strcspn(text, ":");
    int kind = -1;
    for (int k = 0; k < NOPTIMS; k++)
        if (strlen(optims[k].name) == len && strncmp(text, optims[k].name, len) == 0)
            kind = k;
    if (kind < 0)
        return nn_fail(e, "optimizer '%.*s' is not known; use %s, optionally "
                       "followed by :key=value,...", (int)len, text, OPTIM_NAMES);
    nn_optim t;
    set_defaults(&t, (nn_optim_kind)kind);
    const char *name = optims[kind].name, *keys = optims[kind].keys;
    const char *p = text + len;
    if (*p == ':' && !*keys)
        return nn_fail(e, "optimizer '%s': %s takes no options", text, name);
    if (*p == ':' && !*++p)
        return nn_fail(e, "optimizer '%s': key=value options must follow ':'; %s takes %s",
                       text, name, keys);
    while (*p) { /* key=value[,key=value...] */
        size_t n = strcspn(p, ","), klen = strcspn(p, "=,");
        char key[32], val[64], *end;
        if (klen == n || klen >= sizeof key || n - klen - 1 >= sizeof val)
            return nn_fail(e, "optimizer '%s': '%.*s' is not key=value; %s takes %s",
                           text, (int)n, p, name, keys);
        memcpy(key, p, klen);
        key[klen] = 0;
        memcpy(val, p + klen + 1, n - klen - 1);
        val[n - klen - 1] = 0;
        if (!has_key(keys, key, klen))
            return nn_fail(e, "optimizer '%s': unknown option '%s'; %s takes %s",
                           text, key, name, keys);
        float v = strtof(val, &end);
        if (!*val || *end || !isfinite(v))
            return nn_fail(e, "optimizer '%s': %s must be a number, not '%s'",
                           text, key, val);
        if (strcmp(key, "eps") == 0) {
            if (v <= 0)
                return nn_fail(e, "optimizer '%s': eps must be > 0", text);
            t.eps = v;
        } else {
            if (v < 0 || v >= 1)
                return nn_fail(e, "optimizer '%s': %s must be in [0, 1), not %s",
                               text, key, val);
            if (strcmp(key, "momentum") == 0)
                t.momentum = v;
            else if (strcmp(key, "beta1") == 0)
                t.beta1 = v;
            else if (strcmp(key, "beta2") == 0)
                t.beta2 = v;
            else
                t.alpha = v;
        }
        p += n;
        if (*p == ',' && !*++p)
            return nn_fail(e, "optimizer '%s': a key=value is missing after ','", text);
    }
    *o = t;
    return 0;
}

static void *alloc_aligned(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? (bytes + 63) / 64 * 64 : 64))
        return NULL;
    return p;
}

int nn_optim_setup(nn_optim *o, const nn_model *m, nn_error *e)
{
    free(o->state);
    o->state = NULL;
    o->step = 0;
    o->nslots = nn_optim_slots(o->kind);
    o->nvalues = m->nvalues;
    size_t n = (size_t)o->nslots * m->nvalues;
    if (n == 0)
        return 0;
    if (!(o->state = alloc_aligned(n * sizeof(float)))) {
        o->nvalues = 0;
        return nn_fail(e, "out of memory for %s state (%zu floats)",
                       nn_optim_name(o->kind), n);
    }
    memset(o->state, 0, n * sizeof(float));
    return 0;
}

void nn_optim_free(nn_optim *o)
{
    free(o->state);
    o->state = NULL;
    o->nvalues = 0;
}

void nn_optim_step(nn_optim *o, nn_model *m, float lr)
{
    /* a state that was not set up for m would be written out of bounds */
    if (o->nslots != nn_optim_slots(o->kind) ||
        (o->nslots > 0 && (!o->state || o->nvalues != m->nvalues)))
        return;
    o->step++;
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        for (int j = 0; j < l->nparam; j++) {
            nn_param *p = &l->param[j];
            if (!p->grad)
                continue;
            size_t off = (size_t)(p->value - m->values);
            float *slots[2] = {NULL, NULL};
            for (int s = 0; s < o->nslots; s++)
                slots[s] = o->state + (size_t)s * o->nvalues + off;
            nn_optim_update(o, p->value, p->grad, slots, p->size, lr, o->step);
        }
    }
}

/* The double that a float hyper-parameter was written as (0.999f ->
 * 0.999): the shortest decimal that reads back as f. torch computes its
 * scalars (1 - beta, bias corrections, step sizes) in double from the
 * Python floats; this keeps them the same here. */
static double decimal(float f)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, f);
        double d = strtod(buf, NULL);
        if ((float)d == f)
            return d;
    }
    return f;
}

/* The products and quotients below associate as torch's CPU kernels do
 * (addcmul: w + (c*a)*b, addcdiv: w + (c*a)/b). */

/* The gradient after L2 weight decay: g + wd*w (wd == 0: g). */
static inline float decayed(float g, float w, float wd)
{
    return wd != 0 ? g + wd * w : g;
}

void nn_optim_coeffs_of(const nn_optim *o, float lr, long step, nn_optim_coeffs *c)
{
    const double lr_d = decimal(lr), wd_d = decimal(o->wd);
    const double b1 = decimal(o->beta1), b2 = decimal(o->beta2);
    const double t = (double)(step > 0 ? step : 1);
    c->wd = o->kind == NN_OPT_ADAMW ? 0.0f : o->wd;
    c->neg_lr = (float)-lr_d, c->mu = o->momentum, c->eps = o->eps;
    c->first = step <= 1, c->nesterov = o->kind == NN_OPT_NESTEROV;
    c->alpha = o->alpha, c->one_alpha = (float)(1.0 - decimal(o->alpha));
    c->use_mu = o->momentum > 0;
    c->beta1 = o->beta1, c->beta2 = o->beta2;
    c->one_b1 = (float)(1.0 - b1), c->one_b2 = (float)(1.0 - b2);
    c->neg_step_size = (float)(-lr_d / (1.0 - pow(b1, t)));
    c->bc2_sqrt = (float)sqrt(1.0 - pow(b2, t));
    c->keep = (float)(1.0 - lr_d * wd_d);
    c->adamw = o->kind == NN_OPT_ADAMW && o->wd != 0;
}

void nn_optim_update(const nn_optim *o, float *w, const float *g,
                     float *const *slots, size_t n, float lr, long step)
{
    nn_optim_coeffs c;
    nn_optim_coeffs_of(o, lr, step, &c);
    const float wd = c.wd, neg_lr = c.neg_lr, mu = c.mu, eps = c.eps;
    const int par = n >= PARALLEL_MIN;
    const long nn = (long)n;

    switch (o->kind) {
    case NN_OPT_SGD:
#pragma omp parallel for if (par) schedule(static)
        for (long i = 0; i < nn; i++)
            w[i] += neg_lr * decayed(g[i], w[i], wd);
        break;

    case NN_OPT_MOMENTUM:
    case NN_OPT_NESTEROV: {
        /* dampening 0; the buffer starts as the first gradient */
        float *b = slots[0];
        const int first = c.first, nesterov = c.nesterov;
#pragma omp parallel for if (par) schedule(static)
        for (long i = 0; i < nn; i++) {
            float d = decayed(g[i], w[i], wd);
            b[i] = first ? d : mu * b[i] + d;
            w[i] += neg_lr * (nesterov ? d + mu * b[i] : b[i]);
        }
        break;
    }

    case NN_OPT_ADAGRAD: {
        /* lr_decay 0, initial accumulator 0 */
        float *s = slots[0];
#pragma omp parallel for if (par) schedule(static)
        for (long i = 0; i < nn; i++) {
            float d = decayed(g[i], w[i], wd);
            s[i] += d * d;
            w[i] += neg_lr * d / (sqrtf(s[i]) + eps);
        }
        break;
    }

    case NN_OPT_RMSPROP: {
        /* not centered; the momentum buffer is used when momentum > 0 */
        float *v = slots[0], *b = slots[1];
        const float alpha = c.alpha, one_alpha = c.one_alpha;
        const int use_mu = c.use_mu;
#pragma omp parallel for if (par) schedule(static)
        for (long i = 0; i < nn; i++) {
            float d = decayed(g[i], w[i], wd);
            v[i] = alpha * v[i] + one_alpha * d * d;
            float a = sqrtf(v[i]) + eps;
            if (use_mu) {
                b[i] = mu * b[i] + d / a;
                w[i] += neg_lr * b[i];
            } else {
                w[i] += neg_lr * d / a;
            }
        }
        break;
    }

    case NN_OPT_ADAM:
    case NN_OPT_ADAMW: {
        float *m1 = slots[0], *m2 = slots[1];
        const float beta1 = c.beta1, beta2 = c.beta2;
        const float one_b1 = c.one_b1, one_b2 = c.one_b2;
        const float neg_step_size = c.neg_step_size, bc2_sqrt = c.bc2_sqrt;
        const float keep = c.keep; /* adamw decay */
        const int adamw = c.adamw;
#pragma omp parallel for if (par) schedule(static)
        for (long i = 0; i < nn; i++) {
            if (adamw)
                w[i] *= keep;
            float d = decayed(g[i], w[i], wd);
            m1[i] = beta1 * m1[i] + one_b1 * d;
            m2[i] = beta2 * m2[i] + one_b2 * d * d;
            float denom = sqrtf(m2[i]) / bc2_sqrt + eps;
            w[i] += neg_step_size * m1[i] / denom;
        }
        break;
    }
    }
}
