/* layer_pool.c - max pooling, average pooling and global average pooling.
 *
 * x is [n, C, H, W], y is [n, C, OH, OW]; the window of output (r, q)
 * covers the input rows r*sh-pt .. r*sh-pt+kh-1 and the columns
 * q*sw-pl .. q*sw-pl+kw-1, of which only the cells inside the input count:
 *   maxpool  y = the largest real cell (padding never wins: -inf padding);
 *            ties go to the first in row-major window order, a NaN wins,
 *            as in PyTorch. l->saved keeps the winner's index in its input
 *            plane, [n, C, OH, OW] int32, for backward (dx[winner] += dy).
 *   avgpool  y = the mean of the real cells (padding is not counted);
 *            backward spreads dy / count over them.
 *   gap      y [n, C, 1, 1] = the mean over each H x W plane.
 * The stride defaults to the kernel. Planes (n*C of them) run in parallel;
 * each output is computed by one thread, so results do not depend on the
 * number of threads. */
#include "nn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAR_MIN 32768 /* below this many values a loop runs on one thread */

/* The window of output (r, q), clipped to the input: rows [*i0, *i1),
 * columns [*j0, *j1). */
static void window(const nn_layer *l, int r, int q, int *i0, int *i1, int *j0,
                   int *j1)
{
    const nn_layer_cfg *c = &l->cfg;
    int a = r * c->sh - c->pt, b = q * c->sw - c->pl;
    *i0 = a < 0 ? 0 : a;
    *i1 = a + c->kh > l->in.h ? l->in.h : a + c->kh;
    *j0 = b < 0 ? 0 : b;
    *j1 = b + c->kw > l->in.w ? l->in.w : b + c->kw;
}

/* ---- maxpool ------------------------------------------------------------ */

/* One plane: y [OH, OW] and the winners' indices arg from x [H, W]. */
static void maxpool_plane(const nn_layer *l, const float *x, float *y,
                          int32_t *arg)
{
    int w = l->in.w, i0, i1, j0, j1;
    for (int r = 0; r < l->out.h; r++)
        for (int q = 0; q < l->out.w; q++) {
            window(l, r, q, &i0, &i1, &j0, &j1);
            int best = i0 * w + j0;
            float m = x[best];
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) {
                    float v = x[i * w + j];
                    if (v > m || isnan(v))
                        m = v, best = i * w + j;
                }
            *y++ = m;
            *arg++ = best;
        }
}

static void maxpool_forward(nn_layer *l, const float *x, float *y, int n,
                            const nn_pass *p)
{
    (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w, ys = (size_t)l->out.h * l->out.w;
    int32_t *arg = l->saved;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long i = 0; i < planes; i++)
        maxpool_plane(l, x + i * xs, y + i * ys, arg + i * ys);
}

static void maxpool_backward(nn_layer *l, const float *x, const float *y,
                             const float *dy, float *dx, int n,
                             const nn_pass *p)
{
    (void)x, (void)y, (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w, ys = (size_t)l->out.h * l->out.w;
    const int32_t *arg = l->saved;
    if (!dx)
        return;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long i = 0; i < planes; i++) {
        float *d = dx + i * xs;
        memset(d, 0, xs * sizeof(float));
        for (size_t k = 0; k < ys; k++)
            d[arg[i * ys + k]] += dy[i * ys + k];
    }
}

static size_t maxpool_saved_bytes(const nn_layer *l, int n)
{
    return (size_t)n * nn_dims_size(l->out) * sizeof(int32_t);
}

/* ---- avgpool ------------------------------------------------------------ */

static void avgpool_forward(nn_layer *l, const float *x, float *y, int n,
                            const nn_pass *p)
{
    (void)p;
    long planes = (long)n * l->in.c;
    int w = l->in.w, oh = l->out.h, ow = l->out.w;
    size_t xs = (size_t)l->in.h * w, ys = (size_t)oh * ow;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++) {
        const float *xp = x + t * xs;
        float *yp = y + t * ys;
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++) {
                int i0, i1, j0, j1;
                float s = 0;
                window(l, r, q, &i0, &i1, &j0, &j1);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        s += xp[i * w + j];
                *yp++ = s / ((i1 - i0) * (j1 - j0));
            }
    }
}

static void avgpool_backward(nn_layer *l, const float *x, const float *y,
                             const float *dy, float *dx, int n,
                             const nn_pass *p)
{
    (void)x, (void)y, (void)p;
    long planes = (long)n * l->in.c;
    int w = l->in.w, oh = l->out.h, ow = l->out.w;
    size_t xs = (size_t)l->in.h * w, ys = (size_t)oh * ow;
    if (!dx)
        return;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++) {
        float *d = dx + t * xs;
        const float *g = dy + t * ys;
        memset(d, 0, xs * sizeof(float));
        for (int r = 0; r < oh; r++)
            for (int q = 0; q < ow; q++) {
                int i0, i1, j0, j1;
                window(l, r, q, &i0, &i1, &j0, &j1);
                float v = *g++ / ((i1 - i0) * (j1 - j0));
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        d[i * w + j] += v;
            }
    }
}

