/* conv_im2col.c - convolutions of other strides (or padding as large as
 * the kernel) for the conv layer (lib/layer_conv.c): each band of output
 * rows takes a column matrix of its inputs [K, rows*OW] (im2col) and one
 * OpenBLAS sgemm; the input gradient scatters the columns back (col2im).
 * A sample per thread; weight gradients summed per thread, then in
 * order. */
#include "conv_impl.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- im2col (other strides) --------------------------------------------- */

/* Floats of column buffer one thread needs (a multiple of 16). */
static size_t col_floats(const conv_geom *g)
{
    return round16((size_t)g->k * g->rows * g->ow);
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
static void im2col_forward_sample(const conv_geom *g, const float *wt,
                                  const float *bias, const float *x, float *y,
                                  float *col)
{
    int ohw = g->oh * g->ow;
    for (int r0 = 0; r0 < g->oh; r0 += g->rows) {
        int r1 = r0 + g->rows < g->oh ? r0 + g->rows : g->oh;
        int np = (r1 - r0) * g->ow;
        float *yt = y + (size_t)r0 * g->ow;
        im2col(g, x, r0, r1, col);
        if (bias)
            for (int o = 0; o < g->o; o++)
                for (int q = 0; q < np; q++)
                    yt[(size_t)o * ohw + q] = bias[o];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->o, np, g->k,
                    1.0f, wt, g->k, col, np, bias ? 1.0f : 0.0f, yt, ohw);
    }
}

/* One sample: dw [O, K] += dy . col^T (when dw), and dx = col2im(weight^T
 * . dy) (when dx). col is scratch of col_floats(g). */
static void im2col_backward_sample(const conv_geom *g, const float *wt,
                                   const float *x, const float *dy, float *dx,
                                   float *dw, float *col)
{
    int ohw = g->oh * g->ow;
    if (dx)
        memset(dx, 0, (size_t)g->c * g->h * g->w * sizeof(float));
    for (int r0 = 0; r0 < g->oh; r0 += g->rows) {
        int r1 = r0 + g->rows < g->oh ? r0 + g->rows : g->oh;
        int np = (r1 - r0) * g->ow;
        const float *dyt = dy + (size_t)r0 * g->ow;
        if (dw) {
            im2col(g, x, r0, r1, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->o, g->k, np,
                        1.0f, dyt, ohw, col, np, 1.0f, dw, g->k);
        }
        if (dx) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->k, np, g->o,
                        1.0f, wt, g->k, dyt, ohw, 0.0f, col, np);
            col2im(g, col, r0, r1, dx);
        }
    }
}

/* Per thread: a column buffer, then (nt > 1) partial dweight and dbias. */
size_t nn_conv_im2col_floats(const conv_geom *g, int nt)
{
    size_t part = nt > 1 ? round16((size_t)g->o * g->k + g->o) : 0;
    return nt * (col_floats(g) + part);
}

void nn_conv_im2col_forward(const conv_geom *g, const float *wt,
                           const float *bias, const float *x, float *y, int n,
                           int nt, float *work)
{
    size_t xs = (size_t)g->c * g->h * g->w, ys = (size_t)g->o * g->oh * g->ow;
    size_t stride = col_floats(g) + (nt > 1 ? round16((size_t)g->o * g->k + g->o) : 0);
    /* with nt == 1 the region is inactive and OpenBLAS uses its threads */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int b = 0; b < n; b++)
        im2col_forward_sample(g, wt, bias, x + b * xs, y + b * ys,
                              work + omp_get_thread_num() * stride);
}

void nn_conv_im2col_backward(const conv_geom *g, const float *wt, const float *x,
                            const float *dy, float *dx, float *gw, float *gb,
                            int n, int nt, float *work)
{
    size_t xs = (size_t)g->c * g->h * g->w, ys = (size_t)g->o * g->oh * g->ow;
    size_t nw = (size_t)g->o * g->k, cs = col_floats(g);
    size_t part = nt > 1 ? round16(nw + g->o) : 0, stride = cs + part;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = work + omp_get_thread_num() * stride;
        float *dw = gw, *db = gb;
        if (gw && nt > 1) {
            dw = col + cs, db = gb ? dw + nw : NULL;
            memset(dw, 0, part * sizeof(float));
        }
#pragma omp for schedule(static)
        for (int b = 0; b < n; b++) {
            im2col_backward_sample(g, wt, x + b * xs, dy + b * ys,
                                   dx ? dx + b * xs : NULL, dw, col);
            if (db)
                nn_conv_db_sample(g, dy + b * ys, db);
        }
        if (gw && nt > 1)
            nn_conv_add_parts(work + cs, nt, stride, nw, g->o, gw, gb);
    }
}
