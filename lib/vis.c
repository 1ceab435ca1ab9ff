/* vis.c - feature visualization by activation maximization, multi-scale,
 * after the feature-visualization tutorial; the raw filters of a conv
 * layer as a sheet; the filter lists nn-vis reads.
 *
 * For filters f_1..f_n of layer L, images x_i start as uniform noise
 * u/255, u in 150..179 (8-bit, as numpy's uint8 of U(150,180)), and at each
 * scale of size s:
 *   x_i <- (x_i - mean[c]) / std[c]                (the model's input)
 *   repeat `steps` times: loss_i = -mean_{h,w} act_L(x_i)[f_i, h, w];
 *     g_i = d loss_i / d x_i through the frozen layers 0..L (eval mode);
 *     Adam on x_i (fresh at each scale; weight decay wd added to g_i)
 *   x_i <- x_i * std[c] + mean[c]
 *   then, unless last: bicubic resize to (int)(s * factor), k x k box blur.
 * The network is rebuilt for each size (layers 0..L only, parameters
 * copied), so any conv layer of a network is reachable at any size. The
 * filters of a batch are independent: each sample's loss depends only on
 * its own image (eval mode), so one batched pass serves all of them. */
#include "nn.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void nn_vis_defaults(nn_vis_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->size = 56;
    c->upscaling_steps = 12;
    c->upscaling_factor = 1.2;
    c->steps = 20;
    c->lr = 0.1f;
    c->wd = 1e-6f;
    c->blur = 5;
    c->seed = 0;
}

int nn_vis_sizes(const nn_vis_cfg *c, int *sizes, int max)
{
    int n = c->upscaling_steps > 1 ? c->upscaling_steps : 1;
    double s = c->size;
    for (int k = 0; k < n; k++) {
        if (k < max)
            sizes[k] = (int)s;
        double t = c->upscaling_factor * s; /* int(factor * sz), as python; held below */
        s = t < 1e9 ? floor(t) : 1e9;      /* int's limit for the size check to refuse */
    }
    return n;
}

void nn_vis_result_free(nn_vis_result *r)
{
    if (!r)
        return;
    free(r->image);
    for (int k = 0; r->frames && k < r->nframes; k++)
        nn_image_free(&r->frames[k]);
    free(r->frames);
    r->image = NULL;
    r->frames = NULL;
    r->nframes = 0;
}

/* ---- pixels, where the network runs ----------------------------------- */

/* The images of a batch live beside the network: in host memory, or on
 * the GPU (g), where only the pictures and measurements come back. */

/* y = op(x) for x [n, C, plane] (nn_cuda_pixels' ops, here on the host). */
static void pixels_host(nn_pixels_op op, const nn_model *m, const float *x, float *y, int n,
                        size_t plane)
{
    int C = m->input.c;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++) {
            int k = c < 4 ? c : 3;
            float mu = m->mean[k], sd = m->std[k], inv = 1.0f / m->std[k];
            size_t o = ((size_t)i * C + c) * plane;
            for (size_t p = 0; p < plane; p++) {
                float t = x[o + p];
                y[o + p] = op == NN_PIXELS_NORMALIZE ? (t - mu) * inv
                         : op == NN_PIXELS_DENORMALIZE ? t * sd + mu
                         : t < 0 ? 0 : t > 1 ? 1 : t != t ? 0 : t;
            }
        }
}

static int pixels(nn_cuda *g, nn_pixels_op op, const nn_model *m, const float *x, float *y,
                  int n, size_t plane, nn_error *e)
{
    if (g)
        return nn_cuda_pixels(g, op, x, y, n, m->input.c, plane, m->mean, m->std, e);
    pixels_host(op, m, x, y, n, plane);
    return 0;
}

/* v [planes, s, s] -> nv [planes, ns, ns]: bicubic, then a k x k box blur
 * (tmp: planes*ns*ns floats). */
static int upscale(nn_cuda *g, const float *v, int planes, int s, float *nv, int ns, int k,
                   float *tmp, nn_error *e)
{
    if (g)
        return nn_cuda_resize_bicubic(g, v, planes, s, s, nv, ns, ns, e) < 0 ||
                       (k > 1 && nn_cuda_blur_box(g, nv, planes, ns, ns, k, tmp, e) < 0)
                   ? -1
                   : 0;
    nn_resize_bicubic(v, planes, s, s, nv, ns, ns);
    if (k > 1)
        nn_blur_box(nv, planes, ns, ns, k, tmp);
    return 0;
}

