/* layer_conv.c - 2-D convolution (cross-correlation, as PyTorch's Conv2d).
 *
 * x is [n, C, H, W], y is [n, O, OH, OW], weight is [O, C, kh, kw] = [O, K]
 * (K = C*kh*kw, k = (c*kh + i)*kw + j) and bias [O].
 *
 * Stride 1, padding smaller than the kernel (every convolution of the
 * reference networks): shifted sums, no column matrix. A sample is copied
 * into a zero-padded buffer xp [C, Hp, S] (rows of S >= W + pl + pr, the
 * data at row pt, column pl). At the flat position p = r*S + q, input cell
 * (r + i, q + j) of channel c is xp[off[k] + p] with off[k] = c*Hp*S + i*S
 * + j, so that
 *   forward   y[o, p] = bias[o] + sum_k weight[o, k] xp[off[k] + p]
 * for all p = r*S + q, r < OH, q < S; the outputs are the q < OW, the rest
 * are computed and dropped. The gradients are the same kind of product:
 * with dyp = dy zero-padded by kh-1-pt rows on top and kw-1-pl columns on
 * the left (row stride S, rows Hd = H + kh - 1),
 *   dx[c, h*S + w] = sum_{o,i,j} weight[o, c, kh-1-i, kw-1-j]
 *                                dyp[o*Hd*S + i*S + j + h*S + w]
 *   dweight[o, k] += sum_p dyp[o*Hd*S + (kh-1-pt)*S + kw-1-pl + p]
 *                          xp[off[k] + p]
 * (in the second, the dyp window is dy at q < OW and 0 at OW <= q < S).
 * The products run on micro-tiles of 4 rows x 24 positions (forward, dx)
 * and 4 x 3 dot products over positions (dweight) written with 8-float
 * vectors, blocked so that a tile's inputs stay in the L1 cache and the
 * weights in L2. 3x3 layers with at least WINOGRAD_CHANNELS input and
 * output channels run the forward, and dx when no weight gradient is
 * wanted (nn-vis, nn-featmap), by Winograd's F(2x2, 3x3) instead
 * (lib/winograd.c: 16 products of C per 4 outputs instead of 36); with the
 * weight gradients, the shifted sums share their padded dy between dx and
 * dweight. Other strides: im2col + OpenBLAS sgemm, col2im.
 *
 * Threads, one parallel region per call: a batch of at least as many
 * samples as threads runs whole samples on each thread, taken as threads
 * come free (buffers per thread in p->work); weight gradients are summed
 * per group of samples and the groups added in order, so a result depends
 * only on the number of threads. A smaller batch (nn-vis's 1) is cut into
 * units of (chunk of positions, block of output channels), each computed
 * from its own copy of the input rows it reads, so that no thread waits
 * for another; weight gradients, when wanted, split by output channels.
 * Work under SMALL_WORK multiply-adds runs on one thread. */
#include "nn.h"
#include "winograd_impl.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

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
#ifndef SMALL_WORK
#define WINOGRAD_CHANNELS 64 /* 3x3 layers with at least this many input
                              * and output channels: lib/winograd.c */
#define SMALL_WORK 100000000.0 /* multiply-adds below which one thread runs */
#endif

/* 8 floats: one AVX register (two SSE registers without AVX). v8u is the
 * same at any float's address (loads and stores of 8 floats). */
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define LOAD8(p) (*(const v8u *)(p))
#define STORE8(p, v) (*(v8u *)(p) = (v))
#define BCAST8(s) ((v8){(s), (s), (s), (s), (s), (s), (s), (s)})
/* The sum of the lanes of a v8 variable, in a fixed order. */
#define HSUM8(v) (((v)[0] + (v)[4]) + ((v)[1] + (v)[5]) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* ---- shapes ------------------------------------------------------------- */

/* A zero-padded copy of a [c, h, w] tensor: planes of rows x s (the data at
 * row top, column left) with zero rows under each plane for reads up to
 * `over` positions past the plane's rows (tiles past the last output),
 * and a zero tail. */
typedef struct pad_buf {
    int c, h, w, top, left;
    int s, rows, plane; /* row stride, rows with data and padding, floats per plane */
    size_t floats;      /* the whole buffer, a multiple of 16 */
} pad_buf;

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

/* ---- shifted sums: the kernels ------------------------------------------ */

/* c[m, 0..NR) (+)= sum_{k<kc} a[k*MR + m] b[off[k] + 0..NR) for m < mr:
 * a micro-tile, mr x NR accumulators in registers (mr is a constant where
 * it is inlined, so the loops over m and v unroll). add: c holds a partial
 * sum to add to. */
