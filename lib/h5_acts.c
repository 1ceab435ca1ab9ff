/* h5_acts.c - activation files (man 5 nn-acts): per-filter mean
 * activations of one layer for a list of inputs, optionally the full maps.
 *
 *   /          attributes format="nn-acts", version=1, model, layer (int32),
 *              layer_name, layer_type, inputs (string[N])
 *   /means     float32 [N, C]
 *   /maps      float32 [N, C, H, W]  (optional)
 *   /top       int32 [K]             (optional: filters by mean, largest first)
 *
 * The file is built in memory (HDF5's core driver, no backing store) and
 * written through a temporary file renamed into place, or to stdout for
 * "-"; reading "-" takes stdin into memory and opens it as a file image.
 * Kept apart from h5.c (the model format) as its own small format. */
#include "nn.h"

#include <hdf5.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACTS_FORMAT "nn-acts"
#define ACTS_VERSION 1

int nn_is_hdf5(const void *buf, size_t size)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    return size >= 8 && memcmp(buf, sig, 8) == 0;
}

typedef struct quiet {
    H5E_auto2_t func;
    void *data;
} quiet;

static void quiet_begin(quiet *q)
{
    if (H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) < 0)
        q->func = NULL, q->data = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static void core_name(char *buf, size_t size)
{
    static unsigned counter;
    snprintf(buf, size, "nn-acts-%ld-%u", (long)getpid(), counter++);
}

static hid_t string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        t = -1;
    }
    return t;
}

/* ---- writing ----------------------------------------------------------- */

/* n strings (n == 0 with one string: a scalar) as attribute name of loc. */
static int put_strings(hid_t loc, const char *name, const char *const *v, hsize_t n)
{
    hid_t t = string_type();
    hid_t space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = t < 0 || space < 0 ? -1 : H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, v);
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    return rc < 0 ? -1 : 0;
}

static int put_int(hid_t loc, const char *name, int v)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1
                        : H5Acreate2(loc, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &v);
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

static int put_data(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int nd,
                    const int *dims, const void *data)
{
    hsize_t hd[4];
    for (int i = 0; i < nd; i++)
        hd[i] = (hsize_t)dims[i];
    hid_t space = H5Screate_simple(nd, hd, NULL);
    hid_t d = space < 0 ? -1
                        : H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT,
                                     H5P_DEFAULT);
    herr_t rc = d < 0 ? -1 : H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0)
        H5Dclose(d);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

static int write_acts(hid_t f, const nn_acts *a)
{
    const char *model = a->model ? a->model : "";
    const char *lname = a->layer_name ? a->layer_name : "";
    const char *ltype = a->layer_type ? a->layer_type : "";
    const char *fmt = ACTS_FORMAT;
    if (put_strings(f, "format", &fmt, 0) < 0 || put_int(f, "version", ACTS_VERSION) < 0 ||
        put_strings(f, "model", &model, 0) < 0 || put_int(f, "layer", a->layer) < 0 ||
        put_strings(f, "layer_name", &lname, 0) < 0 ||
        put_strings(f, "layer_type", &ltype, 0) < 0)
        return -1;
    if (a->n > 0) {
        const char **names = calloc((size_t)a->n, sizeof *names);
        if (!names)
            return -1;
        for (int i = 0; i < a->n; i++)
            names[i] = a->inputs && a->inputs[i] ? a->inputs[i] : "";
        int rc = put_strings(f, "inputs", names, (hsize_t)a->n);
        free(names);
        if (rc < 0)
            return -1;
    }
    int md[2] = {a->n, a->c};
    if (put_data(f, "means", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, md, a->means) < 0)
        return -1;
    int xd[4] = {a->n, a->c, a->h, a->w};
    if (a->maps && put_data(f, "maps", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, xd, a->maps) < 0)
        return -1;
    if (a->top && a->ntop > 0 &&
        put_data(f, "top", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &a->ntop, a->top) < 0)
        return -1;
    return 0;
}

