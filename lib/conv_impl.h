/* conv_impl.h - what the conv layer's files share (lib/layer_conv.c: the
 * layer and its shapes; lib/conv_shift.c: stride 1 by shifted sums;
 * lib/conv_im2col.c: other strides by im2col and sgemm). */
#ifndef NN_CONV_IMPL_H
#define NN_CONV_IMPL_H

#include "nn.h"
#include "winograd_impl.h"

#define MR 4              /* rows (output channels) of a micro-tile */
#define NV 3              /* vectors of 8 positions per row of a micro-tile */
#define NR (8 * NV)       /* positions of a micro-tile */
#define MC 128            /* rows of weights per block (L2) */
#define KC 256            /* k's per block (the tile's inputs in L1) */
#define CHUNK_FLOATS 32768 /* output chunk of rows x positions (L2) */
#define GROUP_FLOATS (1 << 22) /* partial weight gradients of all groups */
#define DOT_CHUNK 1024    /* positions per dweight chunk: 4 rows of dy in L1 */
#define LANES_FLOATS (1 << 20) /* per thread: 8 lanes of each weight gradient */
#define TILE_FLOATS (1 << 21) /* im2col: column-matrix floats per thread */

static inline size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* A zero-padded copy of a [c, h, w] tensor: planes of rows x s (the data at
 * row top, column left) with zero rows under each plane for reads up to
 * `over` positions past the plane's rows (tiles past the last output),
 * and a zero tail. */
typedef struct pad_buf {
    int c, h, w, top, left;
    int s, rows, plane; /* row stride, rows with data and padding, floats per plane */
    size_t floats;      /* the whole buffer, a multiple of 16 */
} pad_buf;

/* Everything a sample's forward or backward needs to know about shapes. */
typedef struct conv_geom {
    int c, h, w;    /* input */
    int o, oh, ow;  /* output */
    int kh, kw, sh, sw, pt, pl;
    int k;          /* c*kh*kw */
    int shift;      /* 1: stride 1 and padding < kernel: shifted sums */
    /* shifted sums */
    pad_buf xf;     /* forward input, s = W + pl + pr */
    pad_buf xb, dyp; /* backward input and gradient, s = max(W + kw - 1, W + pl + pr) */
    int np_f, np_d;  /* positions per chunk (multiples of NR): forward, dx */
    int nch_f, nch_d; /* chunks per sample */
    /* Winograd: forward and dx of 3x3 layers with many channels */
    int winograd;
    nn_winograd wf, wd;
    /* im2col */
    int rows;       /* output rows per band */
} conv_geom;

/* db[o] += sum of one sample's dy[o, :, :]. */
static inline void nn_conv_db_sample(const conv_geom *g, const float *dy, float *db)
{
    int ohw = g->oh * g->ow;
    for (int o = 0; o < g->o; o++) {
        const float *d = dy + (size_t)o * ohw;
        float s = 0;
        for (int q = 0; q < ohw; q++)
            s += d[q];
        db[o] += s;
    }
}

/* Called by every thread of a parallel region: gw [nw] and gb [o] (NULL:
 * no bias) += the sum of the n per-thread blocks parts[u * stride + i]
 * (nw weight values, then o bias values), block 0 first, so the result
 * does not depend on how the values are shared among the threads. */
static inline void nn_conv_add_parts(const float *parts, int n, size_t stride, size_t nw,
                                     int o, float *gw, float *gb)
{
    size_t m = gb ? nw + (size_t)o : nw;
#pragma omp for schedule(static)
    for (size_t i = 0; i < m; i++) {
        float s = 0;
        for (int u = 0; u < n; u++)
            s += parts[(size_t)u * stride + i];
        if (i < nw)
            gw[i] += s;
        else
            gb[i - nw] += s;
    }
}

/* ---- stride 1: shifted sums (lib/conv_shift.c) ---- */

/* Floats of p->work each needs for a batch of n on nt threads. */
size_t nn_conv_shift_forward_floats(const conv_geom *g, int nt);
size_t nn_conv_shift_backward_floats(const conv_geom *g, int n, int nt);
/* y [n, O, OH, OW] = conv(x) + bias (bias may be NULL). */
void nn_conv_shift_forward(const conv_geom *g, const float *wt, const float *bias,
                           const float *x, float *y, int n, int nt, float *work);
/* dx (may be NULL) and, when gw is not NULL, gw += dweight, gb += dbias
 * (gb may be NULL). */
void nn_conv_shift_backward(const conv_geom *g, const float *wt, const float *x,
                            const float *dy, float *dx, float *gw, float *gb, int n, int nt,
                            float *work);
/* The output channels whose gradient dy is not zero in every one of the n
 * samples, into och (may be NULL); their count. */
int nn_conv_live_channels(const conv_geom *g, const float *dy, int n, int *och);

/* ---- other strides: im2col + sgemm (lib/conv_im2col.c) ---- */

size_t nn_conv_im2col_floats(const conv_geom *g, int nt);
void nn_conv_im2col_forward(const conv_geom *g, const float *wt, const float *bias,
                            const float *x, float *y, int n, int nt, float *work);
void nn_conv_im2col_backward(const conv_geom *g, const float *wt, const float *x,
                             const float *dy, float *dx, float *gw, float *gb, int n, int nt,
                             float *work);

#endif
