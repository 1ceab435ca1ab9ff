/* resample_impl.h - the per-value arithmetic of bicubic resizing and box
 * blurring that the CPU (lib/image.c) and the GPU (kernels/pixels.cu)
 * share, so both compute each value by the same weights (equal within
 * rounding: the GPU fuses multiply-adds). */
#ifndef NN_RESAMPLE_IMPL_H
#define NN_RESAMPLE_IMPL_H

#include <math.h>
#include <stddef.h>

#ifdef __CUDACC__
#define NN_HD __host__ __device__
#else
#define NN_HD
#endif

/* Keys' cubic convolution kernel with a = -0.5 (Catmull-Rom). */
static inline NN_HD double nn_keys(double x)
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1)
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2)
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Output value (oy, ox) of plane src (h x w) resized to oh x ow, straight
 * from the 2-D kernel: output sample i is centred at input coordinate
 * (i + 0.5) * in / out, the kernel stretched by the reduction factor (>=
 * 1), the taps outside the plane dropped and the rest normalised to sum
 * 1 (PIL's bicubic; image.c's tables hold the same weights). */
static inline NN_HD float nn_resize_point(const float *src, int h, int w, int oh, int ow,
                                          int oy, int ox)
{
    double sy = (double)h / oh, sx = (double)w / ow;
    double fy = sy > 1 ? sy : 1, fx = sx > 1 ? sx : 1;
    double cy = (oy + 0.5) * sy, cx = (ox + 0.5) * sx;
    int y0 = (int)floor(cy - 2 * fy + 0.5), y1 = (int)floor(cy + 2 * fy + 0.5);
    int x0 = (int)floor(cx - 2 * fx + 0.5), x1 = (int)floor(cx + 2 * fx + 0.5);
    y0 = y0 < 0 ? 0 : y0, x0 = x0 < 0 ? 0 : x0;
    y1 = y1 > h ? h : y1, x1 = x1 > w ? w : x1;
    double swy = 0, swx = 0, s = 0;
    for (int x = x0; x < x1; x++)
        swx += nn_keys((x + 0.5 - cx) / fx);
    for (int y = y0; y < y1; y++) {
        double wy = nn_keys((y + 0.5 - cy) / fy), r = 0;
        swy += wy;
        for (int x = x0; x < x1; x++)
            r += nn_keys((x + 0.5 - cx) / fx) * src[(size_t)y * (size_t)w + (size_t)x];
        s += wy * r;
    }
    return swx != 0 && swy != 0 ? (float)(s / (swx * swy)) : 0;
}

/* The mean of the 2r+1 values of line p (n values, stride step) centred
 * on value i, indices beyond either end clamped to the first or last
 * (replicated borders), summed in double. */
static inline NN_HD float nn_box_point(const float *p, size_t step, int n, int r, int i)
{
    double s = 0;
    for (int j = i - r; j <= i + r; j++)
        s += p[(size_t)(j < 0 ? 0 : j >= n ? n - 1 : j) * step];
    return (float)(s / (2 * r + 1));
}

#endif
