/* test_golden_layers.c - every layer type and loss against PyTorch
 * (test/golden/layers.h5, made by test/golden/gen_layers.py).
 *
 * Each case of the file is a tiny architecture with one layer under test.
 * The model is built from the case's text, its parameters are set to the
 * file's param_* values, and:
 *  - forward in the case's mode gives the file's y (and, for batch norm in
 *    train mode, the updated running statistics after_running_*);
 *  - layer cases: backward of the file's dy from the last layer gives dx
 *    and every grad_*;
 *  - loss cases: nn_model_loss_backward on the file's labels or targets
 *    gives the mean loss, dx (wrt the model input) and every grad_*.
 * A value passes when |got - torch| <= 1e-6 + 1e-5 |torch|. */
#include "nn.h"
#include "test.h"

#include <stdarg.h>

#define GOLDEN "test/golden/layers.h5"
#define ATOL 1e-6
#define RTOL 1e-5
#define MAX_CASES 128

typedef struct tensor {
    float *v;
    int nd, dims[8];
    size_t size;
} tensor;

/* Reads /group/name into t; 0, or -1 with a message in e. */
static int read_tensor(nn_h5 *f, const char *group, const char *name,
                       tensor *t, nn_error *e)
{
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", group, name);
    t->v = NULL;
    if (nn_h5_read_floats(f, path, &t->v, &t->nd, t->dims, e) < 0)
        return -1;
    t->size = 1;
    for (int i = 0; i < t->nd; i++)
        t->size *= (size_t)t->dims[i];
    return 0;
}

/* The failures of one case, collected into one line. */
typedef struct report {
    char msg[1024];
    size_t len;
    double worst; /* largest |got - torch| over every tensor compared */
    double used;  /* largest |got - torch| / (ATOL + RTOL |torch|) */
} report;

