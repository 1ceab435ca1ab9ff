/* h5.c - what the HDF5 files of lib/ share (lib/h5_impl.h): HDF5 calls
 * without HDF5's printed error stacks, files built in memory (the core
 * driver) and written in one piece through a temporary file renamed into
 * place (or stdout for "-"), and reads of datasets and attributes with
 * messages that name the file, for the formats and for tools and tests.
 * The formats: h5_model.c (man 5 nn-model), h5_dataset.c (man 5
 * nn-dataset) and h5_acts.c (man 5 nn-acts). */
#include "h5_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- HDF5 error handling ----------------------------------------------- */

void h5_quiet_begin(h5_quiet *q)
{
    if (H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) < 0)
        q->func = NULL, q->data = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5_quiet_end(const h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

typedef struct cause {
    int err;        /* errno reported by the file driver, or 0 */
    char desc[256]; /* the innermost message */
} cause;

static herr_t cause_walk(unsigned n, const H5E_error2_t *err, void *data)
{
    cause *c = data;
    (void)n;
    if (!err->desc)
        return 0;
    if (!c->desc[0])
        snprintf(c->desc, sizeof c->desc, "%s", err->desc);
    const char *s = strstr(err->desc, "errno = ");
    if (s && !c->err)
        c->err = atoi(s + 8);
    return 0;
}

/* Call it before any other HDF5 call clears the stack. */
void h5_last_cause(char *buf, size_t size, int fallback_errno)
{
    cause c = {0, {0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cause_walk, &c);
    if (c.err > 0)
        snprintf(buf, size, "%s", strerror(c.err));
    else if (fallback_errno > 0)
        snprintf(buf, size, "%s", strerror(fallback_errno));
    else if (c.desc[0])
        snprintf(buf, size, "%s", c.desc);
    else
        snprintf(buf, size, "HDF5 error");
}

/* A file access list: closing the file closes every object in it; file
 * locking is used where the file system supports it. */
static hid_t new_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

/* A unique name for an in-memory file (the core driver tells open files
 * apart by name). */
static void image_name(char *buf, size_t size)
{
    static unsigned counter;
    snprintf(buf, size, "nn-image-%ld-%u", (long)getpid(), counter++);
}

/* Variable-length UTF-8 string type (what h5py reads as str). */
static hid_t vlen_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* ---- writing ----------------------------------------------------------- */

/* Records the first HDF5 failure as "NAME: write failed: CAUSE". */
int h5_wfail(h5_writer *w)
{
    if (!w->failed) {
        char why[300];
        h5_last_cause(why, sizeof why, 0);
        nn_fail(w->e, "%s: write failed: %s", w->name, why);
        w->failed = 1;
    }
    return -1;
}

int h5_put_attr(h5_writer *w, hid_t loc, const char *name, hid_t ftype,
                    hid_t mtype, hsize_t n, const void *data)
{
    hid_t space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1 : H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mtype, data);
    if (rc < 0)
        h5_wfail(w);
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

int h5_put_string(h5_writer *w, hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_string_type();
    if (t < 0)
        return h5_wfail(w);
    int rc = h5_put_attr(w, loc, name, t, t, 0, &value);
    H5Tclose(t);
    return rc;
}

int h5_put_strings(h5_writer *w, hid_t loc, const char *name, const char *const *values,
                   size_t n)
{
    hid_t t = vlen_string_type();
    if (t < 0)
        return h5_wfail(w);
    int rc = h5_put_attr(w, loc, name, t, t, n, values);
    H5Tclose(t);
    return rc;
}

int h5_put_int(h5_writer *w, hid_t loc, const char *name, int v)
{
    return h5_put_attr(w, loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, 0, &v);
}

int h5_put_float(h5_writer *w, hid_t loc, const char *name, float v)
{
    return h5_put_attr(w, loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 0, &v);
}

int h5_put_data(h5_writer *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                int ndims, const int *dims, const void *data)
{
    hsize_t hd[4];
    for (int i = 0; i < ndims && i < 4; i++)
        hd[i] = (hsize_t)dims[i];
    hid_t space = ndims <= 4 ? H5Screate_simple(ndims, hd, NULL) : -1;
    hid_t d = space < 0 ? -1
                        : H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT,
                                     H5P_DEFAULT);
    herr_t rc = d < 0 ? -1 : H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (rc < 0)
        h5_wfail(w);
    if (d >= 0)
        H5Dclose(d);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

/* A float32 dataset of shape dims[ndims] holding data. */
int h5_put_floats(h5_writer *w, hid_t loc, const char *name, int ndims,
                      const int *dims, const float *data)
{
    return h5_put_data(w, loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ndims, dims, data);
}

hid_t h5_new_group(h5_writer *w, hid_t loc, const char *name)
{
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        h5_wfail(w);
    return g;
}

/* The file is built in memory by the core driver and written out by us:
 * HDF5 then never meets an I/O error (after a failed write it cannot close
 * a file cleanly, and crashes at exit), and a failure is the system's own
 * errno. The driver's buffer is taken over when the file closes, so the
 * image exists once in memory. */
typedef struct image {
    void *buf;     /* the driver's buffer, ours once the file is closed */
    size_t failed; /* bytes of an allocation that failed, or 0 */
} image;

static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    image *im = udata;
    void *p = malloc(size ? size : 1);
    (void)op;
    if (!p)
        im->failed = size;
    return p;
}

static void *image_memcpy(void *dst, const void *src, size_t size,
                          H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    (void)udata;
    return memcpy(dst, src, size);
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    image *im = udata;
    void *p = realloc(ptr, size ? size : 1);
    (void)op;
    if (!p)
        im->failed = size;
    return p;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    image *im = udata;
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && !im->buf)
        im->buf = ptr; /* the finished file: keep it */
    else
        free(ptr);
    return 0;
}

