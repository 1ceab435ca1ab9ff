/* dataset.c - datasets in memory (man 5 nn-dataset): making and freeing
 * them, per-channel statistics, seeded stratified row selection, and the
 * operations nn-fetch-data applies: class selection, train/test split,
 * size limit, gray conversion and resizing. Images are uint8 [n,h,w,c],
 * labels int32 [n]. Every selection keeps the original order of the rows
 * it keeps, and depends only on the labels and the seed. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nn_dataset_free(nn_dataset *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->source);
    free(d->checksum);
    if (d->class_names)
        for (int i = 0; i < d->classes && d->class_names[i]; i++)
            free(d->class_names[i]);
    free(d->class_names);
    free(d->train.images);
    free(d->train.labels);
    free(d->test.images);
    free(d->test.labels);
    free(d);
}

nn_dataset *nn_dataset_new(const char *name, int h, int w, int c, int classes,
                           const char *const *names, nn_error *e)
{
    if (h < 1 || w < 1 || c < 1 || c > 4 || classes < 1) {
        nn_fail(e, "%s: bad dataset shape %dx%dx%d with %d classes", name ? name : "dataset",
                h, w, c, classes);
        return NULL;
    }
    nn_dataset *d = calloc(1, sizeof *d);
    if (!d || !(d->class_names = calloc((size_t)classes + 1, sizeof *d->class_names)))
        goto oom;
    d->h = h, d->w = w, d->c = c, d->classes = classes;
    if (name && !(d->name = strdup(name)))
        goto oom;
    for (int i = 0; i < classes; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        if (!(d->class_names[i] = strdup(names ? names[i] : num)))
            goto oom;
    }
    for (int k = 0; k < 4; k++)
        d->mean[k] = 0, d->std[k] = 1;
    return d;
oom:
    nn_dataset_free(d);
    nn_fail(e, "%s: out of memory", name ? name : "dataset");
    return NULL;
}

/* Per-channel histograms of the split's bytes, then mean and std of
 * u/255 from them (exact, in double). */
void nn_dataset_stats(nn_dataset *d)
{
    const nn_split *s = d->train.n > 0 ? &d->train : &d->test;
    int c = d->c;
    for (int k = 0; k < 4; k++)
        d->mean[k] = 0, d->std[k] = 1;
    if (s->n == 0 || c < 1 || c > 4)
        return;
    size_t pixels = (size_t)s->n * d->h * d->w;
    uint64_t hist[4][256];
    memset(hist, 0, sizeof hist);
    const uint8_t *p = s->images;
    for (size_t i = 0; i < pixels; i++, p += c)
        for (int k = 0; k < c; k++)
            hist[k][p[k]]++;
    for (int k = 0; k < c; k++) {
        double sum = 0, sum2 = 0;
        for (int u = 0; u < 256; u++) {
            double v = u / 255.0;
            sum += v * (double)hist[k][u];
            sum2 += v * v * (double)hist[k][u];
        }
        double mean = sum / (double)pixels, var = sum2 / (double)pixels - mean * mean;
        d->mean[k] = (float)mean;
        d->std[k] = (float)sqrt(var > 0 ? var : 0);
    }
}

/* ---- seeded stratified selection ---------------------------------------- */

/* rows[start[k]..start[k+1]) are the rows of class k, in order, each class
 * then shuffled by a seeded Fisher-Yates (a generator per class, so a
 * class's shuffle does not depend on the others). */
typedef struct by_class {
    long *rows;
    long *start; /* classes + 1 */
} by_class;

static void by_class_free(by_class *b)
{
    free(b->rows);
    free(b->start);
}

static int by_class_make(const int32_t *labels, long n, int classes, uint64_t seed,
                         by_class *b, nn_error *e)
{
    b->rows = malloc((size_t)(n ? n : 1) * sizeof *b->rows);
    b->start = calloc((size_t)classes + 1, sizeof *b->start);
    if (!b->rows || !b->start) {
        by_class_free(b);
        return nn_fail(e, "out of memory selecting %ld rows", n);
    }
    for (long i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= classes) {
            by_class_free(b);
            return nn_fail(e, "label %d of row %ld is not in 0..%d", (int)labels[i], i,
                           classes - 1);
        }
        b->start[labels[i] + 1]++;
    }
    for (int k = 0; k < classes; k++)
        b->start[k + 1] += b->start[k];
    long *fill = malloc((size_t)classes * sizeof *fill);
    if (!fill) {
        by_class_free(b);
        return nn_fail(e, "out of memory selecting %ld rows", n);
    }
    memcpy(fill, b->start, (size_t)classes * sizeof *fill);
    for (long i = 0; i < n; i++)
        b->rows[fill[labels[i]]++] = i;
    free(fill);
    for (int k = 0; k < classes; k++) {
        nn_rng r;
        nn_rng_seed(&r, nn_hash64(seed) ^ nn_hash64(0x5eed0000u + (uint64_t)k));
        long *v = b->rows + b->start[k], m = b->start[k + 1] - b->start[k];
        for (long i = m - 1; i > 0; i--) {
            long j = (long)(nn_rng_u64(&r) % (uint64_t)(i + 1));
            long t = v[i];
            v[i] = v[j], v[j] = t;
        }
    }
    return 0;
}