static inline __attribute__((always_inline)) void
tile_sum(const int mr, int kc, const float *restrict a, const int *restrict off,
         const float *restrict b, float *restrict c, size_t ldc, int add)
{
    v8 acc[MR][NV];
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < NV; v++)
            acc[m][v] = (v8){0};
    for (int k = 0; k < kc; k++, a += MR) {
        const float *bk = b + off[k];
        v8 bv[NV];
        for (int v = 0; v < NV; v++)
            bv[v] = LOAD8(bk + 8 * v);
        for (int m = 0; m < mr; m++) {
            v8 am = BCAST8(a[m]);
            for (int v = 0; v < NV; v++)
                acc[m][v] += am * bv[v];
        }
    }
    for (int m = 0; m < mr; m++) {
        float *cm = c + m * ldc;
        for (int v = 0; v < NV; v++) {
            if (add)
                acc[m][v] += LOAD8(cm + 8 * v);
            STORE8(cm + 8 * v, acc[m][v]);
        }
    }
}

static void tile_sum_full(int kc, const float *a, const int *off, const float *b,
                          float *c, size_t ldc, int add)
{
    tile_sum(MR, kc, a, off, b, c, ldc, add);
}

static void tile_sum_edge(int mr, int kc, const float *a, const int *off,
                          const float *b, float *c, size_t ldc, int add)
{
    if (mr == 3)
        tile_sum(3, kc, a, off, b, c, ldc, add);
    else if (mr == 2)
        tile_sum(2, kc, a, off, b, c, ldc, add);
    else
        tile_sum(1, kc, a, off, b, c, ldc, add);
}

/* out[m, 0..np) = sum_k A[m, k] src[off[k] + 0..np) for m in [mlo, mhi)
 * (mlo a multiple of MR), np a multiple of NR; A packed by pack_weight
 * (tiles of MR rows, [K][MR]). */
static void shifted_product(int mlo, int mhi, int K, const float *ap,
                            const int *off, const float *src, size_t np,
                            float *out, size_t ldo)
{
    for (int m0 = mlo; m0 < mhi; m0 += MC) {
        int m1 = m0 + MC < mhi ? m0 + MC : mhi;
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            for (size_t p = 0; p < np; p += NR)
                for (int m = m0; m < m1; m += MR) {
                    const float *a = ap + (size_t)m * K + (size_t)k0 * MR;
                    float *c = out + (size_t)m * ldo + p;
                    if (m1 - m >= MR)
                        tile_sum_full(kc, a, off + k0, src + p, c, ldo, k0 > 0);
                    else
                        tile_sum_edge(m1 - m, kc, a, off + k0, src + p, c, ldo, k0 > 0);
                }
        }
    }
}

/* Keeps v in a register: the compiler would otherwise fold its load into
 * every multiply-add that uses it, one load per use. */
#if defined(__GNUC__) && defined(__AVX__)
#define IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define IN_REGISTER(v) ((void)0)
#endif

/* dw[m, j] += sum_{p<np} a[m*lda + p] b_j[p] for m < 4, j < 3 (np a
 * multiple of 8): 12 dot products, 8 positions at a time. With dwv, the 8
 * lanes of each are added to dwv[(m*ldw + j)*8 ..] instead (summed later,
 * once for many calls). */
