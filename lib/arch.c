/* arch.c - the architecture text format (man 5 nn-arch) to a model.
 *
 *   # comment
 *   input 1x28x28
 *   conv 32 3x3 pad=same init=he name=conv1
 *   relu
 *   ...
 *   loss xent
 *
 * One layer per line, numbered from 0 in file order; "input" and "loss"
 * are not layers. Each layer type parses its own arguments (lib/layer_*.c);
 * this file splits lines into words, takes name=, and reports errors as
 * FILE:LINE: KEYWORD: what was expected. */
#include "model_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 32

struct nn_args {
    const char *file;
    int line;
    const char *keyword;
    int npos, nopt;
    const char *pos[MAX_WORDS];
    const char *key[MAX_WORDS], *val[MAX_WORDS];
    int used[MAX_WORDS];
};

int nn_args_count(const nn_args *a) { return a->npos; }

const char *nn_args_get(const nn_args *a, int i)
{
    return i >= 0 && i < a->npos ? a->pos[i] : NULL;
}

const char *nn_args_option(nn_args *a, const char *key)
{
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->key[i], key) == 0) {
            a->used[i] = 1;
            return a->val[i];
        }
    return NULL;
}

int nn_args_fail(const nn_args *a, nn_error *e, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nn_fail(e, "%s:%d: %s: %s", a->file, a->line, a->keyword, msg);
}

int nn_args_int(const nn_args *a, const char *text, const char *what, int min,
                int *out, nn_error *e)
{
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || end == text || *end || errno || v < min || v > 1 << 30)
        return nn_args_fail(a, e, "%s must be an integer >= %d, not '%s'",
                            what, min, text ? text : "");
    *out = (int)v;
    return 0;
}

int nn_args_float(const nn_args *a, const char *text, const char *what,
                  float *out, nn_error *e)
{
    char *end;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end || errno || v != v)
        return nn_args_fail(a, e, "%s must be a number, not '%s'", what,
                            text ? text : "");
    *out = (float)v;
    return 0;
}

/* "3x3", "2x3" or "3" (square). */
int nn_args_pair(const nn_args *a, const char *text, const char *what, int *h,
                 int *w, nn_error *e)
{
    char *end, *end2;
    long x = text ? strtol(text, &end, 10) : 0, y;
    if (!text || end == text || x < 1 || x > 1 << 20)
        goto bad;
    if (*end == 0) {
        *h = *w = (int)x;
        return 0;
    }
    if (*end != 'x')
        goto bad;
    y = strtol(end + 1, &end2, 10);
    if (end2 == end + 1 || *end2 || y < 1 || y > 1 << 20)
        goto bad;
    *h = (int)x, *w = (int)y;
    return 0;
bad:
    return nn_args_fail(a, e, "%s must be N or HxW with positive integers, not '%s'",
                        what, text ? text : "");
}

int nn_args_pad(const nn_args *a, const char *text, nn_layer_cfg *cfg,
                nn_error *e)
{
    if (!text || strcmp(text, "valid") == 0) {
        cfg->pad_mode = NN_PAD_VALID;
        return 0;
    }
    if (strcmp(text, "same") == 0) {
        cfg->pad_mode = NN_PAD_SAME;
        return 0;
    }
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 0 || v > 1 << 20)
        return nn_args_fail(a, e, "pad must be same, valid or a number >= 0, not '%s'", text);
    cfg->pad_mode = NN_PAD_EXPLICIT;
    cfg->pad = (int)v;
    return 0;
}

int nn_args_init(const nn_args *a, const char *text, nn_init *out, nn_error *e)
{
    nn_error e2;
    if (nn_init_parse(out, text, &e2) < 0)
        return nn_args_fail(a, e, "%s", e2.msg);
    return 0;
}

