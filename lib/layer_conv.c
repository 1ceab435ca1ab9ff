/* layer_conv.c - 2-D convolution (cross-correlation, as PyTorch's Conv2d).
 *
 * x is [n, C, H, W], y is [n, O, OH, OW], weight is [O, C, kh, kw] and
 * bias [O]. With K = C*kh*kw and the column matrix col [K, OH*OW] of a
 * sample (im2col: col[(c*kh+i)*kw+j][r*OW+q] = x[c, r*sh-pt+i, q*sw-pl+j],
 * 0 in the padding):
 *   forward   y_b  = weight [O,K] . col_b + bias
 *   backward  dweight += sum_b dy_b [O,OH*OW] . col_b^T
 *             dbias   += sum_b,r,q dy_b[o, r, q]
 *             dx_b     = col2im(weight^T . dy_b)
 * A 1x1 stride-1 unpadded convolution needs no im2col: col_b is x_b.
 * The column matrix is built a band of output rows at a time so that the
 * scratch per thread stays under TILE_FLOATS.
 *
 * Threads: a batch runs one sample per thread (a column buffer each in
 * p->work, single-threaded sgemm inside the parallel region); a single
 * sample runs on one thread with OpenBLAS's own threads. Weight gradients
 * are summed per thread and then across threads in a fixed order, so a
 * result depends only on the number of threads. */
#include "nn.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define TILE_FLOATS (1 << 21) /* column-matrix floats per thread (8 MiB) */

/* Everything a sample's forward or backward needs to know about shapes. */
typedef struct conv_geom {
    int c, h, w;    /* input */
    int o, oh, ow;  /* output */
    int kh, kw, sh, sw, pt, pl;
    int k;          /* c*kh*kw: rows of the column matrix */
    int rows;       /* output rows per band */
    int direct;     /* 1x1, stride 1, unpadded: x is its own column matrix */
} conv_geom;

static void conv_geometry(const nn_layer *l, conv_geom *g)
{
    const nn_layer_cfg *c = &l->cfg;
    g->c = l->in.c, g->h = l->in.h, g->w = l->in.w;
    g->o = l->out.c, g->oh = l->out.h, g->ow = l->out.w;
    g->kh = c->kh, g->kw = c->kw, g->sh = c->sh, g->sw = c->sw;
    g->pt = c->pt, g->pl = c->pl;
    g->k = g->c * g->kh * g->kw;
    g->direct = c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 &&
                !c->pt && !c->pl && !c->pb && !c->pr;
    long rows = g->direct ? g->oh : TILE_FLOATS / ((long)g->k * g->ow);
    g->rows = rows < 1 ? 1 : rows > g->oh ? g->oh : (int)rows;
}

/* Floats of column buffer one thread needs (a multiple of 16). */
static size_t col_floats(const conv_geom *g)
{
    size_t f = g->direct ? 0 : (size_t)g->k * g->rows * g->ow;
    return (f + 15) / 16 * 16;
}

/* Threads for a batch of n: one sample each, at most max (the OpenMP
 * maximum when sizing scratch, p->threads when running). */
static int batch_threads(int n, int max)
{
    int t = max > 0 ? max : 1;
    return t < n ? t : n < 1 ? 1 : n;
}

/* The outputs q in [*lo, *hi) of a row whose input column q*s - pad + j
 * lies inside [0, in). */
static void valid_range(int j, int pad, int s, int in, int out, int *lo,
                        int *hi)
{
    int a = pad - j, b = in - 1 + pad - j; /* a <= q*s <= b */
    *lo = a > 0 ? (a + s - 1) / s : 0;
    *hi = b < 0 ? 0 : b / s + 1;
    if (*hi > out)
        *hi = out;
    if (*lo > *hi)
        *lo = *hi;
}

