/* plot.c - charts and image sheets for people to look at.
 *
 * Everything is drawn on an RGB canvas (an nn_image, white at the start)
 * and written with nn_image_write. Coordinates are pixels, x to the right
 * and y down; pixel (x, y) covers [x-0.5, x+0.5] x [y-0.5, y+0.5].
 *
 *  - Lines are anti-aliased: a segment is clipped to the plot area
 *    (Liang-Barsky), then walked along its major axis; each step covers the
 *    pixels within half the line width (measured across the line) of the
 *    centre, each blended by the fraction it covers. Series are 2 pixels
 *    wide (times the text scale).
 *  - Axis ticks are "nice": 1, 2 or 5 times a power of ten, the finest such
 *    step whose labels do not collide. A log axis ticks every decade (every
 *    k-th when crowded), or 1-2-5 / 1..9 within a short range. Tick labels
 *    are short: plain decimals with the fewest digits that give the value
 *    back (0.5, 1, 20000, 0.001), or %g with its exponent shortened when
 *    that is shorter (1e-05 is written 1e-5, 2e+06 as 2e6).
 *  - Series colours cycle through 7 colour-blind-safe colours (Okabe and
 *    Ito's palette without its yellow); series 8 onwards repeat them with
 *    the dash pattern flipped.
 *  - NaN and infinite values (and values <= 0 on a log axis) are skipped;
 *    a line breaks there, and a point with no neighbour is drawn as a dot.
 *    A constant series gets a range around its value; no data at all gives
 *    empty axes over [0, 1].
 * Text uses the 6x10 font of font.c at a scale that grows with the chart
 * (1 up to about 1400 x 880 pixels). */
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TICKS 64
#define MAX_SIDE 16384 /* the largest chart or sheet side, in pixels */
#define FONT_W 6       /* font cell, pixels at scale 1 */
#define FONT_H 10

typedef struct rect {
    int x0, y0, x1, y1; /* pixels [x0, x1) x [y0, y1) */
} rect;

static const uint8_t C_WHITE[3] = {255, 255, 255};
static const uint8_t C_TEXT[3] = {30, 30, 30};
static const uint8_t C_AXIS[3] = {80, 80, 80};
static const uint8_t C_GRID[3] = {228, 228, 228};
static const uint8_t C_BORDER[3] = {190, 190, 190};
static const uint8_t C_MISSING[3] = {200, 200, 200};

#define NCOLORS 7
static const uint8_t series_colors[NCOLORS][3] = {
    {0, 114, 178},   /* blue */
    {213, 94, 0},    /* vermillion */
    {0, 158, 115},   /* bluish green */
    {230, 159, 0},   /* orange */
    {204, 121, 167}, /* reddish purple */
    {86, 180, 233},  /* sky blue */
    {0, 0, 0},       /* black */
};

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ---- canvas ------------------------------------------------------------ */

static int canvas_new(nn_image *img, int w, int h, const char *path,
                      nn_error *e)
{
    img->data = NULL;
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        return nn_fail(e, "%s: picture size %dx%d outside 1..%d pixels a side",
                       path, w, h, MAX_SIDE);
    if (nn_image_alloc(img, w, h, 3, e) < 0)
        return -1;
    memset(img->data, 255, (size_t)w * h * 3);
    return 0;
}

/* Blends rgb over pixel (x, y) with opacity a in [0,1], when the pixel lies
 * in clip and in the image. */
static void blend(nn_image *img, const rect *clip, int x, int y,
                  const uint8_t rgb[3], double a)
{
    if (x < clip->x0 || x >= clip->x1 || y < clip->y0 || y >= clip->y1 ||
        x < 0 || y < 0 || x >= img->w || y >= img->h || !(a > 0))
        return;
    uint8_t *p = img->data + ((size_t)y * img->w + x) * 3;
    if (a >= 1) {
        memcpy(p, rgb, 3);
        return;
    }
    for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)(p[k] * (1 - a) + rgb[k] * a + 0.5);
}

static void fill_rect(nn_image *img, int x0, int y0, int x1, int y1,
                      const uint8_t rgb[3])
{
    x0 = imax(x0, 0), y0 = imax(y0, 0);
    x1 = imin(x1, img->w), y1 = imin(y1, img->h);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            memcpy(img->data + ((size_t)y * img->w + x) * 3, rgb, 3);
}

/* A 1-pixel outline just outside [x0,x1) x [y0,y1). */
static void outline(nn_image *img, int x0, int y0, int x1, int y1,
                    const uint8_t rgb[3])
{
    fill_rect(img, x0 - 1, y0 - 1, x1 + 1, y0, rgb);
    fill_rect(img, x0 - 1, y1, x1 + 1, y1 + 1, rgb);
    fill_rect(img, x0 - 1, y0, x0, y1, rgb);
    fill_rect(img, x1, y0, x1 + 1, y1, rgb);
}

/* Clips the segment to [xmin,xmax] x [ymin,ymax] (Liang-Barsky); 0 when
 * nothing is left. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1,
                        double xmin, double ymin, double xmax, double ymax)
{
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0, t1 = 1;
    double p[4] = {-dx, dx, -dy, dy};
    double q[4] = {*x0 - xmin, xmax - *x0, *y0 - ymin, ymax - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0)
                return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0) {
            if (r > t1)
                return 0;
            if (r > t0)
                t0 = r;
        } else {
            if (r < t0)
                return 0;
            if (r < t1)
                t1 = r;
        }
    }
    double ax = *x0, ay = *y0;
    *x0 = ax + t0 * dx, *y0 = ay + t0 * dy;
    *x1 = ax + t1 * dx, *y1 = ay + t1 * dy;
    return 1;
}

/* An anti-aliased line `width` pixels wide from (x0,y0) to (x1,y1), drawn
 * only inside clip. */
static void line_aa(nn_image *img, const rect *clip, double x0, double y0,
                    double x1, double y1, double width, const uint8_t rgb[3])
{
    double m = width + 2;
    if (!(isfinite(x0) && isfinite(y0) && isfinite(x1) && isfinite(y1)) ||
        !clip_segment(&x0, &y0, &x1, &y1, clip->x0 - m, clip->y0 - m,
                      clip->x1 + m, clip->y1 + m))
        return;
    int steep = fabs(y1 - y0) > fabs(x1 - x0);
    double t;
    if (steep) { /* walk along y: swap the roles of x and y */
        t = x0, x0 = y0, y0 = t;
        t = x1, x1 = y1, y1 = t;
    }
    if (x0 > x1) {
        t = x0, x0 = x1, x1 = t;
        t = y0, y0 = y1, y1 = t;
    }
    double slope = x1 - x0 > 1e-9 ? (y1 - y0) / (x1 - x0) : 0;
    double half = 0.5 * width * sqrt(1 + slope * slope);
    int xa = (int)floor(x0 + 0.5), xb = (int)floor(x1 + 0.5);
    for (int px = xa; px <= xb; px++) {
        double xc = px < x0 ? x0 : px > x1 ? x1 : px;
        double yc = y0 + slope * (xc - x0);
        double top = yc - half, bot = yc + half;
        int ya = (int)floor(top + 0.5), yb = (int)floor(bot + 0.5);
        for (int py = ya; py <= yb; py++) {
            double cov = fmin(bot, py + 0.5) - fmax(top, py - 0.5);
            if (steep)
                blend(img, clip, py, px, rgb, cov);
            else
                blend(img, clip, px, py, rgb, cov);
        }
    }
}