/* ---- maxpool and avgpool: text form and setup --------------------------- */

static int pool_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    const char *stride = nn_args_option(a, "stride");
    const char *pad = nn_args_option(a, "pad");
    if (nn_args_count(a) != 1)
        return nn_args_fail(a, e, "expected one kernel size; usage: %s", l->type->usage);
    if (nn_args_pair(a, nn_args_get(a, 0), "kernel", &c->kh, &c->kw, e) < 0)
        return -1;
    c->sh = c->kh, c->sw = c->kw;
    if (stride && nn_args_pair(a, stride, "stride", &c->sh, &c->sw, e) < 0)
        return -1;
    return nn_args_pad(a, pad, c, e);
}

static void pool_format(const nn_layer *l, char *buf, size_t size)
{
    const nn_layer_cfg *c = &l->cfg;
    size_t n = snprintf(buf, size, "%dx%d", c->kh, c->kw);
    if (n < size && (c->sh != c->kh || c->sw != c->kw))
        n += c->sh == c->sw ? snprintf(buf + n, size - n, " stride=%d", c->sh)
                            : snprintf(buf + n, size - n, " stride=%dx%d", c->sh, c->sw);
    if (n < size && c->pad_mode == NN_PAD_SAME)
        snprintf(buf + n, size - n, " pad=same");
    else if (n < size && c->pad_mode == NN_PAD_EXPLICIT)
        snprintf(buf + n, size - n, " pad=%d", c->pad);
}

/* Every window must hold at least one real cell. */
static int pool_setup(nn_layer *l, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    int oh, ow;
    if (c->pad_mode == NN_PAD_EXPLICIT && (c->pad >= c->kh || c->pad >= c->kw))
        return nn_fail(e, "pad=%d must be smaller than the %dx%d window", c->pad,
                       c->kh, c->kw);
    if (nn_window_setup(l, &oh, &ow, e) < 0)
        return -1;
    l->out.c = l->in.c, l->out.h = oh, l->out.w = ow;
    return 0;
}

static double pool_flops(const nn_layer *l)
{
    return (double)nn_dims_size(l->out) * l->cfg.kh * l->cfg.kw;
}

const nn_layer_type nn_layer_maxpool = {
    .keyword = "maxpool",
    .usage = "maxpool KxK|K [stride=S|SxS] [pad=same|valid|N]",
    .parse = pool_parse,
    .setup = pool_setup,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .saved_bytes = maxpool_saved_bytes,
    .format = pool_format,
    .flops = pool_flops,
};

const nn_layer_type nn_layer_avgpool = {
    .keyword = "avgpool",
    .usage = "avgpool KxK|K [stride=S|SxS] [pad=same|valid|N]",
    .parse = pool_parse,
    .setup = pool_setup,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .format = pool_format,
    .flops = pool_flops,
};

/* ---- gap ---------------------------------------------------------------- */

static int gap_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    if (nn_args_count(a) > 0)
        return nn_args_fail(a, e, "takes no arguments, not '%s'; usage: %s",
                            nn_args_get(a, 0), l->type->usage);
    return 0;
}

static int gap_setup(nn_layer *l, nn_error *e)
{
    (void)e;
    l->out.c = l->in.c, l->out.h = l->out.w = 1;
    return 0;
}

static void gap_forward(nn_layer *l, const float *x, float *y, int n,
                        const nn_pass *p)
{
    (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++) {
        float s = 0;
        for (size_t k = 0; k < xs; k++)
            s += x[t * xs + k];
        y[t] = s / xs;
    }
}

static void gap_backward(nn_layer *l, const float *x, const float *y,
                         const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)x, (void)y, (void)p;
    long planes = (long)n * l->in.c;
    size_t xs = (size_t)l->in.h * l->in.w;
    if (!dx)
        return;
#pragma omp parallel for if (planes * xs >= PAR_MIN) schedule(static)
    for (long t = 0; t < planes; t++)
        for (size_t k = 0; k < xs; k++)
            dx[t * xs + k] = dy[t] / xs;
}

static double gap_flops(const nn_layer *l) { return (double)nn_dims_size(l->in); }

const nn_layer_type nn_layer_gap = {
    .keyword = "gap",
    .usage = "gap",
    .parse = gap_parse,
    .setup = gap_setup,
    .forward = gap_forward,
    .backward = gap_backward,
    .flops = gap_flops,
};
