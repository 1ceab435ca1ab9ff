/* formats.c - the datasets' original files read into an nn_dataset, and
 * nn_dataset_fetch, which gets the files (registry.c), reads them and
 * applies the selection, split, size and channel options. The only file
 * that includes archive.h (libarchive reads .gz, .tar.gz and .zip).
 *
 * Formats (the registry's format column):
 *   idx           MNIST-style idx files, gzip'd or not: train-* and t10k-*
 *                 (or test-*) images (idx3, uint8) and labels (idx1)
 *   cifar10       the CIFAR-10 binary tar.gz: data_batch_1..5.bin (train),
 *                 test_batch.bin, batches.meta.txt (class names); a record
 *                 is a label byte and 32x32 R, G, B planes
 *   pets          Oxford-IIIT Pets: images.tar.gz (BREED_NUMBER.jpg; the
 *                 breed is the class) and annotations.tar.gz, whose
 *                 trainval.txt and test.txt give the split
 *   dogs-vs-cats  Kaggle's train.zip: train/cat.N.jpg, train/dog.N.jpg
 *   folder:PATH   PATH/CLASS/IMAGE (PNG or JPEG), or PATH/train/CLASS/IMAGE
 *                 and PATH/test/CLASS/IMAGE for a given split
 * Images of the last three are decoded in parallel after the selection,
 * so only the images kept are decoded; an image that does not decode is
 * skipped with a warning naming it. */
#include "nn.h"

#include <archive.h>
#include <archive_entry.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_TEST_FRAC 0.2 /* the test share where the source has no split */

/* One fetch: the dataset's files and the options. */
typedef struct src {
    const char *name;      /* the dataset */
    const nn_dataset_opts *o;
    int n;                 /* files */
    char **files, **paths; /* registry names and local paths */
    const char *classes;   /* the registry's class names, or NULL */
} src;

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- files and archives (libarchive) ------------------------------------ */

/* All the data of the current entry into a malloc'd buffer; what names
 * it in messages ("images.tar.gz: images/cat.jpg"). */
static int read_entry(struct archive *a, const char *what, uint8_t **out, size_t *len,
                      nn_error *e)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return nn_fail(e, "%s: out of memory", what);
    for (;;) {
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                return nn_fail(e, "%s: out of memory (%zu bytes)", what, cap);
            }
            buf = b;
        }
        la_ssize_t k = archive_read_data(a, buf + n, cap - n);
        if (k == 0)
            break;
        if (k < 0 && k != ARCHIVE_WARN) {
            nn_fail(e, "%s: corrupt or truncated: %s", what,
                    archive_error_string(a) ? archive_error_string(a) : "read error");
            free(buf);
            return -1;
        }
        if (k > 0)
            n += (size_t)k;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* A whole file, decompressed when it is gzip'd (or compressed another way
 * libarchive knows), as is otherwise. */
static int read_decompressed(const char *path, const char *label, uint8_t **out, size_t *len,
                             nn_error *e)
{
    struct archive *a = archive_read_new();
    struct archive_entry *ent;
    if (!a)
        return nn_fail(e, "%s: out of memory", label);
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    int rc;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK)
        rc = nn_fail(e, "%s: cannot read: %s", label,
                     archive_error_string(a) ? archive_error_string(a) : strerror(errno));
    else if (archive_read_next_header(a, &ent) != ARCHIVE_OK)
        rc = nn_fail(e, "%s: cannot read: %s", label,
                     archive_error_string(a) ? archive_error_string(a) : "empty file");
    else
        rc = read_entry(a, label, out, len, e);
    archive_read_free(a);
    return rc;
}

/* Calls take(arg, entry, data, len) for each regular file of the archive
 * that want(arg, entry) asks for; take owns data. */
typedef int (*want_fn)(void *arg, const char *entry);
typedef int (*take_fn)(void *arg, const char *entry, uint8_t *data, size_t len, nn_error *e);

static int archive_each(const char *path, const char *label, want_fn want, take_fn take,
                        void *arg, nn_error *e)
{
    struct archive *a = archive_read_new();
    struct archive_entry *ent;
    if (!a)
        return nn_fail(e, "%s: out of memory", label);
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    int rc = 0, entries = 0;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        rc = nn_fail(e, "%s: cannot read: %s", label,
                     archive_error_string(a) ? archive_error_string(a) : strerror(errno));
        goto done;
    }
    for (;;) {
        int r = archive_read_next_header(a, &ent);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            const char *why = archive_error_string(a);
            rc = nn_fail(e, "%s: %s: %s", label,
                         entries ? "corrupt or truncated archive" : "not an archive",
                         why ? why : "read error");
            goto done;
        }
        entries++;
        const char *name = archive_entry_pathname(ent);
        if (!name || archive_entry_filetype(ent) != AE_IFREG || !want(arg, name))
            continue;
        char *entry = strdup(name), what[1024];
        uint8_t *data;
        size_t len;
        if (!entry) {
            rc = nn_fail(e, "%s: out of memory", label);
            goto done;
        }
        snprintf(what, sizeof what, "%s: %s", label, entry);
        rc = read_entry(a, what, &data, &len, e);
        if (rc == 0)
            rc = take(arg, entry, data, len, e);
        free(entry);
        if (rc < 0)
            goto done;
    }
done:
    archive_read_free(a);
    return rc;
}

/* ---- idx (MNIST, Fashion-MNIST) ----------------------------------------- */