/* An anti-aliased filled disc of radius r. */
static void disc_aa(nn_image *img, const rect *clip, double cx, double cy,
                    double r, const uint8_t rgb[3])
{
    if (!isfinite(cx) || !isfinite(cy) || cx < clip->x0 - r - 1 ||
        cx > clip->x1 + r + 1 || cy < clip->y0 - r - 1 || cy > clip->y1 + r + 1)
        return;
    for (int y = (int)floor(cy - r - 1); y <= (int)ceil(cy + r + 1); y++)
        for (int x = (int)floor(cx - r - 1); x <= (int)ceil(cx + r + 1); x++)
            blend(img, clip, x, y, rgb, r + 0.5 - hypot(x - cx, y - cy));
}

/* A pen draws a polyline one segment at a time, solid or dashed; the dash
 * phase carries over from one segment to the next. */
typedef struct pen {
    const uint8_t *rgb;
    double width;
    int dashed;
    double on, off; /* dash and gap lengths, pixels */
    double phase;   /* position in the dash pattern */
} pen;

static void pen_segment(nn_image *img, const rect *clip, pen *p, double x0,
                        double y0, double x1, double y1)
{
    if (!p->dashed) {
        line_aa(img, clip, x0, y0, x1, y1, p->width, p->rgb);
        return;
    }
    double m = p->width + 2;
    if (!(isfinite(x0) && isfinite(y0) && isfinite(x1) && isfinite(y1)) ||
        !clip_segment(&x0, &y0, &x1, &y1, clip->x0 - m, clip->y0 - m,
                      clip->x1 + m, clip->y1 + m))
        return;
    double len = hypot(x1 - x0, y1 - y0), period = p->on + p->off, t = 0;
    while (t < len) {
        double pos = fmod(p->phase, period);
        double run = pos < p->on ? p->on - pos : period - pos;
        if (run > len - t)
            run = len - t;
        if (pos < p->on)
            line_aa(img, clip, x0 + (x1 - x0) * t / len,
                    y0 + (y1 - y0) * t / len,
                    x0 + (x1 - x0) * (t + run) / len,
                    y0 + (y1 - y0) * (t + run) / len, p->width, p->rgb);
        t += run;
        p->phase = fmod(p->phase + run, period);
    }
}

/* ---- text -------------------------------------------------------------- */

/* src cut to at most maxw pixels at scale s, ending in ".." when cut. */
static void text_fit(const char *src, int maxw, int s, char *buf, size_t n)
{
    size_t len = strlen(src), maxc = maxw > 0 ? (size_t)maxw / (FONT_W * s) : 0;
    if (maxc > n - 1)
        maxc = n - 1;
    if (len <= maxc) {
        memcpy(buf, src, len + 1);
        return;
    }
    if (maxc >= 4) {
        memcpy(buf, src, maxc - 2);
        memcpy(buf + maxc - 2, "..", 3);
    } else {
        memcpy(buf, src, maxc);
        buf[maxc] = 0;
    }
}

/* Text turned a quarter turn counter-clockwise (read from bottom to top);
 * (x, y) is the top left of the turned box, FONT_H*s wide and as tall as
 * the text is wide. */
static void text_rot(nn_image *img, int x, int y, const char *str, int s,
                     const uint8_t rgb[3])
{
    int tw = nn_text_width(str, s), th = FONT_H * s;
    if (tw <= 0 || tw > MAX_SIDE)
        return;
    nn_image t = {tw, th, 1, calloc((size_t)tw * th, 1)};
    if (!t.data)
        return;
    nn_draw_text(&t, 0, 0, str, s, C_WHITE);
    rect all = {0, 0, img->w, img->h};
    for (int v = 0; v < th; v++)
        for (int u = 0; u < tw; u++)
            if (t.data[(size_t)v * tw + u] > 127)
                blend(img, &all, x + v, y + tw - 1 - u, rgb, 1);
    free(t.data);
}

/* Text over a 1-pixel white outline, readable over bars and lines. */
static void text_halo(nn_image *img, int x, int y, const char *str, int s,
                      const uint8_t rgb[3])
{
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++)
            if (dx || dy)
                nn_draw_text(img, x + dx, y + dy, str, s, C_WHITE);
    nn_draw_text(img, x, y, str, s, rgb);
}

/* Text centred on x. */
static void text_centred(nn_image *img, int x, int y, const char *str, int s,
                         const uint8_t rgb[3])
{
    nn_draw_text(img, x - nn_text_width(str, s) / 2, y, str, s, rgb);
}

/* Removes the '+' and leading zeros of an exponent: 1e+06 -> 1e6,
 * 2.5e-05 -> 2.5e-5. */
static void shorten_exp(char *s)
{
    char *p = strchr(s, 'e');
    if (!p)
        return;
    char *q = p + 1;
    int neg = *q == '-';
    if (*q == '+' || *q == '-')
        q++;
    while (*q == '0' && q[1])
        q++;
    char tail[16];
    snprintf(tail, sizeof tail, "%s%s", neg ? "-" : "", q);
    strcpy(p + 1, tail);
}

/* A short form of v: whole numbers in full below 1e7, otherwise 3
 * significant digits. */
static void fmt_num(double v, char *buf, size_t n)
{
    if (isnan(v))
        snprintf(buf, n, "nan");
    else if (isinf(v))
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else if (fabs(v) < 1e7 && v == nearbyint(v))
        snprintf(buf, n, "%.0f", v + 0.0);
    else {
        snprintf(buf, n, "%.3g", v);
        shorten_exp(buf);
    }
}

/* ---- axes -------------------------------------------------------------- */

typedef struct axis {
    double lo, hi;    /* the range shown: lo < hi, lo > 0 on a log axis */
    int log;          /* log10 scale */
    int integer;      /* ticks at whole numbers only */
    int n;            /* ticks */
    double v[MAX_TICKS];
    char s[MAX_TICKS][24];
} axis;

