/* keras.c - pretrained Keras models: a Keras weight file into a model built
 * from an architecture text, and the registry's pretrained models (format
 * keras:ARCH[:MODE][:notop]) fetched and converted (nn-fetch-data vgg16).
 *
 * The weight file (HDF5, as Keras 1 and 2 save_weights write it):
 *   /                    attribute layer_names: string[L], layers in order
 *                        (or layer_names0, layer_names1, ... when long)
 *   /LAYER               attribute weight_names: string[K], kernel then
 *                        bias; empty for a layer without weights
 *   /LAYER/WEIGHT_NAME   float32 dataset ("block1_conv1/kernel:0", Keras
 *                        1's "block1_conv1_W_1:0")
 * A whole saved model (model.save) holds the same under /model_weights.
 *
 * Layouts: a Keras conv kernel is [kh,kw,in,out] (TensorFlow's HWIO), nn's
 * [out,in,kh,kw]; a Dense kernel is [in,out], nn's [out,in]. Keras flattens
 * an (H,W,C) map as index (h*W + w)*C + c, nn a (C,H,W) map as
 * c*H*W + h*W + w, so the dense layer after a flatten gets its input rows
 * permuted. Both convolve without flipping the kernel (cross-correlation),
 * and TensorFlow's SAME padding is nn's pad=same. */
#include "nn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the Keras layers ----------------------------------------------------- */

/* A Keras layer with weights: its name and its datasets' paths. */
typedef struct klayer {
    char *name;
    char **paths; /* NULL-terminated */
    int n;
} klayer;

typedef struct kfile {
    const char *path;
    nn_h5 *f;
    klayer *layers; /* the layers that have weights, in order */
    int n;
} kfile;

static void kfile_close(kfile *k)
{
    for (int i = 0; i < k->n; i++) {
        free(k->layers[i].name);
        nn_strv_free(k->layers[i].paths);
    }
    free(k->layers);
    nn_h5_close(k->f);
}

/* Attribute `name` of obj as Keras writes lists: whole, or in chunks
 * name0, name1, ... when it would not fit an HDF5 object header. */
static int keras_list(kfile *k, const char *obj, const char *name, char ***out, size_t *n,
                      nn_error *e)
{
    if (nn_h5_read_attr_strings(k->f, obj, name, out, n, e) == 0)
        return 0;
    nn_error first = e ? *e : (nn_error){""};
    char **all = NULL;
    size_t total = 0;
    for (int chunk = 0;; chunk++) {
        char key[96], **v;
        size_t m;
        snprintf(key, sizeof key, "%s%d", name, chunk);
        if (nn_h5_read_attr_strings(k->f, obj, key, &v, &m, NULL) < 0)
            break;
        char **grown = realloc(all, (total + m + 1) * sizeof *grown);
        if (!grown) {
            nn_strv_free(v);
            nn_strv_free(all);
            return nn_fail(e, "%s: out of memory", k->path);
        }
        all = grown;
        memcpy(all + total, v, m * sizeof *v);
        total += m;
        all[total] = NULL;
        free(v);
    }
    if (!all) {
        if (e)
            *e = first;
        return -1;
    }
    *out = all;
    *n = total;
    return 0;
}