static int adam_step(nn_cuda *g, const nn_optim *o, float *x, const float *dx,
                     float *const *slots, size_t n, float lr, long t, nn_error *e)
{
    if (g)
        return nn_cuda_optim_update(g, o, x, dx, slots, n, lr, t, e);
    nn_optim_update(o, x, dx, slots, n, lr, t);
    return 0;
}

/* One image's pixels [C, plane], clamped to [0,1], in RGB order (the
 * model may take BGR). */
static void to_rgb(const nn_model *m, const float *v, float *out, size_t plane)
{
    int C = m->input.c;
    for (int c = 0; c < C; c++) {
        int src = m->bgr && C == 3 ? 2 - c : c;
        for (size_t p = 0; p < plane; p++) {
            float t = v[(size_t)src * plane + p];
            out[(size_t)c * plane + p] = t < 0 ? 0 : t > 1 ? 1 : t != t ? 0 : t;
        }
    }
}

/* ---- activation maximization ------------------------------------------- */

/* Floats per sample that a batch at the final size needs: activations of
 * layers 0..L, the backward buffers, and the pixel buffers. */
static double floats_per_sample(const nn_model *r, int layer)
{
    double s = 0, big = (double)nn_dims_size(r->input);
    for (int i = 0; i <= layer; i++) {
        double o = (double)nn_dims_size(r->layers[i].out);
        s += o;
        big = o > big ? o : big;
    }
    return s + 2 * big + 7 * (double)nn_dims_size(r->input) +
           (double)nn_dims_size(r->layers[layer].out);
}

typedef struct group {
    const nn_model *m;
    int layer;
    const nn_vis_cfg *c;
    const int *sizes;
    int nscales;
} group;

/* The buffers of one scale where the network runs: the input x, its
 * gradient dx, Adam's two slots, and the fixed gradient dy of layer L. */
typedef struct scale_bufs {
    float *x, *dx, *m1, *m2, *dy;
} scale_bufs;

static void scale_free(nn_cuda *g, scale_bufs *b)
{
    nn_place_free(g, b->x), nn_place_free(g, b->dx), nn_place_free(g, b->m1);
    nn_place_free(g, b->m2), nn_place_free(g, b->dy);
    memset(b, 0, sizeof *b);
}

/* loss_i = -mean over the map of channel f_i of layer L [n, d]: its
 * gradient, made on the host and put in place. */
static int scale_make(nn_cuda *g, scale_bufs *b, size_t total, nn_dims d, const int *filters,
                      int n, nn_error *e)
{
    size_t dsize = (size_t)n * nn_dims_size(d), dplane = (size_t)d.h * d.w;
    float *hdy = calloc(dsize, sizeof *hdy);
    if (!hdy)
        return nn_fail(e, "out of memory");
    for (int i = 0; i < n; i++)
        for (size_t p = 0; p < dplane; p++)
            hdy[((size_t)i * d.c + (size_t)filters[i]) * dplane + p] = -1.0f / (float)dplane;
    int rc = (b->x = nn_place_alloc(g, total, e)) && (b->dx = nn_place_alloc(g, total, e)) &&
                     (b->m1 = nn_place_alloc(g, total, e)) &&
                     (b->m2 = nn_place_alloc(g, total, e)) &&
                     (b->dy = nn_place_alloc(g, dsize, e)) &&
                     nn_place_put(g, b->dy, hdy, dsize, e) == 0
                 ? 0
                 : -1;
    free(hdy);
    return rc;
}

