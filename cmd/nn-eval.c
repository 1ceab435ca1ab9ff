/* nn-eval - measure a model on a dataset split, or predict the classes of
 * image files. The work is in lib/eval.c and lib/meter*.c. */
#include "nn.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage_text =
    "Usage: nn-eval -m MODEL.h5 -d DATA.h5 [options]    metrics on a dataset split\n"
    "       nn-eval -m MODEL.h5 [options] IMAGE... | -  classes of PNG/JPEG files\n"
    "Metrics go to stdout as TSV (metric, class, value), a summary to stderr;\n"
    "predictions as TSV (file, class, probability, rank). '-' reads file names\n"
    "from stdin, one a line.\n"
    "  -m, --model FILE       the model file (nn-train's output)\n"
    "  -d, --data FILE        the dataset file (nn-fetch-data's output)\n"
    "      --split S          test (the default) or train\n"
    "      --meter LIST       meters, comma-separated (loss,accuracy,topk,perclass\n"
    "                         and, for two classes, auc); --meter list lists them\n"
    "  -k, --topk K           K of top-k accuracy (5); with images, the K most\n"
    "                         probable classes of each (1)\n"
    "      --confusion        print the confusion matrix on stdout instead of the\n"
    "                         metrics (rows: true class, columns: predicted)\n"
    "      --confusion-png F  draw it as a heat map PNG with the class names\n"
    "  -t, --threads N        threads (0: all cores, the default)\n"
    "      --device D         cpu, cuda or auto (cpu)\n"
    "  -q, --quiet            print errors only\n"
    "  -v, --verbose          also the layer table, batch size and speed\n"
    "  -h, --help             this help;  -V, --version  the version\n"
    "Exit status: 0 success, 1 failure (also an unreadable image), 2 usage error.\n";

typedef struct opts {
    const char *model, *data, *split, *meters, *confusion_png, *device;
    nn_device dev;
    nn_cuda *gpu; /* dev cuda: the GPU, once opened */
    int topk, confusion, threads, quiet, verbose;
} opts;

#define PROG "nn-eval"
#define usage_error(...) nn_usage_error(PROG, __VA_ARGS__)