static void *image_udata_copy(void *udata) { return udata; }
static herr_t image_udata_free(void *udata)
{
    (void)udata;
    return 0;
}

/* The whole file in memory: *buf (malloc'd) holds *size bytes. estimate:
 * about the bytes the file will take (the driver's growth step). */
static int build_image(h5_content_fn content, const void *arg, size_t estimate,
                       const char *name, void **buf, size_t *size, nn_error *e)
{
    h5_writer w = {name, e, 0};
    image im = {NULL, 0};
    H5FD_file_image_callbacks_t cb = {image_malloc,     image_memcpy,     image_realloc,
                                      image_free,       image_udata_copy, image_udata_free,
                                      &im};
    char iname[64];
    image_name(iname, sizeof iname);
    *buf = NULL;
    *size = 0;
    hid_t fapl = new_fapl(), file = -1;
    /* the 1.8 file format: attributes past 64 KiB (the names of thousands
     * of inputs) go to dense storage instead of failing */
#if H5_VERSION_GE(1, 10, 2)
    H5F_libver_t v18 = H5F_LIBVER_V18;
#else
    H5F_libver_t v18 = H5F_LIBVER_LATEST; /* a 1.8 library: its own format */
#endif
    if (fapl < 0 || H5Pset_libver_bounds(fapl, v18, v18) < 0 ||
        H5Pset_fapl_core(fapl, estimate, 0) < 0 ||
        H5Pset_file_image_callbacks(fapl, &cb) < 0 ||
        (file = H5Fcreate(iname, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
        h5_wfail(&w);
    if (fapl >= 0)
        H5Pclose(fapl);
    ssize_t n = -1;
    if (file >= 0 && content(&w, file, arg) == 0 &&
        (H5Fflush(file, H5F_SCOPE_LOCAL) < 0 || (n = H5Fget_file_image(file, NULL, 0)) < 0))
        h5_wfail(&w);
    if (file >= 0 && H5Fclose(file) < 0)
        h5_wfail(&w);
    if (im.failed) /* the likely cause of any failure above */
        nn_fail(e, "%s: out of memory for the file image (%zu bytes)", name, im.failed);
    if (w.failed || im.failed || !im.buf || n < 0) {
        if (!w.failed && !im.failed)
            nn_fail(e, "%s: write failed: the HDF5 library kept no file image", name);
        free(im.buf);
        return -1;
    }
    *buf = im.buf;
    *size = (size_t)n;
    return 0;
}

int h5_save(h5_content_fn content, const void *arg, size_t estimate,
                        const char *path, nn_error *e)
{
    int to_stdout = strcmp(path, "-") == 0;
    const char *name = to_stdout ? "stdout" : path;
    void *buf;
    size_t size;
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = build_image(content, arg, estimate, name, &buf, &size, e);
    h5_quiet_end(&q);
    if (rc < 0)
        return -1;
    if (!to_stdout) {
        rc = nn_write_file(path, buf, size, e);
    } else {
        errno = 0;
        if (fwrite(buf, 1, size, stdout) != size || fflush(stdout) != 0)
            rc = nn_fail(e, "stdout: write failed: %s", strerror(errno ? errno : EIO));
    }
    free(buf);
    return rc;
}

/* ---- generic reading --------------------------------------------------- */

static char *read_all(FILE *f, size_t *size)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *b = realloc(buf, cap *= 2);
        if (!b)
            free(buf);
        buf = b;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    *size = n;
    return buf;
}

/* The file in buf (copied by HDF5), or -1. */
static hid_t open_image(const void *buf, size_t size, hid_t fapl)
{
    char name[64];
    image_name(name, sizeof name);
    if (size > 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)buf, size) >= 0)
        return H5Fopen(name, H5F_ACC_RDONLY, fapl);
    return -1;
}