/* Optimizes the n filters of one batch; out[i] for filters[i]. */
static int vis_group(const group *g, const int *filters, int n, nn_vis_result *out,
                     nn_error *e)
{
    const nn_model *m = g->m;
    const nn_vis_cfg *c = g->c;
    nn_cuda *gpu = c->gpu;
    int C = m->input.c, L = g->layer, rc = -1;
    float *v = NULL, *nv = NULL, *btmp = NULL; /* where the network runs */
    float *hv = NULL, *tmp = NULL, *acts = NULL; /* host */
    scale_bufs b = {0};
    nn_model *r = NULL;
    nn_exec *ex = NULL; /* r on the CPU or the GPU */
    nn_optim o;
    if (nn_optim_parse(&o, "adam", e) < 0)
        return -1;
    o.lr = c->lr;
    o.wd = c->wd;

    /* the starting noise, one stream per filter */
    int s = g->sizes[0];
    size_t plane = (size_t)s * s;
    if (!(hv = malloc((size_t)n * C * plane * sizeof *hv)))
        goto oom;
    for (int i = 0; i < n; i++) {
        nn_rng rng;
        nn_rng_seed(&rng, nn_hash64(c->seed) ^ nn_hash64(0x5eed0000ULL + (uint64_t)filters[i]));
        for (size_t p = 0; p < (size_t)C * plane; p++)
            hv[(size_t)i * C * plane + p] =
                (float)(150 + (int)(nn_rng_uniform(&rng) * 30)) / 255.0f;
    }
    if (!(v = nn_place_alloc(gpu, (size_t)n * C * plane, e)) ||
        nn_place_put(gpu, v, hv, (size_t)n * C * plane, e) < 0)
        goto done;
    for (int i = 0; i < n; i++) {
        out[i].filter = filters[i];
        if (c->keep_frames && !(out[i].frames = calloc((size_t)g->nscales, sizeof(nn_image))))
            goto oom;
    }

    for (int k = 0; k < g->nscales; k++) {
        s = g->sizes[k];
        plane = (size_t)s * s;
        size_t total = (size_t)n * C * plane;
        nn_dims in = {C, s, s};
        nn_exec_free(ex);
        ex = NULL;
        nn_model_free(r);
        if (!(r = nn_model_resized(m, L, in, e)) || !(ex = nn_exec_new(r, gpu, n, e)))
            goto done;
        nn_dims d = r->layers[L].out;
        free(acts);
        if (!(acts = malloc((size_t)n * d.c * sizeof *acts)))
            goto oom;
        if (scale_make(gpu, &b, total, d, filters, n, e) < 0 ||
            pixels(gpu, NN_PIXELS_NORMALIZE, r, v, b.x, n, plane, e) < 0)
            goto done;
        nn_pass pass;
        memset(&pass, 0, sizeof pass);
        float *slots[2] = {b.m1, b.m2};
        for (int t = 1; t <= c->steps || (k == 0 && t == 1); t++) {
            if (!nn_exec_forward_at(ex, b.x, n, L, &pass, e))
                goto done;
            if (k == 0 && t == 1) { /* where each filter starts */
                if (nn_exec_channel_means(ex, L, n, acts, e) < 0)
                    goto done;
                for (int i = 0; i < n; i++)
                    out[i].start = acts[(size_t)i * d.c + (size_t)filters[i]];
            }
            if (t > c->steps) /* --steps 0: measured only */
                break;
            if (nn_exec_backward_at(ex, L, b.dy, b.dx, n, &pass, e) < 0 ||
                adam_step(gpu, &o, b.x, b.dx, slots, total, c->lr, t, e) < 0)
                goto done;
        }
        if (pixels(gpu, NN_PIXELS_DENORMALIZE, r, b.x, v, n, plane, e) < 0)
            goto done;
        if (c->keep_frames || c->log || k == g->nscales - 1) {
            /* the image as it would be saved: clamped to [0,1], RGB */
            float *h1 = realloc(hv, total * sizeof *hv);
            hv = h1 ? h1 : hv;
            float *h2 = h1 ? realloc(tmp, total * sizeof *tmp) : NULL;
            tmp = h2 ? h2 : tmp;
            if (!h1 || !h2)
                goto oom;
            if (nn_place_get(gpu, hv, v, total, e) < 0)
                goto done;
            for (int i = 0; i < n; i++)
                to_rgb(r, hv + (size_t)i * C * plane, tmp + (size_t)i * C * plane, plane);
        }
        if (c->keep_frames)
            for (int i = 0; i < n; i++) {
                if (nn_image_from_floats(tmp + (size_t)i * C * plane, C, s, s, 0, 1,
                                         &out[i].frames[k], e) < 0)
                    goto done;
                out[i].nframes = k + 1;
            }
        if (k == g->nscales - 1 || c->log) {
            /* measured on that image: clamped, in the model's order */
            if (pixels(gpu, NN_PIXELS_CLAMP, r, v, b.x, n, plane, e) < 0 ||
                pixels(gpu, NN_PIXELS_NORMALIZE, r, b.x, b.x, n, plane, e) < 0 ||
                !nn_exec_forward_at(ex, b.x, n, L, &pass, e) ||
                nn_exec_channel_means(ex, L, n, acts, e) < 0)
                goto done;
            for (int i = 0; i < n; i++) {
                const float *ai = acts + (size_t)i * d.c;
                double other = 0;
                for (int f = 0; f < d.c; f++)
                    other += f == filters[i] ? 0 : ai[f];
                out[i].final = ai[filters[i]];
                out[i].others = d.c > 1 ? (float)(other / (d.c - 1)) : NAN;
                if (c->log)
                    fprintf(c->log, "filter %d: scale %d/%d (%dx%d): mean activation %.4g "
                            "(start %.4g, other filters %.4g)\n", filters[i], k + 1,
                            g->nscales, s, s, out[i].final, out[i].start, out[i].others);
            }
            if (c->log)
                fflush(c->log);
        }
        if (k == g->nscales - 1) {
            for (int i = 0; i < n; i++) {
                out[i].c = C, out[i].h = s, out[i].w = s;
                if (!(out[i].image = malloc((size_t)C * plane * sizeof(float))))
                    goto oom;
                memcpy(out[i].image, tmp + (size_t)i * C * plane,
                       (size_t)C * plane * sizeof(float));
            }
            break;
        }
        /* upscale and blur for the next scale (this scale's buffers first
         * give their memory back) */
        scale_free(gpu, &b);
        int ns = g->sizes[k + 1];
        size_t ntotal = (size_t)n * C * ns * ns;
        if (!(nv = nn_place_alloc(gpu, ntotal, e)) ||
            (c->blur > 1 && !(btmp = nn_place_alloc(gpu, ntotal, e))) ||
            upscale(gpu, v, n * C, s, nv, ns, c->blur, btmp, e) < 0)
            goto done;
        nn_place_free(gpu, btmp);
        nn_place_free(gpu, v);
        btmp = NULL;
        v = nv;
        nv = NULL;
    }
    rc = 0;
    goto done;
oom:
    rc = nn_fail(e, "out of memory for activation maximization at %dx%d", s, s);
done:
    nn_exec_free(ex);
    nn_model_free(r);
    scale_free(gpu, &b);
    nn_place_free(gpu, v), nn_place_free(gpu, nv), nn_place_free(gpu, btmp);
    free(hv), free(tmp), free(acts);
    return rc;
}

