/* test_gpu.c - every layer type on the GPU against the CPU (make check-gpu).
 *
 * Each case is a one-layer network. Its CPU forward and backward (train:
 * parameter gradients, and dx only) run next to the GPU's on the same
 * parameters and inputs, the GPU's layer set up for one sample more than
 * the batch and its outputs starting as NaN; y, dx, the parameter
 * gradients (accumulated onto 0.5) and the values after the pass (batch
 * norm's running statistics) must match within 1e-4 of each tensor's
 * largest magnitude, plus 1e-4 relative; dropout's masks must be the same
 * bits. The losses and every optimizer (3 steps, with and without weight
 * decay) are compared the same way, a whole model as model_case says, and
 * the trainer (nn_trainer_run through nn_exec) as trainer_case and
 * resume_case say; the pixel and reduction kernels (resize, blur,
 * normalize, channel means, sums, gather) as pixels_case says.
 * Without a GPU the cases skip (NN_REQUIRE_GPU=1 makes that a failure, for
 * make check-gpu); a build without CUDA must refuse to open one with a
 * clear message. */
#include "nn.h"
#include "test.h"

#include <unistd.h>

typedef struct {
    const char *arch; /* the input line and one layer */
    int n;
} gpu_case;

static const gpu_case cases[] = {
    {"input 3x8x8\nconv 8 3x3 pad=same", 4},
    {"input 8x9x10\nconv 5 5x5 stride=2 pad=same", 3}, /* uneven padding */
    {"input 4x7x7\nconv 6 1x1 bias=none", 2},
    {"input 8x12x12\nconv 4 3x3 stride=2", 2},
    {"input 64x32x32\nconv 64 3x3 pad=same", 4},
    {"input 20x1x1\ndense 7", 5},
    {"input 33x1x1\ndense 10 bias=none", 3},
    {"input 3x8x8\nmaxpool 2", 4},
    {"input 3x9x9\nmaxpool 3x3 stride=2 pad=same", 2},
    {"input 3x8x8\navgpool 3x3 stride=1 pad=1", 2},
    {"input 5x6x7\ngap", 3},
    {"input 4x5x5\nflatten", 3},
    {"input 3x6x6\nrelu", 4},
    {"input 3x6x6\nleakyrelu 0.1", 4},
    {"input 3x6x6\nsigmoid", 4},
    {"input 3x6x6\ntanh", 4},
    {"input 3x16x16\ndropout 0.3", 4},
    {"input 10x1x1\nsoftmax", 6},
    {"input 3x20x20\nsoftmax", 2}, /* more features than a block's threads */
    {"input 6x5x5\nbatchnorm", 4},
    {"input 12x1x1\nbatchnorm eps=1e-3 momentum=0.2", 8},
    {"input 4x1x1\nbatchnorm", 1}, /* one value per channel: running_var stays */
};

static void fill(nn_rng *r, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)nn_rng_normal(r);
}

