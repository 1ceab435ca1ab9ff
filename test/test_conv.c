/* test_conv.c - the fast conv (shifted sums, Winograd, im2col + sgemm),
 * pool and dense layers against naive direct loops written here from the
 * definitions.
 *
 * For each shape in a table, the layer is built by hand (type, in, cfg,
 * setup), given random parameters, and run forward and backward; y, dx,
 * dweight and dbias must match the reference (double accumulation) within
 * a relative 1e-5 of the tensor's scale. Checked on the way: the output
 * size and padding (TensorFlow SAME, asymmetric for odd sizes), parameter
 * gradients accumulate (+=) onto what was there, param_grads == 0 leaves
 * them alone, dx == NULL is allowed, and two backward runs give the same
 * bits. Max pooling: padding never wins, ties go to the first cell in
 * row-major window order. Average pooling divides by the real cells. */
#include "nn.h"
#include "test.h"

#include <stdarg.h>

/* ---- helpers ------------------------------------------------------------ */

/* A test name that outlives its case (test.h prints it at the next TEST). */
static const char *tname(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *tname(const char *fmt, ...)
{
    static char names[4][160];
    static int k;
    char *s = names[k++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof names[0], fmt, ap);
    va_end(ap);
    return s;
}

static float *randv(nn_rng *r, size_t n, float shift)
{
    float *v = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        v[i] = (float)nn_rng_normal(r) + shift;
    return v;
}

/* Builds l from its type, input and cfg; random values, gradients set to
 * 0.5 (to see that backward adds), saved and work buffers for nmax. */
static int build(nn_layer *l, const char *kw, nn_dims in, nn_layer_cfg cfg,
                 int nmax, nn_rng *r, float **work)
{
    nn_error e;
    memset(l, 0, sizeof *l);
    l->type = nn_layer_type_find(kw);
    l->in = in;
    l->cfg = cfg;
    if (!l->type || l->type->setup(l, &e) < 0) {
        FAILF("setup: %s", l->type ? e.msg : "no such layer type");
        return -1;
    }
    for (int i = 0; i < l->nparam; i++) {
        nn_param *p = &l->param[i];
        p->value = randv(r, p->size, 0);
        p->grad = malloc(p->size * sizeof(float));
        for (size_t j = 0; j < p->size; j++)
            p->grad[j] = 0.5f;
    }
    size_t sb = l->type->saved_bytes ? l->type->saved_bytes(l, nmax) : 0;
    size_t wf = l->type->work_floats ? l->type->work_floats(l, nmax) : 0;
    l->saved = sb ? malloc(sb) : NULL;
    *work = malloc((wf ? wf : 1) * sizeof(float));
    return 0;
}

static void unbuild(nn_layer *l, float *work)
{
    for (int i = 0; i < l->nparam; i++)
        free(l->param[i].value), free(l->param[i].grad);
    free(l->saved);
    free(work);
}

static double maxabs_d(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

/* got must equal want within 1e-5 of want's largest magnitude, plus 1e-5
 * relative; off (added to want first) is 0.5 for accumulated gradients. */
static void expect_close(const char *what, const float *got, const double *want,
                         size_t n, float off)
{
    float *w = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(want[i] + off);
    double tol = 1e-5 * (maxabs_d(want, n) + 1e-3), diff;
    long bad = test_close(got, w, (long)n, tol, 1e-5, &diff);
    CHECK_MSG(bad < 0, "%s[%ld] = %.8g, want %.8g (max diff %.3g, atol %.3g)",
              what, bad, bad >= 0 ? got[bad] : 0, bad >= 0 ? w[bad] : 0, diff, tol);
    free(w);
}

/* Output size and padding (lo side) of one dimension, from the spec. */
static int ref_window(int in, int k, int s, nn_pad_mode mode, int pad, int *lo)
{
    if (mode == NN_PAD_SAME) {
        int out = (in + s - 1) / s, total = (out - 1) * s + k - in;
        *lo = total > 0 ? total / 2 : 0;
        return out;
    }
    *lo = mode == NN_PAD_EXPLICIT ? pad : 0;
    return (in + 2 * *lo - k) / s + 1;
}

/* ---- convolution -------------------------------------------------------- */

typedef struct {
    int n, c, h, w, o, kh, kw, sh, sw;
    nn_pad_mode mode;
    int pad, bias;
} conv_case;

static const conv_case conv_cases[] = {
    {1, 1, 5, 5, 1, 1, 1, 1, 1, NN_PAD_VALID, 0, 1},    /* 1x1 direct */
    {5, 3, 7, 6, 8, 1, 1, 1, 1, NN_PAD_VALID, 0, 0},    /* 1x1 direct, batch */
    {5, 8, 6, 5, 3, 1, 1, 2, 2, NN_PAD_VALID, 0, 1},    /* 1x1 stride 2 */
    {2, 3, 9, 9, 4, 1, 1, 1, 1, NN_PAD_SAME, 0, 1},     /* 1x1 same = direct */
    {5, 3, 8, 8, 8, 3, 3, 1, 1, NN_PAD_SAME, 0, 1},
    {1, 3, 8, 8, 8, 3, 3, 2, 2, NN_PAD_SAME, 0, 1},     /* pad 0 top, 1 bottom */
    {5, 8, 9, 10, 3, 5, 5, 2, 2, NN_PAD_SAME, 0, 1},    /* w: 1 left, 2 right */
    {1, 1, 11, 13, 1, 7, 7, 3, 3, NN_PAD_SAME, 0, 1},   /* h: 2 top, 3 bottom */
    {5, 3, 10, 9, 8, 7, 7, 1, 1, NN_PAD_VALID, 0, 1},
    {5, 3, 6, 7, 8, 1, 3, 1, 1, NN_PAD_SAME, 0, 1},     /* 1x3 */
    {2, 8, 7, 9, 5, 1, 3, 1, 2, NN_PAD_EXPLICIT, 1, 0},
    {5, 3, 9, 9, 8, 3, 3, 3, 3, NN_PAD_EXPLICIT, 2, 1},
    {5, 1, 5, 5, 3, 5, 5, 1, 1, NN_PAD_EXPLICIT, 2, 0},
    {1, 8, 4, 4, 8, 7, 7, 1, 1, NN_PAD_SAME, 0, 1},     /* kernel > input */
    {5, 3, 12, 12, 8, 3, 3, 2, 2, NN_PAD_VALID, 0, 1},
    {1, 3, 3, 3, 2, 5, 5, 3, 3, NN_PAD_SAME, 0, 0},     /* one output */
    {2, 3, 2, 2, 4, 3, 3, 1, 1, NN_PAD_EXPLICIT, 2, 1}, /* all-padding rows */
    {5, 3, 9, 8, 4, 3, 3, 2, 1, NN_PAD_SAME, 0, 1},     /* stride 2x1 */
    {3, 3, 7, 7, 8, 3, 3, 1, 1, NN_PAD_EXPLICIT, 1, 1}, /* 3 samples, 2 threads */
    {2, 32, 96, 96, 4, 3, 3, 1, 1, NN_PAD_SAME, 0, 1},  /* several row bands */
    /* over SMALL_WORK (1e8 multiply-adds): the threaded paths */
    {4, 64, 32, 32, 64, 3, 3, 1, 1, NN_PAD_SAME, 0, 1}, /* samples per thread */
    {1, 64, 56, 56, 64, 3, 3, 1, 1, NN_PAD_SAME, 0, 1}, /* one sample split */
    {3, 64, 64, 64, 128, 3, 3, 2, 2, NN_PAD_SAME, 0, 1}, /* im2col, 3 on 2 */
    /* 64 channels in and out: Winograd (odd sizes, dx padded by 2 or 0) */
    {2, 64, 9, 11, 64, 3, 3, 1, 1, NN_PAD_VALID, 0, 1},
    {1, 64, 6, 7, 80, 3, 3, 1, 1, NN_PAD_EXPLICIT, 2, 0},
};

/* Direct 7-loop convolution: y, and from dy: dx, dw, db (double). */
static void conv_ref(const conv_case *t, int oh, int ow, int pt, int pl,
                     const float *x, const float *wt, const float *bias,
                     const float *dy, double *y, double *dx, double *dw,
                     double *db)
{
    int C = t->c, H = t->h, W = t->w, O = t->o, KH = t->kh, KW = t->kw;
    memset(dx, 0, sizeof(double) * t->n * C * H * W);
    memset(dw, 0, sizeof(double) * O * C * KH * KW);
    memset(db, 0, sizeof(double) * O);
    for (int b = 0; b < t->n; b++)
        for (int o = 0; o < O; o++)
            for (int r = 0; r < oh; r++)
                for (int q = 0; q < ow; q++) {
                    size_t yi = (((size_t)b * O + o) * oh + r) * ow + q;
                    double s = bias ? bias[o] : 0, g = dy[yi];
                    db[o] += g;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < KH; i++)
                            for (int j = 0; j < KW; j++) {
                                int ih = r * t->sh - pt + i, iw = q * t->sw - pl + j;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                size_t xi = (((size_t)b * C + c) * H + ih) * W + iw;
                                size_t wi = (((size_t)o * C + c) * KH + i) * KW + j;
                                s += (double)x[xi] * wt[wi];
                                dx[xi] += g * wt[wi];
                                dw[wi] += g * x[xi];
                            }
                    y[yi] = s;
                }
}

static void test_conv_case(const conv_case *t, nn_rng *r)
{
    TEST(tname("conv n=%d %dx%dx%d -> %d %dx%d stride %dx%d pad %s%s",
             t->n, t->c, t->h, t->w, t->o, t->kh, t->kw, t->sh, t->sw,
             t->mode == NN_PAD_SAME ? "same" : t->mode == NN_PAD_VALID ? "valid"
             : t->pad == 1 ? "1" : "2", t->bias ? " bias" : ""));
    nn_layer_cfg cfg = {.units = t->o, .kh = t->kh, .kw = t->kw, .sh = t->sh,
                        .sw = t->sw, .pad_mode = t->mode, .pad = t->pad, .bias = t->bias};
    nn_layer l;
    float *work;
    if (build(&l, "conv", (nn_dims){t->c, t->h, t->w}, cfg, t->n, r, &work) < 0)
        return;
    int pt, pl, oh = ref_window(t->h, t->kh, t->sh, t->mode, t->pad, &pt);
    int ow = ref_window(t->w, t->kw, t->sw, t->mode, t->pad, &pl);
    CHECK_MSG(l.out.c == t->o && l.out.h == oh && l.out.w == ow && l.cfg.pt == pt &&
                  l.cfg.pl == pl && l.nparam == 1 + t->bias,
              "output %dx%dx%d pad %d,%d, want %dx%dx%d pad %d,%d",
              l.out.c, l.out.h, l.out.w, l.cfg.pt, l.cfg.pl, t->o, oh, ow, pt, pl);
    size_t xs = (size_t)t->n * t->c * t->h * t->w, ys = (size_t)t->n * t->o * oh * ow;
    size_t ws = l.param[0].size;
    float *x = randv(r, xs, 0), *dy = randv(r, ys, 0), *y = randv(r, ys, 0);
    float *dx = randv(r, xs, 0), *dw2 = malloc(ws * sizeof(float));
    double *ry = malloc(ys * 8), *rdx = malloc(xs * 8), *rdw = malloc(ws * 8),
           *rdb = malloc(t->o * 8);
    const float *bias = t->bias ? l.param[1].value : NULL;
    conv_ref(t, oh, ow, pt, pl, x, l.param[0].value, bias, dy, ry, rdx, rdw, rdb);
    nn_pass p = {.train = 1, .param_grads = 1, .work = work, .threads = nn_threads()};
    l.type->forward(&l, x, y, t->n, &p);
    expect_close("y", y, ry, ys, 0);
    l.type->backward(&l, x, y, dy, dx, t->n, &p);
    expect_close("dx", dx, rdx, xs, 0);
    expect_close("dweight", l.param[0].grad, rdw, ws, 0.5f);
    if (t->bias)
        expect_close("dbias", l.param[1].grad, rdb, t->o, 0.5f);
    /* no dx, gradients again: the same bits added once more */
    memcpy(dw2, l.param[0].grad, ws * sizeof(float));
    for (size_t i = 0; i < ws; i++)
        l.param[0].grad[i] = 0.5f;
    l.type->backward(&l, x, y, dy, NULL, t->n, &p);
    CHECK_MSG(memcmp(dw2, l.param[0].grad, ws * sizeof(float)) == 0,
              "two backward runs gave different weight gradients");
    /* param_grads == 0: dx only, gradients untouched */
    p.param_grads = 0;
    for (size_t i = 0; i < ws; i++)
        l.param[0].grad[i] = 0.5f;
    memset(dx, 0, xs * sizeof(float));
    l.type->backward(&l, x, y, dy, dx, t->n, &p);
    expect_close("dx (param_grads=0)", dx, rdx, xs, 0);
    for (size_t i = 0; i < ws; i++)
        CHECK_MSG(l.param[0].grad[i] == 0.5f, "param_grads=0 changed dweight");
    /* dx only, with whole channels of dy zero (as nn-vis's top layer): the
     * channels o % 3 != 0 in every sample, channel 0 in sample 0 only */
    size_t plane = (size_t)oh * ow;
    for (int b = 0; b < t->n; b++)
        for (int o = 0; o < t->o; o++)
            if (o % 3 != 0 || (o == 0 && b == 0))
                memset(dy + ((size_t)b * t->o + o) * plane, 0, plane * sizeof(float));
    conv_ref(t, oh, ow, pt, pl, x, l.param[0].value, bias, dy, ry, rdx, rdw, rdb);
    for (size_t i = 0; i < xs; i++)
        dx[i] = 7.0f;
    l.type->backward(&l, x, y, dy, dx, t->n, &p);
    expect_close("dx (dy with zero channels)", dx, rdx, xs, 0);
    memset(dy, 0, ys * sizeof(float)); /* no gradient at all: dx is zero */
    for (size_t i = 0; i < xs; i++)
        dx[i] = 7.0f;
    l.type->backward(&l, x, y, dy, dx, t->n, &p);
    size_t nonzero = 0;
    for (size_t i = 0; i < xs; i++)
        nonzero += dx[i] != 0.0f;
    CHECK_MSG(nonzero == 0, "dy all zero: %zu values of dx are not 0", nonzero);
    free(x), free(dy), free(y), free(dx), free(dw2);
    free(ry), free(rdx), free(rdw), free(rdb);
    unbuild(&l, work);
}

/* ---- pooling ------------------------------------------------------------ */

typedef struct {
    int n, c, h, w, kh, kw, sh, sw;
    nn_pad_mode mode;
    int pad;
    float shift; /* added to the random inputs; with round=1 they are integers */
    int round;
} pool_case;

static const pool_case pool_cases[] = {
    {2, 3, 8, 8, 2, 2, 2, 2, NN_PAD_VALID, 0, 0, 0},
    {2, 3, 7, 7, 2, 2, 2, 2, NN_PAD_SAME, 0, 0, 0},     /* pad 0 top, 1 bottom */
    {2, 3, 7, 7, 2, 2, 2, 2, NN_PAD_SAME, 0, -10, 0},   /* padding never wins */
    {1, 2, 8, 9, 3, 3, 2, 2, NN_PAD_SAME, 0, 0, 0},     /* h: 0/1, w: 1/1 */
    {3, 2, 5, 5, 3, 3, 1, 1, NN_PAD_EXPLICIT, 1, -10, 0},
    {2, 4, 9, 8, 3, 3, 2, 2, NN_PAD_EXPLICIT, 1, 0, 0},
    {2, 2, 7, 9, 2, 3, 1, 2, NN_PAD_VALID, 0, 0, 0},
    {1, 3, 11, 10, 5, 5, 3, 3, NN_PAD_EXPLICIT, 2, 0, 0},
    {2, 3, 10, 10, 3, 3, 3, 3, NN_PAD_SAME, 0, 0, 0},
    {2, 3, 6, 6, 3, 3, 1, 1, NN_PAD_SAME, 0, 0, 1},     /* ties */
    {4, 8, 64, 64, 2, 2, 2, 2, NN_PAD_VALID, 0, 0, 1},  /* large, threaded, ties */
};

/* Direct pooling: y and dx from dy; max: the first largest real cell. */
static void pool_ref(const pool_case *t, int is_max, int oh, int ow, int pt,
                     int pl, const float *x, const float *dy, double *y, double *dx)
{
    int H = t->h, W = t->w;
    memset(dx, 0, sizeof(double) * t->n * t->c * H * W);
    for (int pc = 0; pc < t->n * t->c; pc++)
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++) {
                const float *xp = x + (size_t)pc * H * W;
                double s = 0, m = -INFINITY, cnt = 0;
                int best = -1;
                for (int i = 0; i < t->kh; i++)
                    for (int j = 0; j < t->kw; j++) {
                        int ih = r * t->sh - pt + i, iw = q * t->sw - pl + j;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                            continue;
                        s += xp[ih * W + iw], cnt++;
                        if (xp[ih * W + iw] > m)
                            m = xp[ih * W + iw], best = ih * W + iw;
                    }
                size_t yi = ((size_t)pc * oh + r) * ow + q;
                double *d = dx + (size_t)pc * H * W;
                y[yi] = is_max ? m : s / cnt;
                if (is_max)
                    d[best] += dy[yi];
                else
                    for (int i = 0; i < t->kh; i++)
                        for (int j = 0; j < t->kw; j++) {
                            int ih = r * t->sh - pt + i, iw = q * t->sw - pl + j;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                d[ih * W + iw] += dy[yi] / cnt;
                        }
            }
}