int nn_vis_run(const nn_model *m, int layer, const int *filters, int n,
               const nn_vis_cfg *c, nn_vis_result *out, nn_error *e)
{
    memset(out, 0, (size_t)(n > 0 ? n : 0) * sizeof *out);
    if (layer < 0 || layer >= m->nlayers)
        return nn_fail(e, "no layer %d: layers are 0..%d", layer, m->nlayers - 1);
    if (nn_filter_source(m, layer) < 0) {
        char convs[512];
        nn_conv_layers_text(m, convs, sizeof convs);
        return nn_fail(e, "layer %d is '%s', which has no filters; conv layers are %s", layer,
                       m->layers[layer].type->keyword, convs);
    }
    for (int i = 0; i < n; i++)
        if (nn_filter_check(m, layer, filters[i], e) < 0)
            return -1;
    if (c->size < 1 || c->steps < 0 || !(c->upscaling_factor >= 1) || !(c->lr > 0) ||
        !(c->wd >= 0))
        return nn_fail(e, "activation maximization: size %d, steps %d, factor %g, lr %g and "
                       "wd %g must be positive (wd may be 0)", c->size, c->steps,
                       c->upscaling_factor, c->lr, c->wd);
    int nscales = nn_vis_sizes(c, NULL, 0);
    int *sizes = malloc((size_t)nscales * sizeof *sizes);
    if (!sizes)
        return nn_fail(e, "out of memory");
    nn_vis_sizes(c, sizes, nscales);
    if (sizes[nscales - 1] > 16384) {
        int last = sizes[nscales - 1];
        free(sizes);
        if (last >= 1000000000) /* held there by nn_vis_sizes */
            return nn_fail(e, "the last scale would be over 10^9 pixels wide; use a smaller "
                           "--size, factor or fewer upscaling steps");
        return nn_fail(e, "the last scale would be %dx%d pixels; use a smaller --size, "
                       "factor or fewer upscaling steps", last, last);
    }
    nn_dims first = {m->input.c, sizes[0], sizes[0]};
    nn_model *r0 = nn_model_resized(m, layer, first, e);
    if (!r0) { /* the scales only grow: a first that does not fit is too small */
        size_t l = strlen(e->msg);
        if (strstr(e->msg, "does not take"))
            snprintf(e->msg + l, sizeof e->msg - l, "; start from larger images (--size)");
        free(sizes);
        return -1;
    }
    nn_model_free(r0);
    int batch = c->batch;
    if (batch < 1) { /* as many as fit in about 1 GiB at the final size */
        nn_dims fin = {m->input.c, sizes[nscales - 1], sizes[nscales - 1]};
        nn_model *r = nn_model_resized(m, layer, fin, e);
        if (!r) {
            free(sizes);
            return -1;
        }
        double per = floats_per_sample(r, layer);
        nn_model_free(r);
        double fit = (double)(1 << 28) / (per > 1 ? per : 1);
        batch = fit < 1 ? 1 : fit > n ? n : (int)fit;
    }
    if (batch < 1)
        batch = 1;
    group g = {m, layer, c, sizes, nscales};
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i += batch)
        rc = vis_group(&g, filters + i, n - i < batch ? n - i : batch, out + i, e);
    free(sizes);
    if (rc < 0)
        for (int i = 0; i < n; i++)
            nn_vis_result_free(&out[i]);
    return rc;
}

