/* test_gradcheck.c - every layer's backward against central finite
 * differences.
 *
 * For each case, a model of one layer (or a small network) is built from
 * architecture text. With a fixed random r, L = sum(y * r) has dL/dy = r,
 * so backward from r must give dL/dx and dL/dparam; each is compared with
 * (L(v + h) - L(v - h)) / 2h on every element (or a random sample of 64 for
 * large tensors). The tolerance (rel 2e-2 + abs 2e-3) is loose
 * enough for float32 rounding and tight enough that a wrong sign, index,
 * stride or missing term fails. Cases marked "spaced" feed inputs whose
 * values are at least 0.04 apart and away from 0, so max/relu kinks are
 * never crossed by a step of h. */
#include "nn.h"
#include "test.h"

#include <string.h>

typedef struct {
    const char *name;
    const char *arch;
    int train;
    int spaced;
    int loss; /* 1: the network's loss (nn_model_loss_backward) instead of sum(y*r) */
} gcase;

/* The step: 1e-2 for single layers; the networks use 1e-3, because conv and
 * batch norm amplify a step of the input so that 1e-2 can carry a value
 * across a ReLU or max-pool kink. */
static double h;

static const gcase cases[] = {
    {"conv 3x3 same", "input 2x5x6\nconv 3 3x3 pad=same", 0, 0, 0},
    {"conv 3x3 stride 2 asymmetric same", "input 2x7x6\nconv 3 3x3 stride=2 pad=same", 0, 0, 0},
    {"conv 5x5 valid no bias", "input 3x8x7\nconv 2 5x5 bias=none", 0, 0, 0},
    {"conv 1x1", "input 4x3x3\nconv 5 1", 0, 0, 0},
    {"conv 2x3 stride 1x2 pad 1", "input 2x6x7\nconv 3 2x3 stride=1x2 pad=1", 0, 0, 0},
    {"dense", "input 7\ndense 4", 0, 0, 0},
    {"dense no bias", "input 6\ndense 3 bias=none", 0, 0, 0},
    {"maxpool 2x2", "input 2x6x6\nmaxpool 2", 0, 1, 0},
    {"maxpool 3x3 stride 2 same", "input 2x7x6\nmaxpool 3x3 stride=2 pad=same", 0, 1, 0},
    {"maxpool 3x3 stride 1 pad 1", "input 1x5x5\nmaxpool 3 stride=1 pad=1", 0, 1, 0},
    {"avgpool 2x2", "input 2x6x6\navgpool 2", 0, 0, 0},
    {"avgpool 3x3 stride 2 same", "input 2x7x6\navgpool 3x3 stride=2 pad=same", 0, 0, 0},
    {"gap", "input 3x4x5\ngap", 0, 0, 0},
    {"flatten", "input 2x3x4\nflatten", 0, 0, 0},
    {"relu", "input 3x4x4\nrelu", 0, 1, 0},
    {"leakyrelu", "input 3x4x4\nleakyrelu 0.1", 0, 1, 0},
    {"sigmoid", "input 3x4x4\nsigmoid", 0, 0, 0},
    {"tanh", "input 3x4x4\ntanh", 0, 0, 0},
    {"batchnorm conv train", "input 3x4x4\nbatchnorm", 1, 0, 0},
    {"batchnorm dense train", "input 5\nbatchnorm", 1, 0, 0},
    {"batchnorm eval", "input 3x2x2\nbatchnorm", 0, 0, 0},
    {"dropout train", "input 4x3x3\ndropout 0.3", 1, 0, 0},
    {"dropout eval", "input 4x3x3\ndropout 0.3", 0, 0, 0},
    {"softmax", "input 6\nsoftmax", 0, 0, 0},
    {"network xent", "input 2x6x6\nconv 4 3x3 pad=same\nbatchnorm\nrelu\nmaxpool 2\n"
                     "flatten\ndense 5\ntanh\ndense 3\nsoftmax", 1, 0, 1},
    {"network mse", "input 5\ndense 4\nsigmoid\ndense 2\nloss mse", 1, 0, 1},
    {"network bce", "input 5\ndense 4\ntanh\ndense 3\nloss bce", 1, 0, 1},
};

enum { N = 3 };

static nn_model *m;
static float *x, *r, *dx, *targets;
static int labels[N];
static nn_pass pass;

static double objective(void)
{
    const float *y = nn_model_forward(m, x, N, &pass);
    size_t k = nn_dims_size(m->layers[m->nlayers - 1].out) * N;
    double s = 0;
    for (size_t i = 0; i < k; i++)
        s += (double)y[i] * r[i];
    return s;
}

static double loss_objective(void)
{
    nn_model_forward(m, x, N, &pass);
    pass.param_grads = 0; /* only the value is wanted */
    double v = nn_model_loss_backward(m, m->loss == NN_LOSS_XENT ? (void *)labels : (void *)targets,
                                      N, NULL, &pass, NULL);
    pass.param_grads = 1;
    return v;
}

