/* cli.c - what the programs share on the command line: a usage error as
 * one line that points to --help, and getopt_long's rejections named as
 * the user wrote them. */
#include "nn.h"

#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int nn_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", prog);
    va_end(ap);
    return 2;
}

int nn_device_option(const char *prog, const char *name, nn_device *out)
{
    nn_error e;
    int rc = nn_device_choose(name, out, &e);
    if (rc == -2)
        return nn_usage_error(prog, "%s", e.msg);
    if (rc < 0)
        return fprintf(stderr, "%s: %s\n", prog, e.msg), 1;
    return 0;
}

int nn_option_error(const char *prog, int c, char **argv, const struct option *lo)
{
    const char *a = argv[optind - 1];
    int n = (int)strcspn(a, "="), is_long = strncmp(a, "--", 2) == 0;
    if (c == ':')
        return is_long ? nn_usage_error(prog, "option '%.*s' needs a value", n, a)
                       : nn_usage_error(prog, "option '-%c' needs a value", optopt);
    if (optopt == 0) /* an unknown long option */
        return nn_usage_error(prog, "unknown option '%.*s'", n, a);
    if (is_long && a[n] == '=') /* --NAME=V for an option that takes no value */
        for (int i = 0; lo[i].name; i++)
            if (lo[i].val == optopt && lo[i].has_arg == no_argument &&
                strlen(lo[i].name) == (size_t)n - 2 && strncmp(a + 2, lo[i].name, n - 2) == 0)
                return nn_usage_error(prog, "option '%.*s' takes no value", n, a);
    return nn_usage_error(prog, "unknown option '-%c'", optopt);
}

int nn_whole_option(const char *prog, const char *name, const char *s, long min, long max,
                    long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && *end == 0 && v >= min && v <= max) {
        *out = v;
        return 0;
    }
    if (max < 1 << 20)
        return nn_usage_error(prog, "%s: '%s' is not a whole number from %ld to %ld", name, s,
                              min, max);
    if (end != s && *end == 0 && v > max)
        return nn_usage_error(prog, "%s: %s is too large (at most %ld)", name, s, max);
    return nn_usage_error(prog, "%s: '%s' is not a whole number >= %ld", name, s, min);
}

int nn_real_option(const char *prog, const char *name, const char *s, double min, int open,
                   double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == 0 && (open ? v > min : v >= min) && v <= max) {
        *out = v;
        return 0;
    }
    return nn_usage_error(prog, "%s: '%s' is not a number %s %g and <= %g", name, s,
                          open ? ">" : ">=", min, max);
}

const char *nn_option_name(int c, int li, const struct option *lo, char buf[32])
{
    if (li >= 0)
        snprintf(buf, 32, "--%s", lo[li].name);
    else
        snprintf(buf, 32, "-%c", c);
    return buf;
}

int nn_one_stdout(const char *prog, const char *const *what, const int *on, int n)
{
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (!on[i])
            continue;
        if (first >= 0)
            return nn_usage_error(prog, "%s and %s both write to standard output; only one "
                                  "output can be '-'", what[first], what[i]);
        first = i;
    }
    return 0;
}

int nn_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    int ha = stat(a, &sa) == 0, hb = stat(b, &sb) == 0;
    if (ha && hb) /* a pipe too: two outputs into one would interleave */
        return (S_ISREG(sa.st_mode) || S_ISFIFO(sa.st_mode) || S_ISSOCK(sa.st_mode)) &&
               sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ha || hb) /* one exists, the other does not */
        return 0;
    if (strcmp(a, b) == 0)
        return 1;
    char ca[PATH_MAX], cb[PATH_MAX], da[PATH_MAX], db[PATH_MAX], ra[PATH_MAX], rb[PATH_MAX];
    snprintf(ca, sizeof ca, "%s", a), snprintf(cb, sizeof cb, "%s", b);
    snprintf(da, sizeof da, "%s", a), snprintf(db, sizeof db, "%s", b);
    return strcmp(basename(ca), basename(cb)) == 0 && realpath(dirname(da), ra) &&
           realpath(dirname(db), rb) && strcmp(ra, rb) == 0;
}

int nn_distinct_files(const char *prog, const nn_file_use *f, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const nn_file_use *a = &f[i], *b = &f[j];
            if (a->path && b->path && !a->output && !b->output && !strcmp(a->path, "-") &&
                !strcmp(b->path, "-"))
                return nn_usage_error(prog, "%s - and %s - both read standard input; only one "
                                      "input can be '-'", a->option, b->option);
            if (!a->path || !b->path || (!a->output && !b->output) ||
                !strcmp(a->path, "-") || !strcmp(b->path, "-") || !nn_same_file(a->path, b->path))
                continue;
            if (a->output && b->output)
                return nn_usage_error(prog, "%s and %s both write %s", a->option, b->option,
                                      b->path);
            const nn_file_use *in = a->output ? b : a, *out = a->output ? a : b;
            return nn_usage_error(prog, "%s %s would overwrite the %s file it reads", out->option,
                                  out->path, in->option);
        }
    return 0;
}