/* Where v lies along the axis, 0 at lo and 1 at hi. */
static double axis_frac(const axis *a, double v)
{
    if (a->log)
        return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

/* The range [lo, hi] of the data widened by pad of its length on each side
 * (in log10 units on a log axis); a single value gets a range around it. */
static void axis_range(axis *a, double lo, double hi, double pad)
{
    if (a->log) {
        double l0 = log10(lo), l1 = log10(hi);
        if (l1 - l0 < 1e-9)
            l0 -= 0.3, l1 += 0.3;
        else {
            double d = (l1 - l0) * pad;
            l0 -= d, l1 += d;
        }
        a->lo = pow(10, l0), a->hi = pow(10, l1);
        return;
    }
    if (hi - lo <= 1e-9 * fmax(fabs(lo), fabs(hi))) {
        double d = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= d, hi += d;
    } else {
        double d = (hi - lo) * pad;
        lo -= d, hi += d;
    }
    a->lo = lo, a->hi = hi;
}

/* The smallest m * 10^k >= x with m in {1, 2, 5}; and the next one up. */
static void nice_ceil(double x, int *m, int *k)
{
    int e = (int)floor(log10(x));
    double f = x / pow(10, e);
    *m = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
    if (*m == 10)
        *m = 1, e++;
    *k = e;
}

static void nice_next(int *m, int *k)
{
    if (*m == 1)
        *m = 2;
    else if (*m == 2)
        *m = 5;
    else
        *m = 1, ++*k;
}

/* i * m * 10^k, dividing for negative k so that 3 * 0.1 prints as 0.3. */
static double nice_value(long i, int m, int k)
{
    return k >= 0 ? (double)i * m * pow(10, k) : (double)i * m / pow(10, -k);
}

/* Tick labels: each value in plain decimals with the fewest digits that
 * give it back (within tol), or in %g form with the fewest significant
 * digits when that is shorter and the plain form is over 6 characters:
 * 0.5, 1, 1.5, 20000, 0.001, 1e-5, 2.5e6. */
static void axis_format(axis *a, double step)
{
    for (int i = 0; i < a->n; i++) {
        double v = a->v[i] + 0.0, tol = a->log ? fabs(v) * 1e-6 : step * 1e-6;
        char fixed[48], sci[24];
        int ok = 0;
        for (int d = 0; d <= 12 && !ok; d++) {
            snprintf(fixed, sizeof fixed, "%.*f", d, v);
            ok = fabs(strtod(fixed, NULL) - v) <= tol;
        }
        for (int p = 1; p <= 17; p++) {
            snprintf(sci, sizeof sci, "%.*g", p, v);
            if (fabs(strtod(sci, NULL) - v) <= tol)
                break;
        }
        shorten_exp(sci);
        const char *best =
            ok && (strlen(fixed) <= 6 || strlen(fixed) <= strlen(sci)) ? fixed
                                                                       : sci;
        size_t len = strlen(best);
        if (len >= sizeof a->s[i])
            len = sizeof a->s[i] - 1;
        memcpy(a->s[i], best, len);
        a->s[i][len] = 0;
    }
}

static int axis_label_width(const axis *a, int s)
{
    int w = 0;
    for (int i = 0; i < a->n; i++)
        w = imax(w, nn_text_width(a->s[i], s));
    return w;
}

/* 1 when neighbouring tick labels keep apart on an axis len pixels long:
 * side by side (horizontal) or one above the other. */
static int axis_fits(const axis *a, double len, int horizontal, int s)
{
    double need = horizontal ? axis_label_width(a, s) + 2 * FONT_W * s
                             : FONT_H * s + 4;
    for (int i = 1; i < a->n; i++)
        if ((axis_frac(a, a->v[i]) - axis_frac(a, a->v[i - 1])) * len < need)
            return 0;
    return 1;
}

/* Ticks at the multiples of the finest nice step that fits. */
static void ticks_linear(axis *a, double len, int horizontal, int s)
{
    double range = a->hi - a->lo;
    double target = fmax(2, len / (horizontal ? 70.0 : 40.0));
    int m, k;
    nice_ceil(range / target, &m, &k);
    a->n = 0;
    for (int iter = 0; iter < 80; iter++, nice_next(&m, &k)) {
        double step = nice_value(1, m, k);
        if (a->integer && step < 1)
            continue;
        if (fabs(a->lo / step) > 1e15 || fabs(a->hi / step) > 1e15) {
            a->n = 0;
            return;
        }
        long i0 = (long)ceil(a->lo / step - 1e-9);
        long i1 = (long)floor(a->hi / step + 1e-9);
        if (i1 - i0 + 1 > MAX_TICKS)
            continue;
        a->n = 0;
        for (long i = i0; i <= i1; i++) {
            double v = nice_value(i, m, k);
            if (a->log && v <= 0)
                continue;
            a->v[a->n++] = fabs(v) < step * 1e-9 ? 0 : v;
        }
        axis_format(a, step);
        if (a->n <= 1 || axis_fits(a, len, horizontal, s))
            return;
    }
}

/* Log axis ticks at mant[] * 10^e for every e divisible by every_k. */
static void ticks_log_set(axis *a, const int *mant, int nmant, int every_k)
{
    double l0 = log10(a->lo), l1 = log10(a->hi);
    a->n = 0;
    for (int e = (int)floor(l0) - 1; e <= (int)ceil(l1) && a->n < MAX_TICKS;
         e++) {
        if (((e % every_k) + every_k) % every_k)
            continue;
        for (int j = 0; j < nmant && a->n < MAX_TICKS; j++) {
            double v = mant[j] * pow(10, e);
            if (v >= a->lo * (1 - 1e-9) && v <= a->hi * (1 + 1e-9))
                a->v[a->n++] = v;
        }
    }
    axis_format(a, 0);
}

static void ticks_log(axis *a, double len, int horizontal, int s)
{
    static const int one[1] = {1}, m125[3] = {1, 2, 5},
                     m19[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ticks_log_set(a, one, 1, 1);
    int decades = a->n;
    if (decades < 3) { /* a short range: ticks within the decades */
        ticks_log_set(a, m125, 3, 1);
        if (a->n >= 3 && axis_fits(a, len, horizontal, s))
            return;
        ticks_log_set(a, m19, 9, 1);
        if (a->n >= 3 && axis_fits(a, len, horizontal, s))
            return;
        if (decades < 2) {
            ticks_linear(a, len, horizontal, s);
            return;
        }
    }
    static const int every[] = {1, 2, 3, 5, 10, 20, 50, 100};
    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
        ticks_log_set(a, one, 1, every[i]);
        if (axis_fits(a, len, horizontal, s))
            return;
    }
}

static void axis_ticks(axis *a, double len, int horizontal, int s)
{
    if (a->log)
        ticks_log(a, len, horizontal, s);
    else
        ticks_linear(a, len, horizontal, s);
}

/* ---- chart frame: plot area, axes, labels, title ----------------------- */

typedef struct frame {
    int s;     /* text scale */
    rect box;  /* the part of the canvas the chart may use */
    rect area; /* the plot area */
    axis x, y;
    const char *title, *xlabel, *ylabel;
} frame;

static int has_text(const char *t) { return t && *t; }

/* Plot area top and bottom: room above for the title, below for the tick
 * labels and the x label. */
static void frame_layout_v(frame *f)
{
    int s = f->s, th = FONT_H * s;
    f->area.y0 = f->box.y0 + (has_text(f->title) ? 8 + FONT_H * (s + 1) + 10 : 12);
    f->area.y1 = f->box.y1 - (6 + th + (has_text(f->xlabel) ? th + 6 : 0) + 10);
}

/* The y ticks, then the left edge from their labels' width, then the x
 * ticks. */
static void frame_layout_h(frame *f)
{
    int s = f->s, th = FONT_H * s;
    axis_ticks(&f->y, f->area.y1 - 1 - f->area.y0, 0, s);
    f->area.x0 = f->box.x0 + 10 + (has_text(f->ylabel) ? th + 8 : 0) +
                 axis_label_width(&f->y, s) + 8;
    f->area.x1 = f->box.x1 - 20 * s;
    axis_ticks(&f->x, f->area.x1 - 1 - f->area.x0, 1, s);
}

static double frame_px(const frame *f, double v)
{
    return f->area.x0 + axis_frac(&f->x, v) * (f->area.x1 - 1 - f->area.x0);
}

static double frame_py(const frame *f, double v)
{
    return (f->area.y1 - 1) - axis_frac(&f->y, v) * (f->area.y1 - 1 - f->area.y0);
}

/* The light grid at the ticks (drawn under the data). */
static void frame_grid(nn_image *img, const frame *f)
{
    for (int i = 0; i < f->x.n; i++) {
        int x = (int)lround(frame_px(f, f->x.v[i]));
        fill_rect(img, x, f->area.y0, x + 1, f->area.y1, C_GRID);
    }
    for (int i = 0; i < f->y.n; i++) {
        int y = (int)lround(frame_py(f, f->y.v[i]));
        fill_rect(img, f->area.x0, y, f->area.x1, y + 1, C_GRID);
    }
}

/* The frame around the plot area, tick marks and labels, axis labels and
 * the title (drawn over the data). */
static void frame_axes(nn_image *img, const frame *f)
{
    int s = f->s, th = FONT_H * s;
    const rect *a = &f->area;
    char buf[256];
    outline(img, a->x0, a->y0, a->x1, a->y1, C_AXIS);
    for (int i = 0; i < f->x.n; i++) {
        int x = (int)lround(frame_px(f, f->x.v[i]));
        fill_rect(img, x, a->y1 + 1, x + 1, a->y1 + 5, C_AXIS);
        text_centred(img, x, a->y1 + 7, f->x.s[i], s, C_TEXT);
    }
    for (int i = 0; i < f->y.n; i++) {
        int y = (int)lround(frame_py(f, f->y.v[i]));
        fill_rect(img, a->x0 - 5, y, a->x0 - 1, y + 1, C_AXIS);
        nn_draw_text(img, a->x0 - 8 - nn_text_width(f->y.s[i], s),
                     y - 4 * s - (s - 1) / 2, f->y.s[i], s, C_TEXT);
    }
    if (has_text(f->xlabel)) {
        text_fit(f->xlabel, a->x1 - a->x0, s, buf, sizeof buf);
        text_centred(img, (a->x0 + a->x1) / 2, a->y1 + 7 + th + 6, buf, s,
                     C_TEXT);
    }
    if (has_text(f->ylabel)) {
        text_fit(f->ylabel, a->y1 - a->y0, s, buf, sizeof buf);
        text_rot(img, f->box.x0 + 10, (a->y0 + a->y1) / 2 -
                 nn_text_width(buf, s) / 2, buf, s, C_TEXT);
    }
    if (has_text(f->title)) {
        text_fit(f->title, f->box.x1 - f->box.x0 - 16, s + 1, buf, sizeof buf);
        int x = (a->x0 + a->x1) / 2, w = nn_text_width(buf, s + 1);
        x = imax(f->box.x0 + 8, imin(x - w / 2, f->box.x1 - 8 - w));
        nn_draw_text(img, x, f->box.y0 + 8, buf, s + 1, C_TEXT);
    }
}

/* Chart size from c (0: 800 x 500; one side given: the other at 8:5). */
static int chart_size(const nn_chart *c, const char *path, int *w, int *h,
                      nn_error *e)
{
    int cw = c ? c->width : 0, ch = c ? c->height : 0;
    if (cw < 0 || ch < 0)
        return nn_fail(e, "%s: chart size %dx%d is negative", path, cw, ch);
    *w = cw ? cw : ch ? ch * 8 / 5 : 800;
    *h = ch ? ch : cw ? cw * 5 / 8 : 500;
    if (*w < 200 || *h < 120 || *w > MAX_SIDE || *h > MAX_SIDE)
        return nn_fail(e, "%s: chart size %dx%d outside 200x120..%dx%d", path,
                       *w, *h, MAX_SIDE, MAX_SIDE);
    return 0;
}

static int text_scale(int w, int h) { return imax(1, imin(w / 700, h / 440)); }

/* ---- line charts ------------------------------------------------------- */

static double series_x(const nn_series *s, int j)
{
    return s->x ? s->x[j] : j + 1;
}

/* The legend: a box in the plot area's corner that covers the fewest drawn
 * pixels, one row per labelled series (swatch and label). */
static void legend(nn_image *img, const frame *f, const nn_series *s, int ns)
{
    int sc = f->s, th = FONT_H * sc, row = th + 5 * sc, sw = 24 * sc;
    const rect *a = &f->area;
    int n = 0;
    for (int i = 0; i < ns; i++)
        n += has_text(s[i].label);
    if (!n)
        return;
    int maxrows = (a->y1 - a->y0 - 20) / row;
    if (maxrows < 1)
        return;
    int shown = n <= maxrows ? n : maxrows - 1, more = n - shown;
    int maxtw = imax(FONT_W * sc * 4, (a->x1 - a->x0) / 2 - sw - 24);
    int lw = 0;
    char buf[256];
    for (int i = 0, k = 0; i < ns && k < shown; i++)
        if (has_text(s[i].label)) {
            text_fit(s[i].label, maxtw, sc, buf, sizeof buf);
            lw = imax(lw, nn_text_width(buf, sc));
            k++;
        }
    char morebuf[48];
    snprintf(morebuf, sizeof morebuf, "... %d more", more);
    if (more)
        lw = imax(lw, nn_text_width(morebuf, sc) - sw - 6);
    int bw = 8 + sw + 6 + lw + 8, bh = 4 * sc + (shown + (more > 0)) * row;
    /* Corners in order of preference: top right, top left, bottom right,
     * bottom left; the first with the fewest data pixels under it wins. */
    int m = 8;
    int cx[4] = {a->x1 - m - bw, a->x0 + m, a->x1 - m - bw, a->x0 + m};
    int cy[4] = {a->y0 + m, a->y0 + m, a->y1 - m - bh, a->y1 - m - bh};
    long best = -1;
    int bx = cx[0], by = cy[0];
    for (int c = 0; c < 4; c++) {
        long cnt = 0;
        for (int y = imax(cy[c], 0); y < imin(cy[c] + bh, img->h); y++)
            for (int x = imax(cx[c], 0); x < imin(cx[c] + bw, img->w); x++) {
                const uint8_t *p = img->data + ((size_t)y * img->w + x) * 3;
                cnt += memcmp(p, C_WHITE, 3) && memcmp(p, C_GRID, 3);
            }
        if (best < 0 || cnt < best)
            best = cnt, bx = cx[c], by = cy[c];
    }
    fill_rect(img, bx, by, bx + bw, by + bh, C_WHITE);
    outline(img, bx, by, bx + bw, by + bh, C_BORDER);
    rect all = {0, 0, img->w, img->h};
    int y = by + 2 * sc + 1;
    for (int i = 0, k = 0; i < ns && k < shown; i++) {
        if (!has_text(s[i].label))
            continue;
        pen p = {series_colors[i % NCOLORS], 2 * sc,
                 !!s[i].dashed ^ ((i / NCOLORS) & 1), 7 * sc, 4 * sc, 0};
        double my = y + th / 2.0;
        pen_segment(img, &all, &p, bx + 8, my, bx + 8 + sw, my);
        text_fit(s[i].label, maxtw, sc, buf, sizeof buf);
        nn_draw_text(img, bx + 8 + sw + 6, y + sc, buf, sc, C_TEXT);
        y += row;
        k++;
    }
    if (more)
        nn_draw_text(img, bx + 8, y + sc, morebuf, sc, C_TEXT);
}

/* One series: segments between neighbouring valid points, a dot for a
 * valid point with no valid neighbour. */
static void draw_series(nn_image *img, const frame *f, const nn_series *s,
                        int idx)
{
    pen p = {series_colors[idx % NCOLORS], 2 * f->s,
             !!s->dashed ^ ((idx / NCOLORS) & 1), 7 * f->s, 4 * f->s, 0};
    double px = 0, py = 0;
    int run = 0; /* valid points in a row so far */
    for (int j = 0; j <= s->n; j++) {
        int ok = 0;
        double x = 0, y = 0;
        if (j < s->n) {
            x = series_x(s, j), y = s->y[j];
            ok = isfinite(x) && isfinite(y) && (!f->y.log || y > 0);
        }
        if (!ok) {
            if (run == 1)
                disc_aa(img, &f->area, px, py, 1.5 * f->s + 0.5, p.rgb);
            run = 0;
            continue;
        }
        double qx = frame_px(f, x), qy = frame_py(f, y);
        if (run)
            pen_segment(img, &f->area, &p, px, py, qx, qy);
        px = qx, py = qy, run++;
    }
}

int nn_plot_lines(const char *path, const nn_chart *c, const nn_series *s,
                  int ns, nn_error *e)
{
    if (!path)
        return nn_fail(e, "line chart: no output path");
    if (ns < 0 || (ns > 0 && !s))
        return nn_fail(e, "%s: no series given (%d)", path, ns);
    for (int i = 0; i < ns; i++)
        if (s[i].n < 0 || (s[i].n > 0 && !s[i].y))
            return nn_fail(e, "%s: series %d has %d points and no y values",
                           path, i, s[i].n);
    int W, H;
    if (chart_size(c, path, &W, &H, e) < 0)
        return -1;
    frame f;
    memset(&f, 0, sizeof f);
    f.s = text_scale(W, H);
    f.box = (rect){0, 0, W, H};
    if (c)
        f.title = c->title, f.xlabel = c->xlabel, f.ylabel = c->ylabel;
    f.y.log = c && c->logy;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < s[i].n; j++) {
            double x = series_x(&s[i], j), y = s[i].y[j];
            if (!isfinite(x) || !isfinite(y) || (f.y.log && y <= 0))
                continue;
            xlo = fmin(xlo, x), xhi = fmax(xhi, x);
            ylo = fmin(ylo, y), yhi = fmax(yhi, y);
        }
    int have = xlo <= xhi;
    if (!have) { /* no data: empty axes */
        xlo = 0, xhi = 1;
        ylo = f.y.log ? 1 : 0, yhi = f.y.log ? 10 : 1;
    }
    axis_range(&f.x, xlo, xhi, 0);
    if (c && c->ymin < c->ymax) {
        if (f.y.log && !(c->ymin > 0))
            return nn_fail(e, "%s: log y axis from %g: ymin must be above 0",
                           path, c->ymin);
        f.y.lo = c->ymin, f.y.hi = c->ymax;
    } else
        axis_range(&f.y, ylo, yhi, 0.05);
    frame_layout_v(&f);
    frame_layout_h(&f);
    nn_image img;
    if (canvas_new(&img, W, H, path, e) < 0)
        return -1;
    frame_grid(&img, &f);
    for (int i = 0; i < ns; i++)
        draw_series(&img, &f, &s[i], i);
    frame_axes(&img, &f);
    if (!have)
        text_centred(&img, (f.area.x0 + f.area.x1) / 2,
                     (f.area.y0 + f.area.y1 - FONT_H * f.s) / 2, "no data",
                     f.s, C_TEXT);
    legend(&img, &f, s, ns);
    int rc = nn_image_write(path, &img, e);
    nn_image_free(&img);
    return rc;
}

