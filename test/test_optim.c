/* test_optim.c - the optimizers: every update rule against torch.optim
 * (test/golden/optim.h5, made by test/golden/gen_optim.py), the option
 * parser and its defaults and errors, the state layout that
 * nn_optim_step walks on a real model, and the same bits for 1 and 2
 * threads. */
#include "nn.h"
#include "test.h"

#include <omp.h>
#include <stdarg.h>

/* TEST keeps the name's pointer until the next TEST prints it: formatted
 * names live in two static buffers used in turn. */
static const char *case_name(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *case_name(const char *fmt, ...)
{
    static char buf[2][256];
    static int k;
    va_list ap;
    k ^= 1;
    va_start(ap, fmt);
    vsnprintf(buf[k], sizeof buf[k], fmt, ap);
    va_end(ap);
    return buf[k];
}

#define GOLDEN "test/golden/optim.h5"

/* One golden case: STEPS updates of one tensor from w0 with grads[t]; each
 * step matches torch within 1e-6 relative + 1e-7 absolute. */
static void golden_case(nn_h5 *f, const char *group)
{
    char path[160];
    char *spec = NULL;
    float *w0 = NULL, *grads = NULL, *want = NULL;
    int nd, d0[8], dg[8], dw[8];
    double lr, wd;
    nn_error e;
    nn_optim o;

    TEST(case_name("golden %s: 4 steps match torch.optim", group));
    snprintf(path, sizeof path, "/%s", group);
    if (nn_h5_read_attr_string(f, path, "spec", &spec, &e) < 0 ||
        nn_h5_read_attr_double(f, path, "lr", &lr, &e) < 0 ||
        nn_h5_read_attr_double(f, path, "wd", &wd, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    snprintf(path, sizeof path, "/%s/w0", group);
    if (nn_h5_read_floats(f, path, &w0, &nd, d0, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    snprintf(path, sizeof path, "/%s/grads", group);
    if (nn_h5_read_floats(f, path, &grads, &nd, dg, &e) < 0 || nd != 2) {
        FAILF("grads: %s", nd != 2 ? "not 2-D" : e.msg);
        goto done;
    }
    snprintf(path, sizeof path, "/%s/w", group);
    if (nn_h5_read_floats(f, path, &want, &nd, dw, &e) < 0 || nd != 2) {
        FAILF("w: %s", nd != 2 ? "not 2-D" : e.msg);
        goto done;
    }
    int n = d0[0], steps = dg[0];
    if (dg[1] != n || dw[0] != steps || dw[1] != n) {
        FAILF("shapes: w0 [%d], grads [%d,%d], w [%d,%d]", n, dg[0], dg[1], dw[0], dw[1]);
        goto done;
    }
    if (nn_optim_parse(&o, spec, &e) < 0) {
        FAILF("%s", e.msg);
        goto done;
    }
    o.lr = (float)lr;
    o.wd = (float)wd;
    float *w = malloc(n * sizeof *w), *state = calloc((size_t)2 * n, sizeof *state);
    float *slots[2] = {state, state + n};
    memcpy(w, w0, n * sizeof *w);
    double worst = 0;
    for (int t = 0; t < steps; t++) {
        double maxdiff;
        nn_optim_update(&o, w, grads + (size_t)t * n, slots, n, o.lr, t + 1);
        const float *ref = want + (size_t)t * n;
        long bad = test_close(w, ref, n, 1e-7, 1e-6, &maxdiff);
        CHECK_MSG(bad < 0, "'%s' step %d: w[%ld] = %.9g, torch %.9g", spec, t + 1,
                  bad, bad < 0 ? 0 : w[bad], bad < 0 ? 0 : ref[bad]);
        if (maxdiff > worst)
            worst = maxdiff;
    }
    printf("# %-20s %-36s max |w - torch| %.3g\n", group, spec, worst);
    free(w);
    free(state);
done:
    free(spec);
    free(w0);
    free(grads);
    free(want);
}

static void golden(void)
{
    nn_error e;
    TEST("golden file " GOLDEN " opens and holds every optimizer");
    nn_h5 *f = nn_h5_open(GOLDEN, &e);
    if (!f) {
        FAILF("%s (regenerate with test/golden/gen_optim.py)", e.msg);
        return;
    }
    char **groups = nn_h5_list(f, "/", &e);
    CHECK_MSG(groups != NULL, "%s", e.msg);
    int seen[NN_OPT_ADAMW + 1] = {0}, ngroups = 0;
    for (char **g = groups; g && *g; g++, ngroups++) {
        char *spec = NULL;
        char path[160];
        nn_optim o;
        snprintf(path, sizeof path, "/%s", *g);
        if (nn_h5_read_attr_string(f, path, "spec", &spec, &e) == 0 &&
            nn_optim_parse(&o, spec, &e) == 0)
            seen[o.kind] = 1;
        free(spec);
    }
    for (int k = 0; k <= NN_OPT_ADAMW; k++)
        CHECK_MSG(seen[k], "no golden case for %s", nn_optim_name((nn_optim_kind)k));
    CHECK_MSG(ngroups >= 14, "%d cases", ngroups);
    for (char **g = groups; g && *g; g++)
        golden_case(f, *g);
    nn_strv_free(groups);
    nn_h5_close(f);
}

/* Every name parses to its kind with torch's defaults. */
static void defaults(void)
{
    static const struct {
        const char *text;
        nn_optim_kind kind;
        float lr, wd, momentum, eps;
        int nslots;
    } want[] = {
        {"sgd", NN_OPT_SGD, 0.01f, 0, 0, 1e-8f, 0},
        {"momentum", NN_OPT_MOMENTUM, 0.01f, 0, 0.9f, 1e-8f, 1},
        {"nesterov", NN_OPT_NESTEROV, 0.01f, 0, 0.9f, 1e-8f, 1},
        {"adagrad", NN_OPT_ADAGRAD, 0.01f, 0, 0, 1e-10f, 1},
        {"rmsprop", NN_OPT_RMSPROP, 0.01f, 0, 0, 1e-8f, 2},
        {"adam", NN_OPT_ADAM, 0.001f, 0, 0, 1e-8f, 2},
        {"adamw", NN_OPT_ADAMW, 0.001f, 0.01f, 0, 1e-8f, 2},
    };
    nn_error e;
    TEST("parse: every optimizer name, with torch's defaults");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        nn_optim o;
        memset(&o, 0x55, sizeof o);
        int rc = nn_optim_parse(&o, want[i].text, &e);
        CHECK_MSG(rc == 0, "%s: %s", want[i].text, e.msg);
        CHECK_MSG(o.kind == want[i].kind && o.lr == want[i].lr && o.wd == want[i].wd &&
                      o.momentum == want[i].momentum && o.eps == want[i].eps,
                  "%s: kind %d lr %g wd %g momentum %g eps %g", want[i].text, o.kind,
                  o.lr, o.wd, o.momentum, o.eps);
        CHECK_MSG(o.beta1 == 0.9f && o.beta2 == 0.999f && o.alpha == 0.99f,
                  "%s: beta1 %g beta2 %g alpha %g", want[i].text, o.beta1, o.beta2, o.alpha);
        CHECK_MSG(o.step == 0 && o.state == NULL && o.nvalues == 0, "%s: state not cleared",
                  want[i].text);
        CHECK(o.nslots == want[i].nslots && nn_optim_slots(o.kind) == want[i].nslots);
        CHECK(strcmp(nn_optim_name(o.kind), want[i].text) == 0);
    }

    TEST("parse: key=value options");
    nn_optim o;
    CHECK(nn_optim_parse(&o, "adam:beta1=0.8,beta2=0.99,eps=1e-6", &e) == 0);
    CHECK(o.beta1 == 0.8f && o.beta2 == 0.99f && o.eps == 1e-6f && o.lr == 0.001f);
    CHECK(nn_optim_parse(&o, "rmsprop:momentum=0.9,alpha=0.95", &e) == 0);
    CHECK(o.kind == NN_OPT_RMSPROP && o.momentum == 0.9f && o.alpha == 0.95f);
    CHECK(nn_optim_parse(&o, "nesterov:momentum=0.5", &e) == 0);
    CHECK(o.kind == NN_OPT_NESTEROV && o.momentum == 0.5f);
    CHECK(nn_optim_parse(&o, "adagrad:eps=1e-6", &e) == 0 && o.eps == 1e-6f);

    TEST("slot names are PyTorch's state names");
    static const char *slot_names[][2] = {
        {NULL, NULL}, {"momentum_buffer", NULL}, {"momentum_buffer", NULL},
        {"sum", NULL}, {"square_avg", "momentum_buffer"},
        {"exp_avg", "exp_avg_sq"}, {"exp_avg", "exp_avg_sq"},
    };
    for (int k = 0; k <= NN_OPT_ADAMW; k++)
        for (int i = 0; i < 2; i++) {
            const char *got = nn_optim_slot_name((nn_optim_kind)k, i);
            const char *exp = slot_names[k][i];
            CHECK_MSG(exp ? got && strcmp(got, exp) == 0 : got == NULL, "%s slot %d: %s",
                      nn_optim_name((nn_optim_kind)k), i, got ? got : "NULL");
        }
}

/* A bad text is an error that quotes it and lists what is valid, and
 * leaves o as it was. */
static void error_case(const char *text, const char *expect)
{
    nn_error e = {{0}};
    nn_optim o;
    TEST(case_name("parse error: '%s'", text));
    memset(&o, 0x55, sizeof o);
    nn_optim before;
    memcpy(&before, &o, sizeof o);
    CHECK(nn_optim_parse(&o, text, &e) == -1);
    CHECK_MSG(strstr(e.msg, text) != NULL, "message does not quote the text: %s", e.msg);
    CHECK_MSG(strstr(e.msg, expect) != NULL, "message lacks '%s': %s", expect, e.msg);
    CHECK_MSG(memcmp(&o, &before, sizeof o) == 0, "o changed on error");
}

static void errors(void)
{
    error_case("adamm", "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw");
    error_case("", "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw");
    error_case("Adam", "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw");
    error_case("adam:alpha=0.9", "beta1, beta2, eps");
    error_case("adam:momentum=0.9", "beta1, beta2, eps");
    error_case("rmsprop:beta1=0.9", "alpha, eps, momentum");
    error_case("momentum:eps=1e-3", "takes momentum");
    error_case("sgd:momentum=0.9", "no options");
    error_case("adam:beta1", "not key=value");
    error_case("adam:", "beta1, beta2, eps");
    error_case("adam:beta1=0.8,", "missing");
    error_case("adam:beta1=x", "must be a number");
    error_case("adam:beta1=", "must be a number");
    error_case("adam:beta1=1", "[0, 1)");
    error_case("momentum:momentum=-0.1", "[0, 1)");
    error_case("adam:eps=0", "eps must be > 0");
    error_case("adam:eps=nan", "must be a number");
}

/* A small model with weights, biases and batch-norm buffers. */
static const char *arch =
    "input 2x5x5\n"
    "conv 3 3x3 pad=same\n"
    "batchnorm\n"
    "relu\n"
    "flatten\n"
    "dense 4\n";

/* nn_optim_step on a model is nn_optim_update on each trainable tensor with
 * its state at the tensor's offset; buffers and their state stay as they
 * were; step counts. */
static void model_step(const char *spec)
{
    nn_error e;
    nn_optim o;
    TEST(case_name("%s: nn_optim_step updates each trainable tensor with its own state", spec));
    nn_model *m = nn_model_from_arch(arch, "test", 0, &e);
    if (!m) {
        FAILF("%s", e.msg);
        return;
    }
    nn_model_init_params(m, 7);
    CHECK_MSG(nn_optim_parse(&o, spec, &e) == 0, "%s", e.msg);
    o.wd = 0.01f;
    CHECK_MSG(nn_optim_setup(&o, m, &e) == 0, "%s", e.msg);
    CHECK(o.step == 0 && o.nvalues == m->nvalues && o.nslots == nn_optim_slots(o.kind));
    int zero = 1;
    for (size_t i = 0; i < (size_t)o.nslots * o.nvalues; i++)
        zero &= o.state[i] == 0;
    CHECK_MSG(zero, "state not zeroed by setup");

    /* the reference: a copy of the values, state per tensor */
    size_t nv = m->nvalues;
    float *ref = malloc(nv * sizeof *ref), *ref_state = calloc(2 * nv, sizeof *ref_state);
    memcpy(ref, m->values, nv * sizeof *ref);
    nn_rng r;
    nn_rng_seed(&r, 3);
    for (int step = 1; step <= 3; step++) {
        for (size_t i = 0; i < nv; i++)
            m->grads[i] = (float)nn_rng_normal(&r);
        float lr = 0.01f * step;
        nn_optim_step(&o, m, lr);
        for (int i = 0; i < m->nlayers; i++)
            for (int j = 0; j < m->layers[i].nparam; j++) {
                nn_param *p = &m->layers[i].param[j];
                size_t off = (size_t)(p->value - m->values);
                if (!p->trainable)
                    continue;
                float *slots[2] = {ref_state + off, ref_state + nv + off};
                nn_optim_update(&o, ref + off, m->grads + off, slots, p->size, lr, step);
            }
    }
    CHECK_MSG(o.step == 3, "step %ld after 3 updates", o.step);
    int changed = 0, buffers_kept = 1;
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++) {
            nn_param *p = &m->layers[i].param[j];
            size_t off = (size_t)(p->value - m->values);
            CHECK_MSG(memcmp(p->value, ref + off, p->size * sizeof(float)) == 0,
                      "layer %d %s differs from nn_optim_update", i, p->name);
            for (int s = 0; s < o.nslots; s++)
                CHECK_MSG(memcmp(o.state + s * nv + off, ref_state + s * nv + off,
                                 p->size * sizeof(float)) == 0,
                          "layer %d %s: state slot %d is not at the value's offset", i,
                          p->name, s);
            if (!p->trainable) { /* running statistics: never optimized */
                float init = strcmp(p->name, "running_var") == 0 ? 1.0f : 0.0f;
                for (size_t k = 0; k < p->size; k++)
                    buffers_kept &= p->value[k] == init;
                for (int s = 0; s < o.nslots; s++)
                    for (size_t k = 0; k < p->size; k++)
                        buffers_kept &= o.state[s * nv + off + k] == 0;
            } else {
                changed++;
            }
        }
    CHECK_MSG(buffers_kept, "a batch-norm buffer or its state changed");
    CHECK_MSG(changed == 6, "%d trainable tensors", changed);

    /* a state set up for another model is not written through */
    if (o.nslots > 0) {
        m->nvalues++;
        nn_optim_step(&o, m, 0.01f);
        m->nvalues--;
        CHECK_MSG(o.step == 3, "stepped with a state of the wrong size");
    }

    nn_optim_free(&o);
    CHECK(o.state == NULL);
    nn_optim_free(&o); /* twice is harmless */
    free(ref);
    free(ref_state);
    nn_model_free(m);
}

/* Large tensors are split over threads; every value's update is its own,
 * so 1 and 2 threads give the same bits. */
static void threads(const char *spec)
{
    nn_error e;
    nn_optim o;
    TEST(case_name("%s: 1 and 2 threads give the same bits on 1.5e6 values", spec));
    size_t n = 1500000; /* over the threading threshold, 2^20 */
    float *w[2], *st[2], *g = malloc(n * sizeof *g);
    nn_rng r;
    nn_rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++)
        g[i] = (float)nn_rng_normal(&r);
    CHECK(nn_optim_parse(&o, spec, &e) == 0);
    o.wd = 0.1f;
    int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        w[k] = malloc(n * sizeof(float));
        st[k] = calloc(2 * n, sizeof(float));
        for (size_t i = 0; i < n; i++)
            w[k][i] = (float)i / n - 0.5f;
        float *slots[2] = {st[k], st[k] + n};
        omp_set_num_threads(k + 1);
        for (long t = 1; t <= 3; t++)
            nn_optim_update(&o, w[k], g, slots, n, 0.01f, t);
    }
    omp_set_num_threads(saved);
    CHECK(memcmp(w[0], w[1], n * sizeof(float)) == 0);
    CHECK(memcmp(st[0], st[1], 2 * n * sizeof(float)) == 0);
    for (int k = 0; k < 2; k++) {
        free(w[k]);
        free(st[k]);
    }
    free(g);
}

int main(void)
{
    golden();
    defaults();
    errors();
    model_step("sgd");
    model_step("momentum");
    model_step("rmsprop:momentum=0.9");
    model_step("adam");
    model_step("adamw");
    threads("nesterov");
    threads("adagrad");
    threads("adamw");
    return test_done();
}
