/* h5.c - HDF5 files: the model format (man 5 nn-model), the dataset format
 * (man 5 nn-dataset), generic reads of datasets and attributes for tools
 * and tests, and what lib/h5_impl.h declares for the other HDF5 files.
 *
 * Model file layout (all little-endian; float32, int32, int64):
 *   /                 attributes format="nn-model", version=1, architecture,
 *                     input int[3] (C,H,W), classes, class_names (optional),
 *                     loss, input_mean float[K], input_std float[K]
 *                     (K = min(C,4)), channel_order "rgb"|"bgr", train_state
 *                     (optional text: nn-train's epoch, step, RNG, history)
 *   /layers/NNN       one group per layer (NNN: index, 3 digits), attributes
 *                     name and type, one float32 dataset per parameter
 *   /optim            optional: attributes name, lr, momentum, wd, beta1,
 *                     beta2, alpha, eps, step; /optim/NNN/PARAM/SLOT holds
 *                     each state slot of each trainable parameter
 * Dataset file layout (man 5 nn-dataset):
 *   /                 attributes format="nn-dataset", version=1, name,
 *                     classes, class_names, source and checksum (optional
 *                     text), mean and std float[C]
 *   /train/images     uint8 [N,H,W,C], chunked by about 1 MiB, deflate
 *   /train/labels     int32 [N]; the same two under /test
 * Saving builds the file in memory (HDF5's core driver), then writes it to
 * a temporary file beside the target and renames that into place, or to
 * stdout for "-". Loading "-" reads stdin into memory and opens the image. */
