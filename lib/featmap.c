/* featmap.c - what a layer's filters do on inputs: per-filter mean
 * activations ("spikes"), the full maps, activation statistics of every
 * layer (histograms of the initialization study), and the dataset images
 * that excite one filter most, streamed with a bounded heap. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- layers and filters ------------------------------------------------ */

static int is_keyword(const nn_layer *l, const char *k)
{
    return strcmp(l->type->keyword, k) == 0;
}

/* Layers that keep the channels of their input, one to one. */
static int channel_wise(const nn_layer *l)
{
    static const char *const kw[] = {"batchnorm", "relu", "leakyrelu", "sigmoid", "tanh",
                                     "maxpool",   "avgpool", "dropout", "gap"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (is_keyword(l, kw[i]))
            return 1;
    return 0;
}

int nn_filter_source(const nn_model *m, int layer)
{
    for (int i = layer; i >= 0 && i < m->nlayers; i--) {
        if (is_keyword(&m->layers[i], "conv"))
            return i;
        if (!channel_wise(&m->layers[i]))
            return -1;
    }
    return -1;
}

int nn_conv_layers_text(const nn_model *m, char *buf, size_t size)
{
    size_t k = 0;
    int n = 0;
    if (size)
        buf[0] = 0;
    for (int i = 0; i < m->nlayers; i++)
        if (is_keyword(&m->layers[i], "conv")) {
            if (k < size)
                k += (size_t)snprintf(buf + k, size - k, "%s%d", n ? ", " : "", i);
            n++;
        }
    if (!n && size)
        snprintf(buf, size, "none");
    return n;
}

int nn_layer_lookup(const nn_model *m, const char *text, nn_layer_need need,
                    nn_error *e)
{
    int i = nn_model_find_layer(m, text);
    char convs[512];
    int nconv = nn_conv_layers_text(m, convs, sizeof convs);
    if (i < 0 && need == NN_NEED_ANY)
        return nn_fail(e, "no layer '%s': layers are 0..%d or their names (%s ... %s)",
                       text, m->nlayers - 1, m->layers[0].name,
                       m->layers[m->nlayers - 1].name);
    if (i < 0) /* a layer with filters is wanted: say which those are */
        return nn_fail(e, "no layer '%s': layers are 0..%d or their names; %s%s", text,
                       m->nlayers - 1, nconv ? "conv layers are " : "",
                       nconv ? convs : "the network has no conv layer");
    const nn_layer *l = &m->layers[i];
    if (need == NN_NEED_FILTERS && nn_filter_source(m, i) < 0) {
        if (!nconv)
            return nn_fail(e, "layer %d is '%s', which has no filters; the network has "
                           "no conv layer", i, l->type->keyword);
        return nn_fail(e, "layer %d is '%s', which has no filters; conv layers are %s "
                       "(and the batchnorm, activation and pooling layers after them)",
                       i, l->type->keyword, convs);
    }
    if (need == NN_NEED_CONV && !is_keyword(l, "conv")) {
        if (!nconv)
            return nn_fail(e, "layer %d is '%s', which has no filters; the network has "
                           "no conv layer", i, l->type->keyword);
        return nn_fail(e, "layer %d is '%s', which has no filter weights; conv layers are %s",
                       i, l->type->keyword, convs);
    }
    return i;
}

int nn_filter_check(const nn_model *m, int layer, int filter, nn_error *e)
{
    const nn_layer *l = &m->layers[layer];
    if (filter < 0 || filter >= l->out.c)
        return nn_fail(e, "no filter %d in layer %d (%s): its filters are 0..%d", filter,
                       layer, l->name, l->out.c - 1);
    return 0;
}

/* ---- spikes and maps --------------------------------------------------- */

void nn_channel_means(const float *act, int n, nn_dims d, float *means)
{
    size_t plane = (size_t)d.h * d.w;
    long rows = (long)n * d.c;
#pragma omp parallel for if (rows * (long)plane >= 65536) schedule(static)
    for (long r = 0; r < rows; r++) {
        const float *p = act + (size_t)r * plane;
        double s = 0;
        for (size_t j = 0; j < plane; j++)
            s += p[j];
        means[r] = (float)(s / (double)plane);
    }
}

/* a comes before b: larger value, then lower index */
static int before(const float *v, int a, int b)
{
    return v[a] > v[b] || (v[a] == v[b] && a < b) || (isnan(v[b]) && !isnan(v[a]));
}

void nn_top_k(const float *v, int n, int k, int *idx)
{
    if (k > n)
        k = n;
    if (k < 1)
        return;
    int have = 0;
    for (int i = 0; i < n; i++) {
        /* insertion into the sorted prefix idx[0..have) */
        if (have == k && !before(v, i, idx[k - 1]))
            continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && before(v, i, idx[j - 1])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

static nn_pass eval_pass(void)
{
    nn_pass p;
    memset(&p, 0, sizeof p);
    return p;
}

int nn_featmap(nn_model *m, struct nn_cuda *gpu, int layer, const float *x, int n, int batch,
               float *means, float *maps, nn_error *e)
{
    if (layer < 0 || layer >= m->nlayers)
        return nn_fail(e, "no layer %d: layers are 0..%d", layer, m->nlayers - 1);
    if (batch < 1)
        batch = 1;
    if (batch > n)
        batch = n;
    if (n < 1)
        return 0;
    nn_exec *ex = nn_exec_new(m, gpu, batch, e);
    if (!ex)
        return -1;
    nn_dims d = m->layers[layer].out;
    size_t in = nn_dims_size(m->input), out = nn_dims_size(d);
    nn_pass p = eval_pass();
    int rc = 0;
    for (int i = 0; i < n; i += batch) {
        int nb = n - i < batch ? n - i : batch;
        const float *a = NULL;
        if (nn_exec_forward(ex, x + (size_t)i * in, nb, layer, &p, e) < 0 ||
            nn_exec_channel_means(ex, layer, nb, means + (size_t)i * d.c, e) < 0 ||
            (maps && !(a = nn_exec_output(ex, layer, nb, e)))) {
            rc = -1;
            break;
        }
        if (maps)
            memcpy(maps + (size_t)i * out, a, (size_t)nb * out * sizeof(float));
    }
    nn_exec_free(ex);
    return rc;
}

/* ---- activation statistics --------------------------------------------- */

static int is_nonlinearity(const nn_layer *l)
{
    return is_keyword(l, "relu") || is_keyword(l, "leakyrelu") || is_keyword(l, "sigmoid") ||
           is_keyword(l, "tanh");
}

int nn_hist_layers(const nn_model *m, int last, int *layers)
{
    if (last < 0 || last >= m->nlayers)
        last = m->nlayers - 1;
    int n = 0;
    for (int i = 0; i <= last; i++)
        if (is_nonlinearity(&m->layers[i]))
            layers[n++] = i;
    if (n == 0)
        for (int i = 0; i <= last; i++)
            layers[n++] = i;
    return n;
}

void nn_act_stats_free(nn_act_stats *s, int n)
{
    for (int i = 0; s && i < n; i++) {
        free(s[i].values);
        s[i].values = NULL;
    }
}

int nn_activation_stats(nn_model *m, struct nn_cuda *gpu, const float *x, int n, int batch,
                        const int *layers, int nl, size_t keep,
                        nn_act_stats *out, nn_error *e)
{
    int last = -1;
    memset(out, 0, (size_t)nl * sizeof *out);
    for (int j = 0; j < nl; j++) {
        if (layers[j] < 0 || layers[j] >= m->nlayers)
            return nn_fail(e, "no layer %d: layers are 0..%d", layers[j], m->nlayers - 1);
        if (layers[j] > last)
            last = layers[j];
        out[j].layer = layers[j];
    }
    if (n < 1 || nl < 1)
        return 0;
    if (batch < 1 || batch > n)
        batch = n;
    nn_exec *ex = nn_exec_new(m, gpu, batch, e);
    if (!ex)
        return -1;
    size_t *stride = calloc((size_t)nl, sizeof *stride);
    double *sum = calloc((size_t)nl, sizeof *sum), *sq = calloc((size_t)nl, sizeof *sq);
    int rc = stride && sum && sq ? 0 : nn_fail(e, "out of memory");
    for (int j = 0; rc == 0 && j < nl; j++) {
        size_t total = (size_t)n * nn_dims_size(m->layers[layers[j]].out);
        stride[j] = keep ? (total + keep - 1) / keep : 0;
        size_t want = stride[j] ? (total + stride[j] - 1) / stride[j] : 0;
        out[j].total = total;
        if (want && !(out[j].values = malloc(want * sizeof(float))))
            rc = nn_fail(e, "out of memory for %zu activations of layer %d", want, layers[j]);
    }
    nn_pass p = eval_pass();
    size_t in = nn_dims_size(m->input);
    for (int i = 0; rc == 0 && i < n; i += batch) {
        int nb = n - i < batch ? n - i : batch;
        if (nn_exec_forward(ex, x + (size_t)i * in, nb, last, &p, e) < 0) {
            rc = -1;
            break;
        }
        for (int j = 0; rc == 0 && j < nl; j++) {
            size_t per = nn_dims_size(m->layers[layers[j]].out);
            size_t base = (size_t)i * per; /* global index of this batch's first value */
            size_t first = stride[j] ? (base + stride[j] - 1) / stride[j] * stride[j] - base : 0;
            double sums[2];
            if (nn_exec_output_sums(ex, layers[j], nb, sums, first, stride[j], out[j].values,
                                    &out[j].count, e) < 0) {
                rc = -1;
                break;
            }
            sum[j] += sums[0], sq[j] += sums[1];
        }
    }
    for (int j = 0; rc == 0 && j < nl; j++) {
        double t = (double)out[j].total, mean = sum[j] / t;
        double var = sq[j] / t - mean * mean;
        out[j].mean = mean;
        out[j].std = sqrt(var > 0 ? var : 0);
    }
    if (rc < 0)
        nn_act_stats_free(out, nl);
    free(stride);
    free(sum);
    free(sq);
    nn_exec_free(ex);
    return rc;
}

/* ---- the images that excite a filter most ------------------------------ */

/* The heap's root is the weakest kept row: the lowest score, and of equal
 * scores the later row. */
static int weaker(const nn_scored *a, const nn_scored *b)
{
    return a->score < b->score || (a->score == b->score && a->index > b->index);
}

static void sift_down(nn_scored *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && weaker(&h[l], &h[w]))
            w = l;
        if (r < n && weaker(&h[r], &h[w]))
            w = r;
        if (w == i)
            return;
        nn_scored t = h[i];
        h[i] = h[w], h[w] = t;
        i = w;
    }
}

static void sift_up(nn_scored *h, int i)
{
    while (i > 0 && weaker(&h[i], &h[(i - 1) / 2])) {
        nn_scored t = h[i];
        h[i] = h[(i - 1) / 2], h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void heap_offer(nn_scored *h, int *n, int k, nn_scored s)
{
    if (isnan(s.score))
        return;
    if (*n < k) {
        h[*n] = s;
        sift_up(h, (*n)++);
    } else if (weaker(&h[0], &s)) {
        h[0] = s;
        sift_down(h, k, 0);
    }
}

static int stronger_first(const void *a, const void *b)
{
    const nn_scored *x = a, *y = b;
    return weaker(y, x) ? -1 : weaker(x, y) ? 1 : 0;
}

int nn_top_images(nn_model *m, struct nn_cuda *gpu, int layer, int filter, const nn_split *s,
                  int h, int w, int c, int batch, int k, nn_scored *out,
                  int *nout, nn_error *e)
{
    *nout = 0;
    if (layer < 0 || layer >= m->nlayers)
        return nn_fail(e, "no layer %d: layers are 0..%d", layer, m->nlayers - 1);
    if (nn_filter_check(m, layer, filter, e) < 0)
        return -1;
    if (c != m->input.c)
        return nn_fail(e, "the images have %d channel%s; the model takes %d (%dx%dx%d)", c,
                       c == 1 ? "" : "s", m->input.c, m->input.c, m->input.h, m->input.w);
    if (h != m->input.h || w != m->input.w) /* never resized, as in nn-eval */
        return nn_fail(e, "the images are %dx%d; the model takes %dx%dx%d", h, w, m->input.c,
                       m->input.h, m->input.w);
    if (k < 1 || s->n < 1)
        return 0;
    if (batch < 1)
        batch = 1;
    if (batch > s->n)
        batch = (int)s->n;
    nn_exec *ex = nn_exec_new(m, gpu, batch, e);
    if (!ex)
        return -1;
    size_t in = nn_dims_size(m->input), per = (size_t)h * w * c;
    int C = m->layers[layer].out.c;
    float *x = malloc((size_t)batch * in * sizeof *x);
    float *means = malloc((size_t)batch * C * sizeof *means);
    if (!x || !means) {
        free(x), free(means);
        nn_exec_free(ex);
        return nn_fail(e, "out of memory for a batch of %d", batch);
    }
    int nh = 0;
    nn_pass p = eval_pass();
    for (long r = 0; r < s->n; r += batch) {
        int nb = s->n - r < batch ? (int)(s->n - r) : batch;
        nn_input_from_u8(m, s->images + (size_t)r * per, nb, x);
        if (nn_exec_forward(ex, x, nb, layer, &p, e) < 0 ||
            nn_exec_channel_means(ex, layer, nb, means, e) < 0) {
            free(x), free(means);
            nn_exec_free(ex);
            return -1;
        }
        for (int i = 0; i < nb; i++) {
            nn_scored sc = {r + i, means[(size_t)i * C + (size_t)filter]};
            heap_offer(out, &nh, k, sc);
        }
    }
    free(x), free(means);
    nn_exec_free(ex);
    qsort(out, (size_t)nh, sizeof *out, stronger_first);
    *nout = nh;
    return 0;
}

int nn_top_images_study(nn_model *m, struct nn_cuda *gpu, int layer, int filter,
                        const char *data, const char *split, int batch, int k,
                        const char *montage, const char *mname, FILE *tsv, nn_error *e)
{
    nn_dataset *d = nn_dataset_load(data, e);
    if (!d)
        return -1;
    const nn_split *s = strcmp(split, "train") == 0 ? &d->train : &d->test;
    nn_dims in = m->input;
    nn_scored *best = malloc((size_t)k * sizeof *best);
    int n = 0, rc = best ? 0 : nn_fail(e, "out of memory");
    nn_error sub;
    /* nn_top_images refuses this too; here the message names both files */
    if (rc == 0 && d->c == in.c && (d->h != in.h || d->w != in.w))
        rc = nn_fail(e, "%s has %dx%dx%d images (CxHxW) but %s takes %dx%dx%d; give a "
                     "dataset of the model's input size", data, d->c, d->h, d->w, mname,
                     in.c, in.h, in.w);
    if (rc == 0 && s->n == 0)
        rc = nn_fail(e, "%s: the %s split has no images; search the other split (--split %s) "
                     "or fetch the dataset again", data, split,
                     strcmp(split, "train") == 0 ? "test" : "train");
    if (rc == 0 && nn_top_images(m, gpu, layer, filter, s, d->h, d->w, d->c, batch, k, best,
                                 &n, &sub) < 0)
        rc = nn_fail(e, "%s: %s", data, sub.msg);
    if (rc == 0)
        nn_scored_write(d, s, best, n, tsv);
    if (rc == 0 && montage && n > 0) {
        nn_image sheet;
        rc = nn_scored_montage(d, s, best, n, &sheet, e);
        if (rc == 0)
            rc = nn_image_write(montage, &sheet, e);
        nn_image_free(&sheet);
    }
    free(best);
    nn_dataset_free(d);
    return rc;
}

int nn_hist_study(nn_model *m, struct nn_cuda *gpu, int last, const float *x, int n,
                  int batch, const char *png, const char *title, FILE *tsv, nn_error *e)
{
    int *layers = malloc((size_t)m->nlayers * sizeof *layers);
    if (!layers)
        return nn_fail(e, "out of memory");
    int nl = nn_hist_layers(m, last, layers);
    nn_act_stats *s = calloc((size_t)nl, sizeof *s);
    const float **v = calloc((size_t)nl, sizeof *v);
    size_t *cnt = calloc((size_t)nl, sizeof *cnt);
    char **names = calloc((size_t)nl, sizeof *names);
    int rc = s && v && cnt && names ? 0 : nn_fail(e, "out of memory");
    if (rc == 0)
        rc = nn_activation_stats(m, gpu, x, n, batch, layers, nl, 1 << 20, s, e);
    if (rc == 0) {
        fprintf(tsv, "layer\tname\ttype\tmean\tstd\n");
        for (int j = 0; j < nl; j++) {
            const nn_layer *l = &m->layers[layers[j]];
            fprintf(tsv, "%d\t%s\t%s\t%.6g\t%.6g\n", layers[j], l->name, l->type->keyword,
                    s[j].mean, s[j].std);
            v[j] = s[j].values, cnt[j] = s[j].count;
            if ((names[j] = malloc(160)))
                snprintf(names[j], 160, "%s mean %.3g std %.3g", l->name,
                         s[j].mean, s[j].std);
        }
        rc = nn_plot_histograms(png, title, (const char *const *)names, v, cnt, nl,
                                nl <= 5 ? nl : 4, 50, e);
        nn_act_stats_free(s, nl);
    }
    for (int j = 0; names && j < nl; j++)
        free(names[j]);
    free(names), free(cnt), free(v), free(s), free(layers);
    return rc;
}

void nn_scored_write(const nn_dataset *d, const nn_split *s, const nn_scored *best, int n,
                     FILE *tsv)
{
    fprintf(tsv, "rank\tindex\tlabel\tclass\tmean\n");
    for (int i = 0; i < n; i++) {
        int label = s->labels[best[i].index];
        const char *cls =
            d->class_names && label >= 0 && label < d->classes ? d->class_names[label] : "";
        fprintf(tsv, "%d\t%ld\t%d\t%s\t%.6g\n", i + 1, best[i].index, label, cls,
                best[i].score);
    }
}

/* ---- pictures ---------------------------------------------------------- */

int nn_featmap_grid(const float *maps, nn_dims d, int cols, nn_image *out, nn_error *e)
{
    out->w = out->h = out->c = 0, out->data = NULL;
    if (d.c < 1 || d.h < 1 || d.w < 1)
        return nn_fail(e, "feature maps: no maps (%dx%dx%d)", d.c, d.h, d.w);
    size_t plane = (size_t)d.h * d.w;
    nn_image *tiles = calloc((size_t)d.c, sizeof *tiles);
    char **labels = calloc((size_t)d.c, sizeof *labels);
    int rc = tiles && labels ? 0 : nn_fail(e, "out of memory");
    for (int f = 0; rc == 0 && f < d.c; f++) {
        rc = nn_image_from_floats(maps + (size_t)f * plane, 1, d.h, d.w, 0, 0, &tiles[f], e);
        if (rc == 0 && !(labels[f] = malloc(16)))
            rc = nn_fail(e, "out of memory");
        if (rc == 0)
            snprintf(labels[f], 16, "%d", f);
    }
    if (rc == 0)
        rc = nn_image_grid(tiles, d.c, cols, 2, 0, (const char *const *)labels, out, e);
    for (int f = 0; tiles && f < d.c; f++)
        nn_image_free(&tiles[f]);
    for (int f = 0; labels && f < d.c; f++)
        free(labels[f]);
    free(tiles);
    free(labels);
    return rc;
}

int nn_scored_montage(const nn_dataset *d, const nn_split *s, const nn_scored *rows, int n,
                      nn_image *out, nn_error *e)
{
    out->w = out->h = out->c = 0, out->data = NULL;
    if (n < 1)
        return nn_fail(e, "montage: no images");
    nn_image *tiles = calloc((size_t)n, sizeof *tiles);
    char **labels = calloc((size_t)n, sizeof *labels);
    int rc = tiles && labels ? 0 : nn_fail(e, "out of memory");
    size_t per = (size_t)d->h * d->w * d->c;
    for (int i = 0; rc == 0 && i < n; i++) {
        if (rows[i].index < 0 || rows[i].index >= s->n) {
            rc = nn_fail(e, "montage: no row %ld in a split of %ld", rows[i].index, s->n);
            break;
        }
        nn_image t = {d->w, d->h, d->c, s->images + (size_t)rows[i].index * per};
        tiles[i] = t;
        int label = s->labels[rows[i].index];
        const char *cls = d->class_names && label >= 0 && label < d->classes
                              ? d->class_names[label] : "";
        if (!(labels[i] = malloc(96)))
            rc = nn_fail(e, "out of memory");
        else
            snprintf(labels[i], 96, "#%ld %s %.3g", rows[i].index, cls, rows[i].score);
    }
    if (rc == 0)
        rc = nn_image_grid(tiles, n, 0, 4, 0, (const char *const *)labels, out, e);
    for (int i = 0; labels && i < n; i++)
        free(labels[i]);
    free(labels);
    free(tiles);
    return rc;
}