int nn_is_hdf5(const void *buf, size_t size)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    return size >= 8 && memcmp(buf, sig, 8) == 0;
}

nn_h5 *nn_h5_open_image(const void *buf, size_t size, const char *name, nn_error *e)
{
    nn_h5 *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(name))) {
        free(f);
        nn_fail(e, "%s: out of memory", name);
        return NULL;
    }
    h5_quiet q;
    h5_quiet_begin(&q);
    hid_t fapl = new_fapl();
    f->file = fapl < 0 || !nn_is_hdf5(buf, size) ? -1 : open_image(buf, size, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    h5_quiet_end(&q);
    if (f->file < 0) {
        nn_fail(e, "%s: not a readable HDF5 file", name);
        free(f->name);
        free(f);
        return NULL;
    }
    return f;
}

static nn_h5 *open_quiet(const char *path, nn_error *e)
{
    nn_h5 *f = calloc(1, sizeof *f);
    int is_stdin = strcmp(path, "-") == 0;
    if (!f || !(f->name = strdup(is_stdin ? "stdin" : path))) {
        free(f);
        nn_fail(e, "%s: out of memory", path);
        return NULL;
    }
    f->file = -1;
    hid_t fapl = new_fapl();
    if (fapl < 0) {
        nn_fail(e, "%s: cannot set up HDF5", f->name);
        goto fail;
    }
    if (is_stdin) {
        size_t size;
        char *buf = read_all(stdin, &size);
        if (!buf) {
            nn_fail(e, "stdin: cannot read: %s", strerror(errno ? errno : EIO));
            H5Pclose(fapl);
            goto fail;
        }
        f->file = open_image(buf, size, fapl);
        free(buf);
    } else {
        struct stat st;
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fstat(fd, &st) < 0) {
            nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            H5Pclose(fapl);
            goto fail;
        }
        close(fd);
        if (S_ISDIR(st.st_mode)) {
            nn_fail(e, "%s: is a directory, not an HDF5 file", path);
            H5Pclose(fapl);
            goto fail;
        }
        if (H5Pset_fapl_sec2(fapl) >= 0)
            f->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    }
    H5Pclose(fapl);
    if (f->file < 0) {
        nn_fail(e, "%s: not a readable HDF5 file", f->name);
        goto fail;
    }
    return f;
fail:
    free(f->name);
    free(f);
    return NULL;
}

nn_h5 *nn_h5_open(const char *path, nn_error *e)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    nn_h5 *f = open_quiet(path, e);
    h5_quiet_end(&q);
    return f;
}

void nn_h5_close(nn_h5 *f)
{
    if (!f)
        return;
    h5_quiet q;
    h5_quiet_begin(&q);
    if (f->file >= 0)
        H5Fclose(f->file);
    h5_quiet_end(&q);
    free(f->name);
    free(f);
}

