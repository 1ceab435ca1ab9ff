/* winograd_impl.h - 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3),
 * for lib/layer_conv.c (lib/winograd.c). */
#ifndef NN_WINOGRAD_IMPL_H
#define NN_WINOGRAD_IMPL_H

#include <stddef.h>

/* y [n, o, oh, ow] from x [n, c, h, w] and 3x3 filters: output (r, q)
 * reads input rows r - pt .. r - pt + 2, columns q - pl .. q - pl + 2
 * (zero outside the input). */
typedef struct nn_winograd {
    int c, h, w;   /* input */
    int o, oh, ow; /* output */
    int pt, pl;    /* padding on top and left */
    int th, tw;    /* tiles of 2x2 outputs: rows, columns */
    int rows;      /* tile rows per block */
} nn_winograd;

void nn_winograd_plan(nn_winograd *w, int c, int h, int wd, int o, int oh, int ow, int pt,
                      int pl);

/* Floats of work nn_winograd_conv needs for a batch of n on nt threads. */
size_t nn_winograd_floats(const nn_winograd *w, int n, int nt);

/* The convolution on up to nt threads. wt is a conv layer's weight
 * [o, c, 3, 3]; flipped: wt is [c, o, 3, 3] and each filter is turned by
 * 180 degrees, which makes y the gradient to the input of the layer whose
 * output gradient is x. bias [o] may be NULL. */
void nn_winograd_conv(const nn_winograd *w, const float *wt, int flipped, const float *bias,
                      const float *x, float *y, int n, int nt, float *work);

#endif