/* Marks the first want[k] rows of each class's shuffled list. */
static void mark_rows(const by_class *b, int classes, const long *want, long n, uint8_t *mark)
{
    memset(mark, 0, (size_t)n);
    for (int k = 0; k < classes; k++)
        for (long i = 0; i < want[k]; i++)
            mark[b->rows[b->start[k] + i]] = 1;
}

int nn_pick_fraction(const int32_t *labels, long n, int classes, double frac,
                     uint64_t seed, uint8_t *mark, nn_error *e)
{
    if (!(frac >= 0 && frac <= 1))
        return nn_fail(e, "the fraction %g is not in [0, 1]", frac);
    by_class b;
    if (by_class_make(labels, n, classes, seed, &b, e) < 0)
        return -1;
    long *want = malloc((size_t)classes * sizeof *want);
    if (!want) {
        by_class_free(&b);
        return nn_fail(e, "out of memory selecting %ld rows", n);
    }
    for (int k = 0; k < classes; k++)
        want[k] = lround(frac * (double)(b.start[k + 1] - b.start[k]));
    mark_rows(&b, classes, want, n, mark);
    free(want);
    by_class_free(&b);
    return 0;
}

int nn_pick_count(const int32_t *labels, long n, int classes, long k,
                  uint64_t seed, uint8_t *mark, nn_error *e)
{
    if (k < 0)
        return nn_fail(e, "cannot pick %ld rows", k);
    by_class b;
    if (by_class_make(labels, n, classes, seed, &b, e) < 0)
        return -1;
    long *want = malloc((size_t)classes * sizeof *want);
    double *rest = malloc((size_t)classes * sizeof *rest);
    if (!want || !rest) {
        free(want);
        free(rest);
        by_class_free(&b);
        return nn_fail(e, "out of memory selecting %ld rows", n);
    }
    if (k > n)
        k = n;
    long given = 0;
    for (int c = 0; c < classes; c++) {
        long size = b.start[c + 1] - b.start[c];
        double share = n ? (double)k * (double)size / (double)n : 0;
        want[c] = (long)floor(share);
        rest[c] = share - (double)want[c];
        given += want[c];
    }
    /* the rows left go to the largest remainders, lower class first on ties */
    while (given < k) {
        int best = -1;
        for (int c = 0; c < classes; c++)
            if (want[c] < b.start[c + 1] - b.start[c] && (best < 0 || rest[c] > rest[best]))
                best = c;
        if (best < 0)
            break;
        want[best]++;
        rest[best] = -1;
        given++;
    }
    mark_rows(&b, classes, want, n, mark);
    free(want);
    free(rest);
    by_class_free(&b);
    return 0;
}

/* ---- operations ---------------------------------------------------------- */

/* Rows of s with keep[i] != 0, in order, into a new split. */
static int split_keep(nn_split *s, size_t image_bytes, const uint8_t *keep, uint8_t want,
                      nn_split *out, nn_error *e)
{
    long m = 0;
    for (long i = 0; i < s->n; i++)
        m += keep[i] == want;
    out->n = m;
    out->images = malloc(m ? (size_t)m * image_bytes : 1);
    out->labels = malloc(m ? (size_t)m * sizeof *out->labels : 1);
    if (!out->images || !out->labels) {
        free(out->images);
        free(out->labels);
        out->images = NULL, out->labels = NULL;
        return nn_fail(e, "out of memory for %ld images", m);
    }
    long j = 0;
    for (long i = 0; i < s->n; i++)
        if (keep[i] == want) {
            memcpy(out->images + (size_t)j * image_bytes, s->images + (size_t)i * image_bytes,
                   image_bytes);
            out->labels[j++] = s->labels[i];
        }
    return 0;
}

static void split_free(nn_split *s)
{
    free(s->images);
    free(s->labels);
    s->images = NULL, s->labels = NULL, s->n = 0;
}

static size_t image_bytes(const nn_dataset *d)
{
    return (size_t)d->h * d->w * d->c;
}