/* ---- bar charts (the spike plot) --------------------------------------- */

int nn_plot_bars(const char *path, const nn_chart *c, const float *v, int n,
                 const int *label, int nlabel, nn_error *e)
{
    if (!path)
        return nn_fail(e, "bar chart: no output path");
    if (n < 0 || (n > 0 && !v))
        return nn_fail(e, "%s: %d bars and no values", path, n);
    if (nlabel < 0 || (nlabel > 0 && !label))
        return nn_fail(e, "%s: %d labels and no label list", path, nlabel);
    for (int k = 0; k < nlabel; k++)
        if (label[k] < 0 || label[k] >= n)
            return nn_fail(e, "%s: labelled bar %d outside 0..%d", path,
                           label[k], n - 1);
    int W, H;
    if (chart_size(c, path, &W, &H, e) < 0)
        return -1;
    frame f;
    memset(&f, 0, sizeof f);
    f.s = text_scale(W, H);
    f.box = (rect){0, 0, W, H};
    if (c)
        f.title = c->title, f.xlabel = c->xlabel, f.ylabel = c->ylabel;
    f.y.log = c && c->logy;
    int s = f.s, th = FONT_H * s;

    /* x: one slot per index; y: from 0 (or the axis bottom on a log axis)
     * to the values, with room above for the labels. */
    f.x.lo = -0.5, f.x.hi = n > 0 ? n - 0.5 : 0.5, f.x.integer = 1;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]) && (!f.y.log || v[i] > 0))
            lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
    if (!(lo <= hi))
        lo = f.y.log ? 1 : 0, hi = f.y.log ? 10 : 1;
    frame_layout_v(&f);
    int levels = imin(nlabel, 3), ph = f.area.y1 - 1 - f.area.y0;
    int room = levels ? levels * (th + 3) + 4 : 0;
    if (c && c->ymin < c->ymax) {
        if (f.y.log && !(c->ymin > 0))
            return nn_fail(e, "%s: log y axis from %g: ymin must be above 0",
                           path, c->ymin);
        f.y.lo = c->ymin, f.y.hi = c->ymax;
    } else if (f.y.log) {
        axis_range(&f.y, lo, hi, 0.05);
        double l0 = log10(f.y.lo), l1 = log10(f.y.hi);
        if (room && ph > 2 * room)
            f.y.hi = pow(10, l1 + (l1 - l0) * room / (ph - room));
    } else {
        lo = fmin(lo, 0), hi = fmax(hi, 0);
        if (hi == lo)
            hi = lo + 1;
        double d = hi - lo;
        f.y.lo = lo < 0 ? lo - 0.05 * d : 0;
        f.y.hi = hi > 0 ? hi + 0.05 * d : 0;
        if (room && ph > 2 * room)
            f.y.hi += (f.y.hi - f.y.lo) * room / (ph - room);
    }
    frame_layout_h(&f);

    nn_image img;
    if (canvas_new(&img, W, H, path, e) < 0)
        return -1;
    frame_grid(&img, &f);
    double slot = (f.area.x1 - 1 - f.area.x0) / (double)(n > 0 ? n : 1);
    int bw = slot >= 3 ? (int)(slot * 0.8) : imax(1, (int)slot);
    double base = f.y.log ? f.area.y1 - 1 : frame_py(&f, 0);
    base = fmin(fmax(base, f.area.y0), f.area.y1 - 1);
    char *marked = calloc(n > 0 ? n : 1, 1);
    if (!marked) {
        nn_image_free(&img);
        return nn_fail(e, "%s: out of memory", path);
    }
    for (int k = 0; k < nlabel; k++)
        marked[label[k]] = 1;
    /* Unlabelled bars first, labelled ones over them in the second colour. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (marked[i] != pass || !isfinite(v[i]) || (f.y.log && v[i] <= 0))
                continue;
            double top = fmin(fmax(frame_py(&f, v[i]), f.area.y0), f.area.y1 - 1);
            int x0 = (int)lround(frame_px(&f, i) - bw / 2.0);
            int y0 = (int)lround(fmin(top, base)), y1 = (int)lround(fmax(top, base));
            fill_rect(&img, imax(x0, f.area.x0), y0, imin(x0 + bw, f.area.x1),
                      y1 + 1, series_colors[pass]);
        }
    frame_axes(&img, &f);
    /* Index labels above their bars, lifted a row when they would cover an
     * earlier label (up to `levels` rows). */
    rect *placed = malloc(sizeof(rect) * (nlabel > 0 ? nlabel : 1));
    if (!placed) {
        free(marked);
        nn_image_free(&img);
        return nn_fail(e, "%s: out of memory", path);
    }
    int np = 0;
    for (int k = 0; k < nlabel; k++) {
        int i = label[k];
        char buf[24];
        snprintf(buf, sizeof buf, "%d", i);
        int tw = nn_text_width(buf, s);
        double top = base;
        if (isfinite(v[i]) && (!f.y.log || v[i] > 0))
            top = fmin(fmax(frame_py(&f, v[i]), f.area.y0), f.area.y1 - 1);
        int x = (int)lround(frame_px(&f, i)) - tw / 2;
        x = imax(f.area.x0 + 1, imin(x, f.area.x1 - 1 - tw));
        /* digits fill font rows 1..7: their bottom 3 pixels above the bar */
        int y = (int)lround(fmin(top, base)) - 3 - 8 * s, dy = 7 * s + 3;
        rect r = {x, y, x + tw, y + th};
        for (int lev = 0; lev < imax(levels, 1); lev++) {
            rect t = {x, y - lev * dy, x + tw, y - lev * dy + 8 * s};
            int clash = 0;
            for (int q = 0; q < np; q++)
                if (t.x0 < placed[q].x1 + 2 && placed[q].x0 < t.x1 + 2 &&
                    t.y0 < placed[q].y1 && placed[q].y0 < t.y1)
                    clash = 1;
            if (!clash) {
                r = t;
                break;
            }
        }
        placed[np++] = r;
        text_halo(&img, r.x0, r.y0, buf, s, C_TEXT);
    }
    free(placed);
    free(marked);
    int rc = nn_image_write(path, &img, e);
    nn_image_free(&img);
    return rc;
}

