/* h5_dataset.c - dataset files (man 5 nn-dataset):
 *   /                 attributes format="nn-dataset", version=1, name,
 *                     classes, class_names, source and checksum (optional
 *                     text), mean and std float[C]
 *   /train/images     uint8 [N,H,W,C], chunked by about 1 MiB, deflate
 *   /train/labels     int32 [N]; the same two under /test */
#include "h5_impl.h"

#include <stdlib.h>
#include <string.h>

#define DATASET_FORMAT "nn-dataset"
#define DATASET_VERSION 1
#define DATASET_DEFLATE 4 /* zlib level: most of level 9's size at a fraction of its time */

/* A dataset of dims[0] rows of row_bytes each: chunks of about 1 MiB of
 * whole rows, deflate-compressed; an empty one is contiguous (a chunk
 * cannot be larger than a fixed-size dataset). */
static int put_rows(h5_writer *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                    int ndims, const hsize_t *dims, size_t row_bytes, const void *data)
{
    hid_t space = H5Screate_simple(ndims, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
    herr_t rc = space < 0 || dcpl < 0 ? -1 : 0;
    if (rc == 0 && dims[0] > 0) {
        hsize_t chunk[H5S_MAX_RANK];
        memcpy(chunk, dims, (size_t)ndims * sizeof *chunk);
        hsize_t rows = ((hsize_t)1 << 20) / (row_bytes ? row_bytes : 1);
        chunk[0] = rows < 1 ? 1 : rows > dims[0] ? dims[0] : rows;
        rc = H5Pset_chunk(dcpl, ndims, chunk);
        if (rc >= 0 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0)
            rc = H5Pset_deflate(dcpl, DATASET_DEFLATE);
    }
    if (rc >= 0)
        d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0)
        rc = -1;
    if (rc >= 0 && dims[0] > 0)
        rc = H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (rc < 0)
        h5_wfail(w);
    if (d >= 0)
        H5Dclose(d);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

static int write_split(h5_writer *w, hid_t file, const char *group, const nn_dataset *d,
                       const nn_split *s)
{
    hid_t g = h5_new_group(w, file, group);
    if (g < 0)
        return -1;
    hsize_t idims[4] = {(hsize_t)s->n, (hsize_t)d->h, (hsize_t)d->w, (hsize_t)d->c};
    hsize_t ldims[1] = {(hsize_t)s->n};
    int rc = put_rows(w, g, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, idims,
                      (size_t)d->h * d->w * d->c, s->images) < 0 ||
                     put_rows(w, g, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, ldims,
                              sizeof(int32_t), s->labels) < 0
                 ? -1
                 : 0;
    H5Gclose(g);
    return rc;
}

static int dataset_content(h5_writer *w, hid_t file, const void *arg)
{
    const nn_dataset *d = arg;
    if (h5_put_string(w, file, "format", DATASET_FORMAT) < 0 ||
        h5_put_int(w, file, "version", DATASET_VERSION) < 0 ||
        h5_put_string(w, file, "name", d->name ? d->name : "") < 0 ||
        h5_put_int(w, file, "classes", d->classes) < 0 ||
        (d->class_names && h5_put_strings(w, file, "class_names", (const char *const *)d->class_names,
                                       (size_t)d->classes) < 0) ||
        (d->source && h5_put_string(w, file, "source", d->source) < 0) ||
        (d->checksum && h5_put_string(w, file, "checksum", d->checksum) < 0) ||
        h5_put_attr(w, file, "mean", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, (hsize_t)d->c, d->mean) < 0 ||
        h5_put_attr(w, file, "std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, (hsize_t)d->c, d->std) < 0)
        return -1;
    return write_split(w, file, "train", d, &d->train) < 0 ||
                   write_split(w, file, "test", d, &d->test) < 0
               ? -1
               : 0;
}

/* Labels outside 0..classes-1 are an error naming the first. */
static int check_labels(const nn_split *s, int classes, const char *name, const char *split,
                        nn_error *e)
{
    for (long i = 0; i < s->n; i++)
        if (s->labels[i] < 0 || s->labels[i] >= classes)
            return nn_fail(e, "%s: /%s/labels[%ld] is %d, not a class in 0..%d", name, split, i,
                           (int)s->labels[i], classes - 1);
    return 0;
}

int nn_dataset_save(const nn_dataset *d, const char *path, nn_error *e)
{
    const char *name = strcmp(path, "-") == 0 ? "stdout" : path;
    if (d->h < 1 || d->w < 1 || d->c < 1 || d->c > 4)
        return nn_fail(e, "%s: images of %dx%dx%d cannot be saved (1 to 4 channels)", name,
                       d->h, d->w, d->c);
    if (d->classes < 1)
        return nn_fail(e, "%s: the dataset has no classes", name);
    if (d->class_names)
        for (int k = 0; k < d->classes; k++)
            if (!d->class_names[k])
                return nn_fail(e, "%s: class %d has no name", name, k);
    if ((d->train.n > 0 && (!d->train.images || !d->train.labels)) ||
        (d->test.n > 0 && (!d->test.images || !d->test.labels)) || d->train.n < 0 ||
        d->test.n < 0)
        return nn_fail(e, "%s: the dataset has no image data", name);
    if (check_labels(&d->train, d->classes, name, "train", e) < 0 ||
        check_labels(&d->test, d->classes, name, "test", e) < 0)
        return -1;
    size_t rows = (size_t)d->train.n + (size_t)d->test.n;
    size_t bytes = rows * ((size_t)d->h * d->w * d->c + sizeof(int32_t)) + ((size_t)1 << 20);
    for (int k = 0; d->class_names && k < d->classes; k++)
        bytes += strlen(d->class_names[k]) + 64;
    bytes += (d->source ? strlen(d->source) : 0) + (d->checksum ? strlen(d->checksum) : 0);
    return h5_save(dataset_content, d, bytes, path, e);
}

/* An integer dataset read whole as mtype (elements of `size` bytes) that
 * must have `ndims` dimensions; dims gets them, *data is malloc'd. */
static int read_ints(nn_h5 *f, const char *path, hid_t mtype, size_t size, int ndims,
                     hsize_t *dims, void **data, nn_error *e)
{
    *data = NULL;
    int nd;
    hsize_t hd[H5S_MAX_RANK];
    hid_t d = h5_open_numeric(f, path, 1, &nd, hd, e);
    if (d < 0)
        return -1;
    if (nd != ndims) {
        H5Dclose(d);
        return nn_fail(e, "%s: %s has %d dimensions, expected %d", f->name, path, nd, ndims);
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)(dims[i] = hd[i]);
    if (!(*data = malloc(n ? n * size : 1))) {
        H5Dclose(d);
        return nn_fail(e, "%s: out of memory for %s (%zu values)", f->name, path, n);
    }
    if (n == 0) {
        H5Dclose(d);
        return 0;
    }
    if (h5_read_values(f, d, path, mtype, *data, e) < 0) {
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

/* /SPLIT/images and /SPLIT/labels into s; the image shape goes to (or is
 * checked against, when d->c > 0) d. */
static int load_split(nn_h5 *f, nn_dataset *d, const char *split, nn_split *s, nn_error *e)
{
    char path[64];
    hsize_t idims[4], ldims[1];
    void *images, *labels;
    snprintf(path, sizeof path, "/%s/images", split);
    if (read_ints(f, path, H5T_NATIVE_UINT8, 1, 4, idims, &images, e) < 0)
        return -1;
    s->images = images;
    if (idims[1] < 1 || idims[2] < 1 || idims[3] < 1 || idims[3] > 4 || idims[1] > 1 << 20 ||
        idims[2] > 1 << 20 || idims[0] > ((hsize_t)1 << 40))
        return nn_fail(e, "%s: %s has shape [%llu,%llu,%llu,%llu]; expected [N,H,W,C], C 1 to 4",
                       f->name, path, (unsigned long long)idims[0], (unsigned long long)idims[1],
                       (unsigned long long)idims[2], (unsigned long long)idims[3]);
    if (d->c == 0) {
        d->h = (int)idims[1], d->w = (int)idims[2], d->c = (int)idims[3];
    } else if (idims[1] != (hsize_t)d->h || idims[2] != (hsize_t)d->w ||
               idims[3] != (hsize_t)d->c) {
        return nn_fail(e, "%s: %s holds %llux%llux%llu images, /train/images %dx%dx%d", f->name,
                       path, (unsigned long long)idims[1], (unsigned long long)idims[2],
                       (unsigned long long)idims[3], d->h, d->w, d->c);
    }
    s->n = (long)idims[0];
    snprintf(path, sizeof path, "/%s/labels", split);
    if (read_ints(f, path, H5T_NATIVE_INT32, sizeof(int32_t), 1, ldims, &labels, e) < 0)
        return -1;
    s->labels = labels;
    if (ldims[0] != idims[0])
        return nn_fail(e, "%s: %s has %llu labels for %llu images", f->name, path,
                       (unsigned long long)ldims[0], (unsigned long long)idims[0]);
    return check_labels(s, d->classes, f->name, split, e);
}

static int load_dataset(nn_h5 *f, nn_dataset *d, nn_error *e)
{
    char *text = NULL;
    int version;
    if (H5Aexists_by_name(f->file, "/", "format", H5P_DEFAULT) <= 0)
        return nn_fail(e, "%s: not an nn dataset (no 'format' attribute)", f->name);
    if (h5_read_attr_string(f, "/", "format", &text, e) < 0)
        return -1;
    if (strcmp(text, DATASET_FORMAT) != 0) {
        nn_fail(e, "%s: not an nn dataset (its format is '%s')", f->name, text);
        free(text);
        return -1;
    }
    free(text);
    if (h5_read_attr_int(f, "/", "version", &version, e) < 0)
        return -1;
    if (version != DATASET_VERSION)
        return nn_fail(e, "%s: nn-dataset version %d; this program reads version %d", f->name,
                       version, DATASET_VERSION);
    if (h5_read_attr_int(f, "/", "classes", &d->classes, e) < 0)
        return -1;
    if (d->classes < 1)
        return nn_fail(e, "%s: classes is %d", f->name, d->classes);
    if (h5_read_attr_string(f, "/", "name", &d->name, e) < 0)
        return -1;
    const char *optional[2] = {"source", "checksum"};
    char **dst[2] = {&d->source, &d->checksum};
    for (int i = 0; i < 2; i++)
        if (H5Aexists_by_name(f->file, "/", optional[i], H5P_DEFAULT) > 0 &&
            h5_read_attr_string(f, "/", optional[i], dst[i], e) < 0)
            return -1;
    if (H5Aexists_by_name(f->file, "/", "class_names", H5P_DEFAULT) > 0) {
        size_t n;
        if (h5_read_attr_strings(f, "/", "class_names", &d->class_names, &n, e) < 0)
            return -1;
        if (n != (size_t)d->classes)
            return nn_fail(e, "%s: %zu class names for %d classes", f->name, n, d->classes);
    } else {
        if (!(d->class_names = calloc((size_t)d->classes + 1, sizeof *d->class_names)))
            return nn_fail(e, "%s: out of memory", f->name);
        for (int k = 0; k < d->classes; k++) {
            char num[16];
            snprintf(num, sizeof num, "%d", k);
            if (!(d->class_names[k] = strdup(num)))
                return nn_fail(e, "%s: out of memory", f->name);
        }
    }
    if (load_split(f, d, "train", &d->train, e) < 0 || load_split(f, d, "test", &d->test, e) < 0)
        return -1;
    int have_mean = H5Aexists_by_name(f->file, "/", "mean", H5P_DEFAULT) > 0;
    int have_std = H5Aexists_by_name(f->file, "/", "std", H5P_DEFAULT) > 0;
    nn_dataset_stats(d); /* when the file has no statistics */
    if (have_mean && h5_read_attr_fixed(f, "/", "mean", H5T_NATIVE_FLOAT, sizeof(float),
                                     (size_t)d->c, d->mean, e) < 0)
        return -1;
    if (have_std && h5_read_attr_fixed(f, "/", "std", H5T_NATIVE_FLOAT, sizeof(float),
                                    (size_t)d->c, d->std, e) < 0)
        return -1;
    return 0;
}

nn_dataset *nn_dataset_load(const char *path, nn_error *e)
{
    nn_h5 *f = nn_h5_open(path, e);
    if (!f)
        return NULL;
    nn_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        nn_fail(e, "%s: out of memory", f->name);
        nn_h5_close(f);
        return NULL;
    }
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = load_dataset(f, d, e);
    h5_quiet_end(&q);
    nn_h5_close(f);
    if (rc < 0) {
        nn_dataset_free(d);
        return NULL;
    }
    return d;
}