static void tile_dot43(size_t np, const float *restrict a, size_t lda,
                       const float *restrict b0, const float *restrict b1,
                       const float *restrict b2, float *restrict dw, size_t ldw,
                       float *restrict dwv)
{
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    v8 s00 = {0}, s01 = {0}, s02 = {0}, s10 = {0}, s11 = {0}, s12 = {0};
    v8 s20 = {0}, s21 = {0}, s22 = {0}, s30 = {0}, s31 = {0}, s32 = {0};
    for (size_t p = 0; p < np; p += 8) {
        v8 x0 = LOAD8(b0 + p), x1 = LOAD8(b1 + p), x2 = LOAD8(b2 + p);
        IN_REGISTER(x0);
        IN_REGISTER(x1);
        IN_REGISTER(x2);
        v8 d = LOAD8(a0 + p);
        IN_REGISTER(d);
        s00 += d * x0, s01 += d * x1, s02 += d * x2;
        d = LOAD8(a1 + p);
        IN_REGISTER(d);
        s10 += d * x0, s11 += d * x1, s12 += d * x2;
        d = LOAD8(a2 + p);
        IN_REGISTER(d);
        s20 += d * x0, s21 += d * x1, s22 += d * x2;
        d = LOAD8(a3 + p);
        IN_REGISTER(d);
        s30 += d * x0, s31 += d * x1, s32 += d * x2;
    }
    if (dwv) {
        v8u *acc[12];
        for (int m = 0; m < 4; m++)
            for (int j = 0; j < 3; j++)
                acc[m * 3 + j] = (v8u *)(dwv + (m * ldw + j) * 8);
        *acc[0] += s00, *acc[1] += s01, *acc[2] += s02, *acc[3] += s10;
        *acc[4] += s11, *acc[5] += s12, *acc[6] += s20, *acc[7] += s21;
        *acc[8] += s22, *acc[9] += s30, *acc[10] += s31, *acc[11] += s32;
        return;
    }
    dw[0] += HSUM8(s00), dw[1] += HSUM8(s01), dw[2] += HSUM8(s02);
    dw += ldw;
    dw[0] += HSUM8(s10), dw[1] += HSUM8(s11), dw[2] += HSUM8(s12);
    dw += ldw;
    dw[0] += HSUM8(s20), dw[1] += HSUM8(s21), dw[2] += HSUM8(s22);
    dw += ldw;
    dw[0] += HSUM8(s30), dw[1] += HSUM8(s31), dw[2] += HSUM8(s32);
}

/* dw[0] += sum_{p<np} a[p] b[p], two accumulators (edge tiles). */
static void tile_dot11(size_t np, const float *restrict a,
                       const float *restrict b, float *restrict dw)
{
    v8 s0 = {0}, s1 = {0};
    size_t p = 0;
    for (; p + 16 <= np; p += 16) {
        s0 += LOAD8(a + p) * LOAD8(b + p);
        s1 += LOAD8(a + p + 8) * LOAD8(b + p + 8);
    }
    if (p < np)
        s0 += LOAD8(a + p) * LOAD8(b + p);
    s0 += s1;
    dw[0] += HSUM8(s0);
}

/* A tile of mo <= 4 rows and mk <= 3 k's: 4 x 3 at once (lanes into dwv
 * when given), edges one by one into dw. */
static void tile_dot_any(int mo, int mk, size_t np, const float *a, size_t lda,
                         const float *src, const int *off, float *dw, size_t ldw,
                         float *dwv)
{
    if (mo == 4 && mk == 3) {
        tile_dot43(np, a, lda, src + off[0], src + off[1], src + off[2], dw, ldw, dwv);
        return;
    }
    for (int m = 0; m < mo; m++)
        for (int j = 0; j < mk; j++)
            tile_dot11(np, a + m * lda, src + off[j], dw + m * ldw + j);
}

/* dw[o, k] += sum_{p<np} a[o*lda + p] src[off[k] + p] for o in [o0, o1),
 * k < K (np a multiple of 8). In chunks of DOT_CHUNK positions, a tile's 4
 * rows of a stay in L1 while all k pass; src is read at 3 shifts of one
 * row per tile, so its traffic is low wherever it lives. */
static void dot_product(int o0, int o1, int K, const float *a, size_t lda,
                        const int *off, const float *src, size_t np, float *dw,
                        float *dwv)
{
    for (size_t p0 = 0; p0 < np; p0 += DOT_CHUNK) {
        size_t pc = np - p0 < DOT_CHUNK ? np - p0 : DOT_CHUNK;
        for (int o = o0; o < o1; o += 4) {
            int mo = o1 - o < 4 ? o1 - o : 4;
            for (int k = 0; k < K; k += 3) {
                int mk = K - k < 3 ? K - k : 3;
                tile_dot_any(mo, mk, pc, a + (size_t)o * lda + p0, lda, src + p0, off + k,
                             dw + (size_t)o * K + k, K,
                             dwv ? dwv + ((size_t)o * K + k) * 8 : NULL);
            }
        }
    }
}

/* ---- shifted sums: buffers ---------------------------------------------- */

/* Zeroes a pad_buf (the padding stays zero while pad_fill writes data). */
static void pad_clear(const pad_buf *b, float *buf)
{
    memset(buf, 0, b->floats * sizeof(float));
}

/* Copies planes [c0, c1) of src [c, h, w] into the data cells of buf. */
static void pad_fill(const pad_buf *b, const float *src, float *buf, int c0,
                     int c1)
{
    for (int c = c0; c < c1; c++)
        for (int r = 0; r < b->h; r++)
            memcpy(buf + (size_t)c * b->plane + (size_t)(r + b->top) * b->s + b->left,
                   src + ((size_t)c * b->h + r) * b->w, b->w * sizeof(float));
}