/* ---- the raw filters --------------------------------------------------- */

int nn_filter_sheet(const nn_param *wp, const float *w, int bgr, int labelled,
                    nn_image *sheet, nn_error *e)
{
    sheet->w = sheet->h = sheet->c = 0, sheet->data = NULL;
    int O = wp->dims[0], I = wp->dims[1], kh = wp->dims[2], kw = wp->dims[3];
    size_t k2 = (size_t)kh * kw, per = (size_t)I * k2;
    float a = 0;
    for (size_t i = 0; i < (size_t)O * per; i++)
        a = fmaxf(a, fabsf(w[i]));
    if (!isfinite(a))
        a = 0;
    nn_image *tiles = calloc((size_t)O, sizeof *tiles);
    char **labels = labelled ? calloc((size_t)O, sizeof *labels) : NULL;
    float *f = malloc((I == 3 ? 3 : 1) * k2 * sizeof *f);
    int rc = tiles && (labels || !labelled) && f ? 0 : nn_fail(e, "out of memory");
    for (int o = 0; rc == 0 && o < O; o++) {
        const float *src = w + (size_t)o * per;
        if (I == 3) { /* RGB order for the picture */
            for (int c = 0; c < 3; c++)
                memcpy(f + (size_t)c * k2, src + (size_t)(bgr ? 2 - c : c) * k2,
                       k2 * sizeof *f);
        } else {
            for (size_t j = 0; j < k2; j++) {
                double s = 0;
                for (int i = 0; i < I; i++)
                    s += src[(size_t)i * k2 + j];
                f[j] = (float)(s / I);
            }
        }
        rc = nn_image_from_floats(f, I == 3 ? 3 : 1, kh, kw, -a, a, &tiles[o], e);
        if (rc == 0 && labels && !(labels[o] = malloc(16)))
            rc = nn_fail(e, "out of memory");
        if (rc == 0 && labels)
            snprintf(labels[o], 16, "%d", o);
    }
    if (rc == 0)
        rc = nn_image_grid(tiles, O, 0, labelled ? 2 : 1, 0, (const char *const *)labels,
                           sheet, e);
    for (int o = 0; tiles && o < O; o++)
        nn_image_free(&tiles[o]);
    for (int o = 0; labels && o < O; o++)
        free(labels[o]);
    free(tiles);
    free(labels);
    free(f);
    return rc;
}

int nn_vis_weights(const nn_model *m, int layer, nn_image *sheet, nn_error *e)
{
    sheet->w = sheet->h = sheet->c = 0, sheet->data = NULL;
    if (layer < 0 || layer >= m->nlayers || strcmp(m->layers[layer].type->keyword, "conv"))
        return nn_fail(e, "layer %d is not a conv layer", layer);
    const nn_param *wp = &m->layers[layer].param[0];
    return nn_filter_sheet(wp, wp->value, m->bgr, 1, sheet, e);
}

/* ---- filter lists ------------------------------------------------------ */