/* 1 when every link along path exists ("/" always does). */
int h5_exists(nn_h5 *f, const char *path)
{
    size_t len = strlen(path);
    char *p = len ? malloc(len + 1) : NULL;
    if (!p)
        return 0;
    memcpy(p, path, len + 1);
    int ok = 1;
    for (size_t i = 1; ok && i <= len; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        if (i > 0 && p[i - 1] == '/')
            continue; /* "//" or a trailing "/" */
        char c = p[i];
        p[i] = 0;
        ok = H5Lexists(f->file, p, H5P_DEFAULT) > 0;
        p[i] = c;
    }
    free(p);
    return ok;
}

int nn_h5_exists(nn_h5 *f, const char *path)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int ok = h5_exists(f, path);
    h5_quiet_end(&q);
    return ok;
}

static int is_numeric(hid_t type)
{
    H5T_class_t c = H5Tget_class(type);
    return c == H5T_INTEGER || c == H5T_FLOAT;
}

/* Opens dataset path, numeric (integer only when `integer`), and gets its
 * rank and dimensions; -1 with a message naming the file otherwise. */
hid_t h5_open_numeric(nn_h5 *f, const char *path, int integer, int *nd,
                          hsize_t hd[H5S_MAX_RANK], nn_error *e)
{
    if (!h5_exists(f, path))
        return nn_fail(e, "%s: no dataset %s", f->name, path);
    hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
    if (d < 0)
        return nn_fail(e, "%s: %s is not a dataset", f->name, path);
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    *nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    int ok = 0;
    if (type < 0 || *nd < 0 || H5Sget_simple_extent_dims(space, hd, NULL) < 0)
        nn_fail(e, "%s: cannot read %s", f->name, path);
    else if (integer && H5Tget_class(type) != H5T_INTEGER)
        nn_fail(e, "%s: %s is not an integer dataset", f->name, path);
    else if (!is_numeric(type))
        nn_fail(e, "%s: %s is not numeric", f->name, path);
    else
        ok = 1;
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (!ok)
        H5Dclose(d);
    return ok ? d : -1;
}

/* All of dataset d as mtype into dst; closes d. */
int h5_read_values(nn_h5 *f, hid_t d, const char *path, hid_t mtype, void *dst,
                           nn_error *e)
{
    int rc = 0;
    if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        char why[300];
        h5_last_cause(why, sizeof why, 0);
        rc = nn_fail(e, "%s: cannot read %s: %s", f->name, path, why);
    }
    H5Dclose(d);
    return rc;
}

