/* nn-plot - line charts of columns of TSV tables (nn-train --log, the
 * --search table, nn-featmap --hist), several files on one chart. */
#include "nn.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static const char *usage_text =
    "usage: nn-plot -o CHART.png -y COL[,COL...] [options] [LABEL=]FILE.tsv...\n"
    "A line chart of columns of TSV files that start with a header line\n"
    "(nn-train --log, nn-train --search, nn-featmap --hist): one line per file\n"
    "and -y column, on one chart. '-' reads standard input.\n"
    "  -o, --output FILE     the chart (PNG)\n"
    "  -x, --x COL           the x column (default: the first)\n"
    "  -y, --y COLS          the y columns, comma-separated; lines of the\n"
    "                        second and later columns are dashed\n"
    "      --title T         --xlabel T  --ylabel T   texts (defaults: the columns)\n"
    "      --logy            logarithmic y axis\n"
    "      --ymin A          --ymax B   the y range (default: the data's; one\n"
    "                        alone: the other end from the data)\n"
    "      --size WxH        pixels (800x500; 200x120 to 16384x16384)\n"
    "  -h, --help            this help;  -V, --version  the version\n"
    "LABEL= names a file's lines in the legend (default: the file name\n"
    "without its directory and .tsv). Cells that are not numbers (nan, -)\n"
    "leave a gap. Exit status: 0 done, 1 failure, 2 usage error.\n";

#define MAX_COLS 16

enum { O_TITLE = 256, O_XLABEL, O_YLABEL, O_LOGY, O_YMIN, O_YMAX, O_SIZE };

/* One table: the x values and MAX_COLS y columns, n rows; the x column's
 * name in the header (malloc'd). */
typedef struct table {
    float *x, *y[MAX_COLS];
    int n;
    char *xname;
} table;

#define PROG "nn-plot"
#define usage_error(...) nn_usage_error(PROG, __VA_ARGS__)

/* Splits line (modified) at tabs into at most max fields; returns the count. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

/* The index of column name among the header fields, or -1. */
static int column(char **f, int nf, const char *name)
{
    for (int i = 0; i < nf; i++)
        if (!strcmp(f[i], name))
            return i;
    return -1;
}

/* A finite number of --ymin/--ymax into *v; -1 when text is not one. */
static int finite_arg(const char *text, float *v)
{
    char *end;
    errno = 0;
    *v = strtof(text, &end);
    return end == text || *end || errno || !isfinite(*v) ? -1 : 0;
}

/* --size WxH within the limits nn_plot_lines draws (200x120..16384x16384). */
static int size_arg(const char *text, int *w, int *h)
{
    char *end;
    errno = 0;
    long a = strtol(text, &end, 10), b = 0;
    if (end == text || *end != 'x' || text[0] == '-' || text[0] == '+')
        return -1;
    text = end + 1;
    b = strtol(text, &end, 10);
    if (end == text || *end || errno || text[0] == '-' || text[0] == '+' || a < 200 ||
        b < 120 || a > 16384 || b > 16384)
        return -1;
    *w = (int)a, *h = (int)b;
    return 0;
}

static float cell(char **f, int nf, int i)
{
    char *end;
    if (i >= nf)
        return NAN;
    float v = strtof(f[i], &end);
    return end != f[i] && *end == 0 ? v : NAN;
}