/* col [K, (r1-r0)*OW] from x [C, H, W] for output rows r0..r1-1. */
static void im2col(const conv_geom *g, const float *x, int r0, int r1,
                   float *col)
{
    int ow = g->ow, np = (r1 - r0) * ow;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                float *d = col + ((size_t)(c * g->kh + i) * g->kw + j) * np;
                int lo, hi, off = j - g->pl;
                valid_range(j, g->pl, g->sw, g->w, ow, &lo, &hi);
                for (int r = r0; r < r1; r++, d += ow) {
                    int ih = r * g->sh - g->pt + i;
                    if (ih < 0 || ih >= g->h) {
                        memset(d, 0, ow * sizeof(float));
                        continue;
                    }
                    const float *row = x + ((size_t)c * g->h + ih) * g->w;
                    memset(d, 0, lo * sizeof(float));
                    if (g->sw == 1)
                        memcpy(d + lo, row + lo + off, (hi - lo) * sizeof(float));
                    else
                        for (int q = lo; q < hi; q++)
                            d[q] = row[q * g->sw + off];
                    memset(d + hi, 0, (ow - hi) * sizeof(float));
                }
            }
}

/* dx [C, H, W] += the columns col [K, (r1-r0)*OW] of output rows r0..r1-1
 * scattered back to the input cells they were read from. */
static void col2im(const conv_geom *g, const float *col, int r0, int r1,
                   float *dx)
{
    int ow = g->ow, np = (r1 - r0) * ow;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                const float *d = col + ((size_t)(c * g->kh + i) * g->kw + j) * np;
                int lo, hi, off = j - g->pl;
                valid_range(j, g->pl, g->sw, g->w, ow, &lo, &hi);
                for (int r = r0; r < r1; r++, d += ow) {
                    int ih = r * g->sh - g->pt + i;
                    if (ih < 0 || ih >= g->h)
                        continue;
                    float *row = dx + ((size_t)c * g->h + ih) * g->w;
                    if (g->sw == 1)
                        for (int q = lo; q < hi; q++)
                            row[q + off] += d[q];
                    else
                        for (int q = lo; q < hi; q++)
                            row[q * g->sw + off] += d[q];
                }
            }
}

/* One sample: y [O, OH*OW] = weight [O, K] . col + bias. */
static void forward_sample(const conv_geom *g, const float *wt,
                           const float *bias, const float *x, float *y,
                           float *col)
{
    int ohw = g->oh * g->ow;
    for (int r0 = 0; r0 < g->oh; r0 += g->rows) {
        int r1 = r0 + g->rows < g->oh ? r0 + g->rows : g->oh;
        int np = (r1 - r0) * g->ow, ldb = np;
        const float *b = col;
        float *yt = y + (size_t)r0 * g->ow;
        if (g->direct)
            b = x + (size_t)r0 * g->ow, ldb = ohw;
        else
            im2col(g, x, r0, r1, col);
        if (bias)
            for (int o = 0; o < g->o; o++)
                for (int q = 0; q < np; q++)
                    yt[(size_t)o * ohw + q] = bias[o];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->o, np, g->k,
                    1.0f, wt, g->k, b, ldb, bias ? 1.0f : 0.0f, yt, ohw);
    }
}

static void conv_forward(nn_layer *l, const float *x, float *y, int n,
                         const nn_pass *p)
{
    conv_geom g;
    conv_geometry(l, &g);
    const float *wt = l->param[0].value;
    const float *bias = l->cfg.bias ? l->param[1].value : NULL;
    size_t xs = nn_dims_size(l->in), ys = nn_dims_size(l->out);
    size_t cs = col_floats(&g);
    int nt = batch_threads(n, p->threads);
    /* with nt == 1 the region is inactive and OpenBLAS uses its threads */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int b = 0; b < n; b++)
        forward_sample(&g, wt, bias, x + b * xs, y + b * ys,
                       p->work + omp_get_thread_num() * cs);
}

/* One sample: dw [O, K] += dy . col^T (when dw), and dx = col2im(weight^T
 * . dy) (when dx). col is scratch of col_floats(g). */
