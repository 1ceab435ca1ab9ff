// pixels.cu - pixel and reduction work on device buffers: the bicubic
// resize and the box blur of float planes (each value by resample_impl.h's
// arithmetic, shared with lib/image.c), vis.c's normalize, denormalize and
// clamp, featmap.c's channel means, and the sums and strided samples that
// nn-featmap brings back. Reductions add in a fixed order (no atomics), so
// a result has the same bits on every run.
#include "cuda_impl.h"
#include "resample_impl.h"

// Grid-stride launches: at most this many blocks of 256 threads, whatever
// n (the loops cover the rest), so no grid goes near the limits.
#define MAX_BLOCKS 65536u
static unsigned grid_of(size_t n)
{
    size_t b = (n + 255) / 256; // nn_cuda_blocks would wrap past 2^40
    return b < MAX_BLOCKS ? (unsigned)(b ? b : 1) : MAX_BLOCKS;
}

#define FOR_EACH(i, n)                                                                       \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                  \
         i += (size_t)gridDim.x * blockDim.x)

// Adds the 256 values of v (shared, one per thread) into v[0] by halves:
// the same order on every run. Ends synchronized.
__device__ void block_sum(double *v)
{
    for (unsigned s = 128; s > 0; s >>= 1) {
        __syncthreads();
        if (threadIdx.x < s)
            v[threadIdx.x] += v[threadIdx.x + s];
    }
    __syncthreads();
}

// ---- resize and blur -----------------------------------------------------

// dst [planes, oh, ow] = src [planes, h, w] resized, value by value.
__global__ void resize_points(const float *src, int h, int w, float *dst, int oh, int ow,
                              size_t total)
{
    size_t iplane = (size_t)h * (size_t)w, oplane = (size_t)oh * (size_t)ow;
    FOR_EACH(i, total) {
        size_t p = i / oplane, r = i % oplane;
        int oy = (int)(r / (size_t)ow), ox = (int)(r % (size_t)ow);
        dst[i] = nn_resize_point(src + p * iplane, h, w, oh, ow, oy, ox);
    }
}

extern "C" int nn_cuda_resize_bicubic(nn_cuda *g, const float *src, int planes, int h, int w,
                                      float *dst, int oh, int ow, nn_error *e)
{
    if (planes < 0 || h < 1 || w < 1 || oh < 1 || ow < 1)
        return nn_fail(e, "resize: %d planes of %dx%d to %dx%d: sizes must be positive",
                       planes, h, w, oh, ow);
    size_t total = (size_t)planes * (size_t)oh * (size_t)ow;
    if (total == 0)
        return 0;
    resize_points<<<grid_of(total), 256, 0, g->stream>>>(src, h, w, dst, oh, ow, total);
    LAUNCHED();
    return 0;
}

// One pass of the box blur over [planes, h, w]: along rows (along = 0,
// out[p, y, x] = mean of in's row y around x) or along columns (1).
__global__ void box_pass(const float *in, float *out, int h, int w, int r, int along,
                         size_t total)
{
    size_t plane = (size_t)h * (size_t)w;
    FOR_EACH(i, total) {
        size_t p = i / plane, q = i % plane;
        int y = (int)(q / (size_t)w), x = (int)(q % (size_t)w);
        const float *base = in + p * plane;
        out[i] = along ? nn_box_point(base + x, (size_t)w, h, r, y)
                       : nn_box_point(base + (size_t)y * (size_t)w, 1, w, r, x);
    }
}

extern "C" int nn_cuda_blur_box(nn_cuda *g, float *img, int planes, int h, int w, int k,
                                float *tmp, nn_error *e)
{
    if (planes < 0 || h < 1 || w < 1)
        return nn_fail(e, "blur: %d planes of %dx%d: sizes must be positive", planes, h, w);
    size_t total = (size_t)planes * (size_t)h * (size_t)w;
    if (k <= 1 || total == 0)
        return 0;
    int r = k / 2; // an even k counts as k + 1, as in nn_blur_box
    box_pass<<<grid_of(total), 256, 0, g->stream>>>(img, tmp, h, w, r, 0, total);
    LAUNCHED();
    box_pass<<<grid_of(total), 256, 0, g->stream>>>(tmp, img, h, w, r, 1, total);
    LAUNCHED();
    return 0;
}

// ---- normalize, denormalize, clamp ------------------------------------------

struct pixel_stats {
    float mean[4], std[4];
};

// y [n, c, plane] = op(x), channel ch with mean/std[min(ch, 3)], as
// vis.c's normalize(), denormalize() and to_rgb()'s clamp.
__global__ void pixels_op(int op, pixel_stats st, const float *x, float *y, int c,
                          size_t plane, size_t total)
{
    FOR_EACH(i, total) {
        float v = x[i];
        if (op == NN_PIXELS_CLAMP) {
            y[i] = v < 0 ? 0.0f : v > 1 ? 1.0f : v != v ? 0.0f : v;
            continue;
        }
        int ch = (int)((i / plane) % (size_t)c), k = ch < 4 ? ch : 3;
        if (op == NN_PIXELS_NORMALIZE)
            y[i] = (v - st.mean[k]) * (1.0f / st.std[k]);
        else
            y[i] = v * st.std[k] + st.mean[k];
    }
}

