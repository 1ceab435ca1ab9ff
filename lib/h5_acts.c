/* h5_acts.c - activation files (man 5 nn-acts): per-filter mean
 * activations of one layer for a list of inputs, optionally the full maps.
 *
 *   /          attributes format="nn-acts", version=1, model, layer (int32),
 *              layer_name, layer_type, inputs (string[N])
 *   /means     float32 [N, C]
 *   /maps      float32 [N, C, H, W]  (optional)
 *   /top       int32 [K]             (optional: filters by mean, largest first)
 *
 * Written with lib/h5_impl.h's h5_save (built in memory, then renamed into
 * place, or stdout for "-"); read with the nn_h5 readers, "-" from stdin. */
#include "h5_impl.h"

#include <stdlib.h>
#include <string.h>

#define ACTS_FORMAT "nn-acts"
#define ACTS_VERSION 1

/* ---- writing ----------------------------------------------------------- */

static int write_acts(h5_writer *w, hid_t f, const void *arg)
{
    const nn_acts *a = arg;
    const char *model = a->model ? a->model : "";
    const char *lname = a->layer_name ? a->layer_name : "";
    const char *ltype = a->layer_type ? a->layer_type : "";
    if (h5_put_string(w, f, "format", ACTS_FORMAT) < 0 ||
        h5_put_int(w, f, "version", ACTS_VERSION) < 0 ||
        h5_put_string(w, f, "model", model) < 0 || h5_put_int(w, f, "layer", a->layer) < 0 ||
        h5_put_string(w, f, "layer_name", lname) < 0 ||
        h5_put_string(w, f, "layer_type", ltype) < 0)
        return -1;
    if (a->n > 0) {
        const char **names = calloc((size_t)a->n, sizeof *names);
        if (!names)
            return nn_fail(w->e, "%s: out of memory", w->name);
        for (int i = 0; i < a->n; i++)
            names[i] = a->inputs && a->inputs[i] ? a->inputs[i] : "";
        int rc = h5_put_strings(w, f, "inputs", names, (size_t)a->n);
        free(names);
        if (rc < 0)
            return -1;
    }
    int md[2] = {a->n, a->c}, xd[4] = {a->n, a->c, a->h, a->w};
    if (h5_put_data(w, f, "means", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, md, a->means) < 0 ||
        (a->maps &&
         h5_put_data(w, f, "maps", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, xd, a->maps) < 0) ||
        (a->top && a->ntop > 0 &&
         h5_put_data(w, f, "top", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &a->ntop, a->top) < 0))
        return -1;
    return 0;
}