static void test_pool_case(const pool_case *t, int is_max, nn_rng *r)
{
    TEST(tname("%s n=%d %dx%dx%d %dx%d stride %dx%d pad %s%s",
             is_max ? "maxpool" : "avgpool", t->n, t->c, t->h, t->w, t->kh, t->kw,
             t->sh, t->sw, t->mode == NN_PAD_SAME ? "same" : t->mode == NN_PAD_VALID
             ? "valid" : t->pad == 1 ? "1" : "2",
             t->round ? " ties" : t->shift < 0 ? " negative" : ""));
    nn_layer_cfg cfg = {.kh = t->kh, .kw = t->kw, .sh = t->sh, .sw = t->sw,
                        .pad_mode = t->mode, .pad = t->pad};
    nn_layer l;
    float *work;
    if (build(&l, is_max ? "maxpool" : "avgpool", (nn_dims){t->c, t->h, t->w}, cfg,
              t->n, r, &work) < 0)
        return;
    int pt, pl, oh = ref_window(t->h, t->kh, t->sh, t->mode, t->pad, &pt);
    int ow = ref_window(t->w, t->kw, t->sw, t->mode, t->pad, &pl);
    CHECK_MSG(l.out.c == t->c && l.out.h == oh && l.out.w == ow && l.nparam == 0,
              "output %dx%dx%d, want %dx%dx%d", l.out.c, l.out.h, l.out.w, t->c, oh, ow);
    size_t xs = (size_t)t->n * t->c * t->h * t->w, ys = (size_t)t->n * t->c * oh * ow;
    float *x = randv(r, xs, t->shift), *dy = randv(r, ys, 0), *y = randv(r, ys, 0);
    float *dx = randv(r, xs, 0);
    for (size_t i = 0; t->round && i < xs; i++)
        x[i] = floorf(x[i]);
    double *ry = malloc(ys * 8), *rdx = malloc(xs * 8);
    pool_ref(t, is_max, oh, ow, pt, pl, x, dy, ry, rdx);
    nn_pass p = {.train = 1, .param_grads = 1, .work = work};
    l.type->forward(&l, x, y, t->n, &p);
    expect_close("y", y, ry, ys, 0);
    l.type->backward(&l, x, y, dy, dx, t->n, &p);
    expect_close("dx", dx, rdx, xs, 0);
    free(x), free(dy), free(y), free(dx), free(ry), free(rdx);
    unbuild(&l, work);
}