static void backward_sample(const conv_geom *g, const float *wt,
                            const float *x, const float *dy, float *dx,
                            float *dw, float *col)
{
    int ohw = g->oh * g->ow;
    if (dx && !g->direct)
        memset(dx, 0, (size_t)g->c * g->h * g->w * sizeof(float));
    for (int r0 = 0; r0 < g->oh; r0 += g->rows) {
        int r1 = r0 + g->rows < g->oh ? r0 + g->rows : g->oh;
        int np = (r1 - r0) * g->ow;
        const float *dyt = dy + (size_t)r0 * g->ow;
        if (dw && g->direct)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->o, g->k, np,
                        1.0f, dyt, ohw, x + (size_t)r0 * g->ow, ohw, 1.0f, dw, g->k);
        else if (dw) {
            im2col(g, x, r0, r1, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->o, g->k, np,
                        1.0f, dyt, ohw, col, np, 1.0f, dw, g->k);
        }
        if (dx && g->direct)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->k, np, g->o,
                        1.0f, wt, g->k, dyt, ohw, 0.0f, dx + (size_t)r0 * g->ow, ohw);
        else if (dx) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->k, np, g->o,
                        1.0f, wt, g->k, dyt, ohw, 0.0f, col, np);
            col2im(g, col, r0, r1, dx);
        }
    }
}

/* dbias[o] += sum over the batch and pixels of dy[:, o], in a fixed order. */
static void bias_backward(const float *dy, float *db, int n, int o, int ohw)
{
#pragma omp parallel for if ((long)n * o * ohw >= 65536) schedule(static)
    for (int c = 0; c < o; c++) {
        double s = 0;
        for (int b = 0; b < n; b++) {
            const float *d = dy + ((size_t)b * o + c) * ohw;
            float t = 0;
            for (int q = 0; q < ohw; q++)
                t += d[q];
            s += t;
        }
        db[c] += (float)s;
    }
}

/* grad [m] += the nt partial sums part [nt, stride], thread 0 first. */
static void reduce_partials(float *grad, const float *part, int nt,
                            size_t stride, size_t m)
{
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < m; i++) {
        float s = 0;
        for (int t = 0; t < nt; t++)
            s += part[t * stride + i];
        grad[i] += s;
    }
}

static void conv_backward(nn_layer *l, const float *x, const float *y,
                          const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)y;
    conv_geom g;
    conv_geometry(l, &g);
    const float *wt = l->param[0].value;
    float *gw = p->param_grads ? l->param[0].grad : NULL;
    size_t xs = nn_dims_size(l->in), ys = nn_dims_size(l->out);
    size_t nw = (size_t)g.o * g.k, cs = col_floats(&g);
    int nt = batch_threads(n, p->threads);
    /* per thread: a column buffer, then (nt > 1) a partial weight gradient */
    size_t stride = cs + (nt > 1 ? (nw + 15) / 16 * 16 : 0);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = p->work + omp_get_thread_num() * stride;
        float *dw = gw && nt > 1 ? col + cs : gw;
        if (gw && nt > 1)
            memset(dw, 0, nw * sizeof(float));
#pragma omp for schedule(static)
        for (int b = 0; b < n; b++)
            backward_sample(&g, wt, x + b * xs, dy + b * ys,
                            dx ? dx + b * xs : NULL, dw, col);
    }
    if (gw && nt > 1)
        reduce_partials(gw, p->work + cs, nt, stride, nw);
    if (p->param_grads && l->cfg.bias)
        bias_backward(dy, l->param[1].grad, n, g.o, g.oh * g.ow);
}

/* Per thread, for min(n, omp_get_max_threads()) threads: the model sizes
 * p->work after nn_set_threads, and forward/backward use no more. */
static size_t conv_work_floats(const nn_layer *l, int n)
{
    conv_geom g;
    conv_geometry(l, &g);
    int nt = batch_threads(n, omp_get_max_threads());
    size_t nw = (size_t)g.o * g.k;
    return nt * (col_floats(&g) + (nt > 1 ? (nw + 15) / 16 * 16 : 0));
}

/* ---- text form ---------------------------------------------------------- */

/* bias=none (no bias) or bias=INIT, where a bare number is a constant. */
static int parse_bias(nn_args *a, nn_layer_cfg *cfg, nn_error *e)
{
    const char *t = nn_args_option(a, "bias");
    if (!t)
        return 0;
    if (strcmp(t, "none") == 0) {
        cfg->bias = 0;
        return 0;
    }
    return nn_args_init(a, t, &cfg->bias_init, e);
}