int nn_acts_save(const nn_acts *a, const char *path, nn_error *e)
{
    const char *name = strcmp(path, "-") == 0 ? "stdout" : path;
    if (a->n < 0 || a->c < 1 || (a->n > 0 && !a->means) ||
        (a->maps && (a->h < 1 || a->w < 1)))
        return nn_fail(e, "%s: nothing to write (%d inputs, %d filters)", name, a->n, a->c);
    for (int k = 0; k < a->ntop && a->top; k++)
        if (a->top[k] < 0 || a->top[k] >= a->c)
            return nn_fail(e, "%s: top filter %d outside 0..%d", name, a->top[k], a->c - 1);
    size_t bytes = ((size_t)a->n * a->c * (1 + (size_t)a->h * a->w)) * sizeof(float);
    return h5_save(write_acts, a, (bytes >> 20 << 20) + ((size_t)2 << 20), path, e);
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

/* An optional string attribute of the root: NULL when absent. */
static char *get_string(nn_h5 *f, const char *name)
{
    char *s = NULL;
    nn_error ignored;
    if (nn_h5_has_attr(f, "/", name))
        nn_h5_read_attr_string(f, "/", name, &s, &ignored);
    return s;
}

/* Dataset path as floats of nd dims: 1 when absent, -1 when not so. */
static int get_floats(nn_h5 *f, const char *path, int nd, int *dims, float **out)
{
    int got, d[8];
    nn_error ignored;
    *out = NULL;
    if (!nn_h5_exists(f, path))
        return 1;
    if (nn_h5_read_floats(f, path, out, &got, d, &ignored) < 0)
        return -1;
    if (got != nd) {
        free(*out);
        *out = NULL;
        return -1;
    }
    memcpy(dims, d, (size_t)nd * sizeof *dims);
    return 0;
}

static nn_acts *read_acts(nn_h5 *f, const char *name, nn_error *e)
{
    nn_acts *a = calloc(1, sizeof *a);
    if (!a) {
        nn_fail(e, "%s: out of memory", name);
        return NULL;
    }
    char *fmt = get_string(f, "format");
    int fmt_ok = fmt && strcmp(fmt, ACTS_FORMAT) == 0;
    free(fmt);
    if (!fmt_ok) {
        nn_fail(e, "%s: not an activation file (no format=\"nn-acts\"; nn-featmap -o "
                "writes one)", name);
        goto fail;
    }
    double version = 0, layer = -1;
    nn_error ignored;
    if (nn_h5_read_attr_double(f, "/", "version", &version, &ignored) < 0 ||
        version != ACTS_VERSION) {
        nn_fail(e, "%s: activation file version %g; this program reads version %d", name,
                version, ACTS_VERSION);
        goto fail;
    }
    int md[2], xd[4], td[1];
    int rc = get_floats(f, "/means", 2, md, &a->means);
    if (rc != 0) {
        nn_fail(e, "%s: %s", name, rc > 0 ? "no /means dataset" : "/means is not a float [N,C] array");
        goto fail;
    }
    a->n = md[0], a->c = md[1];
    rc = get_floats(f, "/maps", 4, xd, &a->maps);
    if (rc < 0 || (rc == 0 && (xd[0] != a->n || xd[1] != a->c))) {
        nn_fail(e, "%s: /maps is not a float [%d,%d,H,W] array", name, a->n, a->c);
        goto fail;
    }
    if (rc == 0)
        a->h = xd[2], a->w = xd[3];
    float *top = NULL;
    rc = get_floats(f, "/top", 1, td, &top);
    if (rc < 0 || (rc == 0 && !(a->top = malloc((td[0] ? td[0] : 1) * sizeof *a->top)))) {
        free(top);
        nn_fail(e, "%s: /top is not an int [K] array", name);
        goto fail;
    }
    a->ntop = rc == 0 ? td[0] : 0;
    for (int k = 0; k < a->ntop; k++)
        a->top[k] = (int)top[k];
    free(top);
    for (int k = 0; k < a->ntop; k++)
        if (a->top[k] < 0 || a->top[k] >= a->c) {
            nn_fail(e, "%s: /top lists filter %d; the layer has 0..%d", name, a->top[k],
                    a->c - 1);
            goto fail;
        }
    a->layer = nn_h5_read_attr_double(f, "/", "layer", &layer, &ignored) == 0 ? (int)layer : -1;
    a->model = get_string(f, "model");
    a->layer_name = get_string(f, "layer_name");
    a->layer_type = get_string(f, "layer_type");
    size_t ni = 0;
    if (nn_h5_has_attr(f, "/", "inputs") &&
        nn_h5_read_attr_strings(f, "/", "inputs", &a->inputs, &ni, e) < 0)
        goto fail;
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
    nn_h5 *f = nn_h5_open_image(buf, size, name, e);
    nn_acts *a = f ? read_acts(f, name, e) : NULL;
    nn_h5_close(f);
    return a;
}

nn_acts *nn_acts_load(const char *path, nn_error *e)
{
    nn_h5 *f = nn_h5_open(path, e);
    nn_acts *a = f ? read_acts(f, strcmp(path, "-") == 0 ? "stdin" : path, e) : NULL;
    nn_h5_close(f);
    return a;
}
