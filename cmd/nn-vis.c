/* nn-vis - feature visualization by activation maximization with
 * multi-scale upscaling, and the raw filters of a conv layer. See man 1
 * nn-vis. */
#include "nn.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
    "usage: nn-vis -m MODEL.h5 -l LAYER (-f F[,F...] | --filters-from FILE) -o OUT\n"
    "       nn-vis -m MODEL.h5 --weights -l LAYER -o filters.png\n"
    "Images that maximize the mean activation of filters of a layer: noise optimized\n"
    "with Adam on the pixels at growing sizes (upscaled and blurred between scales).\n"
    "  -m, --model FILE          the model (nn-model(5))\n"
    "  -l, --layer L             layer index or name (default: the activation file's)\n"
    "  -f, --filter LIST         filters, comma-separated\n"
    "      --filters-from FILE   nn-featmap's activation file or --top table; - stdin\n"
    "      --top K               take at most K filters from it\n"
    "  -o, --output FILE         the image, a labelled grid for several filters\n"
    "                            (.jpg: JPEG; -: stdout)\n"
    "      --frames FILE         an animated GIF of the image after every scale\n"
    "      --size N              first image size in pixels (56)\n"
    "      --upscaling-steps N   scales (12: 56 ... 408 px); 0 or 1: one\n"
    "      --upscaling-factor X  size growth per scale (1.2)\n"
    "      --steps N             Adam steps per scale (20)\n"
    "      --lr X                Adam learning rate on the normalised pixels (0.1)\n"
    "      --wd X                Adam weight decay (1e-6)\n"
    "      --blur K              K x K box blur after each upscale (5; 0: none)\n"
    "      --seed N              the starting noise (0)\n"
    "      --batch N             filters optimized together (0: as memory allows)\n"
    "      --cols N              grid columns (0: about square)\n"
    "      --weights             draw the conv layer's raw filters instead\n"
    "      --threads N           threads (0: all cores, the default)\n"
    "      --device D            cpu, auto or cuda (cpu)\n"
    "  -q, --quiet               no table of activations\n"
    "  -v, --verbose             a line per filter and scale on stderr\n"
    "  -h, --help; -V, --version\n";

enum { O_FROM = 256, O_TOP, O_FRAMES, O_SIZE, O_UPS, O_FACTOR, O_STEPS, O_LR, O_WD,
       O_BLUR, O_SEED, O_BATCH, O_COLS, O_WEIGHTS, O_THREADS, O_DEVICE };

#define PROG "nn-vis"
#define usage_error(...) nn_usage_error(PROG, __VA_ARGS__)

/* "3,17,265" -> filters; -1 on a bad list. */
static int parse_list(const char *s, int **out, int *n)
{
    int cap = 8, k = 0;
    int *v = malloc((size_t)cap * sizeof *v);
    for (const char *p = s; v;) {
        char *end;
        long f = strtol(p, &end, 10);
        if (end == p || f < 0 || f > 1 << 30 || (*end && *end != ','))
            break;
        if (k == cap && !(v = realloc(v, (size_t)(cap *= 2) * sizeof *v)))
            break;
        v[k++] = (int)f;
        if (!*end) {
            *out = v, *n = k;
            return 0;
        }
        p = end + 1;
    }
    free(v);
    return -1;
}

/* A copy of src at w x h (bicubic when the size differs). */
static int picture(const nn_image *src, int w, int h, nn_image *out, nn_error *e)
{
    if (src->w != w || src->h != h)
        return nn_image_resize(src, w, h, out, e);
    if (nn_image_alloc(out, w, h, src->c, e) < 0)
        return -1;
    memcpy(out->data, src->data, (size_t)w * h * src->c);
    return 0;
}

