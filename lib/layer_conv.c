/* layer_conv.c - 2-D convolution (cross-correlation, as PyTorch's Conv2d):
 * the layer, its shapes, and which method runs it.
 *
 * x is [n, C, H, W], y is [n, O, OH, OW], weight is [O, C, kh, kw] = [O, K]
 * (K = C*kh*kw, k = (c*kh + i)*kw + j) and bias [O].
 *   stride 1, padding smaller than the kernel: shifted sums on a vector
 *     kernel of our own (lib/conv_shift.c);
 *   3x3 of those with at least WINOGRAD_CHANNELS input and output
 *     channels: the forward, and dx when no weight gradient is wanted
 *     (nn-vis, nn-featmap), by Winograd's F(2x2, 3x3) (lib/winograd.c: 16
 *     products of C per 4 outputs instead of 36); with the weight
 *     gradients, the shifted sums share their padded dy between dx and
 *     dweight;
 *   other strides: im2col + OpenBLAS sgemm, col2im (lib/conv_im2col.c).
 * Work under SMALL_WORK multiply-adds runs on one thread. */
#include "conv_impl.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define WINOGRAD_CHANNELS 64 /* 3x3 layers with at least this many input
                              * and output channels: lib/winograd.c */
#ifndef SMALL_WORK
#define SMALL_WORK 100000000.0 /* multiply-adds below which one thread runs */
#endif

/* ---- shapes ------------------------------------------------------------- */

/* b for a [c, h, w] tensor with its data at (top, left) of rows of s,
 * `rows` rows with data and padding per plane, reads up to `over`
 * positions past them. */
static void pad_geometry(pad_buf *b, int c, int h, int w, int top, int left,
                         int rows, int s, long over)
{
    int extra = (int)((over + NR + 16 + s - 1) / s) + 1;
    b->c = c, b->h = h, b->w = w, b->top = top, b->left = left;
    b->s = s, b->rows = rows;
    b->plane = (rows + extra) * s;
    b->floats = round16((size_t)c * b->plane + 2 * (size_t)s + NR + 64);
}

/* A sample's `total` positions in *nch chunks of *np (a multiple of NR)
 * such that a block of up to MC rows of a chunk fits in CHUNK_FLOATS (the
 * block's partial sums stay in L2 while all its K are added). */
static void chunking(int rows, long total, int *np, int *nch)
{
    long tiles = (total + NR - 1) / NR;
    long t = CHUNK_FLOATS / ((long)(rows < MC ? rows : MC) * NR);
    t = t < 1 ? 1 : t > tiles ? tiles : t;
    *nch = (int)((tiles + t - 1) / t);
    t = (tiles + *nch - 1) / *nch; /* the same work per chunk */
    *np = (int)(t * NR);
}

/* The shapes of layer l, and the method that runs it. */
static void conv_geometry(const nn_layer *l, conv_geom *g)
{
    const nn_layer_cfg *c = &l->cfg;
    g->c = l->in.c, g->h = l->in.h, g->w = l->in.w;
    g->o = l->out.c, g->oh = l->out.h, g->ow = l->out.w;
    g->kh = c->kh, g->kw = c->kw, g->sh = c->sh, g->sw = c->sw;
    g->pt = c->pt, g->pl = c->pl;
    g->k = g->c * g->kh * g->kw;
    g->shift = c->sh == 1 && c->sw == 1 && c->pt < c->kh && c->pb < c->kh &&
               c->pl < c->kw && c->pr < c->kw;
    if (g->shift) {
        int sf = g->w + c->pl + c->pr, sb = g->w + g->kw - 1;
        sb = sb > sf ? sb : sf;
        chunking(g->o, (long)g->oh * sf, &g->np_f, &g->nch_f);
        chunking(g->c, (long)g->h * sb, &g->np_d, &g->nch_d);
        long over_f = (long)g->nch_f * g->np_f - (long)g->oh * sf;
        long over_d = (long)g->nch_d * g->np_d - (long)g->h * sb;
        pad_geometry(&g->xf, g->c, g->h, g->w, c->pt, c->pl, g->h + c->pt + c->pb, sf,
                     over_f);
        pad_geometry(&g->xb, g->c, g->h, g->w, c->pt, c->pl, g->h + c->pt + c->pb, sb, 8);
        pad_geometry(&g->dyp, g->o, g->oh, g->ow, g->kh - 1 - c->pt, g->kw - 1 - c->pl,
                     g->h + g->kh - 1, sb, over_d > 8 ? over_d : 8);
        g->rows = 0;
        g->winograd = g->kh == 3 && g->kw == 3 && g->c >= WINOGRAD_CHANNELS &&
                      g->o >= WINOGRAD_CHANNELS;
        nn_winograd_plan(&g->wf, g->c, g->h, g->w, g->o, g->oh, g->ow, c->pt, c->pl);
        nn_winograd_plan(&g->wd, g->o, g->oh, g->ow, g->c, g->h, g->w, 2 - c->pt, 2 - c->pl);
    } else {
        g->winograd = 0;
        long rows = TILE_FLOATS / ((long)g->k * g->ow);
        g->rows = rows < 1 ? 1 : rows > g->oh ? g->oh : (int)rows;
    }
}