static int parse_int(const char *text, int min, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < min || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

static void list_meters(void)
{
    const nn_meter_type *const *t = nn_meter_types();
    for (int i = 0; t[i]; i++)
        printf("%-10s %s\n", t[i]->name, t[i]->help);
}

/* K of a meter word "topN" (N >= 1), else 0. */
static long topn_k(const char *w)
{
    char *end;
    if (strncmp(w, "top", 3) != 0 || w[3] < '1' || w[3] > '9')
        return 0;
    long k = strtol(w + 3, &end, 10);
    return *end == 0 ? k : 0;
}

/* --topk and every topN of --meter against the model's class count: 0, or
 * 1 after a line that names the option and the count. */
static int check_topk(const nn_model *m, const opts *o)
{
    nn_meter_cfg c;
    nn_eval_meter_cfg(m, &c);
    if (o->topk > c.classes) {
        fprintf(stderr, "nn-eval: --topk %d: %s has %d classes; K can be at most %d\n", o->topk,
                o->model, c.classes, c.classes);
        return 1;
    }
    char *copy = o->meters ? strdup(o->meters) : NULL;
    int rc = 0;
    for (char *save = NULL, *w = copy ? strtok_r(copy, ", ", &save) : NULL; w && !rc;
         w = strtok_r(NULL, ", ", &save)) {
        long k = topn_k(w);
        if (k > c.classes) {
            fprintf(stderr, "nn-eval: --meter %s: %s has %d classes; K can be at most %d\n", w,
                    o->model, c.classes, c.classes);
            rc = 1;
        }
    }
    free(copy);
    return rc;
}

/* Checks every name of --meter before anything is loaded. */
static int check_meter_names(const char *list)
{
    nn_meter_cfg c = {.classes = 2, .topk = 5};
    char *copy = strdup(list);
    int rc = 0;
    for (char *save = NULL, *w = copy ? strtok_r(copy, ", ", &save) : NULL; w && !rc;
         w = strtok_r(NULL, ", ", &save)) {
        nn_error e;
        nn_meters *s = nn_meters_new(w, &c, &e);
        if (!s)
            rc = usage_error("--meter: %s", e.msg);
        nn_meters_free(s);
    }
    free(copy);
    return rc;
}

static int eval_data(nn_model *m, const opts *o)
{
    nn_error e;
    nn_dataset *d = nn_dataset_load(o->data, &e);
    if (!d) {
        fprintf(stderr, "nn-eval: %s\n", e.msg);
        return 1;
    }
    int rc = 1;
    nn_meters *ms = NULL;
    const nn_split *s = strcmp(o->split, "train") == 0 ? &d->train : &d->test;
    if (nn_train_check_fit(m, o->model, d, o->data, &e) < 0) {
        fprintf(stderr, "nn-eval: %s\n", e.msg);
        goto out;
    }
    if (s->n == 0) {
        fprintf(stderr, "nn-eval: %s: the %s split has no images; evaluate the other split "
                "(--split %s) or fetch the dataset again\n", o->data, o->split,
                strcmp(o->split, "train") == 0 ? "test" : "train");
        goto out;
    }
    nn_meter_cfg c;
    nn_eval_meter_cfg(m, &c);
    c.topk = o->topk > 0 ? o->topk : 5;
    char list[512], title[512];
    if (o->meters)
        snprintf(list, sizeof list, "%s", o->meters);
    else
        snprintf(list, sizeof list, "loss,accuracy%s,perclass%s",
                 o->topk > 0 || c.classes > c.topk ? ",topk" : "", c.classes == 2 ? ",auc" : "");
    if ((o->confusion || o->confusion_png) && !strstr(list, "confusion"))
        strncat(list, ",confusion", sizeof list - strlen(list) - 1);
    c.confusion_tsv = o->confusion ? stdout : NULL;
    c.confusion_png = o->confusion_png;
    snprintf(title, sizeof title, "%s, %s split (rows: true class)", o->model, o->split);
    c.confusion_title = title;
    if (!(ms = nn_meters_new(list, &c, &e))) {
        fprintf(stderr, "nn-eval: --meter: %s\n", e.msg);
        rc = 2;
        goto out;
    }
    double t0 = nn_now();
    if (nn_eval_split(m, o->gpu, s, o->split, ms, &e) < 0) {
        fprintf(stderr, "nn-eval: %s: %s\n", o->data, e.msg);
        goto out;
    }
    double secs = nn_now() - t0;
    if (o->verbose)
        fprintf(stderr, "nn-eval: %ld %s images in %.2f s (%.0f images/s)\n", s->n, o->split,
                secs, s->n / (secs > 0 ? secs : 1e-9));
    if (!o->quiet)
        fprintf(stderr, "%s on %s, %s split (%ld images):\n", o->model, o->data, o->split, s->n);
    if (nn_meters_report(ms, o->confusion ? NULL : stdout, o->quiet ? NULL : stderr, &e) < 0) {
        if (!ferror(stdout)) /* else the exit check says why stdout failed */
            fprintf(stderr, "nn-eval: %s\n", e.msg);
        goto out;
    }
    rc = 0;
out:
    nn_meters_free(ms);
    nn_dataset_free(d);
    return rc;
}

/* Appends a copy of name to the list v of *n names (capacity *cap). */
static int push_name(char ***v, long *n, long *cap, const char *name)
{
    if (*n == *cap) {
        char **w = realloc(*v, (size_t)(*cap = *cap * 2 + 16) * sizeof *w);
        if (!w)
            return -1;
        *v = w;
    }
    if (!((*v)[*n] = strdup(name)))
        return -1;
    ++*n;
    return 0;
}

/* The image arguments, each "-" replaced by the names on stdin, one a line
 * (empty lines skipped). NULL: out of memory. */
static char **image_list(char **args, int nargs, long *n)
{
    char **v = NULL, *line = NULL;
    long cap = 0;
    size_t size = 0;
    int rc = 0;
    *n = 0;
    for (int i = 0; i < nargs && rc == 0; i++) {
        if (strcmp(args[i], "-") != 0) {
            rc = push_name(&v, n, &cap, args[i]);
            continue;
        }
        for (ssize_t len; rc == 0 && (len = getline(&line, &size, stdin)) >= 0;) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = 0;
            if (len > 0)
                rc = push_name(&v, n, &cap, line);
        }
    }
    free(line);
    if (rc == 0 && !v && (v = malloc(sizeof *v)) == NULL)
        rc = -1;
    if (rc < 0) {
        for (long i = 0; i < *n; i++)
            free(v[i]);
        free(v);
        return NULL;
    }
    return v;
}