/* Rows of a unit buffer: the padded rows that positions [p0, p0 + np)
 * read at shifts up to (kh-1)*s + kw-1, counted from row p0 / s. */
static int unit_rows(const pad_buf *b, int np, int kh, int kw)
{
    return kh + 1 + (np + kw + b->s - 1) / b->s;
}

static size_t unit_floats(const pad_buf *b, int np, int kh, int kw)
{
    return round16((size_t)b->c * unit_rows(b, np, kh, kw) * b->s + 16);
}

/* Padded rows [r0, r0 + rows) of every plane of b, from src [c, h, w],
 * into buf as planes of rows x s: a unit of work's own copy of the rows it
 * reads, so that threads need not wait for a shared copy. */
static void pad_rows(const pad_buf *b, const float *src, int r0, int rows,
                     float *buf)
{
    int s = b->s, w = b->w;
    for (int c = 0; c < b->c; c++)
        for (int R = r0; R < r0 + rows; R++) {
            float *d = buf + ((size_t)c * rows + (R - r0)) * s;
            int r = R - b->top;
            if (r < 0 || r >= b->h) {
                memset(d, 0, s * sizeof(float));
                continue;
            }
            memset(d, 0, b->left * sizeof(float));
            memcpy(d + b->left, src + ((size_t)c * b->h + r) * w, w * sizeof(float));
            memset(d + b->left + w, 0, (s - b->left - w) * sizeof(float));
        }
}

/* off[k] for k = (c*kh + i)*kw + j over c < nc: ch[c]*plane + i*s + j
 * (ch NULL: channel c itself). */
static void shift_offsets(int *off, const int *ch, int nc, int kh, int kw, int plane, int s)
{
    for (int c = 0, k = 0; c < nc; c++)
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
                off[k++] = (ch ? ch[c] : c) * plane + i * s + j;
}

/* Packs rows of a [M, K] matrix, element (m, k) = get(m, k), into tiles
 * of MR rows: ap[(m/MR)*K*MR + k*MR + m%MR], zero rows past M. */
static void pack_weight(const float *wt, int M, int K, float *ap)
{
    for (int m0 = 0; m0 < M; m0 += MR)
        for (int k = 0; k < K; k++)
            for (int m = 0; m < MR; m++)
                ap[(size_t)m0 * K + (size_t)k * MR + m] =
                    m0 + m < M ? wt[(size_t)(m0 + m) * K + k] : 0.0f;
}

/* The weights of dx as a convolution of dyp over the no output channels
 * och[0..no): row c, column (n*kh + i)*kw + j holds weight[och[n], c,
 * kh-1-i, kw-1-j]; packed as pack_weight. */
static void pack_weight_flipped(const conv_geom *g, const float *wt, const int *och, int no,
                                float *ap)
{
    int C = g->c, kk = g->kh * g->kw, K = no * kk;
    for (int c0 = 0; c0 < C; c0 += MR)
        for (int n = 0; n < no; n++)
            for (int t = 0; t < kk; t++)
                for (int m = 0; m < MR; m++)
                    ap[(size_t)c0 * K + ((size_t)n * kk + t) * MR + m] =
                        c0 + m < C ? wt[((size_t)och[n] * C + c0 + m) * kk + kk - 1 - t]
                                   : 0.0f;
}

/* The output channels [0, o) whose gradient dy is not zero in every one of
 * the n samples, into och; their count. Where a whole channel's gradient
 * is zero (nn-vis's top layer: one channel per image) dx needs none of its
 * weights. och may be NULL: the count alone. */
static int live_channels(const conv_geom *g, const float *dy, int n, int *och)
{
    size_t plane = (size_t)g->oh * g->ow;
    int no = 0;
    for (int o = 0; o < g->o; o++) {
        int live = 0;
        for (int b = 0; b < n && !live; b++) {
            const float *p = dy + ((size_t)b * g->o + o) * plane;
            for (size_t q = 0; q < plane && !live; q++)
                live = p[q] != 0.0f;
        }
        if (live && och)
            och[no] = o;
        no += live;
    }
    return no;
}

static size_t packed_floats(int M, int K)
{
    return round16((size_t)(M + MR - 1) / MR * MR * K);
}

/* ---- shifted sums: forward ---------------------------------------------- */