/* Threads for a batch of n: at most max (the OpenMP maximum when sizing
 * scratch, p->threads when running), at most n when the batch is split by
 * samples, and one when the work is too small to share. */
static int conv_threads(const conv_geom *g, int n, int max)
{
    int t = max > 0 ? max : 1;
    double work = (double)n * g->o * g->oh * g->ow * g->k;
    if (work < SMALL_WORK)
        return 1;
    if (!g->shift) /* im2col: a sample per thread */
        return t < n ? t : n < 1 ? 1 : n;
    return t;
}

/* ---- the layer ---------------------------------------------------------- */

static void conv_forward(nn_layer *l, const float *x, float *y, int n,
                         const nn_pass *p)
{
    conv_geom g;
    conv_geometry(l, &g);
    const float *wt = l->param[0].value;
    const float *bias = l->cfg.bias ? l->param[1].value : NULL;
    int nt = conv_threads(&g, n, p->threads);
    if (n <= 0)
        return;
    if (g.winograd)
        nn_winograd_conv(&g.wf, wt, 0, bias, x, y, n, nt, p->work);
    else if (g.shift)
        nn_conv_shift_forward(&g, wt, bias, x, y, n, nt, p->work);
    else
        nn_conv_im2col_forward(&g, wt, bias, x, y, n, nt, p->work);
}

static void conv_backward(nn_layer *l, const float *x, const float *y,
                          const float *dy, float *dx, int n, const nn_pass *p)
{
    (void)y;
    conv_geom g;
    conv_geometry(l, &g);
    const float *wt = l->param[0].value;
    float *gw = p->param_grads ? l->param[0].grad : NULL;
    float *gb = p->param_grads && l->cfg.bias ? l->param[1].grad : NULL;
    int nt = conv_threads(&g, n, p->threads);
    if (n <= 0 || (!dx && !gw))
        return;
    /* dx alone by Winograd, unless most output channels have no gradient
     * (the shifted sums skip those); with the weight gradients, the
     * shifted sums share their padded dy between the two */
    if (g.winograd && !gw && 2 * nn_conv_live_channels(&g, dy, n, NULL) > g.o)
        nn_winograd_conv(&g.wd, wt, 1, NULL, dy, dx, n, nt, p->work);
    else if (g.shift)
        nn_conv_shift_backward(&g, wt, x, dy, dx, gw, gb, n, nt, p->work);
    else
        nn_conv_im2col_backward(&g, wt, x, dy, dx, gw, gb, n, nt, p->work);
}

/* Floats of p->work for a batch of n on up to omp_get_max_threads()
 * threads; forward and backward use no more threads than that. */
static size_t conv_work_floats(const nn_layer *l, int n)
{
    conv_geom g;
    conv_geometry(l, &g);
    int nt = conv_threads(&g, n, omp_get_max_threads());
    if (!g.shift)
        return nn_conv_im2col_floats(&g, nt);
    size_t f = nn_conv_shift_forward_floats(&g, nt), b = nn_conv_shift_backward_floats(&g, n, nt);
    if (g.winograd) {
        size_t wf = nn_winograd_floats(&g.wf, n, nt), wd = nn_winograd_floats(&g.wd, n, nt);
        f = f > wf ? f : wf;
        f = f > wd ? f : wd;
    }
    return f > b ? f : b;
}

/* ---- text form ---------------------------------------------------------- */

static int conv_parse(nn_layer *l, nn_args *a, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    const char *stride = nn_args_option(a, "stride");
    const char *pad = nn_args_option(a, "pad");
    if (nn_args_count(a) != 2)
        return nn_args_fail(a, e, "expected the output channels and the kernel size; usage: %s",
                            l->type->usage);
    if (nn_args_int(a, nn_args_get(a, 0), "output channels", 1, &c->units, e) < 0 ||
        nn_args_pair(a, nn_args_get(a, 1), "kernel", &c->kh, &c->kw, e) < 0 ||
        (stride && nn_args_pair(a, stride, "stride", &c->sh, &c->sw, e) < 0) ||
        nn_args_pad(a, pad, c, e) < 0)
        return -1;
    return nn_args_weights(a, c, e);
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
    size_t n = snprintf(buf, size, "%d %dx%d", c->units, c->kh, c->kw);
    n = format_window(c, buf, size, n, c->sh == 1 && c->sw == 1);
    nn_format_weights(c, buf, size, n);
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