/* Opens a Keras weight file and lists its layers that have weights. */
static int kfile_open(kfile *k, const char *path, nn_error *e)
{
    memset(k, 0, sizeof *k);
    k->path = path;
    if (!(k->f = nn_h5_open(path, e)))
        return -1;
    const char *base = "";
    char **names = NULL;
    size_t nn = 0;
    if (keras_list(k, "/", "layer_names", &names, &nn, NULL) < 0) {
        base = "/model_weights";
        if (keras_list(k, base, "layer_names", &names, &nn, NULL) < 0)
            return nn_fail(e, "%s: not a Keras weight file: no attribute layer_names at its "
                           "root or in /model_weights", path);
    }
    int rc = 0;
    if (!(k->layers = calloc(nn ? nn : 1, sizeof *k->layers)))
        rc = nn_fail(e, "%s: out of memory", path);
    for (size_t i = 0; rc == 0 && i < nn; i++) {
        char group[1024], **w = NULL;
        size_t nw = 0;
        snprintf(group, sizeof group, "%s/%s", base, names[i]);
        if (keras_list(k, group, "weight_names", &w, &nw, NULL) < 0) {
            rc = nn_fail(e, "%s: layer '%s' is in layer_names, but there is no group %s with "
                         "the attribute weight_names", path, names[i], group);
            break;
        }
        if (nw == 0) {
            nn_strv_free(w);
            continue;
        }
        klayer *l = &k->layers[k->n++];
        l->name = strdup(names[i]);
        l->paths = calloc(nw + 1, sizeof *l->paths);
        l->n = (int)nw;
        for (size_t j = 0; l->paths && j < nw; j++) {
            size_t len = strlen(group) + strlen(w[j]) + 2;
            if ((l->paths[j] = malloc(len)))
                snprintf(l->paths[j], len, "%s/%s", group, w[j]);
            else
                rc = -1;
        }
        nn_strv_free(w);
        if (!l->name || !l->paths || rc < 0)
            rc = nn_fail(e, "%s: out of memory", path);
    }
    nn_strv_free(names);
    return rc;
}

/* ---- the conversion --------------------------------------------------------- */

/* The (C,H,W) map a flatten before dense layer i turns into its input, when
 * only shape-keeping layers (activations, dropout) stand between them;
 * 0 when there is none (nothing to permute). */
static int flatten_source(const nn_model *m, int i, nn_dims *src)
{
    for (int j = i - 1; j >= 0; j--) {
        const nn_layer *l = &m->layers[j];
        if (strcmp(l->type->keyword, "flatten") == 0) {
            *src = l->in;
            return l->in.h * l->in.w > 1;
        }
        if (l->nparam || l->in.c != l->out.c || l->in.h != l->out.h || l->in.w != l->out.w)
            return 0;
    }
    return 0;
}

/* Keras kernel k of layer l into l's weight: HWIO -> OIHW for conv, [in,out]
 * -> [out,in] for dense, with rows from HWC to CHW order after a flatten. */
static void put_kernel(const nn_model *m, const nn_layer *l, const float *k, float *w)
{
    const nn_param *p = &l->param[0];
    if (p->ndims == 4) {
        int O = p->dims[0], I = p->dims[1], KH = p->dims[2], KW = p->dims[3];
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++)
                for (int y = 0; y < KH; y++)
                    for (int x = 0; x < KW; x++)
                        w[((size_t)(o * I + i) * KH + y) * KW + x] =
                            k[((size_t)(y * KW + x) * I + i) * O + o];
        return;
    }
    int OUT = p->dims[0], IN = p->dims[1];
    nn_dims s = {1, 1, 1};
    int perm = flatten_source(m, l->index, &s);
    for (int r = 0; r < IN; r++) {
        /* r: nn's input row (c,h,w); kr: the same feature in Keras's order */
        int kr = r;
        if (perm) {
            int c = r / (s.h * s.w), hw = r % (s.h * s.w);
            kr = hw * s.c + c;
        }
        for (int o = 0; o < OUT; o++)
            w[(size_t)o * IN + r] = k[(size_t)kr * OUT + o];
    }
}