/* ---- histograms -------------------------------------------------------- */

#define PANEL_W 400
#define PANEL_H 280

/* One histogram panel in box: bins over the finite values' range. */
static int histogram_panel(nn_image *img, rect box, const char *name,
                           const float *v, size_t count, int bins)
{
    double lo = INFINITY, hi = -INFINITY;
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(v[i])) {
            bad++;
            continue;
        }
        lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
    }
    int have = lo <= hi;
    if (!have)
        lo = 0, hi = 1;
    else if (hi - lo <= 1e-9 * fmax(fabs(lo), fabs(hi)))
        lo -= 0.5, hi += 0.5;
    size_t *h = calloc((size_t)bins, sizeof *h);
    if (!h)
        return -1;
    size_t top = 0;
    for (size_t i = 0; have && i < count; i++) {
        if (!isfinite(v[i]))
            continue;
        long b = (long)((v[i] - lo) / (hi - lo) * bins);
        b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
        if (++h[b] > top)
            top = h[b];
    }
    char title[300];
    if (bad)
        snprintf(title, sizeof title, "%s (%zu NaN/Inf)", name ? name : "",
                 bad);
    else
        snprintf(title, sizeof title, "%s", name ? name : "");
    frame f;
    memset(&f, 0, sizeof f);
    f.s = 1;
    f.box = box;
    f.title = title;
    f.x.lo = lo, f.x.hi = hi;
    f.y.lo = 0, f.y.hi = top ? top * 1.08 : 1, f.y.integer = 1;
    frame_layout_v(&f);
    frame_layout_h(&f);
    frame_grid(img, &f);
    double y0 = frame_py(&f, 0);
    for (int b = 0; b < bins && have; b++) {
        if (!h[b])
            continue;
        int x0 = (int)lround(frame_px(&f, lo + (hi - lo) * b / bins));
        int x1 = (int)lround(frame_px(&f, lo + (hi - lo) * (b + 1) / bins));
        int gap = x1 - x0 >= 5; /* a white line between wide bins */
        int yt = (int)lround(frame_py(&f, (double)h[b]));
        fill_rect(img, x0 + gap, yt, imax(x1, x0 + 1), (int)lround(y0) + 1,
                  series_colors[0]);
    }
    frame_axes(img, &f);
    if (!have)
        text_centred(img, (f.area.x0 + f.area.x1) / 2,
                     (f.area.y0 + f.area.y1) / 2 - FONT_H / 2, "no data", 1,
                     C_TEXT);
    free(h);
    return 0;
}