/* Reads the columns xcol (NULL: the first) and ycols of path into t. */
static int read_table(const char *path, const char *xcol, char **ycols, int ny,
                      table *t, nn_error *e)
{
    struct stat st;
    memset(t, 0, sizeof *t);
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return nn_fail(e, "%s: is a directory; give a TSV file", path);
    FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!fp)
        return nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL, *f[256];
    size_t cap = 0, rows = 0;
    int xi = 0, yi[MAX_COLS], header = 0, rc = 0;
    while (getline(&line, &cap, fp) >= 0) {
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0)
            continue;
        int nf = split_tabs(line, f, 256);
        if (!header) {
            header = 1;
            if (xcol && (xi = column(f, nf, xcol)) < 0) {
                rc = nn_fail(e, "%s: no column '%s' in the header", path, xcol);
                break;
            }
            for (int j = 0; j < ny && rc == 0; j++)
                if ((yi[j] = column(f, nf, ycols[j])) < 0)
                    rc = nn_fail(e, "%s: no column '%s' in the header", path, ycols[j]);
            if (rc == 0 && !(t->xname = strdup(f[xi])))
                rc = nn_fail(e, "%s: out of memory", path);
            if (rc)
                break;
            continue;
        }
        if ((size_t)t->n == rows) {
            rows = rows ? 2 * rows : 64;
            float *p = realloc(t->x, rows * sizeof *p);
            if (p)
                t->x = p;
            for (int j = 0; j < ny && p; j++)
                if ((p = realloc(t->y[j], rows * sizeof *p)))
                    t->y[j] = p;
            if (!p) {
                rc = nn_fail(e, "%s: out of memory", path);
                break;
            }
        }
        t->x[t->n] = cell(f, nf, xi);
        for (int j = 0; j < ny; j++)
            t->y[j][t->n] = cell(f, nf, yi[j]);
        t->n++;
    }
    if (rc == 0 && ferror(fp))
        rc = nn_fail(e, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
    else if (rc == 0 && !header)
        rc = nn_fail(e, "%s: empty: no header line", path);
    free(line);
    if (fp != stdin)
        fclose(fp);
    return rc;
}

/* The end of the y axis that --ymin or --ymax left out: the largest (hi)
 * or smallest drawn value of the n series (above 0 on a log axis). 0 and
 * a message when no value lies beyond the given end. */
static int other_end(const nn_series *s, int n, nn_chart *c, int hi, nn_error *e)
{
    float lo = INFINITY, up = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < s[i].n; j++) {
            float y = s[i].y[j];
            if (isfinite(y) && !(c->logy && y <= 0))
                lo = fminf(lo, y), up = fmaxf(up, y);
        }
    if (hi && up > c->ymin)
        return c->ymax = up, 0;
    if (!hi && lo < c->ymax)
        return c->ymin = lo, 0;
    if (hi)
        return nn_fail(e, "--ymin %g: no value to draw lies above it; give --ymax too", c->ymin);
    return nn_fail(e, "--ymax %g: no value to draw lies below it; give --ymin too", c->ymax);
}

/* The file of an argument: FILE of LABEL=FILE, unless the whole argument
 * names a file (lr=0.01.tsv). */
static const char *arg_path(const char *arg)
{
    const char *eq = strchr(arg, '=');
    return eq && access(arg, F_OK) != 0 ? eq + 1 : arg;
}

/* The legend name of a file argument: LABEL of LABEL=FILE, else the file
 * name without directory and .tsv (malloc'd); *path gets the file. */