/* Fills layer l (conv or dense) from Keras layer kl. */
static int fill_layer(const nn_model *m, nn_layer *l, kfile *k, const klayer *kl, nn_error *e)
{
    int conv = strcmp(l->type->keyword, "conv") == 0;
    nn_param *w = nn_layer_find_param(l, "weight"), *b = nn_layer_find_param(l, "bias");
    int want[4], nwant = conv ? 4 : 2;
    if (conv)
        want[0] = w->dims[2], want[1] = w->dims[3], want[2] = w->dims[1], want[3] = w->dims[0];
    else
        want[0] = w->dims[1], want[1] = w->dims[0];
    char need[64], got[64];
    nn_format_dims(need, sizeof need, nwant, want);
    if (kl->n != (b ? 2 : 1))
        return nn_fail(e, "%s: Keras layer '%s' has %d weights; layer %d (%s '%s') takes %s",
                       k->path, kl->name, kl->n, l->index, l->type->keyword, l->name,
                       b ? "a kernel and a bias" : "a kernel only (bias=none)");
    int rc = 0;
    for (int j = 0; j < kl->n && rc == 0; j++) {
        float *v = NULL;
        int nd = 0, d[8];
        if (nn_h5_read_floats(k->f, kl->paths[j], &v, &nd, d, e) < 0)
            return -1;
        const char *rel = kl->paths[j][0] == '/' ? kl->paths[j] + 1 : kl->paths[j];
        nn_format_dims(got, sizeof got, nd, d);
        if (j == 0) { /* the kernel */
            int same = nd == nwant;
            for (int i = 0; same && i < nd; i++)
                same = d[i] == want[i];
            if (!same)
                rc = nn_fail(e, "%s: %s is %s; layer %d (%s '%s') needs %s (%s)", k->path, rel,
                             got, l->index, l->type->keyword, l->name, need,
                             conv ? "kh,kw,in,out" : "in,out");
            else
                put_kernel(m, l, v, w->value);
        } else if (nd != 1 || (size_t)d[0] != b->size) {
            rc = nn_fail(e, "%s: %s is %s; layer %d (%s '%s') needs a bias of [%zu]", k->path,
                         rel, got, l->index, l->type->keyword, l->name, b->size);
        } else {
            memcpy(b->value, v, b->size * sizeof *v);
        }
        free(v);
    }
    return rc;
}

/* The keyword of a line of architecture text ("" for blank and comment
 * lines) into kw. */
static void line_keyword(const char *p, char *kw, size_t size)
{
    size_t n = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p && *p != '#' && *p != '\n' && *p != ' ' && *p != '\t' && *p != '\r' &&
           n + 1 < size)
        kw[n++] = *p++;
    kw[n] = 0;
}

/* A copy of text cut before the first flatten, gap or dense line (the
 * conv part of a network), or the whole text. */
static char *conv_part(const char *text)
{
    const char *p = text;
    while (*p) {
        char kw[32];
        line_keyword(p, kw, sizeof kw);
        if (!strcmp(kw, "flatten") || !strcmp(kw, "gap") || !strcmp(kw, "dense"))
            break;
        const char *eol = strchr(p, '\n');
        p = eol ? eol + 1 : p + strlen(p);
    }
    if (!*p)
        return strdup(text);
    size_t n = (size_t)(p - text);
    static const char note[] = "# (the conv part only: Keras's include_top=False)\n";
    char *cut = malloc(n + sizeof note);
    if (cut) {
        memcpy(cut, text, n);
        memcpy(cut + n, note, sizeof note);
    }
    return cut;
}

/* The input channels of architecture text (its "input CxHxW" line); 0
 * when there is none. */
static int arch_input(const char *text, nn_dims *in)
{
    for (const char *p = text; *p;) {
        char kw[32];
        line_keyword(p, kw, sizeof kw);
        if (!strcmp(kw, "input")) {
            const char *s = strstr(p, "input") + 5;
            in->h = in->w = 1;
            int k = sscanf(s, " %dx%dx%d", &in->c, &in->h, &in->w);
            return k >= 1 && in->c > 0;
        }
        if (kw[0])
            return 0;
        const char *eol = strchr(p, '\n');
        p = eol ? eol + 1 : p + strlen(p);
    }
    return 0;
}