int nn_args_weights(nn_args *a, nn_layer_cfg *cfg, nn_error *e)
{
    const char *init = nn_args_option(a, "init"), *bias = nn_args_option(a, "bias");
    if (init && nn_args_init(a, init, &cfg->weight_init, e) < 0)
        return -1;
    nn_error e2;
    if (bias && strcmp(bias, "none") == 0)
        cfg->bias = 0;
    else if (bias && nn_init_parse(&cfg->bias_init, bias, &e2) < 0)
        return nn_args_fail(a, e, "bias=%s: %s, or none", bias, e2.msg);
    return 0;
}

size_t nn_format_weights(const nn_layer_cfg *c, char *buf, size_t size, size_t n)
{
    char v[64];
    if (n < size && c->weight_init.kind != NN_INIT_DEFAULT) {
        nn_init_format(c->weight_init, v, sizeof v);
        n += snprintf(buf + n, size - n, " init=%s", v);
    }
    if (!c->bias || c->bias_init.kind == NN_INIT_DEFAULT)
        v[0] = 0;
    else if (c->bias_init.kind == NN_INIT_CONSTANT)
        nn_format_float(v, sizeof v, c->bias_init.a);
    else if (c->bias_init.kind == NN_INIT_ZEROS)
        snprintf(v, sizeof v, "0");
    else
        nn_init_format(c->bias_init, v, sizeof v);
    if (n < size && (!c->bias || v[0]))
        n += snprintf(buf + n, size - n, " bias=%s", c->bias ? v : "none");
    return n;
}

/* Output size of a sliding window over l->in, and the padding per side. */
int nn_window_setup(nn_layer *l, int *oh, int *ow, nn_error *e)
{
    nn_layer_cfg *c = &l->cfg;
    int in[2] = {l->in.h, l->in.w}, k[2] = {c->kh, c->kw}, s[2] = {c->sh, c->sw};
    int out[2], lo[2], hi[2];
    for (int d = 0; d < 2; d++) {
        if (c->pad_mode == NN_PAD_SAME) {
            out[d] = (in[d] + s[d] - 1) / s[d];
            int total = (out[d] - 1) * s[d] + k[d] - in[d];
            if (total < 0)
                total = 0;
            lo[d] = total / 2, hi[d] = total - lo[d];
        } else {
            int p = c->pad_mode == NN_PAD_EXPLICIT ? c->pad : 0;
            lo[d] = hi[d] = p;
            out[d] = in[d] + 2 * p >= k[d] ? (in[d] + 2 * p - k[d]) / s[d] + 1 : 0;
        }
    }
    if (out[0] < 1 || out[1] < 1)
        return nn_fail(e, "a %dx%d window does not fit the %dx%d input; use pad=same or a smaller kernel",
                       k[0], k[1], in[0], in[1]);
    c->pt = lo[0], c->pb = hi[0], c->pl = lo[1], c->pr = hi[1];
    *oh = out[0], *ow = out[1];
    return 0;
}

static int valid_name(const char *s)
{
    int digits = 1;
    if (!*s || strlen(s) >= NN_NAME_MAX)
        return 0;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
        if (!isdigit((unsigned char)*s))
            digits = 0;
    }
    return !digits;
}

static void known_keywords(char *buf, size_t size)
{
    const nn_layer_type *const *t = nn_layer_types();
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; t[i] && n < size; i++)
        n += snprintf(buf + n, size - n, "%s%s", i ? ", " : "", t[i]->keyword);
}

static int parse_input(nn_args *a, nn_dims *in, nn_error *e)
{
    const char *t = nn_args_get(a, 0);
    int v[3] = {1, 1, 1}, n = 0;
    char *end;
    if (a->npos != 1 || a->nopt)
        return nn_args_fail(a, e, "expected 'input CxHxW' (or 'input N' for flat inputs)");
    for (const char *s = t; n < 3; n++) {
        long x = strtol(s, &end, 10);
        if (end == s || x < 1 || x > 1 << 20)
            return nn_args_fail(a, e, "'%s' is not CxHxW with positive integers", t);
        v[n] = (int)x;
        if (*end == 0)
            break;
        if (*end != 'x')
            return nn_args_fail(a, e, "'%s' is not CxHxW with positive integers", t);
        s = end + 1;
    }
    if (*end != 0 || n == 1)
        return nn_args_fail(a, e, "'%s' is not CxHxW (or N) with positive integers", t);
    in->c = v[0], in->h = v[1], in->w = v[2];
    return 0;
}