int nn_plot_histograms(const char *path, const char *title,
                       const char *const *name, const float *const *v,
                       const size_t *count, int npanels, int cols, int bins,
                       nn_error *e)
{
    if (!path)
        return nn_fail(e, "histograms: no output path");
    if (npanels < 1 || !v || !count)
        return nn_fail(e, "%s: no histograms to draw (%d panels)", path,
                       npanels);
    for (int i = 0; i < npanels; i++)
        if (count[i] > 0 && !v[i])
            return nn_fail(e, "%s: panel %d has %zu values and no array", path,
                           i, count[i]);
    if (bins < 1)
        bins = 30;
    if (bins > 10000)
        bins = 10000;
    if (cols < 1)
        cols = imin(npanels, 3);
    cols = imin(cols, npanels);
    int rows = (npanels + cols - 1) / cols;
    int top = has_text(title) ? 8 + 2 * FONT_H + 8 : 0;
    if (cols > MAX_SIDE / PANEL_W || rows > (MAX_SIDE - top) / PANEL_H)
        return nn_fail(e, "%s: %d panels in rows of %d make too large a picture",
                       path, npanels, cols);
    int W = cols * PANEL_W, H = top + rows * PANEL_H;
    nn_image img;
    if (canvas_new(&img, W, H, path, e) < 0)
        return -1;
    if (top) {
        char buf[256];
        text_fit(title, W - 16, 2, buf, sizeof buf);
        text_centred(&img, W / 2, 8, buf, 2, C_TEXT);
    }
    for (int i = 0; i < npanels; i++) {
        rect box = {(i % cols) * PANEL_W, top + (i / cols) * PANEL_H, 0, 0};
        box.x1 = box.x0 + PANEL_W, box.y1 = box.y0 + PANEL_H;
        if (histogram_panel(&img, box, name ? name[i] : NULL, v[i], count[i],
                            bins) < 0) {
            nn_image_free(&img);
            return nn_fail(e, "%s: out of memory", path);
        }
    }
    int rc = nn_image_write(path, &img, e);
    nn_image_free(&img);
    return rc;
}