static int eval_images(nn_model *m, const opts *o, char **args, int nargs)
{
    long n, failed = 0;
    char **paths = image_list(args, nargs, &n);
    if (!paths) {
        fprintf(stderr, "nn-eval: out of memory for the list of images\n");
        return 1;
    }
    int rc = 0;
    nn_error e;
    double t0 = nn_now();
    if (n == 0) {
        fprintf(stderr, "nn-eval: no image file names on stdin; give one a line\n");
        rc = 1;
    } else if (nn_eval_images(m, o->gpu, (const char *const *)paths, n, o->topk > 0 ? o->topk : 1,
                              stdout, stderr, "nn-eval", &failed, &e) < 0) {
        if (!ferror(stdout)) /* else the exit check says why stdout failed */
            fprintf(stderr, "nn-eval: %s: %s\n", o->model, e.msg);
        rc = 1;
    } else if (failed) {
        rc = 1; /* each was reported on its own line */
    }
    if (o->verbose && rc == 0)
        fprintf(stderr, "nn-eval: %ld image%s in %.2f s\n", n, n == 1 ? "" : "s", nn_now() - t0);
    for (long i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

int main(int argc, char **argv)
{
    enum { O_SPLIT = 256, O_METER, O_CONFUSION, O_CONFUSION_PNG, O_DEVICE };
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},    {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, O_SPLIT}, {"meter", required_argument, 0, O_METER},
        {"topk", required_argument, 0, 'k'},     {"confusion", no_argument, 0, O_CONFUSION},
        {"confusion-png", required_argument, 0, O_CONFUSION_PNG},
        {"threads", required_argument, 0, 't'},  {"device", required_argument, 0, O_DEVICE},
        {"quiet", no_argument, 0, 'q'},          {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},           {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    opts o = {.split = "test", .device = "cpu"};
    int c;
    nn_check_stdout_at_exit("nn-eval");
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:d:k:t:qvhV", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'd': o.data = optarg; break;
        case O_SPLIT: o.split = optarg; break;
        case O_METER: o.meters = optarg; break;
        case 'k':
            if (parse_int(optarg, 1, &o.topk) < 0)
                return usage_error("--topk '%s': give a whole number of at least 1", optarg);
            break;
        case O_CONFUSION: o.confusion = 1; break;
        case O_CONFUSION_PNG: o.confusion_png = optarg; break;
        case 't':
            if (parse_int(optarg, 0, &o.threads) < 0)
                return usage_error("--threads '%s': give a whole number (0: all cores)", optarg);
            break;
        case O_DEVICE: o.device = optarg; break;
        case 'q': o.quiet = 1, o.verbose = 0; break;
        case 'v': o.verbose = 1, o.quiet = 0; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("nn-eval (nn) %s\n", NN_VERSION); return 0;
        case ':':
        default: return nn_option_error(PROG, c, argv, longs);
        }
    }
    if (o.meters && strcmp(o.meters, "list") == 0) {
        list_meters();
        return 0;
    }
    int nimages = argc - optind;
    if (!o.model)
        return usage_error("%s", "no model: give -m MODEL.h5");
    if (!o.data && nimages == 0)
        return usage_error("%s", "nothing to evaluate: give -d DATA.h5 or image files");
    if (o.data && nimages > 0)
        return usage_error("'%s': give either -d DATA.h5 or image files, not both", argv[optind]);
    if (strcmp(o.split, "test") != 0 && strcmp(o.split, "train") != 0)
        return usage_error("--split '%s': use test or train", o.split);
    if (!o.data && (o.meters || o.confusion || o.confusion_png || strcmp(o.split, "test") != 0))
        return usage_error("%s", "--meter, --split and --confusion need -d DATA.h5");
    int stdin_used = (o.data && strcmp(o.data, "-") == 0);
    for (int i = optind; i < argc; i++)
        stdin_used += strcmp(argv[i], "-") == 0;
    if (stdin_used + (strcmp(o.model, "-") == 0) > 1)
        return usage_error("%s", "only one input can be read from stdin ('-')");
    if (o.confusion_png && strcmp(o.confusion_png, "-") == 0)
        return usage_error("--confusion-png - and %s both write to standard output; only one "
                           "output may be stdout: give --confusion-png a file name",
                           o.confusion ? "--confusion" : "the metrics table");
    const nn_file_use files[] = {
        {"-m", o.model, 0}, {"-d", o.data, 0}, {"--confusion-png", o.confusion_png, 1}};
    if ((o.meters && check_meter_names(o.meters)) || nn_distinct_files(PROG, files, 3))
        return 2;
    int rc = nn_device_option(PROG, o.device, &o.dev);
    if (rc)
        return rc;
    nn_error e;
    if (o.confusion_png && nn_check_output(o.confusion_png, &e) < 0) {
        fprintf(stderr, "nn-eval: %s\n", e.msg);
        return 1;
    }
    nn_set_threads(o.threads);
    nn_model *m = nn_model_load(o.model, NULL, &e);
    if (!m) {
        if (strcmp(o.model, "-") != 0 && access(o.model, F_OK) != 0)
            fprintf(stderr, "nn-eval: %s: no such file; -m takes a model file that nn-train "
                    "wrote\n", o.model);
        else
            fprintf(stderr, "nn-eval: %s\n", e.msg);
        return 1;
    }
    if (check_topk(m, &o)) {
        nn_model_free(m);
        return 1;
    }
    if (o.dev == NN_DEVICE_CUDA && !(o.gpu = nn_cuda_open(0, &e))) {
        fprintf(stderr, "nn-eval: %s\n", e.msg);
        nn_model_free(m);
        return 1;
    }
    if (o.verbose) {
        nn_model_summary(m, stderr);
        fprintf(stderr, "nn-eval: %s, batches of up to %d\n", o.gpu ? "the GPU" : "the CPU",
                nn_eval_batch_size(m));
    }
    rc = o.data ? eval_data(m, &o) : eval_images(m, &o, argv + optind, argc - optind);
    nn_model_free(m);
    nn_cuda_close(o.gpu);
    return rc;
}