/* Copies positions [p0, p0 + np) of rows [mlo, mhi) of out [m, np] (row
 * stride s) that are outputs (row < rows, column < w) to dst [m, rows, w],
 * adding add[m] (add may be NULL). */
static void compact(const float *out, int mlo, int mhi, int p0, int np, int s,
                    int rows, int w, const float *add, float *dst)
{
    int r0 = p0 / s, r1 = (p0 + np + s - 1) / s;
    r1 = r1 < rows ? r1 : rows;
    for (int c = mlo; c < mhi; c++) {
        float b = add ? add[c] : 0.0f;
        const float *src = out + (size_t)c * np - p0;
        float *d = dst + (size_t)c * rows * w;
        for (int r = r0; r < r1; r++) {
            int q0 = r * s < p0 ? p0 - r * s : 0;
            int q1 = (r + 1) * s > p0 + np ? p0 + np - r * s : s;
            q1 = q1 < w ? q1 : w;
            for (int q = q0; q < q1; q++)
                d[(size_t)r * w + q] = src[(size_t)r * s + q] + b;
        }
    }
}

/* Channels [mlo, mhi) of chunk ch of one sample's outputs from its padded
 * input xp: y[o, r, q] = bias[o] + sum_k weight[o, k] xp[off[k] + r*S + q]. */
static void forward_chunk(const conv_geom *g, const float *ap, const int *off,
                          const float *bias, const float *xp, int ch, int mlo,
                          int mhi, float *y, float *out)
{
    int p0 = ch * g->np_f;
    shifted_product(mlo, mhi, g->k, ap, off, xp + p0, g->np_f, out, g->np_f);
    compact(out, mlo, mhi, p0, g->np_f, g->xf.s, g->oh, g->ow, bias, y);
}

/* Work units of a sample split over nt threads: nch chunks times *nmb
 * blocks of *mb rows (a multiple of MR) of M, at least 4 units a thread
 * where the rows allow. */
static void split_rows(int M, int nch, int nt, int *mb, int *nmb)
{
    int want = (4 * nt + nch - 1) / nch, tiles = (M + MR - 1) / MR;
    want = want < 1 ? 1 : want > tiles ? tiles : want;
    *mb = (tiles + want - 1) / want * MR;
    *nmb = (M + *mb - 1) / *mb;
}

/* Scratch: packed weights and offsets (shared), then per thread the padded
 * input (shared when the batch is split by rows) and an output chunk. */
/* Scratch: packed weights and offsets (shared), then per thread the padded
 * input (a sample's, or a unit's rows when the batch is split by rows) and
 * an output chunk. */
static size_t shift_forward_floats(const conv_geom *g, int nt)
{
    size_t chunk = round16((size_t)g->o * g->np_f);
    size_t xu = unit_floats(&g->xf, g->np_f, g->kh, g->kw);
    size_t xp = g->xf.floats > xu ? g->xf.floats : xu;
    return packed_floats(g->o, g->k) + 2 * round16(g->k) + nt * (xp + chunk);
}

static void shift_forward(const conv_geom *g, const float *wt, const float *bias,
                          const float *x, float *y, int n, int nt, float *work)
{
    size_t xs = (size_t)g->c * g->h * g->w, ys = (size_t)g->o * g->oh * g->ow;
    size_t chunk = round16((size_t)g->o * g->np_f);
    size_t xu = unit_floats(&g->xf, g->np_f, g->kh, g->kw);
    size_t xpf = g->xf.floats > xu ? g->xf.floats : xu;
    int s = g->xf.s, rows_u = unit_rows(&g->xf, g->np_f, g->kh, g->kw);
    float *ap = work;
    int *off = (int *)(ap + packed_floats(g->o, g->k)), *off_u = off + round16(g->k);
    float *per = (float *)(off_u + round16(g->k));
    pack_weight(wt, g->o, g->k, ap);
    shift_offsets(off, NULL, g->c, g->kh, g->kw, g->xf.plane, s);
    shift_offsets(off_u, NULL, g->c, g->kh, g->kw, rows_u * s, s);
    int by_sample = n >= nt, mb, nmb;
    split_rows(g->o, g->nch_f, nt, &mb, &nmb);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num();
        float *xp = per + t * (xpf + chunk), *out = xp + xpf;
        if (by_sample) {
            pad_clear(&g->xf, xp);
#pragma omp for schedule(dynamic, 1)
            for (int b = 0; b < n; b++) {
                pad_fill(&g->xf, x + b * xs, xp, 0, g->c);
                for (int ch = 0; ch < g->nch_f; ch++)
                    forward_chunk(g, ap, off, bias, xp, ch, 0, g->o, y + b * ys, out);
            }
        } else {
            /* units of (sample, chunk, rows of weights), each from its own
             * copy of the input rows it reads: no waiting between units */
            int units = g->nch_f * nmb, last = -1;
#pragma omp for schedule(dynamic, 1)
            for (int u = 0; u < n * units; u++) {
                int b = u / units, ch = u % units / nmb, p0 = ch * g->np_f;
                int mlo = u % nmb * mb, mhi = mlo + mb < g->o ? mlo + mb : g->o;
                if (u / nmb != last) /* a new chunk: its rows */
                    pad_rows(&g->xf, x + b * xs, p0 / s, rows_u, xp);
                last = u / nmb;
                shifted_product(mlo, mhi, g->k, ap, off_u, xp + (p0 - p0 / s * s), g->np_f,
                                out, g->np_f);
                compact(out, mlo, mhi, p0, g->np_f, s, g->oh, g->ow, bias, y + b * ys);
            }
        }
    }
}

