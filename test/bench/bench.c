/* bench.c - images per second of one reference network on the CPU.
 *
 *   bench ARCH.nn CxHxW BATCH MODE [SECONDS]
 *
 * MODE: train (forward, backward, Adam step), infer (forward in eval mode)
 * or vis (forward + gradient with respect to the input at the last conv
 * layer, nn-vis's inner step). Prints one TSV line: images/s as the median
 * of timed windows after a warm-up, and the peak resident memory in MiB. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    nn_error e;
    nn_dims in;
    if (argc < 5 || sscanf(argv[2], "%dx%dx%d", &in.c, &in.h, &in.w) != 3) {
        fprintf(stderr, "usage: bench ARCH.nn CxHxW BATCH train|infer|vis [SECONDS]\n");
        return 2;
    }
    int batch = atoi(argv[3]);
    const char *mode = argv[4];
    double budget = argc > 5 ? atof(argv[5]) : 6;
    const char *threads = getenv("NN_THREADS");
    nn_set_threads(threads ? atoi(threads) : 0);
    FILE *f = fopen(argv[1], "r");
    char text[16384];
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[len] = 0;
    char *arch = nn_arch_with_input(text, in);
    nn_model *m = arch ? nn_model_from_arch(arch, argv[1], 10, &e) : NULL;
    nn_optim o = {0};
    if (!m || nn_model_reserve(m, batch, &e) < 0 || nn_optim_parse(&o, "adam", &e) < 0 ||
        (strcmp(mode, "train") == 0 && nn_optim_setup(&o, m, &e) < 0)) {
        fprintf(stderr, "bench: %s\n", m ? e.msg : arch ? e.msg : "out of memory");
        return 1;
    }
    nn_model_init_params(m, 1);
    size_t nin = nn_dims_size(m->input) * (size_t)batch;
    float *x = malloc(nin * sizeof *x), *dx = malloc(nin * sizeof *dx);
    int *labels = malloc(batch * sizeof *labels);
    nn_rng r;
    nn_rng_seed(&r, 1);
    for (size_t i = 0; i < nin; i++)
        x[i] = (float)nn_rng_normal(&r);
    for (int i = 0; i < batch; i++)
        labels[i] = i % 10;
    int last_conv = -1;
    for (int i = 0; i < m->nlayers; i++)
        if (strcmp(m->layers[i].type->keyword, "conv") == 0)
            last_conv = i;
    float *dvis = NULL;
    if (last_conv >= 0) {
        size_t k = nn_dims_size(m->layers[last_conv].out) * (size_t)batch;
        dvis = calloc(k, sizeof *dvis);
        size_t hw = (size_t)m->layers[last_conv].out.h * m->layers[last_conv].out.w;
        for (size_t j = 0; j < hw; j++)
            dvis[j] = 1.0f / hw; /* mean activation of filter 0 */
    }
    nn_pass train = {.train = 1, .seed = 1, .param_grads = 1}, eval = {0};
    double times[64];
    int windows = 0, iters_per_window = 1;
    double start = nn_now();
    for (int w = -2; w < 64; w++) { /* two warm-up windows */
        double t0 = nn_now();
        for (int it = 0; it < iters_per_window; it++) {
            if (strcmp(mode, "train") == 0) {
                train.step++;
                nn_model_forward(m, x, batch, &train);
                nn_model_zero_grads(m);
                nn_model_loss_backward(m, labels, batch, NULL, &train, NULL);
                nn_optim_step(&o, m, 1e-4f);
            } else if (strcmp(mode, "infer") == 0) {
                nn_model_forward(m, x, batch, &eval);
            } else {
                if (!dvis)
                    return fprintf(stderr, "bench: no conv layer for vis\n"), 1;
                nn_model_forward_to(m, x, batch, last_conv, &eval);
                nn_model_backward_from(m, last_conv, dvis, dx, batch, &eval);
            }
        }
        double t = nn_now() - t0;
        if (w == -1 && t < 0.3) /* windows of at least ~0.3 s */
            iters_per_window = (int)(0.3 / (t / iters_per_window)) + 1;
        if (w >= 0)
            times[windows++] = t / iters_per_window;
        if (w >= 2 && nn_now() - start > budget)
            break;
    }
    qsort(times, windows, sizeof *times, cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.2f\t%.0f\n", batch / times[windows / 2], ru.ru_maxrss / 1024.0);
    nn_optim_free(&o);
    nn_model_free(m);
    free(arch), free(x), free(dx), free(labels), free(dvis);
    return 0;
}