/* The whole file in memory: *buf (malloc'd) of *size bytes. */
static int build_image(const nn_acts *a, void **buf, size_t *size)
{
    size_t bytes = ((size_t)a->n * a->c * (1 + (size_t)a->h * a->w)) * sizeof(float);
    size_t inc = ((bytes + ((size_t)1 << 20)) >> 20 << 20) + ((size_t)1 << 20);
    char name[64];
    core_name(name, sizeof name);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    int rc = -1;
    *buf = NULL;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, inc, 0) >= 0)
        f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f >= 0 && write_acts(f, a) == 0 && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0) {
        ssize_t n = H5Fget_file_image(f, NULL, 0);
        if (n > 0 && (*buf = malloc((size_t)n)) && H5Fget_file_image(f, *buf, (size_t)n) == n) {
            *size = (size_t)n;
            rc = 0;
        }
    }
    if (f >= 0)
        H5Fclose(f);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rc < 0) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

int nn_acts_save(const nn_acts *a, const char *path, nn_error *e)
{
    int to_stdout = strcmp(path, "-") == 0;
    const char *name = to_stdout ? "stdout" : path;
    if (a->n < 0 || a->c < 1 || (a->n > 0 && !a->means) ||
        (a->maps && (a->h < 1 || a->w < 1)))
        return nn_fail(e, "%s: nothing to write (%d inputs, %d filters)", name, a->n, a->c);
    for (int k = 0; k < a->ntop && a->top; k++)
        if (a->top[k] < 0 || a->top[k] >= a->c)
            return nn_fail(e, "%s: top filter %d outside 0..%d", name, a->top[k], a->c - 1);
    void *buf;
    size_t size;
    quiet q;
    quiet_begin(&q);
    int rc = build_image(a, &buf, &size);
    quiet_end(&q);
    if (rc < 0)
        return nn_fail(e, "%s: cannot build the HDF5 file (out of memory?)", name);
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

/* ---- reading ----------------------------------------------------------- */

void nn_acts_free(nn_acts *a)
{
    if (!a)
        return;
    free(a->means);
    free(a->maps);
    free(a->top);
    free(a->model);
    free(a->layer_name);
    free(a->layer_type);
    nn_strv_free(a->inputs);
    free(a);
}

/* String attribute `name` of the root: *n strings, NULL-terminated. */
static char **get_strings(hid_t f, const char *name, size_t *n)
{
    *n = 0;
    if (H5Aexists(f, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t ft = a < 0 ? -1 : H5Aget_type(a), sp = a < 0 ? -1 : H5Aget_space(a);
    hssize_t np = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    hid_t mt = string_type();
    char **v = NULL;
    if (ft >= 0 && np >= 0 && mt >= 0 && H5Tget_class(ft) == H5T_STRING &&
        H5Tis_variable_str(ft) > 0 && (v = calloc((size_t)np + 1, sizeof *v))) {
        if (H5Aread(a, mt, v) < 0) {
            free(v);
            v = NULL;
        } else {
            int bad = 0;
            for (hssize_t i = 0; i < np; i++) {
                char *s = v[i];
                v[i] = strdup(s ? s : "");
                bad |= !v[i];
                if (s)
                    H5free_memory(s);
            }
            if (bad) {
                nn_strv_free(v);
                v = NULL;
            } else {
                *n = (size_t)np;
            }
        }
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    return v;
}

static char *get_string(hid_t f, const char *name)
{
    size_t n;
    char **v = get_strings(f, name, &n);
    char *s = v && n == 1 ? strdup(v[0]) : NULL;
    nn_strv_free(v);
    return s;
}

static int get_int(hid_t f, const char *name, int *out)
{
    if (H5Aexists(f, name) <= 0)
        return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a);
    int rc = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
                     H5Aread(a, H5T_NATIVE_INT, out) >= 0
                 ? 0
                 : -1;
    if (sp >= 0)
        H5Sclose(sp);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

/* Dataset name (numeric, nd dims) read as mtype into a malloc'd *out. */
static int get_data(hid_t f, const char *name, hid_t mtype, size_t esize, int nd, int *dims,
                    void **out)
{
    *out = NULL;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return 1; /* absent */
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    int rc = -1;
    hsize_t hd[8];
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == nd &&
        H5Sget_simple_extent_dims(sp, hd, NULL) == nd) {
        size_t n = 1;
        int ok = 1;
        for (int i = 0; i < nd; i++) {
            ok &= hd[i] <= 0x7fffffff;
            dims[i] = (int)hd[i];
            n *= (size_t)hd[i];
        }
        if (ok && (*out = malloc(n ? n * esize : 1)) &&
            (n == 0 || H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0))
            rc = 0;
    }
    if (rc < 0) {
        free(*out);
        *out = NULL;
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

static nn_acts *read_acts(hid_t f, const char *name, nn_error *e)
{
    nn_acts *a = calloc(1, sizeof *a);
    if (!a) {
        nn_fail(e, "%s: out of memory", name);
        return NULL;
    }
    char *fmt = get_string(f, "format");
    int version = 0, fmt_ok = fmt && strcmp(fmt, ACTS_FORMAT) == 0;
    free(fmt);
    if (!fmt_ok) {
        nn_fail(e, "%s: not an activation file (no format=\"nn-acts\"; nn-featmap -o "
                "writes one)", name);
        goto fail;
    }
    if (get_int(f, "version", &version) < 0 || version != ACTS_VERSION) {
        nn_fail(e, "%s: activation file version %d; this program reads version %d", name,
                version, ACTS_VERSION);
        goto fail;
    }
    int md[2], xd[4], td[1];
    int rc = get_data(f, "means", H5T_NATIVE_FLOAT, sizeof(float), 2, md, (void **)&a->means);
    if (rc != 0) {
        nn_fail(e, "%s: %s", name, rc > 0 ? "no /means dataset" : "/means is not a float [N,C] array");
        goto fail;
    }
    a->n = md[0], a->c = md[1];
    rc = get_data(f, "maps", H5T_NATIVE_FLOAT, sizeof(float), 4, xd, (void **)&a->maps);
    if (rc < 0 || (rc == 0 && (xd[0] != a->n || xd[1] != a->c))) {
        nn_fail(e, "%s: /maps is not a float [%d,%d,H,W] array", name, a->n, a->c);
        goto fail;
    }
    if (rc == 0)
        a->h = xd[2], a->w = xd[3];
    rc = get_data(f, "top", H5T_NATIVE_INT, sizeof(int), 1, td, (void **)&a->top);
    if (rc < 0) {
        nn_fail(e, "%s: /top is not an int [K] array", name);
        goto fail;
    }
    a->ntop = rc == 0 ? td[0] : 0;
    for (int k = 0; k < a->ntop; k++)
        if (a->top[k] < 0 || a->top[k] >= a->c) {
            nn_fail(e, "%s: /top lists filter %d; the layer has 0..%d", name, a->top[k],
                    a->c - 1);
            goto fail;
        }
    if (get_int(f, "layer", &a->layer) < 0)
        a->layer = -1;
    a->model = get_string(f, "model");
    a->layer_name = get_string(f, "layer_name");
    a->layer_type = get_string(f, "layer_type");
    size_t ni;
    a->inputs = get_strings(f, "inputs", &ni);
    if (a->inputs && ni != (size_t)a->n) {
        nn_fail(e, "%s: %zu input names for %d rows of /means", name, ni, a->n);
        goto fail;
    }
    return a;
fail:
    nn_acts_free(a);
    return NULL;
}

nn_acts *nn_acts_decode(const void *buf, size_t size, const char *name, nn_error *e)
{
    if (!nn_is_hdf5(buf, size)) {
        nn_fail(e, "%s: not an HDF5 file", name);
        return NULL;
    }
    quiet q;
    quiet_begin(&q);
    char cname[64];
    core_name(cname, sizeof cname);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)buf, size) >= 0)
        f = H5Fopen(cname, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    nn_acts *a = NULL;
    if (f < 0)
        nn_fail(e, "%s: not a readable HDF5 file", name);
    else
        a = read_acts(f, name, e);
    if (f >= 0)
        H5Fclose(f);
    quiet_end(&q);
    return a;
}

nn_acts *nn_acts_load(const char *path, nn_error *e)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        char *b = realloc(buf, cap *= 2);
        if (!b)
            free(buf);
        buf = b;
    }
    int bad = ferror(fp);
    if (!is_stdin)
        fclose(fp);
    if (!buf || bad) {
        free(buf);
        nn_fail(e, "%s: cannot read%s", name, buf ? "" : ": out of memory");
        return NULL;
    }
    nn_acts *a = nn_acts_decode(buf, n, name, e);
    free(buf);
    return a;
}
