/* nn-featmap - activations of a layer: per-filter mean activations
 * ("spikes"), feature-map grids, activation histograms per layer, and the
 * dataset images that excite a filter most. See man 1 nn-featmap. */
#include "nn.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
    "usage: nn-featmap (-m MODEL.h5 | -a ARCH.nn [--init INIT] [--seed N]) [-l LAYER]\n"
    "                  [IMAGE... | --input random:N] [outputs]\n"
    "       nn-featmap -m MODEL.h5 -l LAYER -d DATA.h5 --filter F --top-images K\n"
    "Per-filter mean activations of a layer, feature maps, activation histograms,\n"
    "and the dataset images that excite a filter most.\n"
    "  -m, --model FILE       the model (nn-model(5))\n"
    "  -a, --arch FILE        an untrained architecture instead (nn-arch(5))\n"
    "      --init INIT        with -a: conv/dense weights (normal:0.01, xavier, he)\n"
    "      --seed N           with -a: initial weights; random inputs (1)\n"
    "      --classes N        with -a: what 'dense classes' means (10)\n"
    "  -l, --layer L          layer index or name (--hist alone: all layers)\n"
    "      --input random:N   N standard-normal inputs instead of images\n"
    "  -o, --output FILE      per-filter means [N,C] as nn-acts(5) HDF5; - stdout\n"
    "      --maps             keep the full maps [N,C,H,W] in it\n"
    "      --top K            print the K largest spikes (filter, mean) as TSV\n"
    "      --plot FILE        mean activation per filter as bars, top spikes labelled\n"
    "      --grid FILE        the first input's feature maps as a labelled grid\n"
    "      --hist FILE        a histogram per layer; prints mean and std per layer\n"
    "  -d, --data FILE        a dataset (nn-dataset(5)) to search with --top-images\n"
    "      --split S          test (default) or train\n"
    "      --filter F         the filter whose top images are wanted\n"
    "      --top-images K     print the K images that excite it most (TSV)\n"
    "      --montage FILE     ... and draw them in a labelled grid\n"
    "  -b, --batch N          inputs per forward pass (16)\n"
    "      --threads N        threads (0: all cores, the default)\n"
    "      --device D         cpu, auto or cuda (cpu)\n"
    "  -q, --quiet            no messages but errors\n"
    "  -v, --verbose          more messages\n"
    "  -h, --help; -V, --version\n"
    "Tables go to stdout, or to stderr when stdout holds the -o file.\n";

enum { O_INIT = 256, O_SEED, O_CLASSES, O_INPUT, O_MAPS, O_TOP, O_PLOT, O_GRID, O_HIST, O_SPLIT,
       O_FILTER, O_TOPIMG, O_MONTAGE, O_THREADS, O_DEVICE };

typedef struct opts {
    const char *model, *arch, *init, *layer, *input, *out, *plot, *grid, *hist, *data,
        *split, *montage, *device;
    long seed;
    int classes, maps, top, filter, top_images, batch, threads, quiet, verbose;
    nn_cuda *gpu; /* --device cuda: the GPU */
} opts;

#define PROG "nn-featmap"
#define usage_error(...) nn_usage_error(PROG, __VA_ARGS__)

/* A non-negative integer option, or -1. */
static long number(const char *s, long min)
{
    char *end;
    long v = strtol(s, &end, 10);
    return end != s && *end == 0 && v >= min ? v : -1;
}

static int fail(const nn_error *e)
{
    fprintf(stderr, "nn-featmap: %s\n", e->msg);
    return 1;
}

/* The model of -m, or of -a initialized with --init and --seed. */
static nn_model *get_model(const opts *o, nn_model **full, nn_error *e)
{
    nn_model *m;
    if (o->model) {
        m = nn_model_load(o->model, NULL, e);
    } else {
        m = nn_model_from_arch_file(o->arch, o->classes, e);
        nn_init init;
        if (m && o->init && nn_init_parse(&init, o->init, e) < 0) {
            nn_model_free(m);
            return NULL;
        }
        if (m && o->init)
            nn_model_set_weight_init(m, init);
        if (m)
            nn_model_init_params(m, (uint64_t)o->seed);
    }
    *full = m;
    return m;
}