int nn_keras_preprocess(nn_model *m, const char *mode, nn_error *e)
{
    static const float caffe_bgr[3] = {103.939f, 116.779f, 123.68f};
    static const float torch_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float torch_std[3] = {0.229f, 0.224f, 0.225f};
    int c = m->input.c;
    if (strcmp(mode, "caffe") && strcmp(mode, "tf") && strcmp(mode, "torch"))
        return nn_fail(e, "unknown Keras preprocessing '%s'; the modes are caffe, tf and "
                       "torch", mode);
    if (strcmp(mode, "tf") && c != 3)
        return nn_fail(e, "Keras's %s preprocessing is for 3-channel (RGB) inputs; the model "
                       "takes %d", mode, c);
    for (int k = 0; k < 4; k++)
        m->mean[k] = 0, m->std[k] = 1;
    m->bgr = 0;
    for (int k = 0; k < c && k < 4; k++) {
        if (!strcmp(mode, "caffe")) {
            /* (u/255 - M/255) / (1/255) = u - M, channel k of BGR */
            m->mean[k] = caffe_bgr[k] / 255.0f;
            m->std[k] = 1.0f / 255.0f;
        } else if (!strcmp(mode, "tf")) {
            m->mean[k] = 0.5f, m->std[k] = 0.5f; /* u/127.5 - 1 */
        } else {
            m->mean[k] = torch_mean[k], m->std[k] = torch_std[k];
        }
    }
    m->bgr = !strcmp(mode, "caffe");
    return 0;
}

nn_model *nn_keras_load(const char *path, const char *arch, const char *arch_file,
                        const nn_keras_opts *o, nn_error *e)
{
    kfile k;
    nn_model *m = NULL;
    char *text = NULL;
    if (kfile_open(&k, path, e) < 0)
        goto fail;
    text = o->notop ? conv_part(arch) : strdup(arch);
    if (text && o->size > 0) {
        nn_dims in;
        if (!arch_input(text, &in)) {
            nn_fail(e, "%s: no 'input CxHxW' line", arch_file);
            goto fail;
        }
        in.h = in.w = o->size;
        char *t = nn_arch_with_input(text, in);
        free(text);
        text = t;
    }
    if (!text) {
        nn_fail(e, "%s: out of memory", path);
        goto fail;
    }
    /* "dense classes": the given count, else the last dense kernel's width */
    int classes = o->notop ? 0 : o->classes;
    if (classes <= 0 && !o->notop && k.n > 0) {
        float *v;
        int nd, d[8];
        const klayer *last = &k.layers[k.n - 1];
        if (nn_h5_read_floats(k.f, last->paths[0], &v, &nd, d, NULL) == 0) {
            if (nd == 2)
                classes = d[1];
            free(v);
        }
    }
    /* a file without a dense layer cannot fill "dense classes" anyway: 1
     * lets the architecture build, so that the error names what is missing */
    if (classes <= 0 && !o->notop)
        classes = 1;
    if (!(m = nn_model_from_arch(text, arch_file, classes, e)))
        goto fail;
    int used = 0, needed = 0;
    for (int i = 0; i < m->nlayers; i++)
        needed += m->layers[i].nparam > 0;
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        if (!l->nparam)
            continue;
        if (strcmp(l->type->keyword, "conv") && strcmp(l->type->keyword, "dense")) {
            nn_fail(e, "%s: layer %d is %s; the Keras import fills conv and dense layers only",
                    arch_file, i, l->type->keyword);
            goto fail;
        }
        if (used == k.n) {
            nn_fail(e, "%s: has weights for %d layers, %s needs %d: nothing for layer %d (%s "
                    "'%s')%s", path, k.n, arch_file, needed, i, l->type->keyword, l->name,
                    strcmp(l->type->keyword, "dense") == 0 ? "; a notop file?" : "");
            goto fail;
        }
        if (fill_layer(m, l, &k, &k.layers[used], e) < 0)
            goto fail;
        used++;
    }
    if (used < k.n && !o->notop) {
        nn_fail(e, "%s: has weights for %d layers, %s only %d: Keras layer '%s' and those after "
                "it have no place in it", path, k.n, arch_file, used, k.layers[used].name);
        goto fail;
    }
    if (o->preprocess && nn_keras_preprocess(m, o->preprocess, e) < 0)
        goto fail;
    if (o->class_names && !o->notop) {
        if (o->classes != m->classes) {
            nn_fail(e, "%s: %d class names for a model of %d outputs", arch_file, o->classes,
                    m->classes);
            goto fail;
        }
        if (!(m->class_names = calloc((size_t)m->classes + 1, sizeof *m->class_names))) {
            nn_fail(e, "out of memory");
            goto fail;
        }
        for (int i = 0; i < m->classes; i++)
            if (!(m->class_names[i] = strdup(o->class_names[i]))) {
                nn_fail(e, "out of memory");
                goto fail;
            }
    }
    free(text);
    kfile_close(&k);
    m->loaded = 1;
    return m;
