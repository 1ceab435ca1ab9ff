/* model_derive.c - models made from another model: the first layers of a
 * network rebuilt for another input size with the same parameter values
 * (what activation maximization needs at every scale), and weight
 * initializers overridden for initialization studies. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

/* Architecture text of layers 0..last of m: the regenerated text cut after
 * the input line and last+1 layer lines (the loss line goes too). */
static char *truncated_arch(const nn_model *m, int last)
{
    char *text = nn_model_format_arch(m);
    if (!text)
        return NULL;
    char *p = text;
    for (int line = 0; line < last + 2 && *p; line++) {
        char *eol = strchr(p, '\n');
        p = eol ? eol + 1 : p + strlen(p);
    }
    *p = 0;
    return text;
}

static char **copy_strv(char **v)
{
    size_t n = 0;
    while (v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            nn_strv_free(c);
            return NULL;
        }
    return c;
}

nn_model *nn_model_resized(const nn_model *m, int last, nn_dims in, nn_error *e)
{
    if (last < 0 || last >= m->nlayers)
        last = m->nlayers - 1;
    if (in.c != m->input.c || in.h < 1 || in.w < 1) {
        nn_fail(e, "cannot rebuild the network for input %dx%dx%d: it takes %d channels",
                in.c, in.h, in.w, m->input.c);
        return NULL;
    }
    char *cut = truncated_arch(m, last);
    char *text = cut ? nn_arch_with_input(cut, in) : NULL;
    free(cut);
    if (!text) {
        nn_fail(e, "out of memory");
        return NULL;
    }
    char file[64];
    snprintf(file, sizeof file, "input %dx%dx%d", in.c, in.h, in.w);
    nn_error sub;
    nn_model *r = nn_model_from_arch(text, file, m->classes, &sub);
    free(text);
    if (!r) { /* the parser's "input CxHxW:LINE: " names no file the user knows */
        const char *why = sub.msg;
        size_t fl = strlen(file);
        if (strncmp(why, file, fl) == 0 && why[fl] == ':') {
            const char *p = why + fl + 1;
            while (*p >= '0' && *p <= '9')
                p++;
            if (p[0] == ':' && p[1] == ' ')
                why = p + 2;
        }
        /* nor the parser's advice for architecture files ("; use pad=same ...") */
        char *advice = strstr(sub.msg, "; use ");
        if (advice && advice > why)
            *advice = 0;
        nn_fail(e, "the network does not take %dx%d inputs (%s)", in.h, in.w, why);
        return NULL;
    }
    /* the same layers, so the same parameters unless a size changed */
    for (int i = 0; i <= last; i++) {
        const nn_layer *a = &m->layers[i];
        nn_layer *b = &r->layers[i];
        for (int j = 0; j < a->nparam; j++) {
            if (j >= b->nparam || b->param[j].size != a->param[j].size) {
                nn_fail(e, "layer %d (%s) cannot take another input size: its %s "
                        "would change shape; use the layers before it",
                        i, a->type->keyword, a->param[j].name);
                nn_model_free(r);
                return NULL;
            }
            memcpy(b->param[j].value, a->param[j].value, a->param[j].size * sizeof(float));
        }
    }
    memcpy(r->mean, m->mean, sizeof r->mean);
    memcpy(r->std, m->std, sizeof r->std);
    r->bgr = m->bgr;
    free(r->arch_file);
    r->arch_file = strdup(m->arch_file ? m->arch_file : "model");
    if (m->class_names)
        r->class_names = copy_strv(m->class_names);
    if (!r->arch_file || (m->class_names && !r->class_names)) {
        nn_fail(e, "out of memory");
        nn_model_free(r);
        return NULL;
    }
    return r;
}

void nn_model_set_weight_init(nn_model *m, nn_init init)
{
    for (int i = 0; i < m->nlayers; i++) {
        nn_layer *l = &m->layers[i];
        const char *k = l->type->keyword;
        if (strcmp(k, "conv") != 0 && strcmp(k, "dense") != 0)
            continue;
        l->cfg.weight_init = init;
        nn_param *w = nn_layer_find_param(l, "weight");
        if (w)
            w->init = init;
    }
}
