/* bench.c - images per second of one reference network on the CPU or,
 * with NN_BENCH_DEVICE=cuda, on the GPU (the whole step on the device).
 *
 *   bench ARCH.nn CxHxW BATCH MODE [SECONDS]
 *   bench --device NAME      prints cpu or cuda, the device NAME (cpu, cuda,
 *                            auto: the GPU where there is one) means here,
 *                            or says why it cannot run and exits 1
 *
 * MODE: train (forward, backward, Adam step), infer (forward in eval mode)
 * or vis (forward + gradient with respect to the input at the last conv
 * layer, nn-vis's inner step). Prints one TSV line: images/s as the median
 * of timed windows after a warm-up, and the peak resident memory in MiB
 * (on the GPU: the device memory the run added). */
#include "nn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* CPU seconds of the process (all threads): under load, steadier than the
 * wall clock, and with spinning threads it shows what waiting costs. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The pass a layer sees inside the model (as nn_model_forward gives it). */
static nn_pass layer_pass(const nn_model *m, const nn_pass *p)
{
    nn_pass pass = *p;
    int t = nn_threads();
    pass.work = m->work;
    pass.threads = t < m->work_threads ? t : m->work_threads;
    return pass;
}

/* Time of one call, wall and CPU, added to t[0] and t[1]. */
#define TIMED(t, call)                                     \
    do {                                                   \
        double w0_ = nn_now(), c0_ = cpu_now();            \
        call;                                              \
        (t)[0] += nn_now() - w0_, (t)[1] += cpu_now() - c0_; \
    } while (0)

/* K steps of mode, layer by layer: ms per step of each layer's forward
 * and backward, and of the optimizer, on stderr (wall and CPU). */
static void profile_layers(nn_model *m, nn_optim *o, const float *x,
                           const int *labels, int batch, const char *mode,
                           int last_conv, const float *dvis, float *dx, int k)
{
    int train = strcmp(mode, "train") == 0, vis = strcmp(mode, "vis") == 0;
    int last = vis ? last_conv : m->nlayers - 1;
    double (*fw)[2] = calloc(m->nlayers, sizeof *fw), (*bw)[2] = calloc(m->nlayers, sizeof *bw);
    double opt[2] = {0, 0}, loss[2] = {0, 0};
    nn_pass p = {.train = train, .seed = 1, .step = 1000, .param_grads = train};
    for (int it = 0; it < k; it++) {
        nn_pass pass = layer_pass(m, &p);
        for (int i = 0; i <= last; i++) {
            nn_layer *l = &m->layers[i];
            TIMED(fw[i], l->type->forward(l, i ? m->act[i - 1] : x, m->act[i], batch, &pass));
        }
        if (!train && !vis)
            continue;
        const float *g = dvis;
        int from = last;
        if (train) {
            nn_model_zero_grads(m);
            int kk = (int)nn_dims_size(m->layers[last].out);
            if (strcmp(m->layers[last].type->keyword, "softmax") == 0)
                from = last - 1;
            TIMED(loss, nn_loss_softmax_xent(from >= 0 ? m->act[from] : x, labels, batch,
                                             kk, m->dbuf[0]));
            g = m->dbuf[0];
        }
        for (int i = from; i >= 0; i--) {
            nn_layer *l = &m->layers[i];
            float *out = i == 0 ? (vis ? dx : NULL) : g == m->dbuf[0] ? m->dbuf[1] : m->dbuf[0];
            TIMED(bw[i], l->type->backward(l, i ? m->act[i - 1] : x, m->act[i], g, out, batch,
                                           &pass));
            g = out;
        }
        if (train)
            TIMED(opt, nn_optim_step(o, m, 1e-4f));
        p.step++;
    }
    double tf[2] = {0, 0}, tb[2] = {0, 0};
    fprintf(stderr, "%5s  %-12s %-10s %9s %9s %9s %9s\n", "layer", "name", "type", "fwd_ms",
            "fwd_cpu", "bwd_ms", "bwd_cpu");
    for (int i = 0; i <= last; i++) {
        fprintf(stderr, "%5d  %-12s %-10s %9.3f %9.3f %9.3f %9.3f\n", i, m->layers[i].name,
                m->layers[i].type->keyword, 1e3 * fw[i][0] / k, 1e3 * fw[i][1] / k,
                1e3 * bw[i][0] / k, 1e3 * bw[i][1] / k);
        for (int j = 0; j < 2; j++)
            tf[j] += fw[i][j], tb[j] += bw[i][j];
    }
    fprintf(stderr, "total ms (cpu ms): forward %.3f (%.3f), loss %.3f (%.3f), "
            "backward %.3f (%.3f), optimizer %.3f (%.3f)\n", 1e3 * tf[0] / k, 1e3 * tf[1] / k,
            1e3 * loss[0] / k, 1e3 * loss[1] / k, 1e3 * tb[0] / k, 1e3 * tb[1] / k,
            1e3 * opt[0] / k, 1e3 * opt[1] / k);
    free(fw), free(bw);
}

/* The GPU's side of the run: the model, its input, labels and the vis
 * gradient in device memory. */