/* x [n, input] from image files or standard-normal noise; names[n]. */
static float *get_inputs(const opts *o, const nn_model *m, char **files, int nfiles,
                         int *n, char ***names, nn_error *e)
{
    size_t in = nn_dims_size(m->input);
    long nr = o->input ? number(o->input + 7, 1) : nfiles;
    *n = (int)nr;
    float *x = malloc((size_t)nr * in * sizeof *x);
    *names = calloc((size_t)nr + 1, sizeof **names);
    if (!x || !*names) {
        nn_fail(e, "out of memory for %ld inputs", nr);
        return free(x), NULL;
    }
    for (long i = 0; i < nr; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "random:%ld", i);
        (*names)[i] = strdup(o->input ? buf : files[i]);
    }
    if (o->input)
        nn_input_noise(m, *n, (uint64_t)o->seed, x);
    else if (nn_input_from_files(m, files, nfiles, x, e) < 0)
        return free(x), NULL;
    return x;
}

/* --hist: histograms of the layers up to `last`, and their mean/std TSV. */
static int histograms(const opts *o, nn_model *m, int last, const float *x, int n,
                      FILE *tsv, nn_error *e)
{
    char title[256];
    snprintf(title, sizeof title, "activations of %s%s%s, %d input%s",
             o->model ? o->model : o->arch, o->init ? ", init " : "", o->init ? o->init : "",
             n, n == 1 ? "" : "s");
    return nn_hist_study(m, o->gpu, last, x, n, o->batch, o->hist, title, tsv, e);
}

/* Spikes (-o, --top, --plot) and --grid for the inputs x. */
static int spikes(const opts *o, nn_model *m, int layer, const float *x, int n, char **names,
                  FILE *tsv, nn_error *e)
{
    nn_dims d = m->layers[layer].out;
    size_t out = nn_dims_size(d);
    int want_maps = o->maps || o->grid;
    float *means = malloc((size_t)n * d.c * sizeof *means);
    float *maps = want_maps ? malloc((size_t)n * out * sizeof *maps) : NULL;
    float *avg = calloc((size_t)d.c, sizeof *avg);
    int ntop = o->top > 0 ? (o->top < d.c ? o->top : d.c) : (d.c < 5 ? d.c : 5);
    int *top = malloc((size_t)ntop * sizeof *top);
    int rc = means && avg && top && (maps || !want_maps) ? 0 : nn_fail(e, "out of memory");
    if (rc == 0)
        rc = nn_featmap(m, o->gpu, layer, x, n, o->batch, means, maps, e);
    if (rc == 0) {
        for (int i = 0; i < n; i++)
            for (int f = 0; f < d.c; f++)
                avg[f] += means[(size_t)i * d.c + f] / (float)n;
        nn_top_k(avg, d.c, ntop, top);
    }
    if (rc == 0 && o->top > 0) {
        fprintf(tsv, "filter\tmean\n");
        for (int k = 0; k < ntop; k++)
            fprintf(tsv, "%d\t%.6g\n", top[k], avg[top[k]]);
        fflush(tsv);
    }
    if (rc == 0 && o->plot) {
        char title[256];
        snprintf(title, sizeof title, "layer %d (%s)%s%s: mean activation per filter", layer,
                 m->layers[layer].name, n == 1 ? " on " : "", n == 1 ? names[0] : "");
        nn_chart c = {title, "filter", "mean activation", 0, 0, 0, 0, 0};
        rc = nn_plot_bars(o->plot, &c, avg, d.c, top, ntop, e);
    }
    if (rc == 0 && o->grid) {
        nn_image sheet;
        rc = nn_featmap_grid(maps, d, 0, &sheet, e);
        if (rc == 0) {
            rc = nn_image_write(o->grid, &sheet, e);
            nn_image_free(&sheet);
        }
    }
    if (rc == 0 && o->out) {
        nn_acts a = {n, d.c, o->maps ? d.h : 0, o->maps ? d.w : 0, means,
                     o->maps ? maps : NULL, o->top > 0 ? top : NULL, o->top > 0 ? ntop : 0,
                     (char *)(o->model ? o->model : o->arch), layer, m->layers[layer].name,
                     (char *)m->layers[layer].type->keyword, names};
        rc = nn_acts_save(&a, o->out, e);
    }
    free(means), free(maps), free(avg), free(top);
    return rc;
}