static int read_floats_quiet(nn_h5 *f, const char *path, float **data, int *ndims,
                             int dims[8], nn_error *e)
{
    *data = NULL;
    int nd;
    hsize_t hd[H5S_MAX_RANK];
    hid_t d = h5_open_numeric(f, path, 0, &nd, hd, e);
    if (d < 0)
        return -1;
    if (nd > 8) {
        H5Dclose(d);
        return nn_fail(e, "%s: %s has %d dimensions (at most 8 are read)", f->name, path, nd);
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (hd[i] > 0x7fffffff) {
            H5Dclose(d);
            return nn_fail(e, "%s: %s is too large", f->name, path);
        }
        dims[i] = (int)hd[i];
        n *= (size_t)hd[i];
    }
    *ndims = nd;
    if (!(*data = malloc(n ? n * sizeof(float) : 1))) {
        H5Dclose(d);
        return nn_fail(e, "%s: out of memory for %s (%zu values)", f->name, path, n);
    }
    if (n == 0) {
        H5Dclose(d);
        return 0;
    }
    if (h5_read_values(f, d, path, H5T_NATIVE_FLOAT, *data, e) < 0) {
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

int nn_h5_read_floats(nn_h5 *f, const char *path, float **data, int *ndims,
                      int dims[8], nn_error *e)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = read_floats_quiet(f, path, data, ndims, dims, e);
    h5_quiet_end(&q);
    return rc;
}

/* Opens attribute name of obj, with messages naming both. */
static hid_t open_attr(nn_h5 *f, const char *obj, const char *name, nn_error *e)
{
    if (!h5_exists(f, obj)) {
        nn_fail(e, "%s: no object %s", f->name, obj);
        return -1;
    }
    if (H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) <= 0) {
        nn_fail(e, "%s: %s has no attribute '%s'", f->name, obj, name);
        return -1;
    }
    hid_t a = H5Aopen_by_name(f->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        nn_fail(e, "%s: cannot open attribute '%s' of %s", f->name, name, obj);
    return a;
}

/* The strings of a string attribute (fixed or variable length, any shape):
 * *out gets a NULL-terminated malloc'd array of *n strings. */
int h5_read_attr_strings(nn_h5 *f, const char *obj, const char *name,
                             char ***out, size_t *n, nn_error *e)
{
    *out = NULL;
    *n = 0;
    hid_t a = open_attr(f, obj, name, e);
    if (a < 0)
        return -1;
    int rc = -1;
    hid_t ftype = H5Aget_type(a), space = H5Aget_space(a), mtype = -1;
    hssize_t np = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    char **v = NULL, *fixed = NULL;
    if (ftype < 0 || np < 0)
        goto unreadable;
    if (np == 0) { /* an empty list, of any type (h5py stores [] as float64) */
        if (!(*out = calloc(1, sizeof **out)))
            goto oom;
        rc = 0;
        goto done;
    }
    if (H5Tget_class(ftype) != H5T_STRING) {
        nn_fail(e, "%s: attribute '%s' of %s is not a string", f->name, name, obj);
        goto done;
    }
    if (!(v = calloc((size_t)np + 1, sizeof *v)))
        goto oom;
    htri_t vlen = H5Tis_variable_str(ftype);
    if (vlen < 0 || (mtype = H5Tcopy(H5T_C_S1)) < 0 ||
        H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)
        goto unreadable;
    if (vlen) {
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Aread(a, mtype, v) < 0)
            goto unreadable;
        /* copy into malloc'd strings and give HDF5 its own back */
        int bad = 0;
        for (hssize_t i = 0; i < np; i++) {
            char *s = v[i];
            v[i] = strdup(s ? s : "");
            bad |= v[i] == NULL;
            if (s)
                H5free_memory(s);
        }
        if (bad)
            goto oom;
    } else {
        size_t size = H5Tget_size(ftype) + 1;
        if (H5Tset_size(mtype, size) < 0 || H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0)
            goto unreadable;
        if (!(fixed = calloc((size_t)np ? (size_t)np : 1, size)))
            goto oom;
        if (np && H5Aread(a, mtype, fixed) < 0)
            goto unreadable;
        for (hssize_t i = 0; i < np; i++) {
            char *s = fixed + (size_t)i * size;
            s[size - 1] = 0;
            if (!(v[i] = strdup(s)))
                goto oom;
        }
    }
    *out = v;
    *n = (size_t)np;
    v = NULL;
    rc = 0;
    goto done;
oom:
    nn_fail(e, "%s: out of memory reading attribute '%s' of %s", f->name, name, obj);
    goto done;
unreadable:
    nn_fail(e, "%s: cannot read attribute '%s' of %s", f->name, name, obj);
done:
    nn_strv_free(v);
    free(fixed);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (space >= 0)
        H5Sclose(space);
    if (ftype >= 0)
        H5Tclose(ftype);
    H5Aclose(a);
    return rc;
}

int nn_h5_read_attr_strings(nn_h5 *f, const char *obj, const char *name, char ***out,
                            size_t *n, nn_error *e)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = h5_read_attr_strings(f, obj, name, out, n, e);
    h5_quiet_end(&q);
    return rc;
}

int nn_h5_has_attr(nn_h5 *f, const char *obj, const char *name)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = h5_exists(f, obj) && H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) > 0;
    h5_quiet_end(&q);
    return rc;
}

int h5_read_attr_string(nn_h5 *f, const char *obj, const char *name,
                                  char **out, nn_error *e)
{
    char **v;
    size_t n;
    *out = NULL;
    if (h5_read_attr_strings(f, obj, name, &v, &n, e) < 0)
        return -1;
    if (n != 1) {
        nn_strv_free(v);
        return nn_fail(e, "%s: attribute '%s' of %s holds %zu strings, expected one",
                       f->name, name, obj, n);
    }
    *out = v[0];
    free(v);
    return 0;
}

int nn_h5_read_attr_string(nn_h5 *f, const char *obj, const char *name,
                           char **out, nn_error *e)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = h5_read_attr_string(f, obj, name, out, e);
    h5_quiet_end(&q);
    return rc;
}

/* The values of a numeric attribute converted to mtype (elements of
 * `size` bytes); *out is malloc'd with *n elements. */