fail:
    free(text);
    kfile_close(&k);
    nn_model_free(m);
    return NULL;
}

/* ---- the registry's pretrained models ------------------------------------- */

static const nn_reg_row *model_row(const nn_registry *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].name, name) == 0)
            return strncmp(r->rows[i].format, "keras:", 6) == 0 ? &r->rows[i] : NULL;
    return NULL;
}

int nn_registry_is_model(const nn_registry *r, const char *name)
{
    return r && model_row(r, name) != NULL;
}

static char *read_text(const char *path, nn_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 14, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *b = realloc(buf, cap *= 2);
        if (!b)
            free(buf);
        buf = b;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        nn_fail(e, "%s: cannot read", path);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

/* Class names from the registry's column: "a,b,c", or "@FILE" in dir with
 * one name a line. *names is NULL-terminated. */
static int class_list(const char *col, const char *dir, char ***names, int *n, nn_error *e)
{
    *names = NULL;
    *n = 0;
    if (!col)
        return 0;
    char *text, path[8200];
    int file = col[0] == '@';
    if (file) {
        snprintf(path, sizeof path, "%s/%s", dir, col + 1);
        if (!(text = read_text(path, e)))
            return -1;
    } else if (!(text = strdup(col))) {
        return nn_fail(e, "out of memory");
    }
    char sep = file ? '\n' : ',';
    size_t count = 1;
    for (char *p = text; *p; p++)
        count += *p == sep;
    char **v = calloc(count + 1, sizeof *v);
    int k = 0, rc = v ? 0 : nn_fail(e, "out of memory");
    for (char *p = text; rc == 0 && p;) {
        char *end = strchr(p, sep), *q;
        if (end)
            *end = 0;
        size_t len = strlen(p);
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
            p[--len] = 0;
        for (q = p; *q == ' '; q++)
            ;
        if (*q && !(file && *q == '#') && !(v[k++] = strdup(q)))
            rc = nn_fail(e, "out of memory");
        p = end ? end + 1 : NULL;
    }
    free(text);
    if (rc < 0) {
        nn_strv_free(v);
        return -1;
    }
    *names = v;
    *n = k;
    return 0;
}

/* A weight file given as --from FILE: checked against the registry's sums
 * for `name` (a warning, never an error: the user chose it). */
static void check_given(const nn_registry *r, const char *name, const char *path,
                        const nn_dataset_opts *o)
{
    const char *want = NULL;
    for (int i = 0; i < r->n; i++) {
        const nn_reg_row *w = &r->rows[i];
        if (strcmp(w->name, name) != 0 || !w->sha256)
            continue;
        char hex[65];
        if (nn_file_sum(path, w->sha256, hex, NULL) < 0)
            break;
        if (strcmp(hex, w->sha256) == 0) {
            nn_dataset_say(o, 0, "%s: %s verified", path, nn_sum_name(w->sha256));
            return;
        }
        if (!want)
            want = w->sha256;
    }
    if (want)
        nn_dataset_say(o, 1, "%s: not the file the registry lists for %s (its %s differs from %s); "
            "converting it all the same", path, name, nn_sum_name(want), want);
    else
        nn_dataset_say(o, 1, "%s: cannot verify: the registry has no sum for %s", path, name);
}

nn_model *nn_pretrained_fetch(const nn_registry *r, const char *name,
                              const nn_dataset_opts *o, nn_error *e)
{
    const nn_reg_row *row = model_row(r, name);
    if (!row) {
        nn_fail(e, "%s: not a pretrained model of the registry", name);
        return NULL;
    }
    /* keras:ARCH[:MODE][:notop] */
    char fmt[256], *words[8], *save = NULL;
    int nw = 0;
    snprintf(fmt, sizeof fmt, "%s", row->format + 6);
    for (char *t = strtok_r(fmt, ":", &save); t && nw < 8; t = strtok_r(NULL, ":", &save))
        words[nw++] = t;
    nn_keras_opts ko = {0};
    for (int i = 1; i < nw; i++) {
        if (!strcmp(words[i], "notop"))
            ko.notop = 1;
        else if (!strcmp(words[i], "caffe") || !strcmp(words[i], "tf") ||
                 !strcmp(words[i], "torch"))
            ko.preprocess = words[i];
        else {
            nn_fail(e, "%s:%d: format '%s': unknown word '%s'; expected "
                    "keras:ARCH[:caffe|tf|torch][:notop]", r->path, row->line, row->format,
                    words[i]);
            return NULL;
        }
    }
    if (nw == 0) {
        nn_fail(e, "%s:%d: format '%s' names no architecture (keras:ARCH)", r->path, row->line,
                row->format);
        return NULL;
    }
    /* the architecture and class names beside the registry */
    char dir[4096], arch_path[4200];
    snprintf(dir, sizeof dir, "%s", r->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (words[0][0] == '/')
        snprintf(arch_path, sizeof arch_path, "%s", words[0]);
    else
        snprintf(arch_path, sizeof arch_path, "%s/arch/%s.nn", dir, words[0]);
    nn_model *m = NULL;
    char *arch = NULL, **names = NULL, **files = NULL, **paths = NULL, **sums = NULL,
         **origin = NULL;
    int nnames = 0, nfiles = 0;
    if (!(arch = read_text(arch_path, e)))
        goto done;
    if (class_list(row->classes, dir, &names, &nnames, e) < 0)
        goto done;
    if (o->size > 0 && !ko.notop) {
        nn_dims in;
        if (arch_input(arch, &in) && in.h != o->size) {
            nn_fail(e, "%s: its dense layers fix the input at %dx%d; --size is for a notop "
                    "model", name, in.h, in.w);
            goto done;
        }
    }
    ko.size = o->size;
    ko.classes = nnames;
    ko.class_names = (const char *const *)names;
    const char *path;
    struct stat st;
    if (o->from && stat(o->from, &st) == 0 && S_ISREG(st.st_mode)) {
        check_given(r, name, o->from, o);
        path = o->from;
    } else {
        if (nn_dataset_files(r, name, o, &nfiles, &files, &paths, &sums, &origin, e) < 0)
            goto done;
        if (nfiles != 1) {
            nn_fail(e, "%s:%d: %s lists %d files; a pretrained model is one weight file",
                    r->path, row->line, name, nfiles);
            goto done;
        }
        path = paths[0];
    }
    nn_dataset_say(o, 0, "%s: converting %s with %s", name, path, arch_path);
    m = nn_keras_load(path, arch, arch_path, &ko, e);
done:
    free(arch);
    nn_strv_free(names);
    nn_strv_free(files);
    nn_strv_free(paths);
    nn_strv_free(sums);
    nn_strv_free(origin);
    return m;
}