/* Is path standard output ("-")? */
static int is_stdout(const char *path)
{
    return path && strcmp(path, "-") == 0;
}

/* No output over an input or another output: 0, or 2 after the message. */
static int check_files(const opts *o, char **files, int nfiles)
{
    nn_file_use *f = malloc((size_t)(nfiles + 8) * sizeof *f);
    if (!f)
        return fprintf(stderr, "%s: out of memory\n", PROG), 2;
    int n = 0;
    f[n++] = (nn_file_use){"-m", o->model, 0}, f[n++] = (nn_file_use){"-a", o->arch, 0};
    f[n++] = (nn_file_use){"-d", o->data, 0}, f[n++] = (nn_file_use){"-o", o->out, 1};
    f[n++] = (nn_file_use){"--plot", o->plot, 1}, f[n++] = (nn_file_use){"--grid", o->grid, 1};
    f[n++] = (nn_file_use){"--hist", o->hist, 1};
    f[n++] = (nn_file_use){"--montage", o->montage, 1};
    for (int i = 0; i < nfiles; i++)
        f[n++] = (nn_file_use){"IMAGE", files[i], 0};
    int rc = nn_distinct_files(PROG, f, n);
    free(f);
    return rc;
}

/* Usage checks after parsing: 0, or 2 after the message. */
static int check_usage(const opts *o, int nfiles)
{
    if (!o->model == !o->arch)
        return usage_error("give a model (-m MODEL.h5) or an architecture (-a ARCH.nn)");
    if (o->init && !o->arch)
        return usage_error("--init goes with -a ARCH.nn (a model file has its weights)");
    nn_init init;
    nn_error e;
    if (o->init && nn_init_parse(&init, o->init, &e) < 0)
        return usage_error("--init: %s", e.msg);
    if (o->classes && !o->arch)
        return usage_error("--classes goes with -a ARCH.nn (a model file knows its classes)");
    long nrand = o->input ? number(o->input + 7, 1) : 0;
    if (o->input && (strncmp(o->input, "random:", 7) || nrand < 1 || nrand > 1 << 24))
        return usage_error("--input takes random:N (N from 1 to 2^24), not %s", o->input);
    if (o->input && nfiles)
        return usage_error("give images or --input random:N, not both");
    int inputs = nfiles || o->input, image_work = o->out || o->top || o->plot || o->grid;
    if ((image_work || o->hist) && !inputs)
        return usage_error("no inputs: give IMAGE files or --input random:N");
    if (!image_work && !o->hist && !o->data)
        return usage_error("nothing to do: give -o, --top, --plot, --grid, --hist or -d");
    if (inputs && !image_work && !o->hist)
        return usage_error("-d ranks the dataset's own images; IMAGE files and --input go "
                           "with -o, --top, --plot, --grid or --hist");
    if (!o->layer && (image_work || o->data))
        return usage_error("-l LAYER is needed (an index or a layer name)");
    if (o->maps && !o->out)
        return usage_error("--maps keeps the maps in the -o file; give -o");
    if (o->data && (o->filter < 0 || o->top_images < 1))
        return usage_error("-d DATA.h5 goes with --filter F and --top-images K");
    if (!o->data && (o->filter >= 0 || o->top_images || o->montage))
        return usage_error("--filter, --top-images and --montage need -d DATA.h5");
    if (strcmp(o->split, "test") && strcmp(o->split, "train"))
        return usage_error("--split is test or train, not %s", o->split);
    /* standard output takes one thing: the -o file, a picture or the tables
     * (which go to stderr when the -o file is on stdout) */
    const char *what[] = {"-o -", "--plot -", "--grid -", "--hist -", "--montage -",
                          o->top ? "the --top table" : o->hist ? "the --hist table"
                                                               : "the --top-images table"};
    const int on[] = {is_stdout(o->out), is_stdout(o->plot), is_stdout(o->grid),
                      is_stdout(o->hist), is_stdout(o->montage),
                      !is_stdout(o->out) && (o->top || o->hist || o->data)};
    return nn_one_stdout(PROG, what, on, 6);
}