/* The next comma-separated item of *p (spaces around it dropped) into buf. */
static int next_item(const char **p, char *buf, size_t size)
{
    const char *s = *p;
    if (!*s)
        return 0;
    const char *end = strchr(s, ',');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    *p = end ? end + 1 : s + len;
    while (len > 0 && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return 1;
}

/* "a, b, c" of the class names, cut to fit size. */
static void list_names(char *const *names, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len + 8 < size; i++) {
        int k = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
        if (k < 0 || (size_t)k >= size - len) {
            snprintf(buf + (len < size - 5 ? len : size - 5), 5, " ...");
            return;
        }
        len += (size_t)k;
    }
}

int nn_dataset_select_classes(nn_dataset *d, const char *list, nn_error *e)
{
    const char *dname = d->name ? d->name : "dataset";
    int *map = malloc((size_t)d->classes * sizeof *map); /* old label -> new, -1: dropped */
    int *order = malloc((size_t)d->classes * sizeof *order); /* new label -> old */
    if (!map || !order) {
        free(map);
        free(order);
        return nn_fail(e, "%s: out of memory", dname);
    }
    for (int k = 0; k < d->classes; k++)
        map[k] = -1;
    int nk = 0, rc = 0;
    char item[256];
    const char *p = list;
    while (rc == 0 && next_item(&p, item, sizeof item)) {
        if (!item[0])
            continue;
        int found = -1;
        for (int k = 0; k < d->classes && found < 0; k++)
            if (strcmp(d->class_names[k], item) == 0)
                found = k;
        if (found < 0) {
            char known[600];
            list_names(d->class_names, d->classes, known, sizeof known);
            rc = nn_fail(e, "%s: no class '%s'; the classes are: %s", dname, item, known);
        } else if (map[found] >= 0) {
            rc = nn_fail(e, "%s: class '%s' is named twice", dname, item);
        } else {
            map[found] = nk;
            order[nk++] = found;
        }
    }
    if (rc == 0 && nk == 0)
        rc = nn_fail(e, "%s: no classes selected", dname);
    char **names = rc == 0 ? calloc((size_t)nk + 1, sizeof *names) : NULL;
    if (rc == 0 && !names)
        rc = nn_fail(e, "%s: out of memory", dname);
    nn_split *sp[2] = {&d->train, &d->test};
    for (int s = 0; rc == 0 && s < 2; s++) {
        uint8_t *keep = malloc(sp[s]->n ? (size_t)sp[s]->n : 1);
        nn_split out;
        if (!keep) {
            rc = nn_fail(e, "%s: out of memory", dname);
            break;
        }
        for (long i = 0; i < sp[s]->n; i++) {
            int32_t l = sp[s]->labels[i];
            keep[i] = l >= 0 && l < d->classes && map[l] >= 0;
        }
        rc = split_keep(sp[s], image_bytes(d), keep, 1, &out, e);
        free(keep);
        if (rc < 0)
            break;
        for (long i = 0; i < out.n; i++)
            out.labels[i] = map[out.labels[i]];
        split_free(sp[s]);
        *sp[s] = out;
    }
    if (rc == 0) {
        for (int k = 0; k < nk; k++) {
            names[k] = d->class_names[order[k]];
            d->class_names[order[k]] = NULL;
        }
        for (int k = 0; k < d->classes; k++)
            free(d->class_names[k]);
        free(d->class_names);
        d->class_names = names;
        d->classes = nk;
    } else {
        free(names);
    }
    free(map);
    free(order);
    return rc;
}

int nn_dataset_split(nn_dataset *d, double frac, uint64_t seed, nn_error *e)
{
    const char *dname = d->name ? d->name : "dataset";
    size_t ib = image_bytes(d);
    long n = d->train.n + d->test.n;
    /* pool: train rows, then test rows */
    nn_split all = {n, malloc(n ? (size_t)n * ib : 1), malloc(n ? (size_t)n * sizeof(int32_t) : 1)};
    uint8_t *mark = malloc(n ? (size_t)n : 1);
    if (!all.images || !all.labels || !mark) {
        split_free(&all);
        free(mark);
        return nn_fail(e, "%s: out of memory splitting %ld images", dname, n);
    }
    if (d->train.n) {
        memcpy(all.images, d->train.images, (size_t)d->train.n * ib);
        memcpy(all.labels, d->train.labels, (size_t)d->train.n * sizeof(int32_t));
    }
    if (d->test.n) {
        memcpy(all.images + (size_t)d->train.n * ib, d->test.images, (size_t)d->test.n * ib);
        memcpy(all.labels + d->train.n, d->test.labels, (size_t)d->test.n * sizeof(int32_t));
    }
    nn_split train = {0}, test = {0};
    int rc = nn_pick_fraction(all.labels, n, d->classes, frac, seed, mark, e);
    if (rc < 0)
        nn_fail_within(e, "%s: ", dname);
    if (rc == 0)
        rc = split_keep(&all, ib, mark, 0, &train, e);
    if (rc == 0 && (rc = split_keep(&all, ib, mark, 1, &test, e)) < 0)
        split_free(&train);
    split_free(&all);
    free(mark);
    if (rc < 0)
        return -1;
    split_free(&d->train);
    split_free(&d->test);
    d->train = train;
    d->test = test;
    return 0;
}