extern "C" int nn_cuda_pixels(nn_cuda *g, nn_pixels_op op, const float *x, float *y, int n,
                              int c, size_t plane, const float mean[4], const float std[4],
                              nn_error *e)
{
    if (n < 0 || c < 0)
        return nn_fail(e, "pixels: %d samples of %d channels", n, c);
    if (op != NN_PIXELS_NORMALIZE && op != NN_PIXELS_DENORMALIZE && op != NN_PIXELS_CLAMP)
        return nn_fail(e, "pixels: unknown operation %d", (int)op);
    size_t total = (size_t)n * (size_t)c * plane;
    if (total == 0)
        return 0;
    pixel_stats st = {{0, 0, 0, 0}, {1, 1, 1, 1}};
    if (op != NN_PIXELS_CLAMP)
        for (int i = 0; i < 4; i++)
            st.mean[i] = mean[i], st.std[i] = std[i];
    pixels_op<<<grid_of(total), 256, 0, g->stream>>>((int)op, st, x, y, c, plane, total);
    LAUNCHED();
    return 0;
}

// ---- reductions ---------------------------------------------------------------

// means[r] = the mean of row r of act [rows, plane], in double: a block per
// row (blocks loop over rows past the grid), 256 threads each adding every
// 256th value, then block_sum.
__global__ void row_means(const float *act, size_t rows, size_t plane, float *means)
{
    __shared__ double part[256];
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *p = act + r * plane;
        double s = 0;
        for (size_t j = threadIdx.x; j < plane; j += blockDim.x)
            s += p[j];
        part[threadIdx.x] = s;
        block_sum(part);
        if (threadIdx.x == 0)
            means[r] = (float)(part[0] / (double)plane);
        __syncthreads(); // part is refilled for the next row
    }
}

extern "C" int nn_cuda_channel_means(nn_cuda *g, const float *act, int n, nn_dims d,
                                     float *means, nn_error *e)
{
    if (n < 0 || d.c < 0 || d.h < 0 || d.w < 0)
        return nn_fail(e, "channel means: %d samples of %dx%dx%d", n, d.c, d.h, d.w);
    size_t rows = (size_t)n * (size_t)d.c, plane = (size_t)d.h * (size_t)d.w;
    if (rows == 0)
        return 0;
    unsigned blocks = rows < MAX_BLOCKS ? (unsigned)rows : MAX_BLOCKS;
    row_means<<<blocks, 256, 0, g->stream>>>(act, rows, plane, means);
    LAUNCHED();
    return 0;
}

// The sums take SUM_BLOCKS blocks of 256 threads whatever n: thread t of
// block b adds x[b * 256 + t + k * SUM_BLOCKS * 256] for k = 0, 1, ...,
// so the order of the additions depends on n only.
#define SUM_BLOCKS 256

// part[2b], part[2b + 1] = block b's sum and sum of squares.
__global__ void sums_partial(const float *x, size_t n, double *part)
{
    __shared__ double s1[256], s2[256];
    double a = 0, q = 0;
    FOR_EACH(i, n) {
        double v = x[i];
        a += v, q += v * v;
    }
    s1[threadIdx.x] = a, s2[threadIdx.x] = q;
    block_sum(s1);
    block_sum(s2);
    if (threadIdx.x == 0)
        part[2 * blockIdx.x] = s1[0], part[2 * blockIdx.x + 1] = s2[0];
}

// out[0..1] = the sums of the nb partials of part, one block of 256.
__global__ void sums_final(const double *part, int nb, double *out)
{
    __shared__ double s1[256], s2[256];
    double a = 0, q = 0;
    for (int b = threadIdx.x; b < nb; b += blockDim.x)
        a += part[2 * b], q += part[2 * b + 1];
    s1[threadIdx.x] = a, s2[threadIdx.x] = q;
    block_sum(s1);
    block_sum(s2);
    if (threadIdx.x == 0)
        out[0] = s1[0], out[1] = s2[0];
}

extern "C" int nn_cuda_sums(nn_cuda *g, const float *x, size_t n, double sums[2], nn_error *e)
{
    sums[0] = sums[1] = 0;
    if (n == 0)
        return 0;
    // partials [SUM_BLOCKS, 2], then the two results
    double *part = (double *)nn_cuda_workspace(g, (2 * SUM_BLOCKS + 2) * sizeof(double), e);
    if (!part)
        return -1;
    sums_partial<<<SUM_BLOCKS, 256, 0, g->stream>>>(x, n, part);
    LAUNCHED();
    sums_final<<<1, 256, 0, g->stream>>>(part, SUM_BLOCKS, part + 2 * SUM_BLOCKS);
    LAUNCHED();
    double got[2];
    CUDA_TRY(cudaMemcpyAsync(got, part + 2 * SUM_BLOCKS, sizeof got, cudaMemcpyDeviceToHost,
                             g->stream));
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    sums[0] = got[0], sums[1] = got[1];
    return 0;
}

// ---- strided samples -------------------------------------------------------------

// out[j] = x[first + j * stride] for j < count.
__global__ void gather_strided(const float *x, size_t first, size_t stride, size_t count,
                               float *out)
{
    FOR_EACH(j, count)
        out[j] = x[first + j * stride];
}

extern "C" int nn_cuda_gather(nn_cuda *g, const float *x, size_t first, size_t stride,
                              size_t count, float *out, nn_error *e)
{
    if (count == 0)
        return 0;
    float *stage = (float *)nn_cuda_workspace(g, count * sizeof(float), e);
    if (!stage)
        return -1;
    gather_strided<<<grid_of(count), 256, 0, g->stream>>>(x, first, stride, count, stage);
    LAUNCHED();
    CUDA_TRY(cudaMemcpyAsync(out, stage, count * sizeof(float), cudaMemcpyDeviceToHost,
                             g->stream));
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    return 0;
}