/* ---- shifted sums: backward --------------------------------------------- */

/* Channels [mlo, mhi) of chunk ch of one sample's dx from its padded
 * gradient dyp (written, not added). */
static void dx_chunk(const conv_geom *g, const float *af, const int *offd, int kd,
                     const float *dyp, int ch, int mlo, int mhi, float *dx,
                     float *out)
{
    int p0 = ch * g->np_d;
    shifted_product(mlo, mhi, kd, af, offd, dyp + p0, g->np_d, out, g->np_d);
    compact(out, mlo, mhi, p0, g->np_d, g->dyp.s, g->h, g->w, NULL, dx);
}

/* dweight rows [o0, o1) += the products of one sample's dy (in dyp) and
 * padded input xp (row stride S of both). */
static void dw_rows(const conv_geom *g, const int *offb, const float *dyp,
                    const float *xp, int o0, int o1, float *dw, float *dwv)
{
    int s = g->xb.s;
    size_t np = ((size_t)g->oh * s + 7) / 8 * 8;
    const float *a = dyp + (size_t)g->dyp.top * s + g->dyp.left;
    dot_product(o0, o1, g->k, a, g->dyp.plane, offb, xp, np, dw, dwv);
}

/* Floats of a thread's lane sums of dweight [O, K, 8] (0: too large; the
 * lanes are then summed at each call). */
static size_t lanes_floats(const conv_geom *g)
{
    size_t f = (size_t)g->o * g->k * 8;
    return f <= LANES_FLOATS ? f : 0;
}

/* db[o] += sum of one sample's dy[o, :, :]. */
static void db_sample(const conv_geom *g, const float *dy, float *db)
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

/* Scratch: packed flipped weights and offsets (shared), then per thread
 * the padded gradient and input (shared when split by rows), a dx chunk
 * and (a sample per thread, nt > 1) partial dweight and dbias. */
/* Groups of samples whose weight gradients are summed apart (a batch of at
 * least nt samples on nt > 1 threads): threads take groups as they come,
 * so a thread that runs slower (a busy machine) takes fewer; the sums are
 * then added in group order, so the result does not depend on which
 * thread took which group. Up to 4 per thread, as memory allows. */
static int dw_groups(const conv_geom *g, int n, int nt)
{
    if (nt <= 1 || n < nt)
        return 1;
    long part = (long)g->o * g->k + g->o, G = GROUP_FLOATS / part;
    G = G > 4L * nt ? 4L * nt : G < nt ? nt : G;
    return (int)(G < n ? G : n);
}

/* Scratch: packed flipped weights and offsets (shared), then per thread
 * the padded gradient and input (shared when split by rows; a unit's own
 * rows of the gradient for dx alone) and a dx chunk, then per group (more
 * than one) partial dweight and dbias. */
static size_t shift_backward_floats(const conv_geom *g, int n, int nt)
{
    int kd = g->o * g->kh * g->kw, G = dw_groups(g, n, nt);
    size_t chunk = round16((size_t)g->c * g->np_d);
    size_t part = G > 1 ? round16((size_t)g->o * g->k + g->o) : 0;
    size_t du = unit_floats(&g->dyp, g->np_d, g->kh, g->kw);
    size_t pads = g->dyp.floats + g->xb.floats > du ? g->dyp.floats + g->xb.floats : du;
    return packed_floats(g->c, kd) + 2 * round16(kd) + round16(g->k) + round16(g->o) +
           nt * (pads + chunk + lanes_floats(g)) + G * part;
}