static char *slurp(const char *path, size_t *n, nn_error *e)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16;
    char *buf = malloc(cap + 1);
    *n = 0;
    while (buf) {
        *n += fread(buf + *n, 1, cap - *n, fp);
        if (*n < cap)
            break;
        char *b = realloc(buf, (cap *= 2) + 1);
        if (!b)
            free(buf);
        buf = b;
    }
    int bad = ferror(fp);
    if (!is_stdin)
        fclose(fp);
    if (!buf || bad) {
        free(buf);
        nn_fail(e, "%s: cannot read", is_stdin ? "stdin" : path);
        return NULL;
    }
    buf[*n] = 0;
    return buf;
}

/* Lines that start with an integer (after blanks) give one filter each. */
static int filters_from_text(const char *text, size_t size, const char *name, int k,
                             int **filters, int *n, nn_error *e)
{
    int cap = 16, cnt = 0;
    int *v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return nn_fail(e, "out of memory");
    if (strlen(text) != size) {
        free(v);
        return nn_fail(e, "%s: neither an activation file nor text", name);
    }
    for (const char *p = text; *p && (k <= 0 || cnt < k);) {
        const char *eol = strchr(p, '\n');
        while (*p == ' ' || *p == '\t')
            p++;
        char *end;
        errno = 0;
        long f = strtol(p, &end, 10);
        int num = (*p >= '0' && *p <= '9') || (*p == '-' && p[1] >= '0' && p[1] <= '9');
        if (num && (*end == 0 || *end == '\t' || *end == ' ' || *end == '\n' || *end == '\r' ||
                    *end == ',')) {
            if (errno || f < -1000000000L || f > 1000000000L) {
                free(v);
                return nn_fail(e, "%s: filter index out of range: %.20s", name, p);
            }
            if (cnt == cap) {
                int *t = realloc(v, (size_t)(cap *= 2) * sizeof *v);
                if (!t) {
                    free(v);
                    return nn_fail(e, "out of memory");
                }
                v = t;
            }
            v[cnt++] = (int)f;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    if (cnt == 0) {
        free(v);
        return nn_fail(e, "%s: no filter indices in it (expected nn-featmap's --top table or "
                       "its activation file)", name);
    }
    *filters = v;
    *n = cnt;
    return 0;
}

int nn_filters_read(const char *path, int k, int **filters, int *n, int *layer,
                    nn_error *e)
{
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    size_t size;
    *filters = NULL;
    *n = 0;
    *layer = -1;
    char *buf = slurp(path, &size, e);
    if (!buf)
        return -1;
    if (!nn_is_hdf5(buf, size)) {
        int rc = filters_from_text(buf, size, name, k, filters, n, e);
        free(buf);
        return rc;
    }
    nn_acts *a = nn_acts_decode(buf, size, name, e);
    free(buf);
    if (!a)
        return -1;
    int rc = 0, cnt;
    int *v = NULL;
    for (size_t i = 0; a->ntop < 1 && i < (size_t)a->n * a->c; i++)
        if (!isfinite(a->means[i])) { /* ranked here: every mean must be a number */
            nn_fail(e, "%s: the mean of filter %zu for input %zu is %g, and the file has no "
                    "--top list; its filters cannot be ranked", name, i % (size_t)a->c,
                    i / (size_t)a->c, a->means[i]);
            nn_acts_free(a);
            return -1;
        }
    if (a->ntop > 0) {
        cnt = k > 0 && k < a->ntop ? k : a->ntop;
        if ((v = malloc((size_t)cnt * sizeof *v)))
            memcpy(v, a->top, (size_t)cnt * sizeof *v);
    } else {
        cnt = k > 0 ? k : 6;
        cnt = cnt < a->c ? cnt : a->c;
        float *mean = calloc((size_t)a->c, sizeof *mean);
        v = mean ? malloc((size_t)cnt * sizeof *v) : NULL;
        if (v) {
            for (int i = 0; i < a->n; i++)
                for (int f = 0; f < a->c; f++)
                    mean[f] += a->means[(size_t)i * a->c + f] / (float)a->n;
            nn_top_k(mean, a->c, cnt, v);
        }
        free(mean);
    }
    if (!v)
        rc = nn_fail(e, "out of memory");
    else if (cnt < 1)
        rc = nn_fail(e, "%s: the activation file has no filters", name);
    if (rc == 0) {
        *filters = v;
        *n = cnt;
        *layer = a->layer;
    } else {
        free(v);
    }
    nn_acts_free(a);
    return rc;
}