int nn_dataset_limit(nn_dataset *d, long n, uint64_t seed, nn_error *e)
{
    const char *dname = d->name ? d->name : "dataset";
    nn_split *sp[2] = {&d->train, &d->test};
    for (int s = 0; s < 2; s++) {
        if (sp[s]->n <= n)
            continue;
        uint8_t *mark = malloc((size_t)sp[s]->n);
        nn_split out;
        if (!mark)
            return nn_fail(e, "%s: out of memory", dname);
        /* another stream for each split */
        if (nn_pick_count(sp[s]->labels, sp[s]->n, d->classes, n, seed + (uint64_t)s, mark, e) < 0 ||
            split_keep(sp[s], image_bytes(d), mark, 1, &out, e) < 0) {
            free(mark);
            return -1;
        }
        free(mark);
        split_free(sp[s]);
        *sp[s] = out;
    }
    return 0;
}

/* Every image of both splits through f (which makes a new image from one
 * of the dataset's), into new arrays of oh x ow x oc images. */
static int map_images(nn_dataset *d, int oh, int ow, int oc,
                      int (*f)(const nn_image *src, int arg, nn_image *dst, nn_error *e),
                      int arg, nn_error *e)
{
    const char *dname = d->name ? d->name : "dataset";
    size_t ib = image_bytes(d), ob = (size_t)oh * ow * oc;
    nn_split *sp[2] = {&d->train, &d->test};
    uint8_t *out[2] = {NULL, NULL};
    for (int s = 0; s < 2; s++)
        if (!(out[s] = malloc(sp[s]->n ? (size_t)sp[s]->n * ob : 1))) {
            free(out[0]);
            return nn_fail(e, "%s: out of memory for %ld images", dname, sp[s]->n);
        }
    int failed = 0;
    nn_error first = {{0}};
    for (int s = 0; s < 2; s++) {
        long n = sp[s]->n;
#pragma omp parallel for schedule(dynamic, 64)
        for (long i = 0; i < n; i++) {
            int bad;
#pragma omp atomic read
            bad = failed;
            if (bad)
                continue;
            nn_image src = {d->w, d->h, d->c, sp[s]->images + (size_t)i * ib}, dst = {0};
            nn_error err;
            if (f(&src, arg, &dst, &err) < 0 || dst.w != ow || dst.h != oh || dst.c != oc) {
#pragma omp critical(nn_dataset_map)
                if (!failed) {
                    snprintf(first.msg, sizeof first.msg, "%s",
                             dst.data ? "unexpected image size" : err.msg);
#pragma omp atomic write
                    failed = 1;
                }
            } else {
                memcpy(out[s] + (size_t)i * ob, dst.data, ob);
            }
            nn_image_free(&dst);
        }
    }
    if (failed) {
        free(out[0]);
        free(out[1]);
        return nn_fail(e, "%s: %s", dname, first.msg);
    }
    for (int s = 0; s < 2; s++) {
        free(sp[s]->images);
        sp[s]->images = out[s];
    }
    d->h = oh, d->w = ow, d->c = oc;
    return 0;
}

static int to_gray(const nn_image *src, int arg, nn_image *dst, nn_error *e)
{
    (void)arg;
    return nn_image_convert(src, 1, dst, e);
}

static int to_size(const nn_image *src, int size, nn_image *dst, nn_error *e)
{
    return nn_image_fit(src, size, dst, e);
}

int nn_dataset_gray(nn_dataset *d, nn_error *e)
{
    if (d->c == 1)
        return 0;
    if (d->c != 3 && d->c != 4)
        return nn_fail(e, "%s: cannot make %d channels gray", d->name ? d->name : "dataset", d->c);
    return map_images(d, d->h, d->w, 1, to_gray, 0, e);
}

int nn_dataset_resize(nn_dataset *d, int size, nn_error *e)
{
    if (size < 1)
        return nn_fail(e, "%s: size %d: must be at least 1", d->name ? d->name : "dataset", size);
    if (d->h == size && d->w == size)
        return 0;
    return map_images(d, size, size, d->c, to_size, size, e);
}