static void shift_backward(const conv_geom *g, const float *wt, const float *x,
                           const float *dy, float *dx, float *gw, float *gb,
                           int n, int nt, float *work)
{
    size_t xs = (size_t)g->c * g->h * g->w, ys = (size_t)g->o * g->oh * g->ow;
    int kd = g->o * g->kh * g->kw, G = gw ? dw_groups(g, n, nt) : 1;
    size_t chunk = round16((size_t)g->c * g->np_d);
    size_t nw = (size_t)g->o * g->k;
    size_t part = G > 1 ? round16(nw + g->o) : 0;
    size_t du = unit_floats(&g->dyp, g->np_d, g->kh, g->kw);
    size_t pads = g->dyp.floats + g->xb.floats > du ? g->dyp.floats + g->xb.floats : du;
    int s = g->dyp.s, rows_u = unit_rows(&g->dyp, g->np_d, g->kh, g->kw);
    float *af = work;
    int *offd = (int *)(af + packed_floats(g->c, kd)), *offd_u = offd + round16(kd);
    int *offb = offd_u + round16(kd), *och = offb + round16(g->k);
    float *per = (float *)(och + round16(g->o));
    float *dyps = per, *xps = dyps + nt * g->dyp.floats;
    size_t nl = gw ? lanes_floats(g) : 0;
    float *outs = per + nt * pads, *lanes = outs + nt * chunk, *parts = lanes + nt * nl;
    /* dx alone needs only the output channels with a gradient */
    int no = g->o;
    if (!gw && (no = live_channels(g, dy, n, och)) == 0) {
        memset(dx, 0, (size_t)n * xs * sizeof(float)); /* no gradient at all */
        return;
    }
    if (gw)
        for (int o = 0; o < no; o++)
            och[o] = o;
    kd = no * g->kh * g->kw;
    if (dx)
        pack_weight_flipped(g, wt, och, no, af);
    shift_offsets(offd, och, no, g->kh, g->kw, g->dyp.plane, s);
    shift_offsets(offd_u, och, no, g->kh, g->kw, rows_u * s, s);
    shift_offsets(offb, NULL, g->c, g->kh, g->kw, g->xb.plane, g->xb.s);
    int by_sample = n >= nt, mb, nmb;
    split_rows(g->c, g->nch_d, nt, &mb, &nmb);
    if (by_sample && G == 1 && nt > 1) /* dx only: a group per sample */
        G = n;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num();
        float *dyp = dyps + (by_sample ? t : 0) * g->dyp.floats;
        float *xp = xps + (by_sample ? t : 0) * g->xb.floats;
        float *out = outs + t * chunk, *dwv = nl ? lanes + t * nl : NULL;
        if (!by_sample && !gw) {
            /* dx alone: units of (sample, chunk, rows of dx), each from its
             * own copy of the gradient rows it reads (as the forward) */
            float *du_t = per + t * pads;
            int units = g->nch_d * nmb, last = -1;
#pragma omp for schedule(dynamic, 1)
            for (int u = 0; u < n * units; u++) {
                int b = u / units, ch = u % units / nmb, p0 = ch * g->np_d;
                int mlo = u % nmb * mb, mhi = mlo + mb < g->c ? mlo + mb : g->c;
                if (u / nmb != last)
                    pad_rows(&g->dyp, dy + b * ys, p0 / s, rows_u, du_t);
                last = u / nmb;
                shifted_product(mlo, mhi, kd, af, offd_u, du_t + (p0 - p0 / s * s), g->np_d,
                                out, g->np_d);
                compact(out, mlo, mhi, p0, g->np_d, s, g->h, g->w, NULL, dx + b * xs);
            }
        } else if (by_sample) {
            pad_clear(&g->dyp, dyp);
            if (gw)
                pad_clear(&g->xb, xp);
#pragma omp for schedule(dynamic, 1)
            for (int grp = 0; grp < G; grp++) {
                float *dw = gw, *db = gb;
                if (gw && G > 1) {
                    dw = parts + grp * part, db = gb ? dw + nw : NULL;
                    memset(dw, 0, part * sizeof(float));
                }
                if (dwv)
                    memset(dwv, 0, nl * sizeof(float));
                for (int b = (int)((long)grp * n / G); b < (int)((long)(grp + 1) * n / G); b++) {
                    pad_fill(&g->dyp, dy + b * ys, dyp, 0, g->o);
                    if (dx)
                        for (int ch = 0; ch < g->nch_d; ch++)
                            dx_chunk(g, af, offd, kd, dyp, ch, 0, g->c, dx + b * xs, out);
                    if (gw) {
                        pad_fill(&g->xb, x + b * xs, xp, 0, g->c);
                        dw_rows(g, offb, dyp, xp, 0, g->o, dw, dwv);
                    }
                    if (db)
                        db_sample(g, dy + b * ys, db);
                }
                for (size_t i = 0; dwv && i < nw; i++) /* the group's lane sums */
                    dw[i] += HSUM8(dwv + i * 8);
            }
            /* grad += the partial sums, group 0 first */
            if (gw && G > 1) {
                size_t m = gb ? nw + g->o : nw;
#pragma omp for schedule(static)
                for (size_t i = 0; i < m; i++) {
                    float s = 0;
                    for (int u = 0; u < G; u++)
                        s += parts[u * part + i];
                    if (i < nw)
                        gw[i] += s;
                    else
                        gb[i - nw] += s;
                }
            }
        } else {
            /* output channels of dweight per thread, in whole tiles */
            int per_t = (g->o + nt * MR - 1) / (nt * MR) * MR;
            int o0 = t * per_t < g->o ? t * per_t : g->o;
            int o1 = o0 + per_t < g->o ? o0 + per_t : g->o;
#pragma omp single
            {
                pad_clear(&g->dyp, dyp);
                if (gw)
                    pad_clear(&g->xb, xp);
            }
            for (int b = 0; b < n; b++) {
#pragma omp for schedule(static)
                for (int o = 0; o < g->o; o++)
                    pad_fill(&g->dyp, dy + b * ys, dyp, o, o + 1);
                if (gw) {
#pragma omp for schedule(static)
                    for (int c = 0; c < g->c; c++)
                        pad_fill(&g->xb, x + b * xs, xp, c, c + 1);
                }
                if (dx) {
#pragma omp for schedule(dynamic, 1) nowait
                    for (int u = 0; u < g->nch_d * nmb; u++) {
                        int mlo = u % nmb * mb, mhi = mlo + mb < g->c ? mlo + mb : g->c;
                        dx_chunk(g, af, offd, kd, dyp, u / nmb, mlo, mhi, dx + b * xs, out);
                    }
                }
                if (gw && o1 > o0)
                    dw_rows(g, offb, dyp, xp, o0, o1, gw, NULL);
                if (gb && t == 0)
                    db_sample(g, dy + b * ys, gb);
#pragma omp barrier
            }
        }
    }
}

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
static size_t im2col_floats(const conv_geom *g, int nt)
{
    size_t part = nt > 1 ? round16((size_t)g->o * g->k + g->o) : 0;
    return nt * (col_floats(g) + part);
}