typedef struct idx {
    uint8_t *buf; /* the decompressed file */
    size_t len;
    int ndims;
    long dims[3];
    const uint8_t *data;
} idx;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* magic 0x00 0x00 0x08 (uint8) NDIMS, NDIMS big-endian sizes, the data */
static int idx_parse(idx *x, const char *label, nn_error *e)
{
    if (x->len < 4 || x->buf[0] || x->buf[1] || x->buf[2] != 0x08 || x->buf[3] < 1 ||
        x->buf[3] > 3)
        return nn_fail(e, "%s: not an idx file of uint8 with 1 to 3 dimensions", label);
    x->ndims = x->buf[3];
    size_t head = 4 + 4 * (size_t)x->ndims, n = 1;
    if (x->len < head)
        return nn_fail(e, "%s: truncated idx header", label);
    for (int i = 0; i < x->ndims; i++) {
        x->dims[i] = (long)be32(x->buf + 4 + 4 * i);
        if (x->dims[i] < 1 || x->dims[i] > (1L << 28))
            return nn_fail(e, "%s: idx dimension %d is %ld", label, i, x->dims[i]);
        n *= (size_t)x->dims[i];
    }
    if (x->len - head != n)
        return nn_fail(e, "%s: %s idx file: the header says %zu bytes of data, it holds %zu",
                       label, x->len - head < n ? "truncated" : "bad", n, x->len - head);
    x->data = x->buf + head;
    return 0;
}

/* Class names from the registry's column, or "0".."k-1". */
static char **class_names_of(const char *list, int *k, nn_error *e)
{
    int n = 0;
    for (const char *p = list; p && *p; p++)
        n += *p == ',';
    n = list && *list ? n + 1 : 0;
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    const char *p = list;
    for (int i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!(v[i] = strndup(p, len))) {
            nn_strv_free(v);
            nn_fail(e, "out of memory");
            return NULL;
        }
        p = end ? end + 1 : p + len;
    }
    *k = n;
    return v;
}

/* A dataset of the given classes (names from the registry, or numbered up
 * to the largest label seen). */
static nn_dataset *new_dataset(const src *s, int h, int w, int c, int max_label,
                               nn_error *e)
{
    int k = 0;
    char **names = class_names_of(s->classes, &k, e);
    if (!names)
        return NULL;
    nn_dataset *d = NULL;
    if (k && max_label >= k)
        nn_fail(e, "%s: label %d in the files, but the registry names %d classes", s->name,
                max_label, k);
    else
        d = nn_dataset_new(s->name, h, w, c, k ? k : max_label + 1,
                           k ? (const char *const *)names : NULL, e);
    nn_strv_free(names);
    return d;
}