/* The n images as one picture: the image itself, or a labelled grid. */
static int sheet(const nn_image *imgs, const int *filters, int n, int cols, nn_image *out,
                 nn_error *e)
{
    if (n == 1)
        return picture(&imgs[0], imgs[0].w, imgs[0].h, out, e);
    char (*lab)[32] = malloc((size_t)n * sizeof *lab);
    const char **labels = malloc((size_t)n * sizeof *labels);
    int rc = lab && labels ? 0 : nn_fail(e, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        snprintf(lab[i], sizeof lab[i], "filter %d", filters[i]);
        labels[i] = lab[i];
    }
    if (rc == 0)
        rc = nn_image_grid(imgs, n, cols, 4, 0, labels, out, e);
    free(lab);
    free(labels);
    return rc;
}

/* --frames: frame k shows every filter's image after scale k at the final size. */
static int write_frames(const char *path, const nn_vis_result *r, const int *filters, int n,
                        int cols, nn_error *e)
{
    int nf = r[0].nframes, rc = 0;
    nn_image *frames = calloc((size_t)nf, sizeof *frames);
    nn_image *tiles = calloc((size_t)n, sizeof *tiles);
    if (!frames || !tiles)
        rc = nn_fail(e, "out of memory");
    for (int k = 0; rc == 0 && k < nf; k++) {
        for (int i = 0; rc == 0 && i < n; i++)
            rc = picture(&r[i].frames[k], r[i].w, r[i].h, &tiles[i], e);
        if (rc == 0)
            rc = sheet(tiles, filters, n, cols, &frames[k], e);
        for (int i = 0; i < n; i++)
            nn_image_free(&tiles[i]);
    }
    if (rc == 0)
        rc = nn_gif_write(path, frames, nf, 50, e);
    for (int k = 0; frames && k < nf; k++)
        nn_image_free(&frames[k]);
    free(frames);
    free(tiles);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"model", 1, 0, 'm'},        {"layer", 1, 0, 'l'},         {"filter", 1, 0, 'f'},
        {"filters-from", 1, 0, O_FROM}, {"top", 1, 0, O_TOP},      {"output", 1, 0, 'o'},
        {"frames", 1, 0, O_FRAMES},  {"size", 1, 0, O_SIZE},       {"upscaling-steps", 1, 0, O_UPS},
        {"upscaling-factor", 1, 0, O_FACTOR}, {"steps", 1, 0, O_STEPS}, {"lr", 1, 0, O_LR},
        {"wd", 1, 0, O_WD},          {"blur", 1, 0, O_BLUR},       {"seed", 1, 0, O_SEED},
        {"batch", 1, 0, O_BATCH},    {"cols", 1, 0, O_COLS},       {"weights", 0, 0, O_WEIGHTS},
        {"threads", 1, 0, O_THREADS}, {"device", 1, 0, O_DEVICE},  {"quiet", 0, 0, 'q'},
        {"verbose", 0, 0, 'v'},      {"help", 0, 0, 'h'},          {"version", 0, 0, 'V'},
        {0, 0, 0, 0}};
    const char *model = NULL, *layer_text = NULL, *list = NULL, *from = NULL, *out = NULL,
               *frames = NULL, *device = "cpu";
    long top = 0, cols = 0, threads = 0, v;
    int weights = 0, quiet = 0, verbose = 0, c, li;
    double d;
    nn_vis_cfg cfg;
    nn_vis_defaults(&cfg);
    nn_check_stdout_at_exit("nn-vis");
    opterr = 0;
    while ((li = -1, c = getopt_long(argc, argv, ":m:l:f:o:qvhV", lo, &li)) != -1) {
        int bad = 0;
        char nbuf[32];
        const char *name = nn_option_name(c, li, lo, nbuf);
        switch (c) {
        case 'm': model = optarg; break;
        case 'l': layer_text = optarg; break;
        case 'f': list = optarg; break;
        case O_FROM: from = optarg; break;
        case 'o': out = optarg; break;
        case O_FRAMES: frames = optarg; break;
        case O_WEIGHTS: weights = 1; break;
        case O_DEVICE: device = optarg; break;
        case 'q': quiet = 1; break;
        case 'v': verbose = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("nn-vis %s\n", NN_VERSION); return 0;
        case O_TOP: bad = nn_whole_option(PROG, name, optarg, 1, 1 << 20, &top); break;
        case O_COLS: bad = nn_whole_option(PROG, name, optarg, 0, 1 << 20, &cols); break;
        case O_THREADS: bad = nn_whole_option(PROG, name, optarg, 0, 1 << 20, &threads); break;
        case O_SIZE: bad = nn_whole_option(PROG, name, optarg, 1, 16384, &v); cfg.size = (int)v; break;
        case O_UPS: bad = nn_whole_option(PROG, name, optarg, 0, 1000, &v); cfg.upscaling_steps = (int)v; break;
        case O_STEPS: bad = nn_whole_option(PROG, name, optarg, 0, 1 << 24, &v); cfg.steps = (int)v; break;
        case O_BLUR: bad = nn_whole_option(PROG, name, optarg, 0, 1001, &v); cfg.blur = (int)v; break;
        case O_BATCH: bad = nn_whole_option(PROG, name, optarg, 0, 1 << 20, &v); cfg.batch = (int)v; break;
        case O_SEED:
            bad = nn_whole_option(PROG, name, optarg, 0, 0x7fffffffL, &v);
            cfg.seed = (uint64_t)v;
            break;
        case O_FACTOR: bad = nn_real_option(PROG, name, optarg, 1, 0, 100, &cfg.upscaling_factor); break;
        case O_LR: bad = nn_real_option(PROG, name, optarg, 0, 1, 1e6, &d); cfg.lr = (float)d; break;
        case O_WD: bad = nn_real_option(PROG, name, optarg, 0, 0, 1e6, &d); cfg.wd = (float)d; break;
        case ':':
        default: return nn_option_error(PROG, c, argv, lo);
        }
        if (bad)
            return 2;
    }
    if (optind < argc)
        return usage_error("unexpected argument: %s", argv[optind]);
    if (!model || !out)
        return usage_error("give a model (-m MODEL.h5) and an output (-o OUT.png)");
    if (list && from)
        return usage_error("give one of -f F[,F...] and --filters-from FILE, not both");
    if (!weights && !list && !from)
        return usage_error("give the filters: -f F[,F...] or --filters-from FILE");
    if (weights && (list || from || frames))
        return usage_error("--weights draws a whole layer: no -f, --filters-from or --frames");
    if (top && !from)
        return usage_error("--top goes with --filters-from");
    if (!strcmp(out, "-") && frames && !strcmp(frames, "-"))
        return usage_error("-o - and --frames - both write to standard output; only one "
                           "output can be '-'");
    const nn_file_use files[] = {
        {"-m", model, 0}, {"--filters-from", from, 0}, {"-o", out, 1}, {"--frames", frames, 1}};
    if (nn_distinct_files(PROG, files, 4))
        return 2;
    nn_error e;
    if (nn_check_output(out, &e) < 0 || (frames && nn_check_output(frames, &e) < 0)) {
        fprintf(stderr, "nn-vis: %s\n", e.msg);
        return 1;
    }
    nn_device dev;
    int drc = nn_device_option(PROG, device, &dev);
    if (drc)
        return drc;
    if (threads)
        nn_set_threads((int)threads);

    int *filters = NULL, n = 0, file_layer = -1, rc = 1, layer;
    if (list && parse_list(list, &filters, &n) < 0)
        return usage_error("-f takes filter indices separated by commas, not %s", list);
    if (from && nn_filters_read(from, (int)top, &filters, &n, &file_layer, &e) < 0) {
        fprintf(stderr, "nn-vis: %s\n", e.msg);
        return 1;
    }
    nn_model *m = nn_model_load(model, NULL, &e);
    nn_vis_result *res = NULL;
    nn_image img = {0};
    if (!m)
        goto fail;
    char ltext[16];
    if (!layer_text && file_layer >= 0)
        snprintf(ltext, sizeof ltext, "%d", file_layer), layer_text = ltext;
    if (!layer_text) {
        free(filters);
        nn_model_free(m);
        return usage_error("-l LAYER is needed (an index or a layer name)");
    }
    layer = nn_layer_lookup(m, layer_text, weights ? NN_NEED_CONV : NN_NEED_FILTERS, &e);
    if (layer < 0) {
        fprintf(stderr, "nn-vis: %s: %s\n", model, e.msg);
        goto done;
    }
    /* a conv and the layers after it that keep its channels share filters */
    if (file_layer >= 0 && layer != file_layer &&
        (file_layer >= m->nlayers ||
         nn_filter_source(m, layer) != nn_filter_source(m, file_layer))) {
        fprintf(stderr, "nn-vis: %s ranks the filters of layer %d; -l %s is layer %d, whose "
                "filters are others (leave -l out to take the file's)\n", from, file_layer,
                layer_text, layer);
        goto done;
    }
    if (weights) {
        if (nn_vis_weights(m, layer, &img, &e) < 0 || nn_image_write(out, &img, &e) < 0)
            goto fail;
        rc = 0;
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (nn_filter_check(m, layer, filters[i], &e) < 0) {
            fprintf(stderr, "nn-vis: %s: %s\n", model, e.msg);
            goto done;
        }
    cfg.keep_frames = frames != NULL;
    cfg.log = verbose ? stderr : NULL;
    if (dev == NN_DEVICE_CUDA && !(cfg.gpu = nn_cuda_open(0, &e)))
        goto fail;
    if (!(res = calloc((size_t)n, sizeof *res))) {
        nn_fail(&e, "out of memory");
        goto fail;
    }
    double t0 = nn_now();
    if (nn_vis_run(m, layer, filters, n, &cfg, res, &e) < 0) {
        fprintf(stderr, "nn-vis: %s: layer %d: %s\n", model, layer, e.msg);
        goto done;
    }
    if (verbose)
        fprintf(stderr, "nn-vis: %d filter%s of layer %d (%s) in %.1f s on the %s\n", n,
                n == 1 ? "" : "s", layer, m->layers[layer].name, nn_now() - t0,
                cfg.gpu ? "GPU" : "CPU");
    nn_image *pics = calloc((size_t)n, sizeof *pics);
    int ok = pics != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = nn_image_from_floats(res[i].image, res[i].c, res[i].h, res[i].w, 0, 1, &pics[i],
                                  &e) == 0;
    ok = ok && sheet(pics, filters, n, (int)cols, &img, &e) == 0 &&
         nn_image_write(out, &img, &e) == 0;
    for (int i = 0; pics && i < n; i++)
        nn_image_free(&pics[i]);
    free(pics);
    if (!ok || (frames && write_frames(frames, res, filters, n, (int)cols, &e) < 0))
        goto fail;
    if (!quiet) {
        /* stderr when stdout holds a picture */
        FILE *tsv = strcmp(out, "-") && (!frames || strcmp(frames, "-")) ? stdout : stderr;
        fprintf(tsv, "filter\tstart\tfinal\tothers\n");
        for (int i = 0; i < n; i++)
            fprintf(tsv, "%d\t%.6g\t%.6g\t%.6g\n", filters[i], res[i].start, res[i].final,
                    res[i].others);
    }
    rc = 0;
    goto done;
fail:
    if (!ferror(stdout)) /* else the exit check says why stdout failed */
        fprintf(stderr, "nn-vis: %s\n", e.msg);
done:
    for (int i = 0; res && i < n; i++)
        nn_vis_result_free(&res[i]);
    free(res);
    nn_image_free(&img);
    free(filters);
    nn_model_free(m);
    nn_cuda_close(cfg.gpu);
    return rc;
}