static void im2col_forward(const conv_geom *g, const float *wt,
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

static void im2col_backward(const conv_geom *g, const float *wt, const float *x,
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
                db_sample(g, dy + b * ys, db);
        }
        if (gw && nt > 1) {
            size_t m = gb ? nw + g->o : nw;
#pragma omp for schedule(static)
            for (size_t i = 0; i < m; i++) {
                float s = 0;
                for (int u = 0; u < nt; u++)
                    s += work[u * stride + cs + i];
                if (i < nw)
                    gw[i] += s;
                else
                    gb[i - nw] += s;
            }
        }
    }
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
        shift_forward(&g, wt, bias, x, y, n, nt, p->work);
    else
        im2col_forward(&g, wt, bias, x, y, n, nt, p->work);
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
    if (g.winograd && !gw && 2 * live_channels(&g, dy, n, NULL) > g.o)
        nn_winograd_conv(&g.wd, wt, 1, NULL, dy, dx, n, nt, p->work);
    else if (g.shift)
        shift_backward(&g, wt, x, dy, dx, gw, gb, n, nt, p->work);
    else
        im2col_backward(&g, wt, x, dy, dx, gw, gb, n, nt, p->work);
}

/* Floats of p->work for a batch of n on up to omp_get_max_threads()
 * threads; forward and backward use no more threads than that. */
static size_t conv_work_floats(const nn_layer *l, int n)
{
    conv_geom g;
    conv_geometry(l, &g);
    int nt = conv_threads(&g, n, omp_get_max_threads());
    if (!g.shift)
        return im2col_floats(&g, nt);
    size_t f = shift_forward_floats(&g, nt), b = shift_backward_floats(&g, n, nt);
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