static int conv_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    const char *stride = nn_args_option(a, "stride");
    const char *pad = nn_args_option(a, "pad");
    const char *init = nn_args_option(a, "init");
    if (nn_args_count(a) != 2)
        return nn_args_fail(a, e, "expected the output channels and the kernel size; usage: %s",
                            l->type->usage);
    if (nn_args_int(a, nn_args_get(a, 0), "output channels", 1, &c->units, e) < 0 ||
        nn_args_pair(a, nn_args_get(a, 1), "kernel", &c->kh, &c->kw, e) < 0 ||
        (stride && nn_args_pair(a, stride, "stride", &c->sh, &c->sw, e) < 0) ||
        nn_args_pad(a, pad, c, e) < 0 ||
        (init && nn_args_init(a, init, &c->weight_init, e) < 0))
        return -1;
    return parse_bias(a, c, e);
}

/* Appends the " stride=" and " pad=" options that differ from the defaults. */
static size_t format_window(const nn_layer_cfg *c, char *buf, size_t size,
                            size_t n, int default_stride)
{
    if (n < size && !default_stride)
        n += c->sh == c->sw ? snprintf(buf + n, size - n, " stride=%d", c->sh)
                            : snprintf(buf + n, size - n, " stride=%dx%d", c->sh, c->sw);
    if (n < size && c->pad_mode == NN_PAD_SAME)
        n += snprintf(buf + n, size - n, " pad=same");
    else if (n < size && c->pad_mode == NN_PAD_EXPLICIT)
        n += snprintf(buf + n, size - n, " pad=%d", c->pad);
    return n;
}

static void conv_format(const nn_layer *l, char *buf, size_t size)
{
    const nn_layer_cfg *c = &l->cfg;
    char v[64];
    size_t n = snprintf(buf, size, "%d %dx%d", c->units, c->kh, c->kw);
    n = format_window(c, buf, size, n, c->sh == 1 && c->sw == 1);
    if (n < size && c->weight_init.kind != NN_INIT_DEFAULT) {
        nn_init_format(c->weight_init, v, sizeof v);
        n += snprintf(buf + n, size - n, " init=%s", v);
    }
    if (!c->bias || c->bias_init.kind == NN_INIT_DEFAULT)
        v[0] = 0;
    else if (c->bias_init.kind == NN_INIT_CONSTANT)
        nn_format_float(v, sizeof v, c->bias_init.a);
    else if (c->bias_init.kind == NN_INIT_ZEROS)
        snprintf(v, sizeof v, "0");
    else
        nn_init_format(c->bias_init, v, sizeof v);
    if (n < size && (!c->bias || v[0]))
        snprintf(buf + n, size - n, " bias=%s", c->bias ? v : "none");
}

/* ---- setup -------------------------------------------------------------- */

static int conv_setup(nn_layer *l, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    int oh, ow, ci = l->in.c, k = c->kh * c->kw;
    if (c->units < 1)
        return nn_fail(e, "needs at least 1 output channel, not %d", c->units);
    if (nn_window_setup(l, &oh, &ow, e) < 0)
        return -1;
    if ((double)ci * k * ow > 1 << 30 || (double)c->units * oh * ow > 1 << 30)
        return nn_fail(e, "a %dx%dx%d input to %d channels of %dx%d is too large",
                       ci, l->in.h, l->in.w, c->units, c->kh, c->kw);
    l->out.c = c->units, l->out.h = oh, l->out.w = ow;
    int wd[4] = {c->units, ci, c->kh, c->kw};
    if (!nn_layer_add_param(l, "weight", 4, wd, c->weight_init, ci * k, c->units * k, 1))
        return nn_fail(e, "cannot declare the weight");
    if (c->bias && !nn_layer_add_param(l, "bias", 1, &c->units, c->bias_init,
                                       ci * k, c->units * k, 1))
        return nn_fail(e, "cannot declare the bias");
    return 0;
}

static double conv_flops(const nn_layer *l)
{
    return (double)nn_dims_size(l->out) * l->in.c * l->cfg.kh * l->cfg.kw;
}

const nn_layer_type nn_layer_conv = {
    .keyword = "conv",
    .usage = "conv OUT KxK|K [stride=S|SxS] [pad=same|valid|N] [bias=V|none] [init=INIT]",
    .parse = conv_parse,
    .setup = conv_setup,
    .forward = conv_forward,
    .backward = conv_backward,
    .work_floats = conv_work_floats,
    .format = conv_format,
    .flops = conv_flops,
};