static int read_idx(const src *s, nn_dataset **out, nn_error *e)
{
    idx x[2][2]; /* [split][0 images, 1 labels] */
    const char *label[2][2] = {{NULL, NULL}, {NULL, NULL}};
    memset(x, 0, sizeof x);
    int rc = 0;
    for (int i = 0; rc == 0 && i < s->n; i++) {
        const char *f = s->files[i];
        int split = strncmp(f, "train", 5) == 0                                ? 0
                    : strncmp(f, "t10k", 4) == 0 || strncmp(f, "test", 4) == 0 ? 1
                                                                               : -1;
        if (split < 0) {
            rc = nn_fail(e, "%s: %s: an idx file name starts with train, t10k or test",
                         s->name, f);
            break;
        }
        idx t = {0};
        if ((rc = read_decompressed(s->paths[i], f, &t.buf, &t.len, e)) < 0)
            break;
        if ((rc = idx_parse(&t, f, e)) < 0 || (t.ndims != 3 && t.ndims != 1)) {
            if (rc == 0)
                rc = nn_fail(e, "%s: an idx file of %d dimensions: neither images (3) nor "
                             "labels (1)", f, t.ndims);
            free(t.buf);
            break;
        }
        int kind = t.ndims == 1;
        if (x[split][kind].buf) {
            rc = nn_fail(e, "%s: %s and %s are both %s %s", s->name, label[split][kind], f,
                         split ? "test" : "train", kind ? "labels" : "images");
            free(t.buf);
            break;
        }
        x[split][kind] = t;
        label[split][kind] = f;
    }
    for (int sp = 0; rc == 0 && sp < 2; sp++)
        for (int k = 0; rc == 0 && k < 2; k++)
            if (!x[sp][k].buf)
                rc = nn_fail(e, "%s: the registry lists no %s %s file", s->name,
                             sp ? "test" : "train", k ? "labels" : "images");
    for (int sp = 0; rc == 0 && sp < 2; sp++) {
        if (x[sp][0].dims[0] != x[sp][1].dims[0])
            rc = nn_fail(e, "%s: %ld images but %s has %ld labels", label[sp][0],
                         x[sp][0].dims[0], label[sp][1], x[sp][1].dims[0]);
        else if (x[sp][0].dims[1] != x[0][0].dims[1] || x[sp][0].dims[2] != x[0][0].dims[2])
            rc = nn_fail(e, "%s: %ldx%ld images, %s has %ldx%ld", label[sp][0],
                         x[sp][0].dims[1], x[sp][0].dims[2], label[0][0], x[0][0].dims[1],
                         x[0][0].dims[2]);
    }
    nn_dataset *d = NULL;
    if (rc == 0) {
        int max = 0;
        for (int sp = 0; sp < 2; sp++)
            for (long i = 0; i < x[sp][1].dims[0]; i++)
                max = x[sp][1].data[i] > max ? x[sp][1].data[i] : max;
        d = new_dataset(s, (int)x[0][0].dims[1], (int)x[0][0].dims[2], 1, max, e);
        rc = d ? 0 : -1;
    }
    for (int sp = 0; rc == 0 && sp < 2; sp++) {
        nn_split *o = sp ? &d->test : &d->train;
        long n = x[sp][0].dims[0];
        size_t bytes = (size_t)n * (size_t)d->h * (size_t)d->w;
        /* the images stay in the file's buffer, moved to its start */
        memmove(x[sp][0].buf, x[sp][0].data, bytes);
        o->images = x[sp][0].buf;
        x[sp][0].buf = NULL;
        o->n = n;
        if (!(o->labels = malloc((size_t)n * sizeof *o->labels))) {
            rc = nn_fail(e, "%s: out of memory", s->name);
            break;
        }
        for (long i = 0; i < n; i++)
            o->labels[i] = x[sp][1].data[i];
    }
    for (int sp = 0; sp < 2; sp++)
        for (int k = 0; k < 2; k++)
            free(x[sp][k].buf);
    if (rc < 0) {
        nn_dataset_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

/* ---- CIFAR-10 binary ------------------------------------------------------ */

#define CIFAR_RECORD 3073 /* label, then 32x32 R, G and B planes */

typedef struct cifar {
    uint8_t *batch[6]; /* data_batch_1..5, test_batch */
    size_t len[6];
    char *meta;
} cifar;

static int cifar_slot(const char *entry)
{
    const char *b = base_name(entry);
    if (strcmp(b, "test_batch.bin") == 0)
        return 5;
    if (strncmp(b, "data_batch_", 11) == 0 && b[11] >= '1' && b[11] <= '5' &&
        strcmp(b + 12, ".bin") == 0)
        return b[11] - '1';
    if (strcmp(b, "batches.meta.txt") == 0)
        return 6;
    return -1;
}

static int cifar_want(void *arg, const char *entry)
{
    (void)arg;
    return cifar_slot(entry) >= 0;
}

static int cifar_take(void *arg, const char *entry, uint8_t *data, size_t len, nn_error *e)
{
    cifar *c = arg;
    int k = cifar_slot(entry);
    if (k == 6) {
        char *t = realloc(data, len + 1);
        if (!t) {
            free(data);
            return nn_fail(e, "%s: out of memory", entry);
        }
        t[len] = 0;
        free(c->meta);
        c->meta = t;
        return 0;
    }
    if (len % CIFAR_RECORD != 0) {
        free(data);
        return nn_fail(e, "%s: %zu bytes, not a whole number of %d-byte records", entry, len,
                       CIFAR_RECORD);
    }
    free(c->batch[k]);
    c->batch[k] = data;
    c->len[k] = len;
    return 0;
}

/* The class names: the non-empty lines of batches.meta.txt. */
static char *cifar_names(const char *meta)
{
    size_t n = strlen(meta);
    char *list = malloc(n + 1), *q = list;
    if (!list)
        return NULL;
    for (const char *p = meta; *p;) {
        size_t len = strcspn(p, "\r\n");
        const char *a = p, *b = p + len;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            if (q > list)
                *q++ = ',';
            memcpy(q, a, (size_t)(b - a));
            q += b - a;
        }
        p += len;
        p += strspn(p, "\r\n");
    }
    *q = 0;
    return list;
}

static int read_cifar10(const src *s, nn_dataset **out, nn_error *e)
{
    cifar c;
    memset(&c, 0, sizeof c);
    int rc = s->n == 1 ? 0 : nn_fail(e, "%s: the cifar10 format reads one archive", s->name);
    if (rc == 0)
        rc = archive_each(s->paths[0], s->files[0], cifar_want, cifar_take, &c, e);
    for (int k = 0; rc == 0 && k < 6; k++)
        if (!c.batch[k] && k < 5)
            rc = nn_fail(e, "%s: no data_batch_%d.bin in the archive", s->files[0], k + 1);
        else if (!c.batch[k])
            rc = nn_fail(e, "%s: no test_batch.bin in the archive", s->files[0]);
    char *names = NULL;
    src s2 = *s;
    if (rc == 0 && c.meta) {
        if (!(names = cifar_names(c.meta)))
            rc = nn_fail(e, "out of memory");
        else if (*names)
            s2.classes = names;
    }
    nn_dataset *d = NULL;
    if (rc == 0) {
        int max = 0;
        for (int k = 0; k < 6; k++)
            for (size_t i = 0; i < c.len[k]; i += CIFAR_RECORD)
                max = c.batch[k][i] > max ? c.batch[k][i] : max;
        rc = (d = new_dataset(&s2, 32, 32, 3, max, e)) ? 0 : -1;
    }
    for (int sp = 0; rc == 0 && sp < 2; sp++) {
        nn_split *o = sp ? &d->test : &d->train;
        long n = 0;
        for (int k = sp ? 5 : 0; k < (sp ? 6 : 5); k++)
            n += (long)(c.len[k] / CIFAR_RECORD);
        o->images = malloc((size_t)n * 3072);
        o->labels = malloc((size_t)n * sizeof *o->labels);
        if (!o->images || !o->labels) {
            rc = nn_fail(e, "%s: out of memory", s->name);
            break;
        }
        o->n = n;
        long row = 0;
        for (int k = sp ? 5 : 0; k < (sp ? 6 : 5); k++)
            for (size_t i = 0; i < c.len[k]; i += CIFAR_RECORD, row++) {
                const uint8_t *r = c.batch[k] + i;
                uint8_t *img = o->images + (size_t)row * 3072;
                o->labels[row] = r[0];
                for (int p = 0; p < 1024; p++) /* CHW planes to HWC */
                    for (int ch = 0; ch < 3; ch++)
                        img[p * 3 + ch] = r[1 + ch * 1024 + p];
            }
    }
    for (int k = 0; k < 6; k++)
        free(c.batch[k]);
    free(c.meta);
    free(names);
    if (rc < 0) {
        nn_dataset_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

/* ---- image collections ----------------------------------------------------- */

typedef struct item {
    char *name;    /* the archive entry or file path: messages and order */
    int cls;       /* index into the class table */
    int split;     /* 0 train, 1 test, -1 not given */
    uint8_t *data; /* encoded bytes (archives); NULL: read the file `name` */
    size_t len;
    int label;     /* set by items_build: -1 dropped */
} item;

typedef struct itemset {
    const char *label; /* the archive or folder, for messages */
    item *v;
    long n, cap;
    char **cls;        /* the class names seen */
    int ncls, capcls;
    char **want;       /* --classes, NULL: every class */
    int nwant;
    int split;         /* the split a folder item gets (folder reader) */
    void *extra;       /* the reader's own */
} itemset;

static void items_free(itemset *s)
{
    for (long i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].data);
    }
    free(s->v);
    for (int k = 0; k < s->ncls; k++)
        free(s->cls[k]);
    free(s->cls);
    nn_strv_free(s->want);
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(base_name(name), '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                   strcasecmp(dot, ".png") == 0);
}

/* The class table index of name (added when new); -1: out of memory. */
static int class_of(itemset *s, const char *name, size_t len)
{
    for (int k = 0; k < s->ncls; k++)
        if (strlen(s->cls[k]) == len && strncmp(s->cls[k], name, len) == 0)
            return k;
    if (s->ncls == s->capcls) {
        int cap = s->capcls ? 2 * s->capcls : 16;
        char **v = realloc(s->cls, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        s->cls = v, s->capcls = cap;
    }
    if (!(s->cls[s->ncls] = strndup(name, len)))
        return -1;
    return s->ncls++;
}

static int wanted(const itemset *s, int cls)
{
    if (!s->want)
        return 1;
    for (int k = 0; k < s->nwant; k++)
        if (strcmp(s->want[k], s->cls[cls]) == 0)
            return 1;
    return 0;
}

/* Adds an item (takes name and data). */
static int items_add(itemset *s, char *name, int cls, int split, uint8_t *data, size_t len,
                     nn_error *e)
{
    if (s->n == s->cap) {
        long cap = s->cap ? 2 * s->cap : 1024;
        item *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(name);
            free(data);
            return nn_fail(e, "%s: out of memory", s->label);
        }
        s->v = v, s->cap = cap;
    }
    s->v[s->n++] = (item){name, cls, split, data, len, -1};
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const item *)a)->name, ((const item *)b)->name);
}

