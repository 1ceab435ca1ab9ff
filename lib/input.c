/* input.c - 8-bit images to the float input a model expects:
 * x[c,y,x] = (u/255 - mean[c]) / std[c], channels in the model's order. */
#include "nn.h"

#include <stdlib.h>

void nn_input_from_u8(const nn_model *m, const uint8_t *hwc, int n, float *out)
{
    int C = m->input.c, H = m->input.h, W = m->input.w;
    size_t plane = (size_t)H * W, per = plane * C;
    float lut[4][256]; /* the same arithmetic as training's lib/data.c */
    for (int c = 0; c < C && c < 4; c++)
        for (int u = 0; u < 256; u++)
            lut[c][u] = ((float)u / 255.0f - m->mean[c]) / m->std[c];
#pragma omp parallel for if ((size_t)n * per >= 65536) schedule(static)
    for (int i = 0; i < n; i++) {
        const uint8_t *src = hwc + (size_t)i * per;
        float *dst = out + (size_t)i * per;
        for (int c = 0; c < C; c++) {
            int sc = m->bgr && C == 3 ? 2 - c : c; /* channel of the image fed as c */
            int k = c < 4 ? c : 3;
            for (size_t p = 0; p < plane; p++)
                dst[c * plane + p] = lut[k][src[p * C + sc]];
        }
    }
}

int nn_input_from_image(const nn_model *m, const nn_image *img, float *out,
                        nn_error *e)
{
    nn_image conv = {0}, fit = {0};
    const nn_image *src = img;
    int rc = -1;
    if (m->input.c != 1 && m->input.c != 3)
        return nn_fail(e, "the model takes %d channels; images give 1 or 3", m->input.c);
    if (img->c != m->input.c) {
        if (nn_image_convert(img, m->input.c, &conv, e) < 0)
            return -1;
        src = &conv;
    }
    if (src->w != m->input.w || src->h != m->input.h) {
        if (m->input.w != m->input.h) {
            if (nn_image_resize(src, m->input.w, m->input.h, &fit, e) < 0)
                goto out;
        } else if (nn_image_fit(src, m->input.w, &fit, e) < 0) {
            goto out;
        }
        src = &fit;
    }
    nn_input_from_u8(m, src->data, 1, out);
    rc = 0;
out:
    nn_image_free(&conv);
    nn_image_free(&fit);
    return rc;
}

void nn_input_noise(const nn_model *m, int n, uint64_t seed, float *out)
{
    size_t total = (size_t)n * nn_dims_size(m->input);
    nn_rng r;
    nn_rng_seed(&r, seed ^ 0x1f0a11ULL);
    for (size_t j = 0; j < total; j++)
        out[j] = (float)nn_rng_normal(&r);
}

int nn_input_from_files(const nn_model *m, char *const *paths, int n, float *out,
                        nn_error *e)
{
    size_t in = nn_dims_size(m->input);
    for (int i = 0; i < n; i++) {
        nn_image img;
        nn_error sub;
        if (nn_image_read(paths[i], &img, e) < 0)
            return -1;
        int rc = nn_input_from_image(m, &img, out + (size_t)i * in, &sub);
        nn_image_free(&img);
        if (rc < 0)
            return nn_fail(e, "%s: %s", paths[i], sub.msg);
    }
    return 0;
}