static void test_gap(nn_rng *r)
{
    TEST("gap: per-channel mean over HxW, dy spread evenly");
    nn_layer l;
    float *work;
    nn_layer_cfg cfg = {0};
    int n = 3, c = 4, hw = 35;
    if (build(&l, "gap", (nn_dims){c, 5, 7}, cfg, n, r, &work) < 0)
        return;
    CHECK(l.out.c == c && l.out.h == 1 && l.out.w == 1);
    float *x = randv(r, n * c * hw, 0), *dy = randv(r, n * c, 0), y[12], dx[420];
    double ry[12], rdx[420];
    for (int i = 0; i < n * c; i++) {
        double s = 0;
        for (int k = 0; k < hw; k++)
            s += x[i * hw + k], rdx[i * hw + k] = dy[i] / (double)hw;
        ry[i] = s / hw;
    }
    nn_pass p = {.train = 1, .param_grads = 1, .work = work};
    l.type->forward(&l, x, y, n, &p);
    expect_close("y", y, ry, n * c, 0);
    l.type->backward(&l, x, y, dy, dx, n, &p);
    expect_close("dx", dx, rdx, n * c * hw, 0);
    free(x), free(dy);
    unbuild(&l, work);
}

/* ---- dense -------------------------------------------------------------- */

static void test_dense(int n, int in, int out, int bias, nn_rng *r)
{
    TEST(tname("dense n=%d %d -> %d%s", n, in, out, bias ? " bias" : ""));
    nn_layer l;
    float *work;
    nn_layer_cfg cfg = {.units = out, .bias = bias};
    if (build(&l, "dense", (nn_dims){in, 1, 1}, cfg, n, r, &work) < 0)
        return;
    const float *wt = l.param[0].value;
    float *x = randv(r, n * in, 0), *dy = randv(r, n * out, 0);
    float *y = malloc(n * out * 4), *dx = malloc(n * in * 4);
    double *ry = calloc(n * out, 8), *rdx = calloc(n * in, 8);
    double *rdw = calloc(in * out, 8), *rdb = calloc(out, 8);
    for (int b = 0; b < n; b++)
        for (int o = 0; o < out; o++) {
            double s = bias ? l.param[1].value[o] : 0, g = dy[b * out + o];
            for (int i = 0; i < in; i++) {
                s += (double)x[b * in + i] * wt[o * in + i];
                rdx[b * in + i] += g * wt[o * in + i];
                rdw[o * in + i] += g * x[b * in + i];
            }
            ry[b * out + o] = s, rdb[o] += g;
        }
    nn_pass p = {.train = 1, .param_grads = 1, .work = work};
    l.type->forward(&l, x, y, n, &p);
    expect_close("y", y, ry, n * out, 0);
    l.type->backward(&l, x, y, dy, dx, n, &p);
    expect_close("dx", dx, rdx, n * in, 0);
    expect_close("dweight", l.param[0].grad, rdw, in * out, 0.5f);
    if (bias)
        expect_close("dbias", l.param[1].grad, rdb, out, 0.5f);
    free(x), free(dy), free(y), free(dx), free(ry), free(rdx), free(rdw), free(rdb);
    unbuild(&l, work);
}

