/* test_train.c - the pieces working together: a network learns, runs are
 * bit-identical for a seed, and a cnn4 training step at 3x64x64 runs.
 *
 *   test_train            the tests
 *   test_train fmnist-step  one forward+backward+step of fmnist (for valgrind) */
#include "nn.h"
#include "test.h"

#include <string.h>

/* Two Gaussian blobs per class on a ring, 4 classes, 8 features. */
static void blobs(float *x, int *y, int n, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        y[i] = (int)(nn_rng_u64(&r) % 4);
        for (int j = 0; j < 8; j++)
            x[i * 8 + j] = (float)(nn_rng_normal(&r) * 0.3 + (j % 4 == y[i] ? 1.5 : 0));
    }
}

static float train(const char *optim, float lr, int steps, float *acc, float **weights, size_t *nw)
{
    nn_error e;
    nn_optim o;
    nn_model *m = nn_model_from_arch("input 8\ndense 16\nrelu\ndense 4\nsoftmax\n", "blobs", 0, &e);
    if (!m || nn_optim_parse(&o, optim, &e) < 0 || nn_model_reserve(m, 32, &e) < 0 ||
        nn_optim_setup(&o, m, &e) < 0) {
        FAILF("%s", e.msg);
        nn_model_free(m);
        return NAN;
    }
    nn_model_init_params(m, 5);
    float x[32 * 8], loss = 0;
    int y[32], correct = 0;
    nn_pass p = {.train = 1, .seed = 1, .param_grads = 1};
    for (int s = 0; s < steps; s++) {
        blobs(x, y, 32, (uint64_t)s);
        p.step = (uint64_t)s;
        nn_model_forward(m, x, 32, &p);
        nn_model_zero_grads(m);
        loss = nn_model_loss_backward(m, y, 32, NULL, &p, NULL);
        nn_optim_step(&o, m, lr);
    }
    blobs(x, y, 32, 12345); /* held-out batch */
    p.train = 0;
    nn_model_forward(m, x, 32, &p);
    nn_model_loss_backward(m, y, 32, NULL, &(nn_pass){.param_grads = 0}, &correct);
    *acc = correct / 32.0f;
    if (weights) {
        *nw = m->nvalues;
        *weights = malloc(m->nvalues * sizeof(float));
        memcpy(*weights, m->values, m->nvalues * sizeof(float));
    }
    nn_optim_free(&o);
    nn_model_free(m);
    return loss;
}

static int fmnist_step(void)
{
    nn_error e;
    nn_optim o;
    nn_model *m = nn_model_from_arch_file("data/arch/fmnist.nn", 10, &e);
    if (!m || nn_optim_parse(&o, "adam", &e) < 0 || nn_model_reserve(m, 8, &e) < 0 ||
        nn_optim_setup(&o, m, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        nn_model_free(m);
        return 1;
    }
    nn_model_init_params(m, 1);
    float *x = calloc(8 * 784, sizeof *x);
    int y[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    nn_pass p = {.train = 1, .param_grads = 1};
    nn_model_forward(m, x, 8, &p);
    nn_model_zero_grads(m);
    float loss = nn_model_loss_backward(m, y, 8, NULL, &p, NULL);
    nn_optim_step(&o, m, 1e-3f);
    printf("loss %g\n", loss);
    free(x);
    nn_optim_free(&o);
    nn_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    nn_set_threads(2);
    if (argc > 1 && strcmp(argv[1], "fmnist-step") == 0)
        return fmnist_step();

    static const char *optims[] = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"};
    static const float lrs[] = {0.1f, 0.05f, 0.05f, 0.1f, 0.005f, 0.01f, 0.01f};
    for (int i = 0; i < 7; i++) {
        char name[64];
        float acc = 0;
        snprintf(name, sizeof name, "%s learns 4 blobs to >= 90%% in 150 steps", optims[i]);
        TEST(name);
        float loss = train(optims[i], lrs[i], 150, &acc, NULL, NULL);
        CHECK_MSG(acc >= 0.9f && loss < 0.5f, "accuracy %.2f, last loss %.3f", acc, loss);
    }

    TEST("two runs with the same seed end with bit-identical weights");
    float *w1 = NULL, *w2 = NULL, acc;
    size_t n1 = 0, n2 = 0;
    train("adam", 0.01f, 20, &acc, &w1, &n1);
    train("adam", 0.01f, 20, &acc, &w2, &n2);
    CHECK(w1 && w2 && n1 == n2 && memcmp(w1, w2, n1 * sizeof(float)) == 0);
    free(w1), free(w2);

    TEST("cnn4 at 3x64x64: a training step of batch 32 on 2 threads");
    {
        nn_error e;
        nn_optim o;
        FILE *f = fopen("data/arch/cnn4.nn", "r");
        char text[4096];
        size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f)
            fclose(f);
        text[len] = 0;
        char *in = strstr(text, "input 3x224x224");
        nn_model *m = NULL;
        if (in) {
            memcpy(in, "input 3x64x64  ", 15);
            m = nn_model_from_arch(text, "cnn4-64", 2, &e);
        }
        if (!m || nn_optim_parse(&o, "adam", &e) < 0 || nn_model_reserve(m, 32, &e) < 0 ||
            nn_optim_setup(&o, m, &e) < 0) {
            FAILF("%s", in ? e.msg : "no input line in cnn4.nn");
        } else {
            nn_model_init_params(m, 3);
            nn_rng r;
            nn_rng_seed(&r, 3);
            float *x = malloc(32 * 3 * 64 * 64 * sizeof *x);
            int y[32];
            for (int i = 0; i < 32 * 3 * 64 * 64; i++)
                x[i] = (float)nn_rng_normal(&r);
            for (int i = 0; i < 32; i++)
                y[i] = i % 2;
            float before = m->layers[0].param[0].value[0];
            nn_pass p = {.train = 1, .param_grads = 1};
            double t0 = nn_now();
            nn_model_forward(m, x, 32, &p);
            nn_model_zero_grads(m);
            float loss = nn_model_loss_backward(m, y, 32, NULL, &p, NULL);
            nn_optim_step(&o, m, 1e-3f);
            double t = nn_now() - t0;
            CHECK_MSG(isfinite(loss) && loss > 0, "loss %g", loss);
            CHECK(m->layers[0].param[0].value[0] != before);
            printf("# cnn4 3x64x64 batch 32 step: %.3f s, loss %.4f\n", t, loss);
            free(x);
            nn_optim_free(&o);
        }
        nn_model_free(m);
    }
    return test_done();
}