static int read_attr_numbers(nn_h5 *f, const char *obj, const char *name,
                             hid_t mtype, size_t size, void **out, size_t *n,
                             nn_error *e)
{
    *out = NULL;
    *n = 0;
    hid_t a = open_attr(f, obj, name, e);
    if (a < 0)
        return -1;
    int rc = -1;
    hid_t ftype = H5Aget_type(a), space = H5Aget_space(a);
    hssize_t np = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    void *buf = NULL;
    if (ftype < 0 || np < 0) {
        nn_fail(e, "%s: cannot read attribute '%s' of %s", f->name, name, obj);
    } else if (!is_numeric(ftype)) {
        nn_fail(e, "%s: attribute '%s' of %s is not a number", f->name, name, obj);
    } else if (!(buf = malloc(np ? (size_t)np * size : 1))) {
        nn_fail(e, "%s: out of memory reading attribute '%s' of %s", f->name, name, obj);
    } else if (np && H5Aread(a, mtype, buf) < 0) {
        nn_fail(e, "%s: cannot read attribute '%s' of %s", f->name, name, obj);
    } else {
        *out = buf;
        *n = (size_t)np;
        buf = NULL;
        rc = 0;
    }
    free(buf);
    if (space >= 0)
        H5Sclose(space);
    if (ftype >= 0)
        H5Tclose(ftype);
    H5Aclose(a);
    return rc;
}

/* Exactly `want` values of a numeric attribute into out. */
int h5_read_attr_fixed(nn_h5 *f, const char *obj, const char *name, hid_t mtype,
                           size_t size, size_t want, void *out, nn_error *e)
{
    void *buf;
    size_t n;
    if (read_attr_numbers(f, obj, name, mtype, size, &buf, &n, e) < 0)
        return -1;
    if (n != want) {
        free(buf);
        return nn_fail(e, "%s: attribute '%s' of %s has %zu values, expected %zu", f->name,
                       name, obj, n, want);
    }
    memcpy(out, buf, want * size);
    free(buf);
    return 0;
}

int h5_read_attr_int(nn_h5 *f, const char *obj, const char *name, int *out, nn_error *e)
{
    return h5_read_attr_fixed(f, obj, name, H5T_NATIVE_INT, sizeof(int), 1, out, e);
}

int h5_read_attr_float(nn_h5 *f, const char *obj, const char *name, float *out, nn_error *e)
{
    return h5_read_attr_fixed(f, obj, name, H5T_NATIVE_FLOAT, sizeof(float), 1, out, e);
}

int nn_h5_read_attr_double(nn_h5 *f, const char *obj, const char *name,
                           double *out, nn_error *e)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = h5_read_attr_fixed(f, obj, name, H5T_NATIVE_DOUBLE, sizeof(double), 1, out, e);
    h5_quiet_end(&q);
    return rc;
}

typedef struct name_list {
    char **v;
    size_t n, cap;
    int oom;
} name_list;

static herr_t list_add(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    name_list *l = data;
    (void)g;
    (void)info;
    if (l->n + 1 >= l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name))) {
        l->oom = 1;
        return -1;
    }
    l->v[++l->n] = NULL;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **h5_list(nn_h5 *f, const char *group, nn_error *e)
{
    if (!h5_exists(f, group)) {
        nn_fail(e, "%s: no group %s", f->name, group);
        return NULL;
    }
    hid_t g = H5Gopen2(f->file, group, H5P_DEFAULT);
    if (g < 0) {
        nn_fail(e, "%s: %s is not a group", f->name, group);
        return NULL;
    }
    name_list l = {calloc(1, sizeof(char *)), 0, 1, 0};
    herr_t rc = l.v ? H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_add, &l) : -1;
    H5Gclose(g);
    if (!l.v || rc < 0) {
        if (!l.v || l.oom)
            nn_fail(e, "%s: out of memory listing %s", f->name, group);
        else
            nn_fail(e, "%s: cannot list %s", f->name, group);
        nn_strv_free(l.v);
        return NULL;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_str);
    return l.v;
}

char **nn_h5_list(nn_h5 *f, const char *group, nn_error *e)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    char **v = h5_list(f, group, e);
    h5_quiet_end(&q);
    return v;
}
