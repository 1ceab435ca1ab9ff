/* conv_shift.c - stride-1 convolutions (padding smaller than the kernel:
 * every convolution of the reference networks) by shifted sums, no column
 * matrix; the conv layer's forward and backward for them (lib/layer_conv.c).
 *
 * A sample is copied into a zero-padded buffer xp [C, Hp, S] (rows of
 * S >= W + pl + pr, the data at row pt, column pl). At the flat position p = r*S + q, input cell
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
 * weights in L2.
 *
 * Threads, one parallel region per call: a batch of at least as many
 * samples as threads runs whole samples on each thread, taken as threads
 * come free (buffers per thread in p->work); weight gradients are summed
 * per group of samples and the groups added in order, so a result depends
 * only on the number of threads. A smaller batch (nn-vis's 1) is cut into
 * units of (chunk of positions, block of output channels), each computed
 * from its own copy of the input rows it reads, so that no thread waits
 * for another; weight gradients, when wanted, split by output channels.
 * (Work under SMALL_WORK multiply-adds runs on one thread: lib/layer_conv.c.) */
#include "conv_impl.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* 8 floats: one AVX register (two SSE registers without AVX). v8u is the
 * same at any float's address (loads and stores of 8 floats). */
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define LOAD8(p) (*(const v8u *)(p))
#define STORE8(p, v) (*(v8u *)(p) = (v))
#define BCAST8(s) ((v8){(s), (s), (s), (s), (s), (s), (s), (s)})
/* The sum of the lanes of a v8 variable, in a fixed order. */
#define HSUM8(v) (((v)[0] + (v)[4]) + ((v)[1] + (v)[5]) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))

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
int nn_conv_live_channels(const conv_geom *g, const float *dy, int n, int *och)
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
size_t nn_conv_shift_forward_floats(const conv_geom *g, int nt)
{
    size_t chunk = round16((size_t)g->o * g->np_f);
    size_t xu = unit_floats(&g->xf, g->np_f, g->kh, g->kw);
    size_t xp = g->xf.floats > xu ? g->xf.floats : xu;
    return packed_floats(g->o, g->k) + 2 * round16(g->k) + nt * (xp + chunk);
}

void nn_conv_shift_forward(const conv_geom *g, const float *wt, const float *bias,
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
size_t nn_conv_shift_backward_floats(const conv_geom *g, int n, int nt)
{
    int kd = g->o * g->kh * g->kw, G = dw_groups(g, n, nt);
    size_t chunk = round16((size_t)g->c * g->np_d);
    size_t part = G > 1 ? round16((size_t)g->o * g->k + g->o) : 0;
    size_t du = unit_floats(&g->dyp, g->np_d, g->kh, g->kw);
    size_t pads = g->dyp.floats + g->xb.floats > du ? g->dyp.floats + g->xb.floats : du;
    return packed_floats(g->c, kd) + 2 * round16(kd) + round16(g->k) + round16(g->o) +
           nt * (pads + chunk + lanes_floats(g)) + G * part;
}

void nn_conv_shift_backward(const conv_geom *g, const float *wt, const float *x,
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
    if (!gw && (no = nn_conv_live_channels(g, dy, n, och)) == 0) {
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
                        nn_conv_db_sample(g, dy + b * ys, db);
                }
                for (size_t i = 0; dwv && i < nw; i++) /* the group's lane sums */
                    dw[i] += HSUM8(dwv + i * 8);
            }
            /* grad += the partial sums, group 0 first */
            if (gw && G > 1)
                nn_conv_add_parts(parts, G, part, nw, g->o, gw, gb);
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
                    nn_conv_db_sample(g, dy + b * ys, gb);
#pragma omp barrier
            }
        }
    }
}