static int by_class_name(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int c = strcasecmp(x, y);
    return c ? c : strcmp(x, y);
}

/* One image decoded, fitted to size (when > 0); *why gets a malloc'd
 * message when it fails. */
static void decode_one(item *it, int size, nn_image *img, char **why)
{
    nn_error err;
    int rc = it->data ? nn_image_decode(it->data, it->len, it->name, img, &err)
                      : nn_image_read(it->name, img, &err);
    if (rc == 0 && size > 0 && nn_image_fit(img, size, img, &err) < 0) {
        nn_image_free(img);
        rc = -1;
    }
    free(it->data);
    it->data = NULL;
    if (rc < 0)
        *why = strdup(err.msg);
}

/* The collection into a dataset: classes chosen and ordered, the split
 * (the source's, or stratified), the limit, then the images kept decoded,
 * fitted and converted. has_split: the items carry a split. */
static int items_build(const src *s, itemset *set, int has_split, nn_dataset **out,
                       nn_error *e)
{
    const nn_dataset_opts *o = s->o;
    int rc = 0, nk = 0;
    /* class order: --classes as given, else the names sorted */
    char **order = calloc((size_t)set->ncls + 1, sizeof *order);
    int *label_of = calloc((size_t)set->ncls + 1, sizeof *label_of);
    if (!order || !label_of) {
        free(order);
        free(label_of);
        return nn_fail(e, "%s: out of memory", s->name);
    }
    if (set->ncls == 0)
        rc = nn_fail(e, "%s: no PNG or JPEG images", set->label);
    if (set->want) {
        for (int k = 0; rc == 0 && k < set->nwant; k++) {
            int found = -1;
            for (int j = 0; j < set->ncls && found < 0; j++)
                if (strcmp(set->cls[j], set->want[k]) == 0)
                    found = j;
            for (int j = 0; j < nk && found >= 0; j++)
                if (strcmp(order[j], set->want[k]) == 0)
                    rc = nn_fail(e, "%s: class '%s' is named twice in --classes", s->name,
                                 set->want[k]);
            if (found < 0) {
                char known[600] = "";
                size_t len = 0;
                char **sorted = malloc((size_t)set->ncls * sizeof *sorted);
                if (sorted) {
                    memcpy(sorted, set->cls, (size_t)set->ncls * sizeof *sorted);
                    qsort(sorted, (size_t)set->ncls, sizeof *sorted, by_class_name);
                    for (int j = 0; j < set->ncls && len + 8 < sizeof known; j++)
                        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s",
                                                j ? ", " : "", sorted[j]);
                    free(sorted);
                }
                rc = nn_fail(e, "%s: no class '%s'; the classes are: %s", s->name,
                             set->want[k], known);
            }
            if (rc == 0)
                order[nk++] = set->cls[found];
        }
    } else {
        memcpy(order, set->cls, (size_t)set->ncls * sizeof *order);
        nk = set->ncls;
        qsort(order, (size_t)nk, sizeof *order, by_class_name);
    }
    for (int j = 0; j < set->ncls; j++) {
        label_of[j] = -1;
        for (int k = 0; k < nk; k++)
            if (order[k] == set->cls[j])
                label_of[j] = k;
    }
    /* the items kept, in name order, with labels */
    qsort(set->v, (size_t)set->n, sizeof *set->v, by_name);
    long m = 0;
    int32_t *labels = malloc((size_t)(set->n ? set->n : 1) * sizeof *labels);
    uint8_t *mark = malloc((size_t)(set->n ? set->n : 1));
    long *rows = malloc((size_t)(set->n ? set->n : 1) * sizeof *rows);
    if (rc == 0 && (!labels || !mark || !rows))
        rc = nn_fail(e, "%s: out of memory", s->name);
    int own_split = has_split && o->test_frac < 0;
    long unsplit = 0;
    for (long i = 0; rc == 0 && i < set->n; i++) {
        item *it = &set->v[i];
        int l = label_of[it->cls];
        if (l < 0)
            continue;
        if (own_split && it->split < 0) {
            unsplit++;
            continue;
        }
        labels[m] = l;
        rows[m++] = i;
    }
    if (rc == 0 && unsplit)
        nn_dataset_say(o, 0, "%s: %ld images are in neither the train nor the test list; left out",
            s->name, unsplit);
    if (rc == 0 && m == 0)
        rc = nn_fail(e, "%s: no images of the classes chosen", s->name);
    /* split: mark[j] = 1 for test */
    if (rc == 0 && own_split) {
        for (long j = 0; j < m; j++)
            mark[j] = set->v[rows[j]].split == 1;
    } else if (rc == 0) {
        double frac = o->test_frac >= 0 ? o->test_frac : DEFAULT_TEST_FRAC;
        rc = nn_pick_fraction(labels, m, nk, frac, o->seed, mark, e);
    }
    /* limit: at most o->limit of each split */
    for (int sp = 0; rc == 0 && o->limit > 0 && sp < 2; sp++) {
        long cnt = 0;
        for (long j = 0; j < m; j++)
            cnt += mark[j] == sp;
        if (cnt <= o->limit)
            continue;
        long *idx = malloc((size_t)cnt * sizeof *idx);
        int32_t *lab = malloc((size_t)cnt * sizeof *lab);
        uint8_t *keep = malloc((size_t)cnt);
        if (!idx || !lab || !keep) {
            rc = nn_fail(e, "%s: out of memory", s->name);
        } else {
            long c = 0;
            for (long j = 0; j < m; j++)
                if (mark[j] == sp)
                    idx[c] = j, lab[c++] = labels[j];
            rc = nn_pick_count(lab, cnt, nk, o->limit, o->seed + (uint64_t)sp, keep, e);
            for (long j = 0; rc == 0 && j < cnt; j++)
                if (!keep[j])
                    mark[idx[j]] = 2; /* dropped */
        }
        free(idx);
        free(lab);
        free(keep);
    }
    /* decode what is kept, in parallel */
    nn_image *img = rc == 0 ? calloc((size_t)(m ? m : 1), sizeof *img) : NULL;
    char **why = rc == 0 ? calloc((size_t)(m ? m : 1), sizeof *why) : NULL;
    if (rc == 0 && (!img || !why))
        rc = nn_fail(e, "%s: out of memory", s->name);
    if (rc == 0) {
        double t0 = nn_now();
        long todo = 0;
        for (long j = 0; j < m; j++)
            todo += mark[j] < 2;
        nn_dataset_say(o, 0, "%s: decoding %ld images", s->name, todo);
#pragma omp parallel for schedule(dynamic, 4)
        for (long j = 0; j < m; j++)
            if (mark[j] < 2)
                decode_one(&set->v[rows[j]], o->size, &img[j], &why[j]);
        nn_dataset_say(o, 0, "%s: decoded in %.1f s", s->name, nn_now() - t0);
    }
    /* the shape: o->size, or the first image's (then all must have it) */
    int h = 0, w = 0, gray = 1;
    long bad = 0, first = -1;
    for (long j = 0; rc == 0 && j < m; j++) {
        if (mark[j] == 2)
            continue;
        if (!img[j].data) {
            nn_dataset_say(o, 1, "%s: %s; skipped", set->label, why[j] ? why[j] : "cannot decode");
            bad++;
            mark[j] = 2;
            continue;
        }
        gray &= img[j].c == 1;
        if (first < 0) {
            first = j, h = img[j].h, w = img[j].w;
        } else if (img[j].h != h || img[j].w != w) {
            rc = nn_fail(e, "%s: images differ in size: %s is %dx%d, %s is %dx%d; give "
                         "--size N", s->name, set->v[rows[first]].name, w, h,
                         set->v[rows[j]].name, img[j].w, img[j].h);
        }
    }
    if (rc == 0 && bad)
        nn_dataset_say(o, 1, "%s: %ld image%s skipped", set->label, bad, bad == 1 ? "" : "s");
    if (rc == 0 && first < 0)
        rc = nn_fail(e, "%s: no image could be decoded", s->name);
    nn_dataset *d = NULL;
    if (rc == 0) {
        const char **names = malloc((size_t)nk * sizeof *names);
        if (!names)
            rc = nn_fail(e, "%s: out of memory", s->name);
        for (int k = 0; rc == 0 && k < nk; k++)
            names[k] = order[k];
        if (rc == 0 && !(d = nn_dataset_new(s->name, h, w, o->gray || gray ? 1 : 3, nk,
                                            names, e)))
            rc = -1;
        free(names);
    }
    for (int sp = 0; rc == 0 && sp < 2; sp++) {
        nn_split *os = sp ? &d->test : &d->train;
        long cnt = 0;
        for (long j = 0; j < m; j++)
            cnt += mark[j] == sp;
        size_t ib = (size_t)h * w * d->c;
        os->images = malloc(cnt ? cnt * ib : 1);
        os->labels = malloc(cnt ? (size_t)cnt * sizeof *os->labels : 1);
        if (!os->images || !os->labels) {
            rc = nn_fail(e, "%s: out of memory for %ld images", s->name, cnt);
            break;
        }
        long r = 0;
        for (long j = 0; rc == 0 && j < m; j++) {
            if (mark[j] != sp)
                continue;
            if (img[j].c != d->c && nn_image_convert(&img[j], d->c, &img[j], e) < 0) {
                rc = -1;
                break;
            }
            memcpy(os->images + (size_t)r * ib, img[j].data, ib);
            os->labels[r++] = labels[j];
            nn_image_free(&img[j]);
        }
        os->n = r;
    }
    for (long j = 0; img && j < m; j++) {
        nn_image_free(&img[j]);
        free(why[j]);
    }
    free(img);
    free(why);
    free(labels);
    free(mark);
    free(rows);
    free(order);
    free(label_of);
    if (rc < 0) {
        nn_dataset_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

/* --classes into the set, before reading, so unwanted images are skipped. */
static int items_init(itemset *set, const char *label, const char *classes, nn_error *e)
{
    memset(set, 0, sizeof *set);
    set->label = label;
    set->split = -1;
    if (!classes)
        return 0;
    if (!(set->want = class_names_of(classes, &set->nwant, e)))
        return -1;
    for (int k = 0; k < set->nwant; k++) { /* spaces around names dropped */
        char *p = set->want[k], *q = p + strlen(p);
        while (*p == ' ')
            p++;
        while (q > p && q[-1] == ' ')
            q--;
        memmove(set->want[k], p, (size_t)(q - p));
        set->want[k][q - p] = 0;
    }
    return 0;
}

/* An archive entry's class from its base name: up to the last '_' before
 * digits (pets: "Abyssinian_12.jpg"), or up to the first '.' (dogs vs
 * cats: "cat.12.jpg"); its length, 0 when the name has none. */
static size_t class_len(const char *b, int pets)
{
    if (!pets) {
        const char *dot = strchr(b, '.');
        return dot && dot > b && strchr(dot + 1, '.') ? (size_t)(dot - b) : 0;
    }
    const char *dot = strrchr(b, '.'), *us = NULL;
    for (const char *p = b; p < dot; p++)
        if (*p == '_')
            us = p;
    if (!us || us == b || us + 1 == dot)
        return 0;
    for (const char *p = us + 1; p < dot; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return (size_t)(us - b);
}

typedef struct named {
    itemset *set;
    int pets;
    int cls; /* of the entry want() accepted */
    const nn_dataset_opts *o;
} named;

static int named_want(void *arg, const char *entry)
{
    named *n = arg;
    if (!is_image_name(entry))
        return 0;
    const char *b = base_name(entry);
    size_t len = class_len(b, n->pets);
    if (!len) {
        nn_dataset_say(n->o, 1, "%s: %s: no class in the name (expected %s); skipped", n->set->label,
            entry, n->pets ? "BREED_NUMBER.jpg" : "CLASS.NUMBER.jpg");
        return 0;
    }
    n->cls = class_of(n->set, b, len);
    return n->cls >= 0 && wanted(n->set, n->cls);
}

static int named_take(void *arg, const char *entry, uint8_t *data, size_t len, nn_error *e)
{
    named *n = arg;
    char *name = strdup(entry);
    if (!name || n->cls < 0) {
        free(name);
        free(data);
        return nn_fail(e, "%s: out of memory", n->set->label);
    }
    return items_add(n->set, name, n->cls, -1, data, len, e);
}

/* ---- Oxford-IIIT Pets --------------------------------------------------------- */

/* The lists of annotations.tar.gz: "NAME CLASS SPECIES BREED" lines of
 * trainval.txt (train) and test.txt (test). */
typedef struct listed {
    char *stem;
    int split;
} listed;

typedef struct lists {
    listed *v;
    long n, cap;
    int seen[2];
} lists;

static int lists_want(void *arg, const char *entry)
{
    (void)arg;
    const char *b = base_name(entry);
    return strcmp(b, "trainval.txt") == 0 || strcmp(b, "test.txt") == 0;
}

static int lists_take(void *arg, const char *entry, uint8_t *data, size_t len, nn_error *e)
{
    lists *l = arg;
    int split = strcmp(base_name(entry), "test.txt") == 0;
    l->seen[split] = 1;
    char *text = realloc(data, len + 1);
    if (!text) {
        free(data);
        return nn_fail(e, "%s: out of memory", entry);
    }
    text[len] = 0;
    int rc = 0;
    for (char *p = text; rc == 0 && *p;) {
        size_t n = strcspn(p, "\r\n"), w = strcspn(p, " \t\r\n");
        if (w > 0 && *p != '#') {
            if (l->n == l->cap) {
                long cap = l->cap ? 2 * l->cap : 4096;
                listed *v = realloc(l->v, (size_t)cap * sizeof *v);
                if (!v) {
                    rc = nn_fail(e, "%s: out of memory", entry);
                    break;
                }
                l->v = v, l->cap = cap;
            }
            if (!(l->v[l->n].stem = strndup(p, w))) {
                rc = nn_fail(e, "%s: out of memory", entry);
                break;
            }
            l->v[l->n++].split = split;
        }
        p += n;
        p += strspn(p, "\r\n");
    }
    free(text);
    return rc;
}

static int by_stem(const void *a, const void *b)
{
    return strcmp(((const listed *)a)->stem, ((const listed *)b)->stem);
}

static int read_pets(const src *s, itemset *set, int *has_split, nn_error *e)
{
    int images = -1, notes = -1;
    for (int i = 0; i < s->n; i++)
        if (strstr(s->files[i], "annotations"))
            notes = i;
        else
            images = i;
    if (images < 0)
        return nn_fail(e, "%s: the registry lists no images archive", s->name);
    set->label = s->files[images];
    named n = {set, 1, -1, s->o};
    if (archive_each(s->paths[images], s->files[images], named_want, named_take, &n, e) < 0)
        return -1;
    *has_split = 0;
    if (s->o->test_frac >= 0)
        return 0; /* the split is made here */
    if (notes < 0)
        return nn_fail(e, "%s: the registry lists no annotations archive (it holds the "
                       "split); or give --test-frac", s->name);
    lists l;
    memset(&l, 0, sizeof l);
    int rc = archive_each(s->paths[notes], s->files[notes], lists_want, lists_take, &l, e);
    if (rc == 0 && (!l.seen[0] || !l.seen[1]))
        rc = nn_fail(e, "%s: no annotations/%s in the archive; or give --test-frac",
                     s->files[notes], l.seen[0] ? "test.txt" : "trainval.txt");
    if (rc == 0) {
        qsort(l.v, (size_t)l.n, sizeof *l.v, by_stem);
        for (long i = 0; i < set->n; i++) {
            const char *b = base_name(set->v[i].name);
            char stem[512];
            snprintf(stem, sizeof stem, "%.*s", (int)(strrchr(b, '.') - b), b);
            listed key = {stem, 0}, *hit = bsearch(&key, l.v, (size_t)l.n, sizeof *l.v, by_stem);
            set->v[i].split = hit ? hit->split : -1;
        }
        *has_split = 1;
    }
    for (long i = 0; i < l.n; i++)
        free(l.v[i].stem);
    free(l.v);
    return rc;
}

static int read_dogs(const src *s, itemset *set, int *has_split, nn_error *e)
{
    *has_split = 0;
    if (s->n != 1)
        return nn_fail(e, "%s: the dogs-vs-cats format reads one archive", s->name);
    set->label = s->files[0];
    named n = {set, 0, -1, s->o};
    return archive_each(s->paths[0], s->files[0], named_want, named_take, &n, e);
}

/* ---- folders ------------------------------------------------------------------- */

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The classes under dir (one sub-folder each) into set, with split. */
static int read_class_dirs(const nn_dataset_opts *o, itemset *set, const char *dir, int split,
                           long *classes, nn_error *e)
{
    struct dirent **sub;
    int ns = scandir(dir, &sub, visible, alphasort);
    if (ns < 0)
        return nn_fail(e, "%s: cannot read: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < ns; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, sub[i]->d_name);
        if (rc < 0 || !is_dir(path))
            continue;
        struct dirent **f;
        int nf = scandir(path, &f, visible, alphasort);
        if (nf < 0) {
            rc = nn_fail(e, "%s: cannot read: %s", path, strerror(errno));
            continue;
        }
        int cls = -1;
        long found = 0;
        for (int j = 0; j < nf; j++) {
            char file[8192];
            snprintf(file, sizeof file, "%s/%s", path, f[j]->d_name);
            if (rc == 0 && is_image_name(f[j]->d_name) && !is_dir(file)) {
                if (cls < 0 && (cls = class_of(set, sub[i]->d_name, strlen(sub[i]->d_name))) < 0)
                    rc = nn_fail(e, "%s: out of memory", dir);
                found++;
                char *name = rc == 0 && wanted(set, cls) ? strdup(file) : NULL;
                if (name)
                    rc = items_add(set, name, cls, split, NULL, 0, e);
            }
            free(f[j]);
        }
        free(f);
        if (rc == 0 && !found)
            nn_dataset_say(o, 1, "%s: no PNG or JPEG images; not a class", path);
        *classes += found > 0;
    }
    for (int i = 0; i < ns; i++)
        free(sub[i]);
    free(sub);
    return rc;
}

static int read_folder(const src *s, const char *dir, itemset *set, int *has_split,
                       nn_error *e)
{
    char train[4096], test[4096];
    snprintf(train, sizeof train, "%s/train", dir);
    snprintf(test, sizeof test, "%s/test", dir);
    if (!is_dir(dir))
        return nn_fail(e, "%s: not a folder", dir);
    long classes = 0;
    set->label = dir;
    *has_split = is_dir(train) && is_dir(test);
    int rc = *has_split ? (read_class_dirs(s->o, set, train, 0, &classes, e) < 0 ||
                                   read_class_dirs(s->o, set, test, 1, &classes, e) < 0
                               ? -1
                               : 0)
                        : read_class_dirs(s->o, set, dir, -1, &classes, e);
    if (rc == 0 && classes == 0)
        rc = nn_fail(e, "%s: no class folders with images; expected one sub-folder per "
                     "class holding PNG or JPEG files", dir);
    return rc;
}

/* ---- fetching -------------------------------------------------------------------- */

typedef struct format {
    const char *name;
    int (*read_array)(const src *s, nn_dataset **out, nn_error *e);
    int (*read_items)(const src *s, itemset *set, int *has_split, nn_error *e);
} format;

static const format formats[] = {
    {"idx", read_idx, NULL},
    {"cifar10", read_cifar10, NULL},
    {"pets", NULL, read_pets},
    {"dogs-vs-cats", NULL, read_dogs},
};

/* "LINE1\nLINE2" of s[i] (or of "SUM  FILE" pairs when b is given). */
static char *join_lines(char **a, char **b, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(a[i]) + (b ? strlen(b[i]) + 2 : 0) + 1;
    char *t = malloc(len), *p = t;
    if (!t)
        return NULL;
    *p = 0;
    for (int i = 0; i < n; i++)
        p += b ? sprintf(p, "%s%s  %s", i ? "\n" : "", a[i], b[i])
               : sprintf(p, "%s%s", i ? "\n" : "", a[i]);
    return t;
}

/* Options on an array dataset: classes, split, limit, size, channels. */
static int apply_options(nn_dataset *d, const nn_dataset_opts *o, nn_error *e)
{
    if (o->classes && nn_dataset_select_classes(d, o->classes, e) < 0)
        return -1;
    if (o->test_frac >= 0 && nn_dataset_split(d, o->test_frac, o->seed, e) < 0)
        return -1;
    if (o->limit > 0 && nn_dataset_limit(d, o->limit, o->seed, e) < 0)
        return -1;
    if (o->size > 0 && nn_dataset_resize(d, o->size, e) < 0)
        return -1;
    if (o->gray && nn_dataset_gray(d, e) < 0)
        return -1;
    return 0;
}

nn_dataset *nn_dataset_fetch(const nn_registry *r, const char *name,
                             const nn_dataset_opts *o, nn_error *e)
{
    src s = {name, o, 0, NULL, NULL, NULL};
    char **sums = NULL, **origin = NULL;
    const format *fmt = NULL;
    nn_dataset *d = NULL;
    itemset set;
    int rc = 0, has_split = 0, folder = strncmp(name, "folder:", 7) == 0;
    double t0 = nn_now();
    if (o->test_frac > 1 || o->size < 0 || o->limit < 0) {
        nn_fail(e, "%s: bad options (test fraction %g, size %d, limit %ld)", name,
                o->test_frac, o->size, o->limit);
        return NULL;
    }
    if (items_init(&set, name, o->classes, e) < 0)
        return NULL;
    if (folder) {
        const char *dir = name + 7;
        if (!*dir) {
            nn_fail(e, "folder:: give the folder: folder:PATH");
            items_free(&set);
            return NULL;
        }
        s.name = base_name(dir)[0] ? base_name(dir) : dir;
        rc = read_folder(&s, dir, &set, &has_split, e);
    } else {
        const nn_reg_row *row = NULL;
        for (int i = 0; i < r->n && !row; i++)
            if (strcmp(r->rows[i].name, name) == 0)
                row = &r->rows[i];
        for (int i = 0; row && i < r->n; i++)
            if (strcmp(r->rows[i].name, name) == 0 && r->rows[i].classes && !s.classes)
                s.classes = r->rows[i].classes;
        for (size_t k = 0; row && k < sizeof formats / sizeof *formats; k++)
            if (strcmp(formats[k].name, row->format) == 0)
                fmt = &formats[k];
        if (!row)
            rc = nn_fail(e, "%s: unknown dataset (nn-fetch-data --list shows the known ones)",
                         name);
        else if (!fmt)
            rc = nn_fail(e, "%s:%d: unknown format '%s'; the formats are idx, cifar10, pets "
                         "and dogs-vs-cats", r->path, row->line, row->format);
        if (rc == 0)
            rc = nn_dataset_files(r, name, o, &s.n, &s.files, &s.paths, &sums, &origin, e);
        if (rc == 0)
            nn_dataset_say(o, 0, "%s: files ready after %.1f s", name, nn_now() - t0);
        if (rc == 0 && fmt->read_array)
            rc = fmt->read_array(&s, &d, e) < 0 || apply_options(d, o, e) < 0 ? -1 : 0;
        else if (rc == 0)
            rc = fmt->read_items(&s, &set, &has_split, e);
    }
    if (rc == 0 && !d)
        rc = items_build(&s, &set, has_split, &d, e);
    if (rc == 0) {
        free(d->name);
        d->name = strdup(s.name);
        d->source = folder ? strdup(name) : join_lines(origin, NULL, s.n);
        d->checksum = folder ? NULL : join_lines(sums, s.files, s.n);
        if (!d->name || !d->source || (!folder && !d->checksum))
            rc = nn_fail(e, "%s: out of memory", name);
    }
    if (rc == 0 && d->train.n == 0)
        rc = nn_fail(e, "%s: no training images left", name);
    if (rc == 0) {
        nn_dataset_stats(d);
        nn_dataset_say(o, 0, "%s: %ld train + %ld test images of %dx%dx%d, %d classes, in %.1f s", name,
            d->train.n, d->test.n, d->h, d->w, d->c, d->classes, nn_now() - t0);
    }
    items_free(&set);
    nn_strv_free(s.files);
    nn_strv_free(s.paths);
    nn_strv_free(sums);
    nn_strv_free(origin);
    if (rc < 0) {
        nn_dataset_free(d);
        return NULL;
    }
    return d;
}