/* got (downloaded from dev) must match want. */
static void expect(nn_cuda *g, const char *what, const float *dev, const float *want, size_t n,
                   int exact)
{
    nn_error e;
    float *got = malloc((n ? n : 1) * sizeof(float));
    if (nn_cuda_download(g, got, dev, n, &e) < 0) {
        FAILF("%s: %s", what, e.msg);
        free(got);
        return;
    }
    double top = 0, diff;
    for (size_t i = 0; i < n; i++)
        top = fabs(want[i]) > top ? fabs(want[i]) : top;
    long bad = exact ? -1 : test_close(got, want, (long)n, 1e-4 * top, 1e-4, &diff);
    if (exact)
        for (size_t i = 0; i < n && bad < 0; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
                bad = (long)i;
    CHECK_MSG(bad < 0, "%s[%ld] = %.8g on the GPU, %.8g on the CPU", what, bad,
              bad >= 0 ? got[bad] : 0, bad >= 0 ? want[bad] : 0);
    free(got);
}

/* The parameters' values and gradients of the GPU layer against l's. */
static void expect_params(nn_cuda_layer *d, nn_layer *l)
{
    nn_error e;
    nn_layer copy = *l; /* its parameters point at buffers of their own */
    for (int i = 0; i < l->nparam; i++) {
        copy.param[i].value = malloc(l->param[i].size * sizeof(float));
        copy.param[i].grad = l->param[i].grad ? malloc(l->param[i].size * sizeof(float)) : NULL;
    }
    if (nn_cuda_layer_download(d, &copy, &e) < 0)
        FAILF("download: %s", e.msg);
    for (int i = 0; i < l->nparam; i++) {
        nn_param *c = &copy.param[i], *p = &l->param[i];
        double top = 0, diff;
        for (size_t j = 0; j < p->size; j++)
            top = fabs(p->value[j]) > top ? fabs(p->value[j]) : top;
        long bad = test_close(c->value, p->value, (long)p->size, 1e-4 * top, 1e-4, &diff);
        CHECK_MSG(bad < 0, "%s[%ld] = %.8g on the GPU, %.8g on the CPU", p->name, bad,
                  bad >= 0 ? c->value[bad] : 0, bad >= 0 ? p->value[bad] : 0);
        if (p->grad) {
            top = 0;
            for (size_t j = 0; j < p->size; j++)
                top = fabs(p->grad[j]) > top ? fabs(p->grad[j]) : top;
            bad = test_close(c->grad, p->grad, (long)p->size, 1e-4 * top, 1e-4, &diff);
            CHECK_MSG(bad < 0, "d%s[%ld] = %.8g on the GPU, %.8g on the CPU", p->name, bad,
                      bad >= 0 ? c->grad[bad] : 0, bad >= 0 ? p->grad[bad] : 0);
        }
        free(c->value), free(c->grad);
    }
}

static void run_case(nn_cuda *g, const gpu_case *c, int train, int grads, nn_rng *r)
{
    char name[160];
    const char *layer = strchr(c->arch, '\n') + 1;
    snprintf(name, sizeof name, "GPU = CPU: %s, n=%d, %s%s", layer, c->n,
             train ? "train" : "eval", grads ? "" : ", dx only");
    TEST(name);
    nn_error e;
    nn_model *m = nn_model_from_arch(c->arch, "case", 0, &e);
    if (!m || nn_model_reserve(m, c->n, &e) < 0) {
        FAILF("%s", e.msg);
        nn_model_free(m);
        return;
    }
    nn_model_init_params(m, 7);
    nn_layer *l = &m->layers[0];
    for (int i = 0; i < l->nparam; i++) /* batch norm: not the initial 0 and 1 */
        if (!l->param[i].trainable || strcmp(l->param[i].name, "gamma") == 0 ||
            strcmp(l->param[i].name, "beta") == 0)
            for (size_t j = 0; j < l->param[i].size; j++)
                l->param[i].value[j] += 0.25f * (float)nn_rng_uniform(r) + 0.5f;
    for (size_t j = 0; j < m->nvalues; j++)
        m->grads[j] = 0.5f;
    size_t xs = (size_t)c->n * nn_dims_size(l->in), ys = (size_t)c->n * nn_dims_size(l->out);
    float *x = malloc(xs * sizeof(float)), *dy = malloc(ys * sizeof(float));
    float *dx = malloc(xs * sizeof(float)), *y = malloc(ys * sizeof(float));
    fill(r, x, xs), fill(r, dy, ys);
    /* y and dx start as NaN on the GPU: a value it does not write fails */
    for (size_t i = 0; i < xs; i++)
        dx[i] = NAN;
    for (size_t i = 0; i < ys; i++)
        y[i] = NAN;
    /* set up for a larger batch than it runs */
    nn_cuda_layer *d = nn_cuda_layer_new(g, l, c->n + 1, &e);
    float *gx = nn_cuda_alloc(g, xs, &e), *gy = nn_cuda_alloc(g, ys, &e);
    float *gdy = nn_cuda_alloc(g, ys, &e), *gdx = nn_cuda_alloc(g, xs, &e);
    if (!d || !gx || !gy || !gdy || !gdx || nn_cuda_upload(g, gx, x, xs, &e) < 0 ||
        nn_cuda_upload(g, gdy, dy, ys, &e) < 0 || nn_cuda_upload(g, gy, y, ys, &e) < 0 ||
        nn_cuda_upload(g, gdx, dx, xs, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    nn_pass p = {.train = train, .seed = 11, .step = 3, .param_grads = grads};
    memcpy(y, nn_model_forward(m, x, c->n, &p), ys * sizeof(float));
    nn_model_backward_from(m, 0, dy, dx, c->n, &p);
    if (nn_cuda_forward(d, gx, gy, c->n, &p, &e) < 0 ||
        nn_cuda_backward(d, gx, gy, gdy, gdx, c->n, &p, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    int exact = strncmp(layer, "dropout", 7) == 0;
    expect(g, "y", gy, y, ys, exact);
    expect(g, "dx", gdx, dx, xs, exact);
    expect_params(d, l);
done:
    nn_cuda_free(g, gx), nn_cuda_free(g, gy), nn_cuda_free(g, gdy), nn_cuda_free(g, gdx);
    nn_cuda_layer_free(d);
    free(x), free(dy), free(dx), free(y);
    nn_model_free(m);
}

/* ---- losses and optimizers ---------------------------------------------- */

static void loss_case(nn_cuda *g, nn_loss_kind kind, int n, int k, nn_rng *r)
{
    char name[96];
    snprintf(name, sizeof name, "GPU = CPU: loss %s, n=%d, k=%d", nn_loss_name(kind), n, k);
    TEST(name);
    nn_error e;
    size_t xs = (size_t)n * k;
    float *x = malloc(xs * sizeof(float)), *t = malloc(xs * sizeof(float));
    float *d = malloc(xs * sizeof(float));
    int *labels = malloc(n * sizeof(int));
    fill(r, x, xs);
    for (size_t i = 0; i < xs; i++)
        t[i] = (float)nn_rng_uniform(r);
    for (int i = 0; i < n; i++)
        labels[i] = i == 1 ? -1 : (int)(nn_rng_uniform(r) * k); /* one label out of range */
    float want = kind == NN_LOSS_XENT ? nn_loss_softmax_xent(x, labels, n, k, d)
                 : kind == NN_LOSS_MSE ? nn_loss_mse(x, t, n, k, d)
                                       : nn_loss_sigmoid_bce(x, t, n, k, d);
    float *gx = nn_cuda_alloc(g, xs, &e), *gt = nn_cuda_alloc(g, xs, &e);
    float *gd = nn_cuda_alloc(g, xs, &e), got = 0;
    int ok = gx && gt && gd && nn_cuda_upload(g, gx, x, xs, &e) == 0;
    if (ok && kind == NN_LOSS_XENT) /* labels as bits in a float buffer */
        ok = nn_cuda_upload(g, gt, (const float *)(const void *)labels, (size_t)n, &e) == 0;
    else if (ok)
        ok = nn_cuda_upload(g, gt, t, xs, &e) == 0;
    if (!ok || nn_cuda_loss(g, kind, gx, gt, n, k, gd, &got, &e) < 0)
        FAILF("%s", e.msg);
    else {
        CHECK_MSG(fabsf(got - want) <= 1e-5f * fabsf(want) + 1e-6f, "loss %.8g on the GPU, %.8g on the CPU",
                  got, want);
        expect(g, "dloss", gd, d, xs, 0);
        /* without the loss (NULL: not taken) the same gradient, written anew */
        float *nans = malloc(xs * sizeof(float));
        for (size_t i = 0; nans && i < xs; i++)
            nans[i] = NAN;
        if (!nans || nn_cuda_upload(g, gd, nans, xs, &e) < 0 ||
            nn_cuda_loss(g, kind, gx, gt, n, k, gd, NULL, &e) < 0)
            FAILF("%s", nans ? e.msg : "out of memory");
        else
            expect(g, "dloss (the loss not taken)", gd, d, xs, 0);
        free(nans);
    }
    nn_cuda_free(g, gx), nn_cuda_free(g, gt), nn_cuda_free(g, gd);
    free(x), free(t), free(d), free(labels);
}

static void optim_case(nn_cuda *g, const char *spec, float wd, nn_rng *r)
{
    char name[96];
    snprintf(name, sizeof name, "GPU = CPU: optimizer %s, wd %g, 3 steps", spec, wd);
    TEST(name);
    nn_error e;
    nn_optim o;
    if (nn_optim_parse(&o, spec, &e) < 0) {
        FAILF("%s", e.msg);
        return;
    }
    o.lr = 0.01f, o.wd = wd;
    size_t n = 3000;
    int ns = nn_optim_slots(o.kind);
    float *w = malloc(n * sizeof(float)), *gr = malloc(n * sizeof(float));
    float *st = calloc(2 * n, sizeof(float)), *slots[2] = {st, st + n};
    float *gw = nn_cuda_alloc(g, n, &e), *gg = nn_cuda_alloc(g, n, &e);
    float *gs = nn_cuda_alloc(g, 2 * n, &e), *gslots[2] = {gs, gs ? gs + n : NULL};
    fill(r, w, n);
    if (!gw || !gg || !gs || nn_cuda_upload(g, gw, w, n, &e) < 0 ||
        nn_cuda_upload(g, gs, st, 2 * n, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    for (long step = 1; step <= 3; step++) {
        fill(r, gr, n);
        nn_optim_update(&o, w, gr, slots, n, o.lr, step);
        if (nn_cuda_upload(g, gg, gr, n, &e) < 0 ||
            nn_cuda_optim_update(g, &o, gw, gg, gslots, n, o.lr, step, &e) < 0) {
            FAILF("%s", e.msg);
            goto done;
        }
    }
    expect(g, "w", gw, w, n, 0);
    for (int i = 0; i < ns; i++)
        expect(g, nn_optim_slot_name(o.kind, i), gslots[i], slots[i], n, 0);
done:
    nn_cuda_free(g, gw), nn_cuda_free(g, gg), nn_cuda_free(g, gs);
    free(w), free(gr), free(st);
}

/* ---- whole models --------------------------------------------------------- */

/* got (the GPU's) against want (the CPU's), n values as a whole, both
 * taken as changes from base (NULL: 0): the RMS of their difference within
 * 1e-2 of want's RMS plus 1e-4 of top. Value by value would not do for a
 * network: where the GPU rounds a value to the other side of a relu's 0,
 * or of a tie in a max pool's window, one gradient goes elsewhere and a
 * few values downstream move by percents (a tensor's RMS by about 1e-3);
 * a wrong buffer, offset or formula moves it far more. */
static void expect_rms(const char *what, const float *got, const float *want,
                       const float *base, size_t n, double top)
{
    double d2 = 0, w2 = 0;
    for (size_t i = 0; i < n; i++) {
        double b = base ? base[i] : 0, d = (double)got[i] - want[i], w = want[i] - b;
        d2 += d * d, w2 += w * w;
    }
    double rd = sqrt(d2 / (n ? n : 1)), rw = sqrt(w2 / (n ? n : 1));
    CHECK_MSG(rd <= 1e-2 * rw + 1e-4 * top,
              "%s: RMS difference %.3g on the GPU, RMS %.3g on the CPU", what, rd, rw);
}

/* The largest |v - base| (base NULL: 0). */
static double largest(const float *v, const float *base, size_t n)
{
    double top = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)v[i] - (base ? base[i] : 0));
        top = a > top ? a : top;
    }
    return top;
}

/* data/arch/fmnist.nn (conv, batch norm, pool, dense, dropout, softmax +
 * xent) trained 3 steps with momentum SGD on the CPU and on the GPU from
 * the same weights: the losses (within 1e-4), then each tensor of the
 * weights and of the momentum buffers, and (nn-vis's pass) the gradient to
 * the input of the last conv's mean must agree (expect_rms). Momentum
 * keeps an update proportional to its gradient (Adam's sign-like steps
 * would magnify rounding on gradients near 0). */
static void model_case(nn_cuda *g, nn_rng *r)
{
    TEST("GPU = CPU: fmnist, 3 steps of momentum SGD, then the input gradient of conv2");
    nn_error e;
    int n = 16;
    nn_model *m = nn_model_from_arch_file("data/arch/fmnist.nn", 10, &e);
    nn_optim o = {0}, og = {0};
    nn_cuda_model *cm = NULL;
    float *x = NULL, *dx = NULL, *gdx = NULL, *gl = NULL, *dvis = NULL, *init = NULL;
    int *labels = NULL;
    if (!m || nn_model_reserve(m, n, &e) < 0 || nn_optim_parse(&o, "momentum", &e) < 0 ||
        nn_optim_setup(&o, m, &e) < 0 || nn_optim_parse(&og, "momentum", &e) < 0 ||
        nn_optim_setup(&og, m, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    nn_model_init_params(m, 5);
    init = malloc(m->nvalues * sizeof(float)); /* the values before the steps */
    memcpy(init, m->values, m->nvalues * sizeof(float));
    size_t xs = (size_t)n * nn_dims_size(m->input);
    x = malloc(xs * sizeof(float)), dx = malloc(xs * sizeof(float));
    labels = malloc(n * sizeof(int));
    fill(r, x, xs);
    for (int i = 0; i < n; i++)
        labels[i] = i % 10;
    if (!(cm = nn_cuda_model_new(g, m, n, &e)) || !(gl = nn_cuda_alloc(g, n, &e)) ||
        !(gdx = nn_cuda_alloc(g, xs, &e)) ||
        nn_cuda_upload(g, nn_cuda_model_input(cm), x, xs, &e) < 0 ||
        nn_cuda_upload(g, gl, (const float *)(const void *)labels, (size_t)n, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    const float *gx = nn_cuda_model_input(cm);
    nn_pass p = {.train = 1, .seed = 9, .param_grads = 1};
    for (int step = 1; step <= 3; step++) {
        p.step = step;
        float want, got;
        nn_model_forward(m, x, n, &p);
        nn_model_zero_grads(m);
        want = nn_model_loss_backward(m, labels, n, NULL, &p, NULL);
        nn_optim_step(&o, m, 0.01f);
        if (!nn_cuda_model_forward_to(cm, gx, n, m->nlayers - 1, &p, &e) ||
            nn_cuda_model_zero_grads(cm, &e) < 0 ||
            nn_cuda_model_loss_backward(cm, gl, n, NULL, &p, &got, &e) < 0 ||
            nn_cuda_model_step(cm, &og, 0.01f, &e) < 0) {
            FAILF("step %d: %s", step, e.msg);
            goto done;
        }
        CHECK_MSG(fabsf(got - want) <= 1e-4f * fabsf(want), "step %d: loss %.7g on the GPU, %.7g on the CPU",
                  step, got, want);
    }
    /* the GPU's weights and state into a copy of the model's */
    float *values = malloc(m->nvalues * sizeof(float)), *state = malloc(m->nvalues * sizeof(float));
    memcpy(values, m->values, m->nvalues * sizeof(float));
    memcpy(state, o.state, m->nvalues * sizeof(float));
    if (nn_cuda_model_download(cm, &og, &e) < 0)
        FAILF("%s", e.msg);
    /* tensor by tensor: the changes of the values and of batch norm's
     * running statistics, and the momentum buffers; the tops of the
     * parameters' and of the buffers' changes apart, so that the larger
     * changes of the statistics do not hide small updates */
    double vtop[2] = {0, 0}, stop = largest(state, NULL, m->nvalues);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < m->nlayers; i++)
            for (int j = 0; j < m->layers[i].nparam; j++) {
                const nn_param *q = &m->layers[i].param[j];
                size_t off = (size_t)(q->value - m->values);
                int t = q->grad != NULL;
                if (pass == 0) {
                    double a = largest(values + off, init + off, q->size);
                    vtop[t] = a > vtop[t] ? a : vtop[t];
                    continue;
                }
                char what[96];
                snprintf(what, sizeof what, "%s.%s", m->layers[i].name, q->name);
                expect_rms(what, m->values + off, values + off, init + off, q->size, vtop[t]);
                snprintf(what, sizeof what, "%s.%s momentum", m->layers[i].name, q->name);
                if (t)
                    expect_rms(what, og.state + off, state + off, NULL, q->size, stop);
            }
    /* nn-vis's pass on the GPU's weights (now in m): the mean of conv2's filter 0 */
    int conv = nn_model_find_layer(m, "conv2");
    nn_layer *lc = &m->layers[conv];
    size_t ds = (size_t)n * nn_dims_size(lc->out), hw = (size_t)lc->out.h * lc->out.w;
    dvis = calloc(ds, sizeof(float));
    for (int b = 0; b < n; b++)
        for (size_t j = 0; j < hw; j++)
            dvis[(size_t)b * nn_dims_size(lc->out) + j] = 1.0f / hw;
    float *gd = nn_cuda_alloc(g, ds, &e), *got = malloc(xs * sizeof(float));
    nn_pass ev = {0};
    nn_model_forward_to(m, x, n, conv, &ev);
    nn_model_backward_from(m, conv, dvis, dx, n, &ev);
    if (!gd || nn_cuda_upload(g, gd, dvis, ds, &e) < 0 ||
        !nn_cuda_model_forward_to(cm, gx, n, conv, &ev, &e) ||
        nn_cuda_model_backward_from(cm, conv, gd, gdx, n, &ev, &e) < 0 ||
        nn_cuda_download(g, got, gdx, xs, &e) < 0)
        FAILF("%s", e.msg);
    else
        expect_rms("dx", got, dx, NULL, xs, largest(dx, NULL, xs));
    nn_cuda_free(g, gd);
    free(values), free(state), free(got);
done:
    nn_cuda_free(g, gl), nn_cuda_free(g, gdx);
    nn_cuda_model_free(cm);
    nn_optim_free(&o), nn_optim_free(&og);
    free(x), free(dx), free(labels), free(dvis), free(init);
    nn_model_free(m);
}

/* ---- the trainer ---------------------------------------------------------- */

/* A split of n random 8x8 gray images with labels 0..2 (seeded). */
static void random_split(nn_split *s, long n, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    s->n = n;
    s->images = malloc((size_t)n * 64);
    s->labels = malloc((size_t)n * sizeof *s->labels);
    for (long i = 0; i < n * 64; i++)
        s->images[i] = (uint8_t)(nn_rng_u64(&r) >> 56);
    for (long i = 0; i < n; i++)
        s->labels[i] = (int32_t)(nn_rng_u64(&r) % 3);
}

/* What the hooks see of a run. */
typedef struct {
    const nn_trainer *t;
    long stop_at;        /* > 0: stop once this many steps are done */
    long syncs, fresh;   /* on_step calls at sync_every steps; those that found
                            the host's weights changed since the last one */
    double sum;          /* the sum of the host's weights then */
    double probes;       /* the sum of the probes' losses */
} hooks;

static double sum_values(const nn_model *m)
{
    double s = 0;
    for (size_t i = 0; i < m->nvalues; i++)
        s += m->values[i];
    return s;
}

static int on_step(void *ctx, const nn_trainer *t, const nn_step_stats *s, nn_error *e)
{
    (void)e;
    hooks *h = ctx;
    if (!isnan(s->probe_loss))
        h->probes += s->probe_loss;
    if (t->cfg.sync_every > 0 && s->step % t->cfg.sync_every == 0) {
        double v = sum_values(t->m);
        h->syncs++, h->fresh += v != h->sum;
        h->sum = v;
    }
    return 0;
}

static int should_stop(void *ctx)
{
    hooks *h = ctx;
    return h->stop_at > 0 && h->t && h->t->step >= h->stop_at;
}

/* Trains m with o on d as cfg says, on g (NULL: the CPU); the run's status
 * (-1 with e set when it could not start), the last epoch's record in
 * *last. */
static int train_run(nn_model *m, nn_optim *o, const nn_dataset *d, nn_train_cfg cfg,
                     nn_cuda *g, hooks *h, nn_epoch_stats *last, nn_error *e)
{
    cfg.gpu = g, cfg.ctx = h, cfg.on_step = on_step, cfg.stop = should_stop;
    nn_trainer *t = nn_trainer_new(m, o, d, &cfg, e);
    if (!t)
        return -1;
    h->t = t, h->sum = sum_values(m);
    int rc = nn_trainer_run(t, e);
    memset(last, 0, sizeof *last);
    if (t->nhistory > 0)
        *last = t->history[t->nhistory - 1];
    nn_trainer_free(t);
    h->t = NULL;
    return rc;
}

/* A model of arch with weights from seed 3 and its optimizer spec (lr). */
static nn_model *fresh_model(const char *arch, const char *spec, float lr, nn_optim *o,
                             nn_error *e)
{
    nn_model *m = nn_model_from_arch(arch, "test.nn", 3, e);
    if (!m)
        return NULL;
    nn_model_init_params(m, 3);
    if (nn_optim_parse(o, spec, e) < 0 || (o->lr = lr, nn_optim_setup(o, m, e) < 0)) {
        nn_model_free(m);
        return NULL;
    }
    return m;
}

/* The weights of got against want (both changed from init), tensor by
 * tensor (expect_rms), and the optimizer states alike. */
static void expect_model(const nn_model *got, const nn_optim *og, const nn_model *want,
                         const nn_optim *ow, const float *init)
{
    double top = largest(want->values, init, want->nvalues);
    for (int i = 0; i < want->nlayers; i++)
        for (int j = 0; j < want->layers[i].nparam; j++) {
            const nn_param *q = &want->layers[i].param[j];
            size_t off = (size_t)(q->value - want->values);
            char what[96];
            snprintf(what, sizeof what, "%s.%s", want->layers[i].name, q->name);
            expect_rms(what, got->values + off, want->values + off, init + off, q->size, top);
        }
    size_t ns = (size_t)ow->nslots * ow->nvalues;
    CHECK_MSG(og->nslots == ow->nslots && og->nvalues == ow->nvalues && og->step == ow->step,
              "optimizer: %d slots of %zu values after step %ld; want %d of %zu after %ld",
              og->nslots, og->nvalues, og->step, ow->nslots, ow->nvalues, ow->step);
    if (og->nslots == ow->nslots && og->nvalues == ow->nvalues && ns > 0)
        expect_rms("optimizer state", og->state, ow->state, NULL, ns,
                   largest(ow->state, NULL, ns));
}

/* A small dataset of 8x8 images of 3 classes: 96 train (a quarter for
 * validation), 40 test; and the run's settings: 2 epochs of batches of 16
 * (the last ones smaller), a test batch probed every 3 steps, the weights
 * back on the host every 2 steps. */
static void small_setup(nn_dataset *d, nn_train_cfg *c)
{
    memset(d, 0, sizeof *d);
    d->h = d->w = 8, d->c = 1, d->classes = 3;
    d->mean[0] = 0.5f, d->std[0] = 0.25f;
    random_split(&d->train, 96, 21);
    random_split(&d->test, 40, 22);
    nn_train_defaults(c);
    c->epochs = 2, c->batch = 16, c->seed = 5, c->val = 0.25f, c->eval_test = 1;
    c->mean_subtract = 1, c->probe_every = 3, c->sync_every = 2;
}

static const char *const TRAIN_ARCH[] = {
    /* xent on a final softmax: the loss on its input (nn_exec_output) */
    ("input 1x8x8\nconv 4 3x3 pad=same\nbatchnorm\nrelu\nmaxpool 2\nflatten\ndense 12\n"
     "dropout 0.2\nrelu\ndense classes\nsoftmax\n"),
    /* mse: float targets [n, k] go up instead of int labels [n] */
    "input 1x8x8\nconv 4 3x3 pad=same\nrelu\nflatten\ndense classes\nloss mse\n",
    "input 1x8x8\nconv 4 3x3 stride=2\ntanh\nflatten\ndense classes\nloss bce\n",
};

/* The trainer on the GPU against the CPU from the same weights, with
 * momentum SGD: the last epoch's losses (train, validation, test) and the
 * sum of the probes' losses within 1e-3, the final weights and momentum
 * buffers by expect_rms; and the hook at every sync_every step finds the
 * host's weights moved (brought back from the GPU). */
static void trainer_case(nn_cuda *g, const char *arch, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "GPU = CPU: the trainer, 2 epochs (%s), probes and syncs", what);
    TEST(name);
    nn_error e;
    nn_dataset d;
    nn_train_cfg cfg;
    small_setup(&d, &cfg);
    nn_optim oc = {0}, og = {0};
    nn_model *mc = fresh_model(arch, "momentum", 0.05f, &oc, &e);
    nn_model *mg = mc ? fresh_model(arch, "momentum", 0.05f, &og, &e) : NULL;
    float *init = mc ? malloc(mc->nvalues * sizeof(float)) : NULL;
    if (!mc || !mg || !init) {
        FAILF("%s", mc && mg ? "out of memory" : e.msg);
        goto done;
    }
    memcpy(init, mc->values, mc->nvalues * sizeof(float));
    hooks hc = {0}, hg = {0};
    nn_epoch_stats sc, sg;
    if (train_run(mc, &oc, &d, cfg, NULL, &hc, &sc, &e) != 0) {
        FAILF("CPU: %s", e.msg);
        goto done;
    }
    if (train_run(mg, &og, &d, cfg, g, &hg, &sg, &e) != 0) {
        FAILF("GPU: %s", e.msg);
        goto done;
    }
    const float got[4] = {sg.train_loss, sg.val_loss, sg.test_loss, (float)hg.probes};
    const float want[4] = {sc.train_loss, sc.val_loss, sc.test_loss, (float)hc.probes};
    static const char *const which[4] = {"epoch 2: train", "epoch 2: validation",
                                         "epoch 2: test", "the probes' summed"};
    CHECK_MSG(hc.probes > 0, "no probe on the CPU");
    for (int i = 0; i < 4; i++)
        CHECK_MSG(fabsf(got[i] - want[i]) <= 1e-3f * fabsf(want[i]),
                  "%s loss %.7g on the GPU, %.7g on the CPU", which[i], got[i], want[i]);
    CHECK_MSG(sg.step == sc.step && sg.step == 2 * 5, "steps: %ld on the GPU, %ld on the CPU",
              sg.step, sc.step);
    CHECK_MSG(hg.syncs == 5 && hg.fresh == hg.syncs,
              "the hook found the host's weights new at %ld of %ld sync steps", hg.fresh,
              hg.syncs);
    expect_model(mg, &og, mc, &oc, init);
done:
    free(init);
    nn_optim_free(&oc), nn_optim_free(&og);
    nn_model_free(mc), nn_model_free(mg);
    free(d.train.images), free(d.train.labels), free(d.test.images), free(d.test.labels);
}

/* A GPU run stopped after step 3 (its checkpoint: the weights and Adam's
 * state brought back from the GPU) and resumed from the file on the GPU
 * (the state going up again at the first step) ends as a run that never
 * stopped: weights and state by expect_rms, the same step count. Lost or
 * stale state or weights would move them by a good part of the run's
 * change. */
static void resume_case(nn_cuda *g)
{
    TEST("GPU: a run stopped after step 3 and resumed from its checkpoint ends as one that "
         "never stopped (Adam)");
    nn_error e;
    nn_dataset d;
    nn_train_cfg cfg;
    small_setup(&d, &cfg);
    cfg.probe_every = cfg.sync_every = 0;
    char dir[512], path[600];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/nn-test-gpu-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int have_dir = mkdtemp(dir) != NULL;
    snprintf(path, sizeof path, "%s/run.h5", dir);
    nn_optim ou = {0}, os = {0}, or = {0};
    nn_model *mu = fresh_model(TRAIN_ARCH[0], "adam", 0.01f, &ou, &e);
    nn_model *ms = mu ? fresh_model(TRAIN_ARCH[0], "adam", 0.01f, &os, &e) : NULL;
    nn_model *mr = NULL;
    float *init = mu ? malloc(mu->nvalues * sizeof(float)) : NULL;
    if (!have_dir || !mu || !ms || !init) {
        FAILF("%s", !have_dir ? "no temporary directory" : mu && ms ? "out of memory" : e.msg);
        goto done;
    }
    memcpy(init, mu->values, mu->nvalues * sizeof(float));
    hooks hu = {0}, hs = {.stop_at = 3}, hr = {0};
    nn_epoch_stats su, ss, sr;
    int rc = train_run(mu, &ou, &d, cfg, g, &hu, &su, &e);
    if (rc != 0) {
        FAILF("the whole run: %s", rc < 0 ? e.msg : "stopped");
        goto done;
    }
    cfg.checkpoint = path;
    rc = train_run(ms, &os, &d, cfg, g, &hs, &ss, &e);
    if (rc != 1) {
        FAILF("the stopped run: %s", rc < 0 ? e.msg : "not stopped");
        goto done;
    }
    if (!(mr = nn_model_load(path, &or, &e))) {
        FAILF("%s", e.msg);
        goto done;
    }
    CHECK_MSG(or.step == 3, "the checkpoint's optimizer has %ld steps", or.step);
    cfg.checkpoint = NULL;
    rc = train_run(mr, &or, &d, cfg, g, &hr, &sr, &e);
    if (rc != 0) {
        FAILF("the resumed run: %s", rc < 0 ? e.msg : "stopped");
        goto done;
    }
    CHECK_MSG(fabsf(sr.val_loss - su.val_loss) <= 1e-4f * fabsf(su.val_loss),
              "validation loss %.7g after resuming, %.7g without stopping", sr.val_loss,
              su.val_loss);
    expect_model(mr, &or, mu, &ou, init);
done:
    if (have_dir) {
        remove(path);
        rmdir(dir);
    }
    free(init);
    nn_optim_free(&ou), nn_optim_free(&os), nn_optim_free(&or);
    nn_model_free(mu), nn_model_free(ms), nn_model_free(mr);
    free(d.train.images), free(d.train.labels), free(d.test.images), free(d.test.labels);
}

/* nn-vis on the GPU (nn_vis_run with cfg.gpu, through nn_exec) against the
 * CPU: 2 filters of fmnist's conv2 after its batch norm (eval) and relu,
 * 3 scales from 16 px.
 * The start (the filters' means on the same noise: forwards only) must
 * agree within 1e-4; the final means within 5%: Adam's steps on pixels
 * are sign-like where a gradient is near 0, so the images drift apart
 * where rounding differs, but they climb the same objective. */
static void vis_case(nn_cuda *g)
{
    TEST("GPU = CPU: nn-vis of fmnist's conv2 (2 filters, 3 scales)");
    nn_error e;
    nn_model *m = nn_model_from_arch_file("data/arch/fmnist.nn", 10, &e);
    if (!m) {
        FAILF("%s", e.msg);
        return;
    }
    nn_model_init_params(m, 4);
    int filters[2] = {1, 6}, layer = nn_model_find_layer(m, "conv2") + 2;
    nn_vis_cfg c;
    nn_vis_defaults(&c);
    c.size = 16, c.upscaling_steps = 3, c.steps = 8, c.keep_frames = 1;
    nn_vis_result cpu[2] = {{0}}, gpu[2] = {{0}};
    int rc = nn_vis_run(m, layer, filters, 2, &c, cpu, &e);
    c.gpu = g;
    if (rc < 0 || nn_vis_run(m, layer, filters, 2, &c, gpu, &e) < 0)
        FAILF("%s", e.msg);
    else
        for (int i = 0; i < 2; i++) {
            CHECK_MSG(fabsf(gpu[i].start - cpu[i].start) <= 1e-4f * fabsf(cpu[i].start) + 1e-6f,
                      "filter %d: start %.7g on the GPU, %.7g on the CPU", filters[i],
                      gpu[i].start, cpu[i].start);
            CHECK_MSG(fabsf(gpu[i].final - cpu[i].final) <= 0.05f * fabsf(cpu[i].final),
                      "filter %d: final %.7g on the GPU, %.7g on the CPU", filters[i],
                      gpu[i].final, cpu[i].final);
            if (gpu[i].nframes != 3 || cpu[i].nframes != 3 || gpu[i].frames[2].w != cpu[i].w) {
                FAILF("filter %d: %d frames on the GPU, %d on the CPU (want 3, the last %d px)",
                      filters[i], gpu[i].nframes, cpu[i].nframes, cpu[i].w);
                continue;
            }
            /* each scale's picture near the CPU's: pixels whose gradient is
             * near 0 may step the other way, but a wrong order of
             * denormalize, clamp, resize or download is off by ~100 levels */
            for (int k = 0; k < 3; k++) {
                const nn_image *a = &gpu[i].frames[k], *b = &cpu[i].frames[k];
                double diff = 0;
                size_t np = (size_t)a->w * a->h * a->c;
                for (size_t j = 0; a->w == b->w && j < np; j++)
                    diff += abs((int)a->data[j] - (int)b->data[j]);
                CHECK_MSG(a->w == b->w && diff / (double)np <= 32,
                          "filter %d: frame %d differs from the CPU's by %.1f levels on "
                          "average", filters[i], k, diff / (double)np);
            }
        }
    for (int i = 0; i < 2; i++)
        nn_vis_result_free(&cpu[i]), nn_vis_result_free(&gpu[i]);
    nn_model_free(m);
}

/* ---- batches staged for the GPU (kernels/stage.cu) ------------------------- */

/* The stage alone: a batch written in a host slot and sent is what the
 * device slot holds, for both slots, again after a release and a refill;
 * a send larger than the slots fails and take then gives NULL (the batch
 * would be copied the slow way). Then the loader with the stage: the
 * trainer's exec has a stage, every batch arrives in one of its host
 * slots, and the model's output for a staged batch (its host slot then
 * overwritten with NaN, so only the device copy can give it) is the
 * output for the same batch uploaded from ordinary memory, bit for bit. */
static void stage_case(nn_cuda *g)
{
    TEST("GPU: the batch stage's slots carry their batches; the loader's staged batches "
         "give the outputs of uploaded ones");
    nn_error e;
    enum { N = 1000 };
    float got[N];
    nn_cuda_stage *st = nn_cuda_stage_new(g, N, &e);
    if (!st) {
        FAILF("%s", e.msg);
        return;
    }
    for (int round = 0; round < 2; round++)
        for (int s = 0; s < 2; s++) {
            float *h = nn_cuda_stage_host(st, s);
            for (int i = 0; i < N; i++)
                h[i] = (float)(i * 3 + s * 7 + round * 11);
            const float *d = nn_cuda_stage_send(st, s, N) == 0 ? nn_cuda_stage_take(st, s) : NULL;
            if (!d || nn_cuda_download(g, got, d, N, &e) < 0) {
                FAILF("slot %d, round %d: %s", s, round, d ? e.msg : "send or take failed");
                nn_cuda_stage_free(st);
                return;
            }
            int bad = 0;
            for (int i = 0; i < N; i++)
                bad += got[i] != h[i];
            CHECK_MSG(bad == 0, "slot %d, round %d: %d of %d values differ", s, round, bad, N);
            nn_cuda_stage_release(st, s);
        }
    CHECK_MSG(nn_cuda_stage_send(st, 0, N + 1) < 0 && !nn_cuda_stage_take(st, 0),
              "a send of %d floats into slots of %d did not fail", N + 1, N);
    nn_cuda_stage_free(st);

    nn_dataset d;
    nn_train_cfg c;
    small_setup(&d, &c);
    nn_model *m = nn_model_from_arch(TRAIN_ARCH[1], "stage", 3, &e);
    nn_exec *ex = m ? nn_exec_new(m, g, 16, &e) : NULL;
    nn_cuda_stage *es = ex ? nn_exec_stage(ex) : NULL;
    CHECK_MSG(es != NULL, "%s", !m || !ex ? e.msg : "the exec of a GPU made no stage");
    if (es) {
        nn_model_init_params(m, 2);
        nn_data data = {.split = &d.train, .h = 8, .w = 8, .c = 1, .n = d.train.n,
                        .batch = 16, .shuffle = 1, .seed = 3, .mean = {0.5f}, .std = {0.25f}};
        nn_loader *l = nn_loader_start(&data, 0, 0, 2, es, &e);
        size_t k = 3 * 16;
        float *plain = malloc(64 * 16 * sizeof *plain), *want = malloc(k * sizeof *want);
        nn_pass p = {0};
        long batches = 0, staged = 0, same = 0;
        const nn_batch *b;
        while (l && plain && want && (b = nn_loader_next(l))) {
            batches++;
            staged += b->x == nn_cuda_stage_host(es, 0) || b->x == nn_cuda_stage_host(es, 1);
            memcpy(plain, b->x, (size_t)b->n * 64 * sizeof *plain);
            const float *o = nn_exec_forward_to(ex, plain, b->n, m->nlayers - 1, &p, &e);
            if (!o)
                break;
            memcpy(want, o, (size_t)b->n * 3 * sizeof *want);
            /* only the device copy (sent before next() returned) still holds the
             * batch: an upload of the host slot now would give NaN */
            for (size_t i = 0; i < (size_t)b->n * 64; i++)
                ((float *)b->x)[i] = NAN;
            if (!(o = nn_exec_forward_to(ex, b->x, b->n, m->nlayers - 1, &p, &e)))
                break;
            same += memcmp(o, want, (size_t)b->n * 3 * sizeof *want) == 0;
        }
        CHECK_MSG(l && batches == 2 * nn_data_batches(&data),
                  "%ld batches of %ld (%s)", batches, 2 * nn_data_batches(&data),
                  l ? "" : e.msg);
        CHECK_MSG(staged == batches && same == batches,
                  "of %ld batches %ld were in the stage's slots and %ld gave the outputs of "
                  "uploaded ones", batches, staged, same);
        nn_loader_stop(l);
        free(plain), free(want);
    }
    nn_exec_free(ex);
    nn_model_free(m);
    free(d.train.images), free(d.train.labels), free(d.test.images), free(d.test.labels);
}

/* ---- nn-featmap's studies (reductions on the GPU) ----------------------------- */

/* Every got[i] within tol of want[i], relative to the largest |want|. */
static void expect_near(const char *what, const float *got, const float *want, size_t n,
                        double tol)
{
    double top = largest(want, NULL, n), worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= worst)) /* NaN counts as worst */
            worst = d, at = i;
    }
    CHECK_MSG(worst <= tol * top + 1e-7, "%s: [%zu] %.8g on the GPU, %.8g on the CPU", what, at,
              got[at], want[at]);
}

/* nn_featmap, nn_activation_stats and nn_top_images with the GPU against
 * the CPU on fmnist's random-weight network and 7 random inputs in
 * batches of 3: per-filter means and maps within 1e-4 (relative to the
 * largest), means and stds within 1e-4, the same sampled values within
 * 1e-4 and the same count, the same top rows (scores within 1e-4). */
static void featmap_case(nn_cuda *g, nn_rng *r)
{
    TEST("GPU = CPU: nn-featmap's spikes, maps, activation statistics and top images");
    nn_error e;
    nn_model *m = nn_model_from_arch_file("data/arch/fmnist.nn", 10, &e);
    if (!m) {
        FAILF("%s", e.msg);
        return;
    }
    nn_model_init_params(m, 6);
    enum { N = 7 };
    int layer = nn_model_find_layer(m, "conv2") + 2;
    nn_dims d = m->layers[layer].out;
    size_t in = nn_dims_size(m->input), out = nn_dims_size(d);
    float *x = malloc(N * in * sizeof *x);
    float *means[2] = {malloc(N * (size_t)d.c * sizeof(float)),
                       malloc(N * (size_t)d.c * sizeof(float))};
    float *maps[2] = {malloc(N * out * sizeof(float)), malloc(N * out * sizeof(float))};
    fill(r, x, N * in);
    for (int k = 0; k < 2; k++)
        if (nn_featmap(m, k ? g : NULL, layer, x, N, 3, means[k], maps[k], &e) < 0)
            FAILF("nn_featmap (%s): %s", k ? "GPU" : "CPU", e.msg);
    expect_near("means", means[1], means[0], N * (size_t)d.c, 1e-4);
    expect_near("maps", maps[1], maps[0], N * out, 1e-4);

    int layers[2] = {1, layer};
    nn_act_stats st[2][2];
    for (int k = 0; k < 2; k++)
        if (nn_activation_stats(m, k ? g : NULL, x, N, 3, layers, 2, 500, st[k], &e) < 0)
            FAILF("nn_activation_stats (%s): %s", k ? "GPU" : "CPU", e.msg);
    for (int j = 0; j < 2; j++) {
        CHECK_MSG(fabs(st[1][j].mean - st[0][j].mean) <= 1e-4 * fabs(st[0][j].mean) + 1e-7 &&
                      fabs(st[1][j].std - st[0][j].std) <= 1e-4 * st[0][j].std + 1e-7,
                  "layer %d: mean %.8g std %.8g on the GPU, %.8g %.8g on the CPU", layers[j],
                  st[1][j].mean, st[1][j].std, st[0][j].mean, st[0][j].std);
        CHECK_MSG(st[1][j].count == st[0][j].count && st[0][j].count > 0,
                  "layer %d: %zu sampled values on the GPU, %zu on the CPU", layers[j],
                  st[1][j].count, st[0][j].count);
        if (st[1][j].count == st[0][j].count)
            expect_near("sampled values", st[1][j].values, st[0][j].values, st[0][j].count,
                        1e-4);
    }
    nn_act_stats_free(st[0], 2), nn_act_stats_free(st[1], 2);

    nn_split s;
    random_split(&s, 40, 23); /* 8x8 gray: a network of that size */
    nn_model *small = nn_model_from_arch(TRAIN_ARCH[0], "top", 3, &e);
    nn_scored best[2][6];
    int nb[2] = {0, 0};
    if (small) {
        nn_model_init_params(small, 7);
        for (int k = 0; k < 2; k++)
            if (nn_top_images(small, k ? g : NULL, 2, 1, &s, 8, 8, 1, 6, 6, best[k], &nb[k],
                              &e) < 0)
                FAILF("nn_top_images (%s): %s", k ? "GPU" : "CPU", e.msg);
        /* rank by rank the same score; the same row unless a neighbour's
         * score is within rounding (then the two may swap) */
        int same = nb[0] == 6 && nb[1] == 6;
        for (int i = 0; same && i < 5; i++) {
            float tol = 1e-4f * fabsf(best[0][i].score) + 1e-6f;
            int tie = (i > 0 && best[0][i - 1].score - best[0][i].score <= 2 * tol) ||
                      best[0][i].score - best[0][i + 1].score <= 2 * tol;
            same = fabsf(best[0][i].score - best[1][i].score) <= tol &&
                   (tie || best[0][i].index == best[1][i].index);
        }
        CHECK_MSG(same, "top rows differ: first %ld (%.7g) on the GPU, %ld (%.7g) on the CPU",
                  best[1][0].index, best[1][0].score, best[0][0].index, best[0][0].score);
    } else
        FAILF("%s", e.msg);
    nn_model_free(small);
    free(s.images), free(s.labels);
    free(x), free(means[0]), free(means[1]), free(maps[0]), free(maps[1]);
    nn_model_free(m);
}

/* ---- pixels and reductions (kernels/pixels.cu) ------------------------------ */

/* A device copy of host (n floats), or NULL with the case failed. */
static float *device_copy(nn_cuda *g, const float *host, size_t n)
{
    nn_error e;
    float *d = nn_cuda_alloc(g, n, &e);
    if (!d || nn_cuda_upload(g, d, host, n, &e) < 0) {
        FAILF("%s", e.msg);
        nn_cuda_free(g, d);
        return NULL;
    }
    return d;
}

/* Each function of kernels/pixels.cu against its CPU counterpart on random
 * data, the GPU's outputs starting as NaN: the resize (2 images x 3
 * channels, 56x56 up to 67x67 and down to 23x31) and the box blur (k = 5
 * and an even k = 4) as nn_resize_bicubic and nn_blur_box; normalize and
 * denormalize (5 channels: the fifth takes mean[3] and std[3]) as vis.c
 * computes them, and the clamp (NaN, infinities, out of range) to the
 * same bits; nn_channel_means; the sums within 1e-12 of a host loop in
 * double, the same bits twice; and a strided gather bit for bit. */
static void pixels_case(nn_cuda *g, nn_rng *r)
{
    nn_error e;
    enum { P = 2 * 3, H = 56, W = 56, UH = 67, UW = 67, DH = 23, DW = 31 };
    size_t ns = (size_t)P * H * W, nu = (size_t)P * UH * UW, nd = (size_t)P * DH * DW;
    float *src = malloc(ns * sizeof(float)), *up = malloc(nu * sizeof(float));
    float *down = malloc(nd * sizeof(float)), *nans = malloc(nu * sizeof(float));
    float *blur = malloc(nu * sizeof(float)), *tmp = malloc(nu * sizeof(float));
    fill(r, src, ns);
    for (size_t i = 0; i < nu; i++)
        nans[i] = NAN;
    nn_resize_bicubic(src, P, H, W, up, UH, UW);
    nn_resize_bicubic(src, P, H, W, down, DH, DW);

    TEST("GPU = CPU: bicubic resize of 2x3 planes, 56x56 to 67x67 and to 23x31");
    float *gs = device_copy(g, src, ns), *gu = device_copy(g, nans, nu);
    float *gd = device_copy(g, nans, nd), *gt = device_copy(g, nans, nu);
    if (gs && gu && gd && gt) {
        if (nn_cuda_resize_bicubic(g, gs, P, H, W, gu, UH, UW, &e) < 0 ||
            nn_cuda_resize_bicubic(g, gs, P, H, W, gd, DH, DW, &e) < 0)
            FAILF("%s", e.msg);
        else {
            expect(g, "upscaled", gu, up, nu, 0);
            expect(g, "downscaled", gd, down, nd, 0);
        }
    }
    static const int ks[2] = {5, 4};
    for (int t = 0; t < 2 && gu && gt; t++) {
        char name[96];
        snprintf(name, sizeof name, "GPU = CPU: box blur k = %d of 2x3 planes of 67x67%s", ks[t],
                 ks[t] == 4 ? " (taken as 5)" : "");
        TEST(name);
        memcpy(blur, up, nu * sizeof(float)); /* the same input on both sides */
        nn_blur_box(blur, P, UH, UW, ks[t], tmp);
        if (nn_cuda_upload(g, gu, up, nu, &e) < 0 ||
            nn_cuda_blur_box(g, gu, P, UH, UW, ks[t], gt, &e) < 0)
            FAILF("%s", e.msg);
        else
            expect(g, "blurred", gu, blur, nu, 0);
    }

    /* [n = 3, c = 5, 7 x 9]: values in about -3..3; the clamp's input
     * also has NaN, infinities, 0, -0 and 1 */
    enum { N = 3, C = 5 };
    size_t plane = 7 * 9, np = (size_t)N * C * plane;
    const float mean[4] = {0.485f, 0.456f, 0.406f, -0.25f}, sd[4] = {0.229f, 0.224f, 0.5f, 3};
    float *x = malloc(np * sizeof(float)), *xc = malloc(np * sizeof(float));
    float *want = malloc(np * sizeof(float));
    fill(r, x, np);
    memcpy(xc, x, np * sizeof(float));
    xc[0] = NAN, xc[5] = INFINITY, xc[77] = -INFINITY, xc[100] = 1, xc[101] = 0, xc[102] = -0.0f;
    float *gx = device_copy(g, x, np), *gc = device_copy(g, xc, np);
    float *gy = device_copy(g, nans, np);
    static const char *const ops[3] = {"normalize", "denormalize", "clamp to [0, 1]"};
    for (int op = NN_PIXELS_NORMALIZE; op <= NN_PIXELS_CLAMP && gx && gc && gy; op++) {
        char name[96];
        snprintf(name, sizeof name, "GPU = CPU: pixels %s of [3, 5, 7x9]%s", ops[op],
                 op == NN_PIXELS_CLAMP ? ", NaN and infinities among them"
                                       : ", apart and in place");
        TEST(name);
        const float *in = op == NN_PIXELS_CLAMP ? xc : x;
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) { /* vis.c's arithmetic */
                int k = c < 4 ? c : 3;
                float mu = mean[k], s = sd[k], inv = 1.0f / s;
                size_t o = ((size_t)i * C + c) * plane;
                for (size_t j = o; j < o + plane; j++) {
                    float t = in[j];
                    want[j] = op == NN_PIXELS_NORMALIZE     ? (t - mu) * inv
                              : op == NN_PIXELS_DENORMALIZE ? t * s + mu
                              : t < 0                       ? 0
                              : t > 1                       ? 1
                              : t != t                      ? 0
                                                            : t;
                }
            }
        const float *gin = op == NN_PIXELS_CLAMP ? gc : gx;
        if (nn_cuda_upload(g, gy, nans, np, &e) < 0 ||
            nn_cuda_pixels(g, (nn_pixels_op)op, gin, gy, N, C, plane, mean, sd, &e) < 0) {
            FAILF("%s", e.msg);
            continue;
        }
        expect(g, ops[op], gy, want, np, op == NN_PIXELS_CLAMP); /* the clamp: same bits */
        if (op != NN_PIXELS_CLAMP) { /* y = x */
            if (nn_cuda_upload(g, gy, x, np, &e) < 0 ||
                nn_cuda_pixels(g, (nn_pixels_op)op, gy, gy, N, C, plane, mean, sd, &e) < 0)
                FAILF("in place: %s", e.msg);
            else
                expect(g, "in place", gy, want, np, 0);
        }
    }

    /* channel means of [3, 5, 13x30]: rows longer than a block's 256 threads */
    TEST("GPU = CPU: channel means of [3, 5, 13x30] (nn_channel_means)");
    nn_dims dm = {C, 13, 30};
    size_t na = (size_t)N * nn_dims_size(dm);
    float *act = malloc(na * sizeof(float)), *means = malloc(N * C * sizeof(float));
    fill(r, act, na);
    for (size_t i = 0; i < na; i++)
        act[i] += (float)(i / (13 * 30)) * 0.1f; /* rows of different means */
    nn_channel_means(act, N, dm, means);
    float *ga = device_copy(g, act, na), *gm = device_copy(g, nans, N * C);
    if (ga && gm) {
        if (nn_cuda_channel_means(g, ga, N, dm, gm, &e) < 0)
            FAILF("%s", e.msg);
        else
            expect(g, "means", gm, means, N * C, 0);
    }

    /* sums: more values than one sweep of the partial blocks, and fewer
     * than there are threads */
    static const size_t lens[2] = {300007, 1000};
    float *v = malloc(lens[0] * sizeof(float));
    fill(r, v, lens[0]);
    for (size_t i = 0; i < lens[0]; i++)
        v[i] += 0.5f; /* a sum far from 0 */
    float *gv = device_copy(g, v, lens[0]);
    for (int t = 0; t < 2 && gv; t++) {
        char name[96];
        size_t n = lens[t];
        snprintf(name, sizeof name,
                 "GPU: sums of %zu values within 1e-12 of the host's, the same bits twice", n);
        TEST(name);
        double s = 0, q = 0, got[2], again[2];
        for (size_t i = 0; i < n; i++)
            s += v[i], q += (double)v[i] * v[i];
        if (nn_cuda_sums(g, gv, n, got, &e) < 0 || nn_cuda_sums(g, gv, n, again, &e) < 0) {
            FAILF("%s", e.msg);
            continue;
        }
        CHECK_MSG(fabs(got[0] - s) <= 1e-12 * fabs(s) && fabs(got[1] - q) <= 1e-12 * q,
                  "sum %.17g, squares %.17g on the GPU; %.17g, %.17g on the host", got[0],
                  got[1], s, q);
        CHECK_MSG(memcmp(got, again, sizeof got) == 0, "two runs: %.17g %.17g, %.17g %.17g",
                  got[0], got[1], again[0], again[1]);
    }

    /* gather: every 13th value from the 8th of v */
    TEST("GPU: a strided gather gives the host's values bit for bit");
    size_t first = 7, stride = 13, count = (lens[0] - first - 1) / stride + 1;
    float *out = malloc(count * sizeof(float)), *ref = malloc(count * sizeof(float));
    for (size_t j = 0; j < count; j++)
        ref[j] = v[first + j * stride], out[j] = NAN;
    if (gv && nn_cuda_gather(g, gv, first, stride, count, out, &e) < 0)
        FAILF("%s", e.msg);
    else if (gv)
        CHECK_MSG(memcmp(out, ref, count * sizeof(float)) == 0, "gathered values differ");

    nn_cuda_free(g, gs), nn_cuda_free(g, gu), nn_cuda_free(g, gd), nn_cuda_free(g, gt);
    nn_cuda_free(g, gx), nn_cuda_free(g, gc), nn_cuda_free(g, gy), nn_cuda_free(g, ga);
    nn_cuda_free(g, gm), nn_cuda_free(g, gv);
    free(src), free(up), free(down), free(nans), free(blur), free(tmp), free(x), free(xc), free(want);
    free(act), free(means), free(v), free(out), free(ref);
}

/* pixels.cu's launches cap their grids at 65536 blocks of 256 threads and
 * loop over the rest: sizes past 65536 * 256 values (and 65536 rows for
 * the channel means) make every loop go round more than once. Resize of 3
 * planes 1200x1200 to 2400x2400 and its blur, the clamp, the gather of
 * all but the first value, the sums, and the means of 75000 rows. */
static void grid_case(nn_cuda *g, nn_rng *r)
{
    TEST("GPU = CPU: the pixel kernels past one grid (17 million values, 75000 rows)");
    nn_error e;
    enum { P = 3, H = 1200, O = 2400 };
    size_t ns = (size_t)P * H * H, n = (size_t)P * O * O; /* n > 65536 * 256 */
    float *src = malloc(ns * sizeof(float)), *want = malloc(n * sizeof(float));
    float *tmp = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    float *gs = NULL, *gd = NULL, *gt = NULL;
    if (!src || !want || !tmp || !got) {
        FAILF("out of memory");
        goto done;
    }
    fill(r, src, ns);
    nn_resize_bicubic(src, P, H, H, want, O, O);
    if (!(gs = device_copy(g, src, ns)) || !(gd = nn_cuda_alloc(g, n, &e)) ||
        !(gt = nn_cuda_alloc(g, n, &e)) ||
        nn_cuda_resize_bicubic(g, gs, P, H, H, gd, O, O, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    expect(g, "resized", gd, want, n, 0);
    nn_blur_box(want, P, O, O, 3, tmp);
    if (nn_cuda_blur_box(g, gd, P, O, O, 3, gt, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    expect(g, "blurred", gd, want, n, 0);
    /* the blurred values as both sides have them: the GPU's */
    if (nn_cuda_download(g, got, gd, n, &e) < 0 ||
        nn_cuda_pixels(g, NN_PIXELS_CLAMP, gd, gt, (int)P, 1, (size_t)O * O, NULL, NULL, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        want[i] = got[i] < 0 ? 0 : got[i] > 1 ? 1 : got[i];
    expect(g, "clamped", gt, want, n, 1);
    if (nn_cuda_gather(g, gd, 1, 1, n - 1, tmp, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    CHECK_MSG(memcmp(tmp, got + 1, (n - 1) * sizeof(float)) == 0,
              "the gather of %zu values differs from the values", n - 1);
    double sums[2], s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += got[i], q += (double)got[i] * got[i];
    if (nn_cuda_sums(g, gd, n, sums, &e) < 0)
        FAILF("%s", e.msg);
    else
        CHECK_MSG(fabs(sums[0] - s) <= 1e-10 * q && fabs(sums[1] - q) <= 1e-10 * q,
                  "sums %.17g %.17g on the GPU, %.17g %.17g on the host", sums[0], sums[1], s,
                  q);
    nn_dims d = {3, 2, 2}; /* 25000 samples: 75000 rows */
    nn_channel_means(got, 25000, d, want);
    if (nn_cuda_channel_means(g, gd, 25000, d, gt, &e) < 0)
        FAILF("%s", e.msg);
    else
        expect(g, "channel means", gt, want, 75000, 0);
done:
    nn_cuda_free(g, gs), nn_cuda_free(g, gd), nn_cuda_free(g, gt);
    free(src), free(want), free(tmp), free(got);
}

int main(void)
{
    nn_error e;
    if (!nn_cuda_built()) {
        TEST("a build without CUDA refuses the GPU and says why");
        nn_cuda *g = nn_cuda_open(0, &e);
        CHECK_MSG(!g && strstr(e.msg, "no CUDA backend"), "open: %s", g ? "succeeded" : e.msg);
        return test_done();
    }
    if (nn_cuda_device_count() == 0) {
        TEST("GPU layers against the CPU");
        if (getenv("NN_REQUIRE_GPU"))
            FAILF("no GPU found");
        else
            SKIP("no GPU here");
        TEST("opening a GPU where there is none fails with a message");
        nn_cuda *g = nn_cuda_open(0, &e);
        CHECK_MSG(!g && strstr(e.msg, "no GPU"), "open: %s", g ? "succeeded" : e.msg);
        return test_done();
    }
    nn_cuda *g = nn_cuda_open(0, &e);
    TEST("open the GPU");
    CHECK_MSG(g != NULL, "%s", e.msg);
    if (!g)
        return test_done();
    nn_rng r;
    nn_rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run_case(g, &cases[i], 1, 1, &r);
        run_case(g, &cases[i], 1, 0, &r);
        run_case(g, &cases[i], 0, 1, &r);
    }
    for (int kind = NN_LOSS_XENT; kind <= NN_LOSS_BCE; kind++) {
        loss_case(g, (nn_loss_kind)kind, 7, 10, &r);
        loss_case(g, (nn_loss_kind)kind, 3, 1000, &r);
    }
    static const char *const optims[] = {"sgd",     "momentum", "nesterov",
                                         "adagrad", "rmsprop",  "rmsprop:momentum=0.9",
                                         "adam",    "adamw"};
    for (size_t i = 0; i < sizeof optims / sizeof *optims; i++) {
        optim_case(g, optims[i], 0, &r);
        optim_case(g, optims[i], 0.01f, &r);
    }
    model_case(g, &r);
    trainer_case(g, TRAIN_ARCH[0], "xent after softmax");
    trainer_case(g, TRAIN_ARCH[1], "mse");
    trainer_case(g, TRAIN_ARCH[2], "bce");
    resume_case(g);
    vis_case(g);
    stage_case(g);
    featmap_case(g, &r);
    pixels_case(g, &r);
    grid_case(g, &r);
    nn_cuda_close(g);
    return test_done();
}