static void test_dense_needs_flat(void)
{
    TEST("dense: a spatial input is an error that says to flatten");
    nn_layer l;
    nn_error e;
    memset(&l, 0, sizeof l);
    l.type = nn_layer_type_find("dense");
    l.in = (nn_dims){8, 3, 3};
    l.cfg.units = 4;
    CHECK(l.type->setup(&l, &e) < 0);
    CHECK_MSG(strstr(e.msg, "8x3x3") && strstr(e.msg, "add 'flatten' before it"),
              "message: %s", e.msg);
    memset(&l, 0, sizeof l);
    l.type = nn_layer_type_find("dense");
    l.in = (nn_dims){8, 1, 1};
    l.cfg.units = -1;
    CHECK_MSG(l.type->setup(&l, &e) < 0, "unresolved 'classes' (units -1) was accepted");
}

/* ---- text form ---------------------------------------------------------- */

static void test_format(void)
{
    TEST("conv, dense and pools: format writes what parse reads, defaults left out");
    const char *text =
        "input 3x17x16\n"
        "conv 8 3x3 stride=2 pad=same init=tnormal:0.1 bias=0\n"
        "conv 4 1x3 stride=1x2 pad=1 bias=none\n"
        "conv 4 3\n"
        "maxpool 2 pad=same\n"
        "avgpool 3x3 stride=1 pad=1\n"
        "gap\n"
        "dense 5 bias=0.5\n"
        "dense classes\n";
    const char *want =
        "input 3x17x16\n"
        "conv 8 3x3 stride=2 pad=same init=tnormal:0.1 bias=0\n"
        "conv 4 1x3 stride=1x2 pad=1 bias=none\n"
        "conv 4 3x3\n"
        "maxpool 2x2 pad=same\n"
        "avgpool 3x3 stride=1 pad=1\n"
        "gap\n"
        "dense 5 bias=0.5\n"
        "dense 7\n";
    nn_error e;
    nn_model *m = nn_model_from_arch(text, "t.nn", 7, &e);
    CHECK_MSG(m, "%s", e.msg);
    if (!m)
        return;
    char *s = nn_model_format_arch(m);
    CHECK_MSG(s && strcmp(s, want) == 0, "formatted:\n%s", s ? s : "(null)");
    nn_model *m2 = s ? nn_model_from_arch(s, "t2.nn", 7, &e) : NULL;
    char *s2 = m2 ? nn_model_format_arch(m2) : NULL;
    CHECK_MSG(s2 && strcmp(s, s2) == 0, "second round differs:\n%s", s2 ? s2 : e.msg);
    CHECK(m->layers[0].out.h == 9 && m->layers[0].out.w == 8);
    CHECK(m->layers[0].param[1].init.kind == NN_INIT_CONSTANT &&
          m->layers[0].param[1].init.a == 0);
    free(s), free(s2);
    nn_model_free(m), nn_model_free(m2);
}

int main(void)
{
    nn_rng r;
    nn_rng_seed(&r, 42);
    nn_set_threads(2);
    for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++)
        test_conv_case(&conv_cases[i], &r);
    for (int is_max = 1; is_max >= 0; is_max--)
        for (size_t i = 0; i < sizeof pool_cases / sizeof *pool_cases; i++)
            test_pool_case(&pool_cases[i], is_max, &r);
    test_gap(&r);
    test_dense(1, 7, 3, 1, &r);
    test_dense(9, 33, 10, 1, &r);
    test_dense(4, 5, 6, 0, &r);
    test_dense_needs_flat();
    test_format();
    return test_done();
}