static void report_add(report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report_add(report *r, const char *fmt, ...)
{
    va_list ap;
    if (r->len >= sizeof r->msg - 1)
        return;
    if (r->len)
        r->len += snprintf(r->msg + r->len, sizeof r->msg - r->len, "; ");
    if (r->len >= sizeof r->msg - 1)
        return;
    va_start(ap, fmt);
    r->len += vsnprintf(r->msg + r->len, sizeof r->msg - r->len, fmt, ap);
    va_end(ap);
    if (r->len > sizeof r->msg - 1)
        r->len = sizeof r->msg - 1;
}

/* Compares n values of got with the golden tensor want. */
static void compare(report *r, const char *what, const float *got,
                    const tensor *want, size_t n)
{
    double maxdiff;
    if (want->size != n) {
        report_add(r, "%s: %zu values, the golden file has %zu", what, n,
                   want->size);
        return;
    }
    long bad = test_close(got, want->v, (long)n, ATOL, RTOL, &maxdiff);
    if (maxdiff > r->worst)
        r->worst = maxdiff;
    for (size_t i = 0; i < n; i++) {
        double u = fabs((double)got[i] - want->v[i]) / (ATOL + RTOL * fabs(want->v[i]));
        if (u > r->used || u != u)
            r->used = u != u ? INFINITY : u;
    }
    if (bad >= 0)
        report_add(r, "%s: max |diff| %.3g; first at [%ld]: %.9g, torch %.9g",
                   what, maxdiff, bad, got[bad], want->v[bad]);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* One case: build, set parameters, forward, backward, compare. */
static void golden_case(nn_h5 *f, const char *group)
{
    nn_error e;
    report r = {{0}, 0, 0, 0};
    char *arch = NULL, *mode = NULL, *lname = NULL, **names = NULL;
    char path[256];
    tensor x = {0}, y = {0}, dy = {0}, dx = {0}, tgt = {0}, loss = {0}, t = {0};
    nn_model *m = NULL;
    nn_layer *l = NULL;
    float *gx = NULL;
    int *labels = NULL;

    snprintf(path, sizeof path, "/%s", group);
    if (nn_h5_read_attr_string(f, path, "arch", &arch, &e) < 0 ||
        nn_h5_read_attr_string(f, path, "mode", &mode, &e) < 0 ||
        !(names = nn_h5_list(f, path, &e)) || read_tensor(f, group, "x", &x, &e) < 0 ||
        read_tensor(f, group, "y", &y, &e) < 0 || read_tensor(f, group, "dx", &dx, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    if (nn_h5_read_attr_string(f, path, "layer", &lname, &e) < 0)
        lname = NULL; /* a case without parameters */
    int is_loss = 0; /* loss cases have the loss instead of dy */
    for (char **s = names; *s; s++)
        is_loss |= strcmp(*s, "loss") == 0;
    if (!(m = nn_model_from_arch(arch, group, 0, &e))) {
        FAILF("%s", e.msg);
        goto done;
    }
    int n = x.nd > 0 ? x.dims[0] : 0;
    size_t in = nn_dims_size(m->input);
    size_t out = nn_dims_size(m->layers[m->nlayers - 1].out);
    if (n < 1 || x.size != (size_t)n * in) {
        FAILF("x has %zu values, not a batch of %zux%d inputs", x.size, in, n);
        goto done;
    }
    if (nn_model_reserve(m, n, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    nn_model_init_params(m, 1);

    /* parameters: every param_P of the file goes to layer lname, and the
     * layer has no parameter the file leaves out */
    if (lname) {
        int li = nn_model_find_layer(m, lname);
        if (li < 0) {
            FAILF("no layer '%s' in the model", lname);
            goto done;
        }
        l = &m->layers[li];
        for (int j = 0; j < l->nparam; j++) {
            char ds[80];
            snprintf(ds, sizeof ds, "param_%s", l->param[j].name);
            if (read_tensor(f, group, ds, &t, &e) < 0) {
                FAILF("layer %s has parameter '%s', which PyTorch's layer has not (%s)",
                      lname, l->param[j].name, e.msg);
                goto done;
            }
            if (t.size != l->param[j].size) {
                FAILF("%s: %zu values, the golden file has %zu", ds, l->param[j].size, t.size);
                goto done;
            }
            memcpy(l->param[j].value, t.v, t.size * sizeof(float));
            free(t.v);
            t.v = NULL;
        }
    }
    for (char **s = names; *s; s++)
        if (starts_with(*s, "param_") &&
            (!l || !nn_layer_find_param(l, *s + strlen("param_")))) {
            FAILF("the golden file has %s, which layer %s lacks", *s, lname ? lname : "(none)");
            goto done;
        }

    nn_pass pass = {0};
    pass.train = strcmp(mode, "train") == 0;
    pass.seed = 1;
    pass.param_grads = 1;

    const float *got = nn_model_forward(m, x.v, n, &pass);
    compare(&r, "y", got, &y, (size_t)n * out);
    for (char **s = names; *s; s++)
        if (starts_with(*s, "after_")) {
            nn_param *p = l ? nn_layer_find_param(l, *s + strlen("after_")) : NULL;
            if (!p) {
                report_add(&r, "%s: no such parameter in the layer", *s);
                continue;
            }
            if (read_tensor(f, group, *s, &t, &e) < 0) {
                report_add(&r, "%s", e.msg);
                continue;
            }
            compare(&r, *s, p->value, &t, p->size);
            free(t.v);
            t.v = NULL;
        }

    nn_model_zero_grads(m);
    if (!(gx = malloc((size_t)n * in * sizeof *gx))) {
        FAILF("out of memory");
        goto done;
    }
    if (is_loss) {
        float lv;
        if (m->loss == NN_LOSS_XENT) {
            if (read_tensor(f, group, "labels", &tgt, &e) < 0 ||
                !(labels = malloc((size_t)n * sizeof *labels))) {
                FAILF("labels: %s", e.msg);
                goto done;
            }
            for (int i = 0; i < n; i++)
                labels[i] = (int)tgt.v[i];
            lv = nn_model_loss_backward(m, labels, n, gx, &pass, NULL);
        } else {
            if (read_tensor(f, group, "target", &tgt, &e) < 0) {
                FAILF("%s", e.msg);
                goto done;
            }
            lv = nn_model_loss_backward(m, tgt.v, n, gx, &pass, NULL);
        }
        if (read_tensor(f, group, "loss", &loss, &e) < 0) {
            FAILF("%s", e.msg);
            goto done;
        }
        compare(&r, "loss", &lv, &loss, 1);
    } else {
        if (read_tensor(f, group, "dy", &dy, &e) < 0) {
            FAILF("%s", e.msg);
            goto done;
        }
        if (dy.size != (size_t)n * out) {
            FAILF("dy has %zu values, not %zu", dy.size, (size_t)n * out);
            goto done;
        }
        nn_model_backward_from(m, m->nlayers - 1, dy.v, gx, n, &pass);
    }
    compare(&r, "dx", gx, &dx, (size_t)n * in);
    for (char **s = names; *s; s++)
        if (starts_with(*s, "grad_")) {
            nn_param *p = l ? nn_layer_find_param(l, *s + strlen("grad_")) : NULL;
            if (!p || !p->grad) {
                report_add(&r, "%s: the layer has no such trainable parameter", *s);
                continue;
            }
            if (read_tensor(f, group, *s, &t, &e) < 0) {
                report_add(&r, "%s", e.msg);
                continue;
            }
            compare(&r, *s, p->grad, &t, p->size);
            free(t.v);
            t.v = NULL;
        }
    CHECK_MSG(r.len == 0, "%s", r.msg);
    printf("# %-26s max |libnn - torch| %-9.3g (%.2f of the tolerance)\n", group,
           r.worst, r.used);
done:
    free(arch);
    free(mode);
    free(lname);
    nn_strv_free(names);
    free(x.v), free(y.v), free(dy.v), free(dx.v), free(tgt.v), free(loss.v), free(t.v);
    free(gx);
    free(labels);
    nn_model_free(m);
}

/* Whether some case's architecture has a line starting with word. */
static int covered(char *const *arch, int n, const char *word)
{
    size_t k = strlen(word);
    for (int i = 0; i < n; i++)
        for (const char *s = arch[i]; s && (s = strstr(s, word)); s += k)
            if ((s == arch[i] || s[-1] == '\n') &&
                (s[k] == 0 || s[k] == ' ' || s[k] == '\n'))
                return 1;
    return 0;
}

int main(void)
{
    nn_error e;
    static char names[MAX_CASES][96];
    char *arch[MAX_CASES] = {0};
    int ncases = 0;

    nn_set_threads(2);
    TEST("golden file " GOLDEN " has a case for every layer type and loss");
    nn_h5 *f = nn_h5_open(GOLDEN, &e);
    if (!f) {
        FAILF("%s (run from the repository root)", e.msg);
        return test_done();
    }
    char **groups = nn_h5_list(f, "/", &e);
    if (!groups) {
        FAILF("%s", e.msg);
        nn_h5_close(f);
        return test_done();
    }
    for (ncases = 0; groups[ncases] && ncases < MAX_CASES; ncases++) {
        char path[128];
        snprintf(path, sizeof path, "/%s", groups[ncases]);
        if (nn_h5_read_attr_string(f, path, "arch", &arch[ncases], &e) < 0)
            FAILF("%s", e.msg);
    }
    const nn_layer_type *const *types = nn_layer_types();
    for (int i = 0; types[i]; i++)
        CHECK_MSG(covered(arch, ncases, types[i]->keyword),
                  "no golden case for layer type '%s'", types[i]->keyword);
    CHECK_MSG(covered(arch, ncases, "loss xent"), "no case for loss xent");
    CHECK_MSG(covered(arch, ncases, "loss mse"), "no case for loss mse");
    CHECK_MSG(covered(arch, ncases, "loss bce"), "no case for loss bce");

    for (int i = 0; i < ncases; i++) {
        snprintf(names[i], sizeof names[i], "golden %s matches PyTorch", groups[i]);
        TEST(names[i]);
        golden_case(f, groups[i]);
    }
    for (int i = 0; i < ncases; i++)
        free(arch[i]);
    nn_strv_free(groups);
    nn_h5_close(f);
    return test_done();
}