static char *file_label(const char *arg, const char **path)
{
    const char *eq = strchr(arg, '=');
    if (eq && arg_path(arg) != arg) {
        *path = eq + 1;
        return strndup(arg, (size_t)(eq - arg));
    }
    *path = arg;
    const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
    size_t n = strlen(base);
    if (n > 4 && !strcmp(base + n - 4, ".tsv"))
        n -= 4;
    return strndup(base, n);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"output", 1, 0, 'o'}, {"x", 1, 0, 'x'},           {"y", 1, 0, 'y'},
        {"title", 1, 0, O_TITLE}, {"xlabel", 1, 0, O_XLABEL}, {"ylabel", 1, 0, O_YLABEL},
        {"logy", 0, 0, O_LOGY}, {"ymin", 1, 0, O_YMIN},    {"ymax", 1, 0, O_YMAX},
        {"size", 1, 0, O_SIZE}, {"help", 0, 0, 'h'},       {"version", 0, 0, 'V'},
        {0, 0, 0, 0}};
    const char *out = NULL, *xcol = NULL;
    char *ylist = NULL, *ycols[MAX_COLS];
    nn_chart chart = {0};
    const char *ymin = NULL, *ymax = NULL; /* as given */
    int ny = 0, c;
    nn_check_stdout_at_exit("nn-plot");
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:x:y:hV", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'x': xcol = optarg; break;
        case 'y': ylist = optarg; break;
        case O_TITLE: chart.title = optarg; break;
        case O_XLABEL: chart.xlabel = optarg; break;
        case O_YLABEL: chart.ylabel = optarg; break;
        case O_LOGY: chart.logy = 1; break;
        case O_YMIN:
            if (finite_arg(optarg, &chart.ymin) < 0)
                return usage_error("--ymin: '%s' is not a finite number", optarg);
            ymin = optarg;
            break;
        case O_YMAX:
            if (finite_arg(optarg, &chart.ymax) < 0)
                return usage_error("--ymax: '%s' is not a finite number", optarg);
            ymax = optarg;
            break;
        case O_SIZE:
            if (size_arg(optarg, &chart.width, &chart.height) < 0)
                return usage_error("--size: '%s' is not WxH from 200x120 to 16384x16384", optarg);
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("nn-plot (nn) %s\n", NN_VERSION); return 0;
        case ':':
        default: return nn_option_error(PROG, c, argv, lo);
        }
    }
    if (!out)
        return usage_error("give the chart file with -o CHART.png");
    if (!ylist)
        return usage_error("give the y columns with -y COL[,COL...]");
    if (optind == argc)
        return usage_error("give one or more TSV files");
    for (char *p = strtok(ylist, ","); p; p = strtok(NULL, ","))
        if (ny == MAX_COLS)
            return usage_error("too many -y columns (at most 16)");
        else
            ycols[ny++] = p;
    if (ny == 0)
        return usage_error("-y names no column");
    if (ymin && ymax && !(chart.ymin < chart.ymax))
        return usage_error("--ymin %s must be below --ymax %s", ymin, ymax);
    if (chart.logy && ymin && chart.ymin <= 0)
        return usage_error("--ymin %s: a log y axis (--logy) needs it above 0", ymin);
    if (chart.logy && ymax && chart.ymax <= 0)
        return usage_error("--ymax %s: a log y axis (--logy) needs it above 0", ymax);
    nn_file_use *files = malloc((size_t)(argc - optind + 1) * sizeof *files);
    if (!files)
        return fprintf(stderr, "nn-plot: out of memory\n"), 1;
    files[0] = (nn_file_use){"-o", out, 1};
    for (int i = optind; i < argc; i++)
        files[i - optind + 1] = (nn_file_use){"TSV", arg_path(argv[i]), 0};
    int distinct = nn_distinct_files(PROG, files, argc - optind + 1);
    free(files);
    if (distinct)
        return 2;
    nn_error e = {0};
    if (nn_check_output(out, &e) < 0) {
        fprintf(stderr, "nn-plot: %s\n", e.msg);
        return 1;
    }
    if (!chart.ylabel)
        chart.ylabel = ny == 1 ? ycols[0] : "";

    int nfiles = argc - optind, ns = nfiles * ny, rc = 0;
    table *t = calloc((size_t)nfiles, sizeof *t);
    nn_series *s = calloc((size_t)ns, sizeof *s);
    char **labels = calloc((size_t)ns + nfiles, sizeof *labels);
    if (!t || !s || !labels) {
        fprintf(stderr, "nn-plot: out of memory\n");
        return 1;
    }
    for (int i = 0; i < nfiles && rc == 0; i++) {
        const char *path;
        char *name = labels[ns + i] = file_label(argv[optind + i], &path);
        rc = read_table(path, xcol, ycols, ny, &t[i], &e);
        for (int j = 0; j < ny && rc == 0; j++) {
            nn_series *si = &s[i * ny + j];
            if (ny > 1) {
                size_t n = strlen(name) + strlen(ycols[j]) + 2;
                if ((labels[i * ny + j] = malloc(n)))
                    snprintf(labels[i * ny + j], n, "%s %s", name, ycols[j]);
            }
            si->label = ny > 1 ? labels[i * ny + j] : name;
            si->x = t[i].x, si->y = t[i].y[j], si->n = t[i].n, si->dashed = j > 0;
        }
    }
    if (rc == 0 && !chart.xlabel) /* the x column's name in the first table */
        chart.xlabel = xcol ? xcol : t[0].xname ? t[0].xname : "";
    if (rc == 0 && !ymin != !ymax)
        rc = other_end(s, ns, &chart, ymin != NULL, &e);
    if (rc == 0)
        rc = nn_plot_lines(out, &chart, s, ns, &e);
    if (rc < 0 && !ferror(stdout)) /* else the exit check says why stdout failed */
        fprintf(stderr, "nn-plot: %s\n", e.msg);
    for (int i = 0; i < nfiles; i++) {
        free(t[i].x), free(t[i].xname);
        for (int j = 0; j < ny; j++)
            free(t[i].y[j]);
    }
    for (int i = 0; i < ns + nfiles; i++)
        free(labels[i]);
    free(t), free(s), free(labels);
    return rc < 0 ? 1 : 0;
}
