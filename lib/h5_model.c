/* h5_model.c - model files (man 5 nn-model), all little-endian:
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
 * Saved whole with h5_save; loading checks every tensor's shape against the
 * architecture the file carries. */
#include "h5_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "nn-model"
#define FORMAT_VERSION 1

/* ---- saving ------------------------------------------------------------- */

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
                rc = h5_put_floats(w, gp, nn_optim_slot_name(o->kind, s), p->ndims, p->dims,
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
            rc = h5_put_floats(w, g, p->name, p->ndims, p->dims, p->value);
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

typedef struct model_arg {
    const nn_model *m;
    const nn_optim *o;
} model_arg;

static int model_content(h5_writer *w, hid_t file, const void *arg)
{
    const model_arg *a = arg;
    return write_model(w, file, a->m, a->o);
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

/* ---- loading ------------------------------------------------------------ */

/* Reads dataset path into dst, which the architecture says has shape
 * dims[ndims]. */
static int read_tensor(nn_h5 *f, const char *path, int ndims, const int *dims,
                       float *dst, nn_error *e)
{
    int nd;
    hsize_t hd[H5S_MAX_RANK];
    hid_t d = h5_open_numeric(f, path, 0, &nd, hd, e);
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
        nn_format_dims(need, sizeof need, ndims, dims);
        H5Dclose(d);
        return nn_fail(e, "%s: %s has shape %s, the architecture needs %s", f->name, path,
                       have, need);
    }
    return h5_read_values(f, d, path, H5T_NATIVE_FLOAT, dst, e);
}

/* The optimizer of /optim into o: kind and hyper-parameters, state set up
 * for m, then every slot of every trainable parameter. */
static int load_optim(nn_h5 *f, const nn_model *m, nn_optim *o, nn_error *e)
{
    char *name = NULL;
    if (h5_read_attr_string(f, "/optim", "name", &name, e) < 0)
        return -1;
    int rc = nn_optim_parse(o, name, e);
    if (rc < 0)
        nn_fail_within(e, "%s: /optim: ", f->name);
    free(name);
    if (rc < 0)
        return -1;
    float lr, momentum, wd, beta1, beta2, alpha, eps;
    long long step;
    if (h5_read_attr_float(f, "/optim", "lr", &lr, e) < 0 ||
        h5_read_attr_float(f, "/optim", "momentum", &momentum, e) < 0 ||
        h5_read_attr_float(f, "/optim", "wd", &wd, e) < 0 ||
        h5_read_attr_float(f, "/optim", "beta1", &beta1, e) < 0 ||
        h5_read_attr_float(f, "/optim", "beta2", &beta2, e) < 0 ||
        h5_read_attr_float(f, "/optim", "alpha", &alpha, e) < 0 ||
        h5_read_attr_float(f, "/optim", "eps", &eps, e) < 0 ||
        h5_read_attr_fixed(f, "/optim", "step", H5T_NATIVE_LLONG, sizeof step, 1, &step, e) < 0)
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
    if (h5_read_attr_fixed(f, "/", "input", H5T_NATIVE_INT, sizeof(int), 3, in, e) < 0)
        return -1;
    if (in[0] != m->input.c || in[1] != m->input.h || in[2] != m->input.w)
        return nn_fail(e, "%s: attribute 'input' says %dx%dx%d, the architecture says %dx%dx%d",
                       f->name, in[0], in[1], in[2], m->input.c, m->input.h, m->input.w);

    char *text = NULL;
    if (h5_read_attr_string(f, "/", "loss", &text, e) < 0)
        return -1;
    int rc = nn_loss_parse(&m->loss, text, e);
    if (rc < 0)
        nn_fail_within(e, "%s: ", f->name);
    free(text);
    if (rc < 0)
        return -1;

    if (H5Aexists_by_name(f->file, "/", "class_names", H5P_DEFAULT) > 0) {
        size_t n;
        if (h5_read_attr_strings(f, "/", "class_names", &m->class_names, &n, e) < 0)
            return -1;
        if (n != (size_t)m->classes)
            return nn_fail(e, "%s: %zu class names for %d classes", f->name, n, m->classes);
    }

    size_t k = m->input.c < 4 ? (size_t)m->input.c : 4;
    if (h5_read_attr_fixed(f, "/", "input_mean", H5T_NATIVE_FLOAT, sizeof(float), k, m->mean, e) < 0 ||
        h5_read_attr_fixed(f, "/", "input_std", H5T_NATIVE_FLOAT, sizeof(float), k, m->std, e) < 0)
        return -1;
    for (size_t c = 0; c < k; c++)
        if (!isfinite(m->mean[c]) || !isfinite(m->std[c]) || !(m->std[c] > 0))
            return nn_fail(e, "%s: input channel %zu has mean %g and std %g; the std must be "
                           "a positive number", f->name, c, m->mean[c], m->std[c]);
    if (h5_read_attr_string(f, "/", "channel_order", &text, e) < 0)
        return -1;
    if (strcmp(text, "rgb") != 0 && strcmp(text, "bgr") != 0) {
        nn_fail(e, "%s: channel_order is '%s', expected rgb or bgr", f->name, text);
        free(text);
        return -1;
    }
    m->bgr = strcmp(text, "bgr") == 0;
    free(text);
    if (H5Aexists_by_name(f->file, "/", "train_state", H5P_DEFAULT) > 0 &&
        h5_read_attr_string(f, "/", "train_state", &m->train_state, e) < 0)
        return -1;
    return 0;
}

/* Every layer's group and parameters. */
static int load_layers(nn_h5 *f, nn_model *m, nn_error *e)
{
    char **names = h5_list(f, "/layers", e);
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
        if (h5_read_attr_string(f, group, "type", &type, e) < 0)
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
            for (size_t v = 0; v < p->size; v++)
                if (!isfinite(p->value[v]))
                    return nn_fail(e, "%s: %s holds %g at index %zu: the file is damaged, or "
                                   "it was saved after training diverged", f->name, path,
                                   p->value[v], v);
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
    if (h5_read_attr_string(f, "/", "format", &text, e) < 0)
        return NULL;
    if (strcmp(text, FORMAT_NAME) != 0) {
        nn_fail(e, "%s: not an nn model (its format is '%s')", f->name, text);
        free(text);
        return NULL;
    }
    free(text);
    if (h5_read_attr_int(f, "/", "version", &version, e) < 0)
        return NULL;
    if (version != FORMAT_VERSION) {
        nn_fail(e, "%s: nn-model version %d; this program reads version %d", f->name,
                version, FORMAT_VERSION);
        return NULL;
    }
    if (h5_read_attr_int(f, "/", "classes", &classes, e) < 0 ||
        h5_read_attr_string(f, "/", "architecture", &text, e) < 0)
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
    m->loaded = 1;
    if (o && h5_exists(f, "/optim")) {
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