/* Compares analytic gradient g of the n values v against finite differences. */
static int check_tensor(const char *what, float *v, const float *g, size_t n,
                        double (*f)(void), nn_rng *rng)
{
    size_t count = n < 64 ? n : 64;
    for (size_t t = 0; t < count; t++) {
        size_t i = n <= 64 ? t : nn_rng_u64(rng) % n;
        float old = v[i];
        v[i] = old + (float)h;
        double up = f();
        v[i] = old - (float)h;
        double down = f();
        v[i] = old;
        double num = (up - down) / (2 * h), ana = g[i];
        double tol = 2e-3 + 2e-2 * (fabs(num) > fabs(ana) ? fabs(num) : fabs(ana));
        if (!(fabs(num - ana) <= tol)) {
            FAILF("%s[%zu]: backward %.6g, finite difference %.6g", what, i, ana, num);
            return -1;
        }
    }
    return 0;
}

static void run_case(const gcase *c)
{
    nn_error e;
    nn_rng rng;
    TEST(c->name);
    m = nn_model_from_arch(c->arch, c->name, 0, &e);
    if (!m) {
        FAILF("%s", e.msg);
        return;
    }
    CHECK(nn_model_reserve(m, N, &e) == 0);
    nn_model_init_params(m, 7);
    nn_rng_seed(&rng, 11);
    /* batch-norm parameters and statistics away from their trivial values */
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nparam; j++) {
            nn_param *p = &m->layers[i].param[j];
            for (size_t k = 0; k < p->size; k++) {
                if (strcmp(p->name, "gamma") == 0 || strcmp(p->name, "running_var") == 0)
                    p->value[k] = 0.5f + (float)nn_rng_uniform(&rng);
                else if (strcmp(p->name, "beta") == 0 || strcmp(p->name, "running_mean") == 0)
                    p->value[k] = (float)nn_rng_normal(&rng) * 0.3f;
            }
        }
    size_t nin = nn_dims_size(m->input) * N;
    size_t nout = nn_dims_size(m->layers[m->nlayers - 1].out) * N;
    x = malloc(nin * sizeof *x);
    dx = malloc(nin * sizeof *dx);
    r = malloc(nout * sizeof *r);
    targets = malloc(nout * sizeof *targets);
    for (size_t i = 0; i < nin; i++)
        x[i] = (float)nn_rng_normal(&rng);
    if (c->spaced) { /* distinct values 0.04 apart, none within 0.04 of 0 */
        for (size_t i = 0; i < nin; i++)
            x[i] = 0.04f * (float)(i + 1) * (i % 2 ? 1 : -1);
        for (size_t i = nin - 1; i > 0; i--) {
            size_t j = nn_rng_u64(&rng) % (i + 1);
            float t = x[i];
            x[i] = x[j], x[j] = t;
        }
    }
    for (size_t i = 0; i < nout; i++) {
        r[i] = (float)nn_rng_normal(&rng);
        targets[i] = m->loss == NN_LOSS_BCE ? (float)(nn_rng_u64(&rng) % 2) : (float)nn_rng_normal(&rng);
    }
    int k = (int)(nout / N);
    for (int i = 0; i < N; i++)
        labels[i] = (int)(nn_rng_u64(&rng) % k);
    memset(&pass, 0, sizeof pass);
    pass.train = c->train;
    pass.seed = 99;
    pass.step = 3;
    pass.param_grads = 1;

    h = c->loss ? 1e-3 : 1e-2;
    nn_model_zero_grads(m);
    double (*f)(void) = c->loss ? loss_objective : objective;
    if (c->loss) {
        nn_model_forward(m, x, N, &pass);
        nn_model_loss_backward(m, m->loss == NN_LOSS_XENT ? (void *)labels : (void *)targets, N, dx,
                               &pass, NULL);
    } else {
        nn_model_forward(m, x, N, &pass);
        nn_model_backward_from(m, m->nlayers - 1, r, dx, N, &pass);
    }
    /* the gradients are now fixed: finite differences only run forwards */
    float *grads = malloc(m->nvalues * sizeof *grads);
    memcpy(grads, m->grads, m->nvalues * sizeof *grads);
    if (check_tensor("input", x, dx, nin, f, &rng) == 0)
        for (int i = 0; i < m->nlayers; i++)
            for (int j = 0; j < m->layers[i].nparam; j++) {
                nn_param *p = &m->layers[i].param[j];
                char what[96];
                if (!p->trainable)
                    continue;
                snprintf(what, sizeof what, "%s.%s", m->layers[i].name, p->name);
                if (check_tensor(what, p->value, grads + (p->grad - m->grads), p->size, f, &rng) < 0)
                    i = m->nlayers, j = NN_MAX_PARAMS;
            }
    free(grads);
    free(x), free(dx), free(r), free(targets);
    nn_model_free(m);
}

int main(void)
{
    nn_set_threads(2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    return test_done();
}