typedef struct gpu_run {
    nn_cuda *g;
    nn_cuda_model *cm;
    float *labels, *dvis, *dx;
    size_t base; /* device memory in use before the model */
} gpu_run;

static int gpu_setup(gpu_run *r, nn_model *m, int batch, const float *x, const int *labels,
                     const float *dvis, size_t ndvis, nn_error *e)
{
    size_t nin = nn_dims_size(m->input) * (size_t)batch;
    if (!(r->g = nn_cuda_open(0, e)))
        return -1;
    r->base = nn_cuda_memory_in_use(r->g);
    if (!(r->cm = nn_cuda_model_new(r->g, m, batch, e)) ||
        !(r->labels = nn_cuda_alloc(r->g, batch, e)) || !(r->dx = nn_cuda_alloc(r->g, nin, e)) ||
        (ndvis && !(r->dvis = nn_cuda_alloc(r->g, ndvis, e))) ||
        nn_cuda_upload(r->g, nn_cuda_model_input(r->cm), x, nin, e) < 0 ||
        nn_cuda_upload(r->g, r->labels, (const float *)(const void *)labels, batch, e) < 0 ||
        (ndvis && nn_cuda_upload(r->g, r->dvis, dvis, ndvis, e) < 0))
        return -1;
    return 0;
}

/* One iteration of mode on the GPU (queued; nn_cuda_sync waits). */
static int gpu_step(gpu_run *r, nn_model *m, nn_optim *o, int batch, const char *mode,
                    int last_conv, nn_pass *train, nn_error *e)
{
    const float *x = nn_cuda_model_input(r->cm);
    nn_pass eval = {0};
    if (strcmp(mode, "train") == 0) { /* the loss is not read, as in bench_torch.py */
        train->step++;
        return !nn_cuda_model_forward_to(r->cm, x, batch, m->nlayers - 1, train, e) ||
                       nn_cuda_model_zero_grads(r->cm, e) < 0 ||
                       nn_cuda_model_loss_backward(r->cm, r->labels, batch, NULL, train, NULL,
                                                   e) < 0 ||
                       nn_cuda_model_step(r->cm, o, 1e-4f, e) < 0
                   ? -1
                   : 0;
    }
    if (strcmp(mode, "infer") == 0)
        return nn_cuda_model_forward_to(r->cm, x, batch, m->nlayers - 1, &eval, e) ? 0 : -1;
    return !nn_cuda_model_forward_to(r->cm, x, batch, last_conv, &eval, e) ||
                   nn_cuda_model_backward_from(r->cm, last_conv, r->dvis, r->dx, batch, &eval,
                                               e) < 0
               ? -1
               : 0;
}

static void gpu_free(gpu_run *r)
{
    if (!r->g)
        return;
    nn_cuda_free(r->g, r->labels), nn_cuda_free(r->g, r->dvis), nn_cuda_free(r->g, r->dx);
    nn_cuda_model_free(r->cm);
    nn_cuda_close(r->g);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    nn_error e;
    nn_dims in;
    if (argc == 3 && strcmp(argv[1], "--device") == 0) {
        nn_device dev;
        if (nn_device_choose(argv[2], &dev, &e) < 0)
            return fprintf(stderr, "bench: %s\n", e.msg), 1;
        return puts(dev == NN_DEVICE_CUDA ? "cuda" : "cpu"), 0;
    }
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
    const char *device = getenv("NN_BENCH_DEVICE");
    gpu_run gpu = {0};
    int on_gpu = device && strcmp(device, "cuda") == 0;
    if (on_gpu && strcmp(mode, "vis") == 0 && !dvis)
        return fprintf(stderr, "bench: no conv layer for vis\n"), 1;
    if (on_gpu && gpu_setup(&gpu, m, batch, x, labels, dvis,
                            dvis ? nn_dims_size(m->layers[last_conv].out) * (size_t)batch : 0,
                            &e) < 0)
        return fprintf(stderr, "bench: %s\n", e.msg), 1;
    double times[64];
    int windows = 0, iters_per_window = 1;
    double start = nn_now();
    for (int w = -2; w < 64; w++) { /* two warm-up windows */
        double t0 = nn_now();
        for (int it = 0; on_gpu && it < iters_per_window; it++)
            if (gpu_step(&gpu, m, &o, batch, mode, last_conv, &train, &e) < 0)
                return fprintf(stderr, "bench: %s\n", e.msg), 1;
        if (on_gpu && nn_cuda_sync(gpu.g, &e) < 0)
            return fprintf(stderr, "bench: %s\n", e.msg), 1;
        for (int it = 0; !on_gpu && it < iters_per_window; it++) {
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
    const char *prof = getenv("NN_BENCH_LAYERS");
    if (prof && atoi(prof) > 0 && !on_gpu)
        profile_layers(m, &o, x, labels, batch, mode, last_conv, dvis, dx, atoi(prof));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mib = on_gpu ? (nn_cuda_memory_in_use(gpu.g) - gpu.base) / 1048576.0
                        : ru.ru_maxrss / 1024.0;
    printf("%.2f\t%.0f\n", batch / times[windows / 2], mib);
    gpu_free(&gpu);
    nn_optim_free(&o);
    nn_model_free(m);
    free(arch), free(x), free(dx), free(labels), free(dvis);
    return 0;
}