/* ---- heat maps --------------------------------------------------------- */

/* White -> dark blue through light blues, t in [0,1]. */
static void blues(double t, uint8_t rgb[3])
{
    static const uint8_t stop[5][3] = {{255, 255, 255},
                                       {198, 219, 239},
                                       {107, 174, 214},
                                       {33, 113, 181},
                                       {8, 48, 107}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double x = t * 4;
    int i = x >= 4 ? 3 : (int)x;
    double f = x - i;
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)(stop[i][k] + (stop[i + 1][k] - stop[i][k]) * f + 0.5);
}

/* The value written in a heat map cell: whole numbers in full, 2 decimals
 * below 100, else 3 significant digits. */
static void cell_text(double v, int whole, char *buf, size_t n)
{
    if (!isfinite(v) || whole || fabs(v) >= 100)
        fmt_num(v, buf, n);
    else
        snprintf(buf, n, "%.2f", v + 0.0);
}

/* Layout: title on top; row labels at the left (right-aligned); the matrix
 * of square cells; column labels under it, turned to read upwards when
 * wider than a cell; a colour bar at the right only when the cells are too
 * small to hold their numbers. Colours run from white at min(0, smallest)
 * to dark blue at the largest value; NaN cells are grey. */
int nn_plot_heatmap(const char *path, const char *title, const float *m,
                    int rows, int cols, const char *const *row_labels,
                    const char *const *col_labels, nn_error *e)
{
    if (!path)
        return nn_fail(e, "heat map: no output path");
    if (rows < 1 || cols < 1 || rows > 4096 || cols > 4096 || !m)
        return nn_fail(e, "%s: heat map of %dx%d values: need 1..4096 rows "
                       "and columns", path, rows, cols);
    size_t nm = (size_t)rows * cols;
    double lo = INFINITY, hi = -INFINITY;
    int whole = 1;
    for (size_t i = 0; i < nm; i++)
        if (isfinite(m[i])) {
            lo = fmin(lo, m[i]), hi = fmax(hi, m[i]);
            if (m[i] != nearbyint(m[i]) || fabs(m[i]) >= 1e7)
                whole = 0;
        }
    if (!(lo <= hi))
        lo = 0, hi = 1;
    lo = fmin(lo, 0);
    if (!(hi > lo))
        hi = lo + 1;

    /* Cell size and the scale of the numbers in the cells (0: none). */
    char buf[256];
    int tw1 = 0, n = imax(rows, cols);
    for (size_t i = 0; i < nm; i++) {
        cell_text(m[i], whole, buf, sizeof buf);
        tw1 = imax(tw1, nn_text_width(buf, 1));
    }
    int cell = imax(6, imin(64, 560 / n)), ns = 0;
    if (cell >= 2 * tw1 + 8 && cell >= 2 * FONT_H + 8)
        ns = 2;
    else if (cell >= tw1 + 6 && cell >= FONT_H + 6)
        ns = 1;
    else if ((long)n * (tw1 + 6) <= 1400) {
        cell = imax(tw1 + 6, FONT_H + 6);
        ns = 1;
    }
    int mw = cols * cell, mh = rows * cell;

    /* Labels: rows cut to 20 characters, columns to 16; every step-th
     * label when the cells are shorter than the text. */
    int rlw = 0, clw = 0;
    for (int r = 0; r < rows; r++) {
        if (row_labels && row_labels[r])
            text_fit(row_labels[r], 20 * FONT_W, 1, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%d", r);
        rlw = imax(rlw, nn_text_width(buf, 1));
    }
    for (int c = 0; c < cols; c++) {
        if (col_labels && col_labels[c])
            text_fit(col_labels[c], 16 * FONT_W, 1, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%d", c);
        clw = imax(clw, nn_text_width(buf, 1));
    }
    int turned = clw > cell - 4;
    int rstep = (FONT_H + 2 + cell - 1) / cell;
    int cstep = turned ? rstep : 1;
    int colh = turned ? clw : FONT_H;

    int top = has_text(title) ? 8 + 2 * FONT_H + 12 : 12;
    int mx = 12 + rlw + 8, my = top;
    char lob[32], hib[32];
    fmt_num(lo, lob, sizeof lob);
    fmt_num(hi, hib, sizeof hib);
    int barw = ns ? 0 : 16 + 14 + 6 + imax(nn_text_width(lob, 1),
                                           nn_text_width(hib, 1));
    int W = mx + mw + barw + 16, H = my + mh + 6 + colh + 12;
    if (has_text(title))
        W = imax(W, imin(nn_text_width(title, 2) + 24, 1600));
    nn_image img;
    if (canvas_new(&img, W, H, path, e) < 0)
        return -1;
    if (has_text(title)) {
        text_fit(title, W - 16, 2, buf, sizeof buf);
        int w = nn_text_width(buf, 2);
        int x = imax(8, imin(mx + mw / 2 - w / 2, W - 8 - w));
        nn_draw_text(&img, x, 8, buf, 2, C_TEXT);
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double val = m[(size_t)r * cols + c];
            uint8_t bg[3];
            if (isfinite(val))
                blues((val - lo) / (hi - lo), bg);
            else
                memcpy(bg, C_MISSING, 3);
            int x0 = mx + c * cell, y0 = my + r * cell;
            fill_rect(&img, x0, y0, x0 + cell, y0 + cell, bg);
            if (!ns)
                continue;
            cell_text(val, whole, buf, sizeof buf);
            int luma = (299 * bg[0] + 587 * bg[1] + 114 * bg[2]) / 1000;
            const uint8_t *fg = luma < 140 ? C_WHITE : C_TEXT;
            nn_draw_text(&img, x0 + (cell - nn_text_width(buf, ns)) / 2,
                         y0 + (cell - FONT_H * ns) / 2 + ns / 2, buf, ns, fg);
        }
    outline(&img, mx, my, mx + mw, my + mh, C_AXIS);
    for (int r = 0; r < rows; r += rstep) {
        if (row_labels && row_labels[r])
            text_fit(row_labels[r], 20 * FONT_W, 1, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%d", r);
        nn_draw_text(&img, mx - 6 - nn_text_width(buf, 1),
                     my + r * cell + (cell - FONT_H) / 2, buf, 1, C_TEXT);
    }
    for (int c = 0; c < cols; c += cstep) {
        if (col_labels && col_labels[c])
            text_fit(col_labels[c], 16 * FONT_W, 1, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%d", c);
        int cx = mx + c * cell + cell / 2;
        if (turned)
            text_rot(&img, cx - FONT_H / 2, my + mh + 6, buf, 1, C_TEXT);
        else
            text_centred(&img, cx, my + mh + 6, buf, 1, C_TEXT);
    }
    if (!ns) { /* colour bar, hi at the top */
        int bx = mx + mw + 16;
        for (int y = 0; y < mh; y++) {
            uint8_t rgb[3];
            blues(mh > 1 ? 1 - y / (double)(mh - 1) : 1, rgb);
            fill_rect(&img, bx, my + y, bx + 14, my + y + 1, rgb);
        }
        outline(&img, bx, my, bx + 14, my + mh, C_AXIS);
        nn_draw_text(&img, bx + 20, my, hib, 1, C_TEXT);
        nn_draw_text(&img, bx + 20, my + mh - FONT_H, lob, 1, C_TEXT);
    }
    int rc = nn_image_write(path, &img, e);
    nn_image_free(&img);
    return rc;
}

/* ---- images as pictures ------------------------------------------------ */

int nn_image_from_floats(const float *chw, int c, int h, int w, float lo,
                         float hi, nn_image *out, nn_error *e)
{
    if (out)
        out->w = out->h = out->c = 0, out->data = NULL;
    if (!chw || !out || (c != 1 && c != 3) || h < 1 || w < 1)
        return nn_fail(e, "image from floats: need a [c,h,w] tensor with c 1 "
                       "or 3 (got %dx%dx%d)", c, h, w);
    if (!isfinite(lo) || !isfinite(hi))
        return nn_fail(e, "image from floats: range [%g, %g] is not finite",
                       lo, hi);
    size_t plane = (size_t)h * w;
    double a = lo, b = hi;
    if (a == b) { /* the tensor's own range */
        a = INFINITY, b = -INFINITY;
        for (size_t i = 0; i < plane * c; i++)
            if (isfinite(chw[i]))
                a = fmin(a, chw[i]), b = fmax(b, chw[i]);
        if (!(a <= b))
            a = b = 0;
    }
    if (nn_image_alloc(out, w, h, c, e) < 0)
        return -1;
    /* A constant tensor (a == b) maps to 0, like lo. */
    double scale = a != b ? 255.0 / (b - a) : 0;
    for (int k = 0; k < c; k++)
        for (size_t i = 0; i < plane; i++) {
            double x = chw[k * plane + i];
            double t = isnan(x) ? 0 : (x - a) * scale;
            t = t < 0 ? 0 : t > 255 ? 255 : t;
            out->data[i * c + k] = (uint8_t)(t + 0.5);
        }
    return 0;
}

#define GRID_LABEL_H (FONT_H + 2) /* a label row above each tile */

/* Layout: cols columns (<= 0: about square; more than ntiles: ntiles);
 * every cell is as large as the largest tile times zoom, tiles centred in
 * their cells; with labels each cell has a GRID_LABEL_H row on top. The
 * sheet is cols*cw + (cols+1)*pad wide and rows*(ch+label) + (rows+1)*pad
 * tall, white behind the tiles. */
int nn_image_grid(const nn_image *tiles, int ntiles, int cols, int pad,
                  int zoom, const char *const *labels, nn_image *out,
                  nn_error *e)
{
    if (out)
        out->w = out->h = out->c = 0, out->data = NULL;
    if (!tiles || ntiles < 1 || !out)
        return nn_fail(e, "image grid: no tiles (%d)", ntiles);
    if (pad < 0 || zoom < 0)
        return nn_fail(e, "image grid: pad %d and zoom %d must not be negative",
                       pad, zoom);
    int maxw = 0, maxh = 0;
    for (int i = 0; i < ntiles; i++) {
        const nn_image *t = &tiles[i];
        if (!t->data || t->w < 1 || t->h < 1 ||
            (t->c != 1 && t->c != 3 && t->c != 4))
            return nn_fail(e, "image grid: tile %d is not an image (%dx%dx%d)",
                           i, t->w, t->h, t->c);
        maxw = imax(maxw, t->w), maxh = imax(maxh, t->h);
    }
    if (!zoom)
        zoom = imax(1, (64 + imax(maxw, maxh) - 1) / imax(maxw, maxh));
    if (cols < 1)
        cols = (int)ceil(sqrt((double)ntiles));
    cols = imin(cols, ntiles);
    int rows = (ntiles + cols - 1) / cols, lab = labels ? GRID_LABEL_H : 0;
    long cw = (long)maxw * zoom, chh = (long)maxh * zoom;
    long W = cols * cw + (cols + 1L) * pad;
    long H = rows * (chh + lab) + (rows + 1L) * pad;
    if (zoom > MAX_SIDE || W > MAX_SIDE || H > MAX_SIDE || W < 1 || H < 1)
        return nn_fail(e, "image grid: %d tiles of up to %dx%d at zoom %d in "
                       "%d columns make a sheet over %d pixels a side",
                       ntiles, maxw, maxh, zoom, cols, MAX_SIDE);
    if (canvas_new(out, (int)W, (int)H, "image grid", e) < 0)
        return -1;
    for (int i = 0; i < ntiles; i++) {
        const nn_image *t = &tiles[i];
        int x0 = pad + (int)((i % cols) * (cw + pad));
        int y0 = pad + (int)((i / cols) * (chh + lab + pad));
        if (labels && labels[i]) {
            char buf[256];
            text_fit(labels[i], (int)cw, 1, buf, sizeof buf);
            nn_draw_text(out, x0, y0, buf, 1, C_TEXT);
        }
        int ox = x0 + (int)(cw - (long)t->w * zoom) / 2;
        int oy = y0 + lab + (int)(chh - (long)t->h * zoom) / 2;
        for (int y = 0; y < t->h * zoom; y++) {
            const uint8_t *src = t->data + (size_t)(y / zoom) * t->w * t->c;
            uint8_t *dst = out->data + ((size_t)(oy + y) * out->w + ox) * 3;
            for (int x = 0; x < t->w * zoom; x++) {
                const uint8_t *p = src + (size_t)(x / zoom) * t->c;
                dst[3 * x + 0] = p[0];
                dst[3 * x + 1] = t->c >= 3 ? p[1] : p[0];
                dst[3 * x + 2] = t->c >= 3 ? p[2] : p[0];
            }
        }
    }
    return 0;
}