/* Every output file can be created: 0, or 1 after the message (before any
 * work, so that a failed run leaves no outputs behind). */
static int check_outputs(const opts *o)
{
    const char *paths[] = {o->out, o->plot, o->grid, o->hist, o->montage};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        nn_error e;
        if (paths[i] && nn_check_output(paths[i], &e) < 0)
            return fail(&e);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"model", 1, 0, 'm'},       {"arch", 1, 0, 'a'},       {"init", 1, 0, O_INIT},
        {"seed", 1, 0, O_SEED},     {"classes", 1, 0, O_CLASSES}, {"layer", 1, 0, 'l'},
        {"input", 1, 0, O_INPUT},   {"output", 1, 0, 'o'},     {"maps", 0, 0, O_MAPS},
        {"top", 1, 0, O_TOP},       {"plot", 1, 0, O_PLOT},    {"grid", 1, 0, O_GRID},
        {"hist", 1, 0, O_HIST},     {"data", 1, 0, 'd'},       {"split", 1, 0, O_SPLIT},
        {"filter", 1, 0, O_FILTER}, {"top-images", 1, 0, O_TOPIMG},
        {"montage", 1, 0, O_MONTAGE}, {"batch", 1, 0, 'b'},   {"threads", 1, 0, O_THREADS},
        {"device", 1, 0, O_DEVICE}, {"quiet", 0, 0, 'q'},      {"verbose", 0, 0, 'v'},
        {"help", 0, 0, 'h'},        {"version", 0, 0, 'V'},    {0, 0, 0, 0}};
    opts o = {.split = "test", .device = "cpu", .seed = 1, .filter = -1, .batch = 16};
    int c, li;
    nn_check_stdout_at_exit("nn-featmap");
    opterr = 0;
    while ((li = -1, c = getopt_long(argc, argv, ":m:a:l:o:d:b:qvhV", lo, &li)) != -1) {
        long v = 0, max = 1 << 30;
        char nbuf[32];
        const char *name = nn_option_name(c, li, lo, nbuf);
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'a': o.arch = optarg; break;
        case O_INIT: o.init = optarg; break;
        case 'l': o.layer = optarg; break;
        case O_INPUT: o.input = optarg; break;
        case 'o': o.out = optarg; break;
        case O_MAPS: o.maps = 1; break;
        case O_PLOT: o.plot = optarg; break;
        case O_GRID: o.grid = optarg; break;
        case O_HIST: o.hist = optarg; break;
        case 'd': o.data = optarg; break;
        case O_SPLIT: o.split = optarg; break;
        case O_MONTAGE: o.montage = optarg; break;
        case O_DEVICE: o.device = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'v': o.verbose = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("nn-featmap %s\n", NN_VERSION); return 0;
        case O_SEED: case O_CLASSES: case O_TOP: case O_FILTER: case O_TOPIMG: case 'b':
        case O_THREADS: {
            long min = c == O_SEED || c == O_FILTER || c == O_THREADS ? 0 : 1;
            if (c == O_CLASSES || c == O_THREADS)
                max = 1 << 20;
            if (nn_whole_option(PROG, name, optarg, min, max, &v))
                return 2;
            if (c == O_SEED) o.seed = v;
            else if (c == O_CLASSES) o.classes = (int)v;
            else if (c == O_TOP) o.top = (int)v;
            else if (c == O_FILTER) o.filter = (int)v;
            else if (c == O_TOPIMG) o.top_images = (int)v;
            else if (c == 'b') o.batch = (int)v;
            else o.threads = (int)v;
            break;
        }
        case ':':
        default: return nn_option_error(PROG, c, argv, lo);
        }
    }
    int nfiles = argc - optind;
    int urc = check_usage(&o, nfiles);
    if (!urc)
        urc = check_files(&o, argv + optind, nfiles);
    if (urc)
        return urc;
    if (check_outputs(&o))
        return 1;
    if (o.arch && !o.classes)
        o.classes = 10;
    int inputs = nfiles || o.input, image_work = o.out || o.top || o.plot || o.grid;
    nn_device dev;
    if ((urc = nn_device_option(PROG, o.device, &dev)))
        return urc;
    if (o.threads)
        nn_set_threads(o.threads);

    nn_error e;
    nn_model *full, *m = NULL;
    float *x = NULL;
    char **names = NULL;
    int n = 0, rc = 1, layer = -1;
    if (!get_model(&o, &full, &e))
        return fail(&e);
    if (dev == NN_DEVICE_CUDA && !(o.gpu = nn_cuda_open(0, &e))) {
        nn_model_free(full);
        return fail(&e);
    }
    const char *mname = o.model ? o.model : o.arch;
    if (o.layer && (layer = nn_layer_lookup(full, o.layer, NN_NEED_ANY, &e)) < 0) {
        fprintf(stderr, "nn-featmap: %s: %s\n", mname, e.msg);
        goto done;
    }
    if (o.grid && full->layers[layer].out.h * full->layers[layer].out.w < 2) {
        fprintf(stderr, "nn-featmap: --grid: layer %d (%s) has no maps (its output is %dx1x1); "
                "use a conv layer or one after it\n", layer, full->layers[layer].type->keyword,
                full->layers[layer].out.c);
        goto done;
    }
    /* layers after the last one used are never run */
    if (!(m = nn_model_resized(full, o.hist && (!o.layer) ? -1 : layer, full->input, &e)))
        goto fail;
    if (inputs && !(x = get_inputs(&o, m, argv + optind, nfiles, &n, &names, &e)))
        goto fail;
    FILE *tsv = o.out && !strcmp(o.out, "-") ? stderr : stdout;
    double t0 = nn_now();
    if (image_work && spikes(&o, m, layer, x, n, names, tsv, &e) < 0)
        goto fail;
    if (o.hist && histograms(&o, m, o.layer ? layer : -1, x, n, tsv, &e) < 0)
        goto fail;
    if (o.data && nn_top_images_study(m, o.gpu, layer, o.filter, o.data, o.split, o.batch,
                                      o.top_images, o.montage, mname, tsv, &e) < 0)
        goto fail;
    if (o.verbose)
        fprintf(stderr, "nn-featmap: layer %d (%s) of %s: %d input%s in %.2f s\n", layer,
                layer >= 0 ? m->layers[layer].name : "-", mname, n, n == 1 ? "" : "s",
                nn_now() - t0);
    rc = 0; /* a failed write to stdout: the exit check makes it 1 */
    goto done;
fail:
    if (!ferror(stdout)) /* else the exit check says why stdout failed */
        fail(&e);
done:
    nn_strv_free(names);
    free(x);
    if (m != full)
        nn_model_free(m);
    nn_model_free(full);
    nn_cuda_close(o.gpu);
    return rc;
}