#include "h5_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_NAME "nn-model"
#define FORMAT_VERSION 1

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
static int put_floats(h5_writer *w, hid_t loc, const char *name, int ndims,
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

static int has_trainable(const nn_layer *l)
{
    for (int j = 0; j < l->nparam; j++)
        if (l->param[j].grad)
            return 1;
    return 0;
}

/* The optimizer group: hyper-parameters as attributes, and
 * /optim/NNN/PARAM/SLOT for every state slot of every trainable parameter.
 * Slot s of parameter p is o->state + s*o->nvalues + (p->value - m->values). */
static int write_optim(h5_writer *w, hid_t file, const nn_model *m, const nn_optim *o)
{
    hid_t g = h5_new_group(w, file, "optim");
    if (g < 0)
        return -1;
    long long step = o->step;
    int rc = h5_put_string(w, g, "name", nn_optim_name(o->kind)) < 0 ||
                     h5_put_float(w, g, "lr", o->lr) < 0 ||
                     h5_put_float(w, g, "momentum", o->momentum) < 0 ||
                     h5_put_float(w, g, "wd", o->wd) < 0 ||
                     h5_put_float(w, g, "beta1", o->beta1) < 0 ||
                     h5_put_float(w, g, "beta2", o->beta2) < 0 ||
                     h5_put_float(w, g, "alpha", o->alpha) < 0 ||
                     h5_put_float(w, g, "eps", o->eps) < 0 ||
                     h5_put_attr(w, g, "step", H5T_STD_I64LE, H5T_NATIVE_LLONG, 0, &step) < 0
                 ? -1
                 : 0;
    for (int i = 0; rc == 0 && o->nslots > 0 && i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        if (!has_trainable(l))
            continue;
        char name[16];
        snprintf(name, sizeof name, "%03d", i);
        hid_t gl = h5_new_group(w, g, name);
        if (gl < 0) {
            rc = -1;
            break;
        }
        for (int j = 0; rc == 0 && j < l->nparam; j++) {
            const nn_param *p = &l->param[j];
            if (!p->grad)
                continue;
            hid_t gp = h5_new_group(w, gl, p->name);
            if (gp < 0) {
                rc = -1;
                break;
            }
            size_t off = (size_t)(p->value - m->values);
            for (int s = 0; rc == 0 && s < o->nslots; s++)
                rc = put_floats(w, gp, nn_optim_slot_name(o->kind, s), p->ndims, p->dims,
                                o->state + (size_t)s * o->nvalues + off);
            H5Gclose(gp);
        }
        H5Gclose(gl);
    }
    H5Gclose(g);
    return rc;
}

/* Everything of the model (and o, when given) into an open file. */
static int write_model(h5_writer *w, hid_t file, const nn_model *m, const nn_optim *o)
{
    int in[3] = {m->input.c, m->input.h, m->input.w};
    int k = m->input.c < 4 ? m->input.c : 4;
    if (h5_put_string(w, file, "format", FORMAT_NAME) < 0 ||
        h5_put_int(w, file, "version", FORMAT_VERSION) < 0 ||
        h5_put_string(w, file, "architecture", m->arch_text) < 0 ||
        h5_put_attr(w, file, "input", H5T_STD_I32LE, H5T_NATIVE_INT, 3, in) < 0 ||
        h5_put_int(w, file, "classes", m->classes) < 0)
        return -1;
    if (m->class_names) {
        size_t n = 0;
        while (m->class_names[n])
            n++;
        if (h5_put_strings(w, file, "class_names", (const char *const *)m->class_names, n) < 0)
            return -1;
    }
    if (h5_put_string(w, file, "loss", nn_loss_name(m->loss)) < 0 ||
        h5_put_attr(w, file, "input_mean", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, (hsize_t)k, m->mean) < 0 ||
        h5_put_attr(w, file, "input_std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, (hsize_t)k, m->std) < 0 ||
        h5_put_string(w, file, "channel_order", m->bgr ? "bgr" : "rgb") < 0)
        return -1;
    if (m->train_state && h5_put_string(w, file, "train_state", m->train_state) < 0)
        return -1;

    hid_t layers = h5_new_group(w, file, "layers");
    if (layers < 0)
        return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        char name[16];
        snprintf(name, sizeof name, "%03d", i);
        hid_t g = h5_new_group(w, layers, name);
        if (g < 0) {
            rc = -1;
            break;
        }
        rc = h5_put_string(w, g, "name", l->name) < 0 ||
                     h5_put_string(w, g, "type", l->type->keyword) < 0
                 ? -1
                 : 0;
        for (int j = 0; rc == 0 && j < l->nparam; j++) {
            const nn_param *p = &l->param[j];
            rc = put_floats(w, g, p->name, p->ndims, p->dims, p->value);
        }
        H5Gclose(g);
    }
    H5Gclose(layers);
    if (rc == 0 && o)
        rc = write_optim(w, file, m, o);
    return rc;
}

/* Checks what the writer relies on before anything is created. Sets
 * *with_optim when o has state to save. */
static int check_savable(const nn_model *m, const nn_optim *o, const char *name,
                         int *with_optim, nn_error *e)
{
    *with_optim = 0;
    if (!m->arch_text)
        return nn_fail(e, "%s: the model has no architecture text", name);
    if (m->class_names) {
        size_t n = 0;
        while (m->class_names[n])
            n++;
        if (n != (size_t)m->classes)
            return nn_fail(e, "%s: the model has %d classes but %zu class names", name,
                           m->classes, n);
    }
    if (!o)
        return 0;
    if (o->state && o->nvalues != m->nvalues)
        return nn_fail(e, "%s: the optimizer state is for %zu values, the model has %zu",
                       name, o->nvalues, m->nvalues);
    /* set up for this model: state, or a state-less optimizer such as sgd */
    *with_optim = o->nvalues == m->nvalues && (o->state || o->nslots == 0);
    return 0;
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

/* Bytes the file will take, about: the tensors plus room for metadata. The
 * driver grows its buffer in steps of this size, so usually once. */
static size_t image_estimate(const nn_model *m, const nn_optim *o)
{
    size_t bytes = (size_t)1 << 20;
    for (int i = 0; i < m->nlayers; i++) {
        bytes += 8192;
        for (int j = 0; j < m->layers[i].nparam; j++) {
            const nn_param *p = &m->layers[i].param[j];
            int copies = 1 + (o && p->grad ? o->nslots : 0);
            bytes += (size_t)copies * (p->size * sizeof(float) + 2048);
        }
    }
    bytes += 2 * strlen(m->arch_text) + (m->train_state ? 2 * strlen(m->train_state) : 0);
    for (char **c = m->class_names; c && *c; c++)
        bytes += strlen(*c) + 64;
    size_t mib = (size_t)1 << 20;
    return (bytes + mib - 1) / mib * mib;
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
    if (fapl < 0 || H5Pset_fapl_core(fapl, estimate, 0) < 0 ||
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

typedef struct model_arg {
    const nn_model *m;
    const nn_optim *o;
} model_arg;

static int model_content(h5_writer *w, hid_t file, const void *arg)
{
    const model_arg *a = arg;
    return write_model(w, file, a->m, a->o);
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

int nn_model_save(const nn_model *m, const nn_optim *o, const char *path,
                  nn_error *e)
{
    int with_optim;
    if (check_savable(m, o, strcmp(path, "-") == 0 ? "stdout" : path, &with_optim, e) < 0)
        return -1;
    model_arg a = {m, with_optim ? o : NULL};
    return h5_save(model_content, &a, image_estimate(a.m, a.o), path, e);
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
static int exists_quiet(nn_h5 *f, const char *path)
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
    int ok = exists_quiet(f, path);
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
static hid_t open_numeric(nn_h5 *f, const char *path, int integer, int *nd,
                          hsize_t hd[H5S_MAX_RANK], nn_error *e)
{
    if (!exists_quiet(f, path))
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
static int read_all_values(nn_h5 *f, hid_t d, const char *path, hid_t mtype, void *dst,
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
    hid_t d = open_numeric(f, path, 0, &nd, hd, e);
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
    if (read_all_values(f, d, path, H5T_NATIVE_FLOAT, *data, e) < 0) {
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
    if (!exists_quiet(f, obj)) {
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
static int read_attr_strings(nn_h5 *f, const char *obj, const char *name,
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
    int rc = read_attr_strings(f, obj, name, out, n, e);
    h5_quiet_end(&q);
    return rc;
}

int nn_h5_has_attr(nn_h5 *f, const char *obj, const char *name)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = exists_quiet(f, obj) && H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) > 0;
    h5_quiet_end(&q);
    return rc;
}

static int read_attr_string_quiet(nn_h5 *f, const char *obj, const char *name,
                                  char **out, nn_error *e)
{
    char **v;
    size_t n;
    *out = NULL;
    if (read_attr_strings(f, obj, name, &v, &n, e) < 0)
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
    int rc = read_attr_string_quiet(f, obj, name, out, e);
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
static int read_attr_fixed(nn_h5 *f, const char *obj, const char *name, hid_t mtype,
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

int nn_h5_read_attr_double(nn_h5 *f, const char *obj, const char *name,
                           double *out, nn_error *e)
{
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = read_attr_fixed(f, obj, name, H5T_NATIVE_DOUBLE, sizeof(double), 1, out, e);
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

static char **list_quiet(nn_h5 *f, const char *group, nn_error *e)
{
    if (!exists_quiet(f, group)) {
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
    char **v = list_quiet(f, group, e);
    h5_quiet_end(&q);
    return v;
}

/* ---- loading a model --------------------------------------------------- */

static void format_dims(char *buf, size_t size, int ndims, const int *dims)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndims && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d", i ? "," : "", dims[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* Reads dataset path into dst, which the architecture says has shape
 * dims[ndims]. */
static int read_tensor(nn_h5 *f, const char *path, int ndims, const int *dims,
                       float *dst, nn_error *e)
{
    int nd;
    hsize_t hd[H5S_MAX_RANK];
    hid_t d = open_numeric(f, path, 0, &nd, hd, e);
    if (d < 0)
        return -1;
    int same = nd == ndims;
    for (int i = 0; same && i < nd; i++)
        same = hd[i] == (hsize_t)dims[i];
    if (!same) {
        char have[128], need[128];
        size_t n = (size_t)snprintf(have, sizeof have, "[");
        for (int i = 0; i < nd && n < sizeof have; i++)
            n += (size_t)snprintf(have + n, sizeof have - n, "%s%llu", i ? "," : "",
                                  (unsigned long long)hd[i]);
        if (n < sizeof have)
            snprintf(have + n, sizeof have - n, "]");
        format_dims(need, sizeof need, ndims, dims);
        H5Dclose(d);
        return nn_fail(e, "%s: %s has shape %s, the architecture needs %s", f->name, path,
                       have, need);
    }
    return read_all_values(f, d, path, H5T_NATIVE_FLOAT, dst, e);
}

static int read_attr_int(nn_h5 *f, const char *obj, const char *name, int *out,
                         nn_error *e)
{
    return read_attr_fixed(f, obj, name, H5T_NATIVE_INT, sizeof(int), 1, out, e);
}

static int read_attr_float(nn_h5 *f, const char *obj, const char *name, float *out,
                           nn_error *e)
{
    return read_attr_fixed(f, obj, name, H5T_NATIVE_FLOAT, sizeof(float), 1, out, e);
}

/* The optimizer of /optim into o: kind and hyper-parameters, state set up
 * for m, then every slot of every trainable parameter. */
static int load_optim(nn_h5 *f, const nn_model *m, nn_optim *o, nn_error *e)
{
    char *name = NULL;
    if (read_attr_string_quiet(f, "/optim", "name", &name, e) < 0)
        return -1;
    int rc = nn_optim_parse(o, name, e);
    if (rc < 0) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        nn_fail(e, "%s: /optim: %s", f->name, why);
    }
    free(name);
    if (rc < 0)
        return -1;
    float lr, momentum, wd, beta1, beta2, alpha, eps;
    long long step;
    if (read_attr_float(f, "/optim", "lr", &lr, e) < 0 ||
        read_attr_float(f, "/optim", "momentum", &momentum, e) < 0 ||
        read_attr_float(f, "/optim", "wd", &wd, e) < 0 ||
        read_attr_float(f, "/optim", "beta1", &beta1, e) < 0 ||
        read_attr_float(f, "/optim", "beta2", &beta2, e) < 0 ||
        read_attr_float(f, "/optim", "alpha", &alpha, e) < 0 ||
        read_attr_float(f, "/optim", "eps", &eps, e) < 0 ||
        read_attr_fixed(f, "/optim", "step", H5T_NATIVE_LLONG, sizeof step, 1, &step, e) < 0)
        return -1;
    if (step < 0)
        return nn_fail(e, "%s: /optim: step is %lld", f->name, step);
    if (nn_optim_setup(o, m, e) < 0)
        return -1;
    o->lr = lr, o->momentum = momentum, o->wd = wd;
    o->beta1 = beta1, o->beta2 = beta2, o->alpha = alpha, o->eps = eps;
    o->step = (long)step;
    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        for (int j = 0; j < l->nparam; j++) {
            const nn_param *p = &l->param[j];
            if (!p->grad)
                continue;
            size_t off = (size_t)(p->value - m->values);
            for (int s = 0; s < o->nslots; s++) {
                char path[128];
                snprintf(path, sizeof path, "/optim/%03d/%s/%s", i, p->name,
                         nn_optim_slot_name(o->kind, s));
                if (read_tensor(f, path, p->ndims, p->dims,
                                o->state + (size_t)s * o->nvalues + off, e) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

/* Root attributes other than the architecture: input, class names, loss,
 * normalisation. */
static int load_root(nn_h5 *f, nn_model *m, nn_error *e)
{
    int in[3];
    if (read_attr_fixed(f, "/", "input", H5T_NATIVE_INT, sizeof(int), 3, in, e) < 0)
        return -1;
    if (in[0] != m->input.c || in[1] != m->input.h || in[2] != m->input.w)
        return nn_fail(e, "%s: attribute 'input' says %dx%dx%d, the architecture says %dx%dx%d",
                       f->name, in[0], in[1], in[2], m->input.c, m->input.h, m->input.w);

    char *text = NULL;
    if (read_attr_string_quiet(f, "/", "loss", &text, e) < 0)
        return -1;
    int rc = nn_loss_parse(&m->loss, text, e);
    if (rc < 0) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        nn_fail(e, "%s: %s", f->name, why);
    }
    free(text);
    if (rc < 0)
        return -1;

    if (H5Aexists_by_name(f->file, "/", "class_names", H5P_DEFAULT) > 0) {
        size_t n;
        if (read_attr_strings(f, "/", "class_names", &m->class_names, &n, e) < 0)
            return -1;
        if (n != (size_t)m->classes)
            return nn_fail(e, "%s: %zu class names for %d classes", f->name, n, m->classes);
    }

    size_t k = m->input.c < 4 ? (size_t)m->input.c : 4;
    if (read_attr_fixed(f, "/", "input_mean", H5T_NATIVE_FLOAT, sizeof(float), k, m->mean, e) < 0 ||
        read_attr_fixed(f, "/", "input_std", H5T_NATIVE_FLOAT, sizeof(float), k, m->std, e) < 0)
        return -1;
    if (read_attr_string_quiet(f, "/", "channel_order", &text, e) < 0)
        return -1;
    if (strcmp(text, "rgb") != 0 && strcmp(text, "bgr") != 0) {
        nn_fail(e, "%s: channel_order is '%s', expected rgb or bgr", f->name, text);
        free(text);
        return -1;
    }
    m->bgr = strcmp(text, "bgr") == 0;
    free(text);
    if (H5Aexists_by_name(f->file, "/", "train_state", H5P_DEFAULT) > 0 &&
        read_attr_string_quiet(f, "/", "train_state", &m->train_state, e) < 0)
        return -1;
    return 0;
}

/* Every layer's group and parameters. */
static int load_layers(nn_h5 *f, nn_model *m, nn_error *e)
{
    char **names = list_quiet(f, "/layers", e);
    if (!names)
        return -1;
    size_t n = 0;
    while (names[n])
        n++;
    nn_strv_free(names);
    if (n != (size_t)m->nlayers)
        return nn_fail(e, "%s: /layers has %zu groups, the architecture has %d layers",
                       f->name, n, m->nlayers);
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        char group[32], path[128], *type = NULL;
        snprintf(group, sizeof group, "/layers/%03d", i);
        if (read_attr_string_quiet(f, group, "type", &type, e) < 0)
            return -1;
        int same = strcmp(type, l->type->keyword) == 0;
        if (!same)
            nn_fail(e, "%s: %s is a '%s' layer, the architecture has '%s'", f->name, group,
                    type, l->type->keyword);
        free(type);
        if (!same)
            return -1;
        for (int j = 0; j < l->nparam; j++) {
            nn_param *p = &l->param[j];
            snprintf(path, sizeof path, "%s/%s", group, p->name);
            if (read_tensor(f, path, p->ndims, p->dims, p->value, e) < 0)
                return -1;
        }
    }
    return 0;
}

static nn_model *load_quiet(nn_h5 *f, nn_optim *o, nn_error *e)
{
    char *text = NULL;
    int version, classes;
    if (H5Aexists_by_name(f->file, "/", "format", H5P_DEFAULT) <= 0) {
        nn_fail(e, "%s: not an nn model (no 'format' attribute)", f->name);
        return NULL;
    }
    if (read_attr_string_quiet(f, "/", "format", &text, e) < 0)
        return NULL;
    if (strcmp(text, FORMAT_NAME) != 0) {
        nn_fail(e, "%s: not an nn model (its format is '%s')", f->name, text);
        free(text);
        return NULL;
    }
    free(text);
    if (read_attr_int(f, "/", "version", &version, e) < 0)
        return NULL;
    if (version != FORMAT_VERSION) {
        nn_fail(e, "%s: nn-model version %d; this program reads version %d", f->name,
                version, FORMAT_VERSION);
        return NULL;
    }
    if (read_attr_int(f, "/", "classes", &classes, e) < 0 ||
        read_attr_string_quiet(f, "/", "architecture", &text, e) < 0)
        return NULL;
    if (classes < 0) {
        nn_fail(e, "%s: classes is %d", f->name, classes);
        free(text);
        return NULL;
    }
    nn_model *m = nn_model_from_arch(text, f->name, classes, e);
    free(text);
    if (!m)
        return NULL;
    if (load_root(f, m, e) < 0 || load_layers(f, m, e) < 0)
        goto fail;
    if (o && exists_quiet(f, "/optim")) {
        nn_optim tmp;
        memset(&tmp, 0, sizeof tmp);
        if (load_optim(f, m, &tmp, e) < 0) {
            nn_optim_free(&tmp);
            goto fail;
        }
        *o = tmp;
    }
    return m;
fail:
    nn_model_free(m);
    return NULL;
}

nn_model *nn_model_load(const char *path, nn_optim *o, nn_error *e)
{
    nn_h5 *f = nn_h5_open(path, e);
    if (!f)
        return NULL;
    h5_quiet q;
    h5_quiet_begin(&q);
    nn_model *m = load_quiet(f, o, e);
    h5_quiet_end(&q);
    nn_h5_close(f);
    return m;
}

/* ---- datasets (man 5 nn-dataset) --------------------------------------- */

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
    hid_t d = open_numeric(f, path, 1, &nd, hd, e);
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
    if (read_all_values(f, d, path, mtype, *data, e) < 0) {
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
    if (read_attr_string_quiet(f, "/", "format", &text, e) < 0)
        return -1;
    if (strcmp(text, DATASET_FORMAT) != 0) {
        nn_fail(e, "%s: not an nn dataset (its format is '%s')", f->name, text);
        free(text);
        return -1;
    }
    free(text);
    if (read_attr_int(f, "/", "version", &version, e) < 0)
        return -1;
    if (version != DATASET_VERSION)
        return nn_fail(e, "%s: nn-dataset version %d; this program reads version %d", f->name,
                       version, DATASET_VERSION);
    if (read_attr_int(f, "/", "classes", &d->classes, e) < 0)
        return -1;
    if (d->classes < 1)
        return nn_fail(e, "%s: classes is %d", f->name, d->classes);
    if (read_attr_string_quiet(f, "/", "name", &d->name, e) < 0)
        return -1;
    const char *optional[2] = {"source", "checksum"};
    char **dst[2] = {&d->source, &d->checksum};
    for (int i = 0; i < 2; i++)
        if (H5Aexists_by_name(f->file, "/", optional[i], H5P_DEFAULT) > 0 &&
            read_attr_string_quiet(f, "/", optional[i], dst[i], e) < 0)
            return -1;
    if (H5Aexists_by_name(f->file, "/", "class_names", H5P_DEFAULT) > 0) {
        size_t n;
        if (read_attr_strings(f, "/", "class_names", &d->class_names, &n, e) < 0)
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
    if (have_mean && read_attr_fixed(f, "/", "mean", H5T_NATIVE_FLOAT, sizeof(float),
                                     (size_t)d->c, d->mean, e) < 0)
        return -1;
    if (have_std && read_attr_fixed(f, "/", "std", H5T_NATIVE_FLOAT, sizeof(float),
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