/* Splits one line into a->keyword, positional words and key=value options,
 * in place. Returns 0 for a blank or comment line, 1 for a line. */
static int split_line(char *s, nn_args *a, nn_error *e)
{
    char *hash = strchr(s, '#'), *tok, *save = NULL;
    if (hash)
        *hash = 0;
    a->npos = a->nopt = 0;
    a->keyword = NULL;
    for (tok = strtok_r(s, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
        char *eq = strchr(tok, '=');
        if (!a->keyword) {
            a->keyword = tok;
            if (eq)
                return nn_fail(e, "%s:%d: expected a layer keyword, not '%s'", a->file, a->line, tok);
            continue;
        }
        if (a->npos + a->nopt >= MAX_WORDS)
            return nn_args_fail(a, e, "too many words on one line");
        if (eq) {
            *eq = 0;
            a->key[a->nopt] = tok;
            a->val[a->nopt] = eq + 1;
            a->used[a->nopt++] = 0;
        } else {
            a->pos[a->npos++] = tok;
        }
    }
    return a->keyword != NULL;
}

static int parse_layer(nn_model *m, nn_args *a, int classes, nn_error *e)
{
    const nn_layer_type *type = nn_layer_type_find(a->keyword);
    if (!type) {
        char known[512];
        known_keywords(known, sizeof known);
        return nn_fail(e, "%s:%d: unknown layer '%s'; known: input, loss, %s",
                       a->file, a->line, a->keyword, known);
    }
    nn_layer *l = &m->layers[m->nlayers];
    memset(l, 0, sizeof *l);
    l->type = type;
    l->index = m->nlayers;
    l->line = a->line;
    l->cfg.sh = l->cfg.sw = 1;
    l->cfg.bias = 1;
    l->cfg.eps = 1e-5f;
    l->cfg.momentum = 0.1f;
    l->cfg.p = -1;
    const char *name = nn_args_option(a, "name");
    if (name) {
        if (!valid_name(name))
            return nn_args_fail(a, e, "name '%s' must be letters, digits, '_', '.' or '-', not all digits, under %d characters",
                                name, NN_NAME_MAX);
        for (int i = 0; i < m->nlayers; i++)
            if (strcmp(m->layers[i].name, name) == 0)
                return nn_args_fail(a, e, "name '%s' is already layer %d's", name, i);
        snprintf(l->name, sizeof l->name, "%s", name);
    } else {
        snprintf(l->name, sizeof l->name, "%s%d", type->keyword, l->index);
    }
    if (type->parse(l, a, e) < 0)
        return -1;
    for (int i = 0; i < a->nopt; i++)
        if (!a->used[i])
            return nn_args_fail(a, e, "unknown option '%s'; usage: %s", a->key[i], type->usage);
    if (l->cfg.units == -1) {
        if (classes <= 0)
            return nn_args_fail(a, e, "'classes' needs the class count: train on a dataset or write a number");
        l->cfg.units = classes;
    }
    l->in = m->nlayers ? m->layers[m->nlayers - 1].out : m->input;
    nn_error e2;
    if (type->setup(l, &e2) < 0)
        return nn_args_fail(a, e, "%s", e2.msg);
    m->nlayers++;
    return 0;
}

/* Parses text into m (input, layers, loss). */
int nn_arch_parse(nn_model *m, const char *text, const char *file, int classes,
                  nn_error *e)
{
    if (strncmp(text, "\xef\xbb\xbf", 3) == 0)
        text += 3; /* a UTF-8 byte-order mark, as some editors write */
    char *copy = strdup(text), *line, *save = NULL;
    int lineno = 0, have_input = 0, have_loss = 0, cap = 0, rc = -1;
    nn_args a;
    memset(&a, 0, sizeof a);
    a.file = file;
    if (!copy)
        return nn_fail(e, "%s: out of memory", file);
    /* strtok_r would skip empty lines and lose the numbering: split by hand */
    for (line = copy; line; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = 0;
        a.line = ++lineno;
        int k = split_line(line, &a, e);
        if (k < 0)
            goto out;
        if (k == 0)
            continue;
        if (strcmp(a.keyword, "input") == 0) {
            if (have_input) {
                nn_args_fail(&a, e, "a second 'input' line; only the first line may be 'input'");
                goto out;
            }
            if (m->nlayers) {
                nn_args_fail(&a, e, "'input' must come before the first layer");
                goto out;
            }
            if (parse_input(&a, &m->input, e) < 0)
                goto out;
            have_input = 1;
            continue;
        }
        if (!have_input) {
            nn_fail(e, "%s:%d: the first line must be 'input CxHxW', not '%s'", file, lineno, a.keyword);
            goto out;
        }
        if (strcmp(a.keyword, "loss") == 0) {
            nn_error e2;
            if (a.npos != 1 || a.nopt) {
                nn_args_fail(&a, e, "expected 'loss xent|mse|bce'");
                goto out;
            }
            if (have_loss++) {
                nn_args_fail(&a, e, "a second 'loss' line; give the loss once");
                goto out;
            }
            if (nn_loss_parse(&m->loss, a.pos[0], &e2) < 0) {
                nn_args_fail(&a, e, "%s", e2.msg);
                goto out;
            }
            continue;
        }
        if (m->nlayers == cap) {
            cap = cap ? 2 * cap : 16;
            nn_layer *nl = realloc(m->layers, cap * sizeof *nl);
            if (!nl) {
                nn_fail(e, "%s: out of memory", file);
                goto out;
            }
            m->layers = nl;
        }
        if (parse_layer(m, &a, classes, e) < 0)
            goto out;
    }
    if (!have_input)
        nn_fail(e, "%s: no 'input CxHxW' line", file);
    else if (m->nlayers == 0)
        nn_fail(e, "%s: no layers after 'input'", file);
    else
        rc = 0;
out:
    free(copy);
    return rc;
}

char *nn_model_format_arch(const nn_model *m)
{
    size_t cap = 256 + 160 * (size_t)m->nlayers, n = 0;
    char *s = malloc(cap), args[256], def[NN_NAME_MAX + 16];
    if (!s)
        return NULL;
    n += snprintf(s + n, cap - n, "input %dx%dx%d\n", m->input.c, m->input.h, m->input.w);
    for (int i = 0; i < m->nlayers; i++) {
        const nn_layer *l = &m->layers[i];
        args[0] = 0;
        if (l->type->format)
            l->type->format(l, args, sizeof args);
        snprintf(def, sizeof def, "%s%d", l->type->keyword, i);
        n += snprintf(s + n, cap - n, "%s%s%s%s%s\n", l->type->keyword, args[0] ? " " : "", args,
                      strcmp(def, l->name) ? " name=" : "", strcmp(def, l->name) ? l->name : "");
    }
    if (m->loss != NN_LOSS_XENT)
        n += snprintf(s + n, cap - n, "loss %s\n", nn_loss_name(m->loss));
    return s;
}

char *nn_arch_with_input(const char *text, nn_dims in)
{
    size_t n = strlen(text);
    char *out = malloc(n + 64), line[64];
    if (!out)
        return NULL;
    snprintf(line, sizeof line, "input %dx%dx%d", in.c, in.h, in.w);
    const char *p = text;
    size_t k = 0;
    int done = 0;
    while (*p) {
        const char *eol = strchr(p, '\n'), *s = p;
        size_t len = eol ? (size_t)(eol - p + 1) : strlen(p);
        while (*s == ' ' || *s == '\t')
            s++;
        if (!done && strncmp(s, "input", 5) == 0 && (s[5] == ' ' || s[5] == '\t')) {
            k += (size_t)sprintf(out + k, "%s\n", line);
            done = 1;
        } else {
            memcpy(out + k, p, len);
            k += len;
        }
        p += len;
    }
    out[k] = 0;
    return out;
}
