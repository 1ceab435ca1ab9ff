/* test_plot.c - pictures for people: the font, charts, heat maps, image
 * sheets and GIFs. The checks are properties of the pictures (where the
 * coloured, dark and text pixels are), read back from the written files,
 * not pixel-exact golden images. */
#include "nn.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <gif_lib.h>
#include <math.h>
#include <unistd.h>

static char dir[512];

static const char *tmp_path(const char *name)
{
    static char buf[8][700];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static const uint8_t *px(const nn_image *im, int x, int y)
{
    return im->data + ((size_t)y * im->w + x) * im->c;
}

static int luma(const uint8_t *p)
{
    return (299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000;
}

/* Within tol of rgb in every channel. */
static int near_rgb(const uint8_t *p, int r, int g, int b, int tol)
{
    return abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
}

/* Text colour: near black and neutral (axes are a lighter grey, cells and
 * series are coloured). */
static int is_dark(const uint8_t *p) { return luma(p) < 60 && abs(p[0] - p[2]) < 40; }

/* Reads a written PNG back as RGB; 0 on success. */
static int read_rgb(const char *path, nn_image *out)
{
    nn_error e;
    nn_image im;
    if (nn_image_read(path, &im, &e) < 0) {
        printf("  %s\n", e.msg);
        return -1;
    }
    if (im.c == 3) {
        *out = im;
        return 0;
    }
    int rc = nn_image_convert(&im, 3, out, &e);
    nn_image_free(&im);
    return rc;
}

static long count_dark(const nn_image *im, int x0, int y0, int x1, int y1)
{
    long n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < im->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < im->w; x++)
            n += is_dark(px(im, x, y));
    return n;
}

/* ---- font ----------------------------------------------------------- */

static void test_font(void)
{
    static const uint8_t black[3] = {0, 0, 0};
    nn_error e;
    nn_image im;

    TEST("font: \"8\" sets pixels inside its 6x10 cell only");
    for (int scale = 1; scale <= 3; scale++) {
        CHECK(nn_image_alloc(&im, 60, 60, 3, &e) == 0);
        memset(im.data, 255, (size_t)60 * 60 * 3);
        nn_draw_text(&im, 10, 20, "8", scale, black);
        long in = 0, out = 0;
        for (int y = 0; y < 60; y++)
            for (int x = 0; x < 60; x++) {
                int set = px(&im, x, y)[0] != 255;
                int inside = x >= 10 && x < 10 + 6 * scale && y >= 20 &&
                             y < 20 + 10 * scale;
                in += set && inside;
                out += set && !inside;
            }
        CHECK_MSG(in >= 10 * scale * scale && out == 0,
                  "scale %d: %ld pixels inside, %ld outside", scale, in, out);
        nn_image_free(&im);
    }

    TEST("font: text width is 6 pixels a character times the scale");
    CHECK(nn_text_width("abc", 1) == 18);
    CHECK(nn_text_width("abc", 2) == 36);
    CHECK(nn_text_width("", 1) == 0);
    CHECK(nn_text_width("ab\nabcd", 1) == 24); /* the longest line */

    TEST("font: every printable character has its own, non-empty glyph "
         "(space excepted)");
    {
        static uint8_t cell[95][60];
        nn_image g = {6, 10, 1, NULL};
        static const uint8_t white[3] = {255, 255, 255};
        for (int c = 32; c < 127; c++) {
            char s[2] = {(char)c, 0};
            g.data = cell[c - 32];
            memset(g.data, 0, 60);
            nn_draw_text(&g, 0, 0, s, 1, white);
            int n = 0;
            for (int i = 0; i < 60; i++)
                n += g.data[i] != 0;
            CHECK_MSG((c == ' ') == (n == 0), "'%c' has %d pixels", c, n);
            /* the spacing column 5 stays clear */
            for (int y = 0; y < 10; y++)
                CHECK_MSG(!g.data[y * 6 + 5], "'%c' touches column 5", c);
        }
        for (int a = 0; a < 95; a++)
            for (int b = a + 1; b < 95; b++)
                CHECK_MSG(memcmp(cell[a], cell[b], 60), "'%c' and '%c' look the same",
                          a + 32, b + 32);
    }

    TEST("font: gray and RGBA images and clipping at the edges");
    CHECK(nn_image_alloc(&im, 8, 8, 1, &e) == 0);
    memset(im.data, 0, 64);
    static const uint8_t white[3] = {255, 255, 255};
    nn_draw_text(&im, -1, -2, "#", 2, white); /* partly outside */
    nn_draw_text(&im, 1000, 1000, "x", 1, white);
    long set = 0;
    for (int i = 0; i < 64; i++)
        set += im.data[i] == 255;
    CHECK(set > 0);
    nn_image_free(&im);
    CHECK(nn_image_alloc(&im, 12, 12, 4, &e) == 0);
    memset(im.data, 0, 12 * 12 * 4);
    nn_draw_text(&im, 0, 0, "A", 1, white);
    CHECK(px(&im, 0, 3)[3] == 255 && px(&im, 0, 3)[0] == 255); /* 'A' row 3 col 0 */
    nn_image_free(&im);
}

/* ---- images from floats and image sheets ---------------------------- */

static void test_from_floats(void)
{
    nn_error e;
    nn_image im;
    TEST("image from floats: lo -> 0, hi -> 255, clamped, NaN -> 0");
    float v[6] = {-1, 3, 1, 10, -5, NAN};
    CHECK(nn_image_from_floats(v, 1, 2, 3, -1, 3, &im, &e) == 0);
    CHECK(im.w == 3 && im.h == 2 && im.c == 1);
    CHECK(im.data[0] == 0 && im.data[1] == 255 && im.data[2] == 128);
    CHECK(im.data[3] == 255 && im.data[4] == 0 && im.data[5] == 0);
    nn_image_free(&im);

    TEST("image from floats: lo == hi uses the tensor's own min and max");
    float w[4] = {2, 4, 6, 3};
    CHECK(nn_image_from_floats(w, 1, 1, 4, 0, 0, &im, &e) == 0);
    CHECK(im.data[0] == 0 && im.data[2] == 255 && im.data[1] == 128);
    nn_image_free(&im);

    TEST("image from floats: 3 planes become interleaved RGB");
    float rgb[3 * 2] = {0, 1, /* R */ 1, 0, /* G */ 0.5f, 0.5f /* B */};
    CHECK(nn_image_from_floats(rgb, 3, 1, 2, 0, 1, &im, &e) == 0);
    CHECK(im.c == 3);
    CHECK(im.data[0] == 0 && im.data[1] == 255 && im.data[2] == 128);
    CHECK(im.data[3] == 255 && im.data[4] == 0 && im.data[5] == 128);
    nn_image_free(&im);

    TEST("image from floats: bad channel count is an error");
    CHECK(nn_image_from_floats(rgb, 2, 1, 2, 0, 1, &im, &e) == -1);
    CHECK(strstr(e.msg, "c 1 or 3") != NULL);
}

static void test_grid(void)
{
    nn_error e;
    nn_image tiles[5], sheet;
    for (int i = 0; i < 5; i++) {
        int c = i % 2 ? 1 : 3;
        CHECK(nn_image_alloc(&tiles[i], 8, 6, c, &e) == 0);
        for (int k = 0; k < 8 * 6 * c; k++)
            tiles[i].data[k] = (uint8_t)(i * 40 + k % 7);
    }
    TEST("image grid: width and height add up (cols, pad, zoom)");
    CHECK(nn_image_grid(tiles, 5, 3, 2, 4, NULL, &sheet, &e) == 0);
    CHECK_MSG(sheet.w == 3 * 8 * 4 + 4 * 2 && sheet.h == 2 * 6 * 4 + 3 * 2,
              "sheet %dx%d", sheet.w, sheet.h);
    CHECK(sheet.c == 3);
    /* tile 4 (row 1, column 1) pixel (x, y) is zoomed into 4x4 blocks */
    if (sheet.data) {
        int ox = 2 + 1 * (32 + 2), oy = 2 + 1 * (24 + 2);
        const uint8_t *p = px(&sheet, ox + 4 * 3 + 2, oy + 4 * 2 + 1);
        const uint8_t *q = tiles[4].data + (2 * 8 + 3) * 3;
        CHECK(p[0] == q[0] && p[1] == q[1] && p[2] == q[2]);
        /* a gray tile is repeated over the three channels */
        p = px(&sheet, 2 + 32 + 2, 2);
        CHECK(p[0] == tiles[1].data[0] && p[1] == p[0] && p[2] == p[0]);
        /* the padding stays white */
        CHECK(near_rgb(px(&sheet, 0, 0), 255, 255, 255, 0));
        CHECK(near_rgb(px(&sheet, 2 + 32, 10), 255, 255, 255, 0));
    }
    nn_image_free(&sheet);

    TEST("image grid: labels add a text row above each tile");
    const char *labels[5] = {"zero", "one", NULL, "three", "four"};
    CHECK(nn_image_grid(tiles, 5, 3, 2, 4, labels, &sheet, &e) == 0);
    int lab = sheet.h - (2 * 6 * 4 + 3 * 2);
    CHECK_MSG(lab > 0 && lab % 2 == 0, "label rows add %d", lab);
    lab /= 2;
    if (sheet.data) {
        CHECK(count_dark(&sheet, 2, 2, 2 + 32, 2 + lab) > 10);       /* "zero" */
        CHECK(count_dark(&sheet, 2 + 2 * 34, 2, 2 + 2 * 34 + 32, 2 + lab) == 0); /* NULL */
        /* the tile sits under its label */
        const uint8_t *p = px(&sheet, 2, 2 + lab);
        CHECK(p[0] == tiles[0].data[0]);
    }
    nn_image_free(&sheet);

    TEST("image grid: zoom 0 makes tiles at least 64 pixels");
    CHECK(nn_image_grid(tiles, 5, 5, 0, 0, NULL, &sheet, &e) == 0);
    CHECK_MSG(sheet.w >= 5 * 64 && sheet.w % 5 == 0 && sheet.w / 5 % 8 == 0 &&
                  sheet.w / 5 < 2 * 64,
              "sheet %dx%d", sheet.w, sheet.h);
    nn_image_free(&sheet);

    TEST("image grid: no tiles is an error");
    CHECK(nn_image_grid(tiles, 0, 3, 2, 1, NULL, &sheet, &e) == -1);
    for (int i = 0; i < 5; i++)
        nn_image_free(&tiles[i]);
}

/* ---- line charts ----------------------------------------------------- */

/* The series pixels (colour of series 0) of a chart: their bounding box,
 * and the largest distance of any of them from the box's rising diagonal
 * (bottom left to top right). Pixels in the exclude box are not counted. */
typedef struct diag_stats {
    long n;
    int x0, y0, x1, y1;
    double maxdist;
    int gaps; /* of 20 points along the diagonal, those with no series pixel
                 within 3 pixels */
} diag_stats;

static diag_stats diagonal(const nn_image *im, int ex0, int ey0, int ex1,
                           int ey1)
{
    diag_stats d = {0, im->w, im->h, -1, -1, 0, 0};
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            if (x >= ex0 && x < ex1 && y >= ey0 && y < ey1)
                continue;
            if (!near_rgb(px(im, x, y), 0, 114, 178, 30))
                continue;
            d.n++;
            d.x0 = x < d.x0 ? x : d.x0, d.x1 = x > d.x1 ? x : d.x1;
            d.y0 = y < d.y0 ? y : d.y0, d.y1 = y > d.y1 ? y : d.y1;
        }
    if (!d.n)
        return d;
    double ax = d.x0, ay = d.y1, bx = d.x1, by = d.y0;
    double len = hypot(bx - ax, by - ay);
    for (int y = d.y0; y <= d.y1; y++)
        for (int x = d.x0; x <= d.x1; x++) {
            if (x >= ex0 && x < ex1 && y >= ey0 && y < ey1)
                continue;
            if (!near_rgb(px(im, x, y), 0, 114, 178, 30))
                continue;
            double dist = fabs((bx - ax) * (ay - y) - (ax - x) * (by - ay)) / len;
            if (dist > d.maxdist)
                d.maxdist = dist;
        }
    for (int k = 0; k <= 19; k++) {
        double qx = ax + (bx - ax) * k / 19, qy = ay + (by - ay) * k / 19;
        int found = 0;
        for (int y = (int)qy - 3; y <= (int)qy + 3 && !found; y++)
            for (int x = (int)qx - 3; x <= (int)qx + 3 && !found; x++)
                if (x >= 0 && y >= 0 && x < im->w && y < im->h &&
                    near_rgb(px(im, x, y), 0, 114, 178, 30))
                    found = 1;
        d.gaps += !found;
    }
    return d;
}

/* The plot area's frame: the outermost rows and columns more than half
 * covered by the grey of the axes. */
static int find_frame(const nn_image *im, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = *y0 = 1 << 30, *x1 = *y1 = -1;
    for (int y = 0; y < im->h; y++) {
        int n = 0;
        for (int x = 0; x < im->w; x++)
            n += near_rgb(px(im, x, y), 80, 80, 80, 20);
        if (n > im->w / 2)
            *y0 = y < *y0 ? y : *y0, *y1 = y > *y1 ? y : *y1;
    }
    for (int x = 0; x < im->w; x++) {
        int n = 0;
        for (int y = 0; y < im->h; y++)
            n += near_rgb(px(im, x, y), 80, 80, 80, 20);
        if (n > im->h / 2)
            *x0 = x < *x0 ? x : *x0, *x1 = x > *x1 ? x : *x1;
    }
    return *x1 > *x0 && *y1 > *y0;
}

static void test_lines(void)
{
    nn_error e;
    nn_image a, b, t;
    float x[3] = {0, 0.5f, 1}, y[3] = {0, 0.5f, 1};
    nn_series s = {NULL, x, y, 3, 0};
    nn_chart c = {NULL, "x", "y", 0, 0, 0, 0, 0};

    TEST("lines: y = x draws series pixels along the plot's diagonal only");
    CHECK(nn_plot_lines(tmp_path("diag.png"), &c, &s, 1, &e) == 0);
    CHECK(read_rgb(tmp_path("diag.png"), &a) == 0);
    CHECK(a.w == 800 && a.h == 500);
    if (a.data) {
        diag_stats d = diagonal(&a, 0, 0, 0, 0);
        CHECK_MSG(d.x1 - d.x0 > 0.7 * a.w && d.y1 - d.y0 > 0.6 * a.h,
                  "series spans %d..%d x %d..%d", d.x0, d.x1, d.y0, d.y1);
        /* inside the picture with margins for axes and labels */
        CHECK(d.x0 > 20 && d.y1 < a.h - 20 && d.x1 < a.w - 5 && d.y0 > 5);
        /* the plot area: x from edge to edge, y inside with a margin */
        int fx0, fy0, fx1, fy1;
        CHECK(find_frame(&a, &fx0, &fy0, &fx1, &fy1));
        CHECK_MSG(abs(d.x0 - fx0) <= 3 && abs(d.x1 - fx1) <= 3 && d.y0 > fy0 &&
                      d.y1 < fy1 && d.y1 - d.y0 > 0.8 * (fy1 - fy0),
                  "series %d..%d x %d..%d, frame %d..%d x %d..%d", d.x0, d.x1,
                  d.y0, d.y1, fx0, fx1, fy0, fy1);
        CHECK_MSG(d.maxdist < 3, "a series pixel is %.1f px off the diagonal",
                  d.maxdist);
        CHECK_MSG(d.gaps == 0, "%d gaps along the diagonal", d.gaps);
        /* axis tick labels are dark pixels left of and under the plot */
        CHECK(count_dark(&a, 0, d.y0, d.x0 - 2, d.y1) > 20);
        CHECK(count_dark(&a, d.x0, d.y1 + 3, d.x1, a.h) > 20);
        /* no title: nothing dark above the plot */
        CHECK(count_dark(&a, 0, 0, a.w, d.y0 - 10) == 0);
    }

    TEST("lines: a title puts dark pixels above the plot");
    c.title = "Diagonal";
    CHECK(nn_plot_lines(tmp_path("title.png"), &c, &s, 1, &e) == 0);
    CHECK(read_rgb(tmp_path("title.png"), &t) == 0);
    if (t.data) {
        diag_stats d = diagonal(&t, 0, 0, 0, 0);
        CHECK_MSG(count_dark(&t, 0, 0, t.w, d.y0 - 10) > 30,
                  "%ld dark pixels above", count_dark(&t, 0, 0, t.w, d.y0 - 10));
        CHECK(d.maxdist < 3 && d.gaps == 0);
    }

    TEST("lines: a labelled series gets a legend: swatch and dark text");
    s.label = "y equals x";
    CHECK(nn_plot_lines(tmp_path("legend.png"), &c, &s, 1, &e) == 0);
    CHECK(read_rgb(tmp_path("legend.png"), &b) == 0);
    if (b.data && t.data && b.w == t.w && b.h == t.h) {
        /* where the two pictures differ: the legend box */
        int x0 = b.w, y0 = b.h, x1 = -1, y1 = -1;
        for (int yy = 0; yy < b.h; yy++)
            for (int xx = 0; xx < b.w; xx++)
                if (memcmp(px(&b, xx, yy), px(&t, xx, yy), 3)) {
                    x0 = xx < x0 ? xx : x0, x1 = xx > x1 ? xx : x1;
                    y0 = yy < y0 ? yy : y0, y1 = yy > y1 ? yy : y1;
                }
        CHECK_MSG(x1 > x0 && y1 > y0 && x1 - x0 < b.w / 2 && y1 - y0 < b.h / 4,
                  "differences over %d..%d x %d..%d", x0, x1, y0, y1);
        long dark = count_dark(&b, x0, y0, x1 + 1, y1 + 1);
        int tw = nn_text_width("y equals x", 1);
        CHECK_MSG(dark > 40 && x1 - x0 > tw, "legend: %ld dark pixels, %d wide",
                  dark, x1 - x0);
        long swatch = 0;
        for (int yy = y0; yy <= y1; yy++)
            for (int xx = x0; xx <= x1; xx++)
                swatch += near_rgb(px(&b, xx, yy), 0, 114, 178, 30);
        CHECK_MSG(swatch >= 15, "swatch has %ld series pixels", swatch);
        /* outside the legend the series is still the diagonal */
        diag_stats d = diagonal(&b, x0, y0, x1 + 1, y1 + 1);
        CHECK(d.maxdist < 3);
    }
    nn_image_free(&a);
    nn_image_free(&b);
    nn_image_free(&t);

    TEST("lines: a log y axis draws y = 10^x as a straight diagonal");
    {
        float lx[31], ly[31];
        for (int i = 0; i < 31; i++)
            lx[i] = i / 10.0f, ly[i] = powf(10, lx[i] - 2);
        nn_series ls = {NULL, lx, ly, 31, 0};
        nn_chart lc = {NULL, NULL, NULL, 640, 400, 1, 0, 0};
        CHECK(nn_plot_lines(tmp_path("log.png"), &lc, &ls, 1, &e) == 0);
        CHECK(read_rgb(tmp_path("log.png"), &a) == 0);
        CHECK(a.w == 640 && a.h == 400);
        if (a.data) {
            diag_stats d = diagonal(&a, 0, 0, 0, 0);
            CHECK_MSG(d.maxdist < 3 && d.gaps == 0 && d.x1 - d.x0 > 0.6 * a.w,
                      "max %.1f px off, %d gaps", d.maxdist, d.gaps);
        }
        nn_image_free(&a);
    }

    TEST("lines: NaN and Inf values are skipped, the line breaks there");
    {
        float yy[9] = {0, 1, 2, 3, NAN, 5, 6, INFINITY, 8};
        nn_series ns = {NULL, NULL, yy, 9, 0};
        CHECK(nn_plot_lines(tmp_path("nan.png"), NULL, &ns, 1, &e) == 0);
        CHECK(read_rgb(tmp_path("nan.png"), &a) == 0);
        if (a.data) {
            diag_stats d = diagonal(&a, 0, 0, 0, 0);
            /* still on the diagonal of y = x - 1, with a gap at x = 5 */
            CHECK_MSG(d.maxdist < 4, "max %.1f px off", d.maxdist);
            CHECK_MSG(d.gaps >= 2 && d.gaps <= 10, "%d gaps", d.gaps);
        }
        nn_image_free(&a);
    }

    TEST("lines: a constant series gets a range around its value");
    {
        float k[5] = {3, 3, 3, 3, 3};
        nn_series ks = {"flat", NULL, k, 5, 0};
        CHECK(nn_plot_lines(tmp_path("flat.png"), NULL, &ks, 1, &e) == 0);
        CHECK(read_rgb(tmp_path("flat.png"), &a) == 0);
        if (a.data) {
            /* a horizontal line in the middle third of the picture */
            int rows = 0, ymin = a.h, ymax = 0;
            for (int yy = 0; yy < a.h; yy++) {
                int cnt = 0;
                for (int xx = 0; xx < a.w; xx++)
                    cnt += near_rgb(px(&a, xx, yy), 0, 114, 178, 30);
                if (cnt > a.w / 2) {
                    rows++;
                    ymin = yy < ymin ? yy : ymin, ymax = yy > ymax ? yy : ymax;
                }
            }
            CHECK_MSG(rows >= 1 && rows <= 3 && ymin > a.h / 3 && ymax < 2 * a.h / 3,
                      "%d full rows at %d..%d", rows, ymin, ymax);
        }
        nn_image_free(&a);
    }

    TEST("lines: empty series, no series and single points still give a chart");
    {
        float one = 2, nan = NAN;
        nn_series es[3] = {{"empty", NULL, NULL, 0, 0}, {"nan", NULL, &nan, 1, 1},
                           {"one", NULL, &one, 1, 0}};
        CHECK(nn_plot_lines(tmp_path("empty.png"), NULL, es, 2, &e) == 0);
        CHECK(nn_plot_lines(tmp_path("none.png"), NULL, NULL, 0, &e) == 0);
        CHECK(nn_plot_lines(tmp_path("one.png"), NULL, es, 3, &e) == 0);
        CHECK(read_rgb(tmp_path("empty.png"), &a) == 0);
        nn_image_free(&a);
        CHECK(read_rgb(tmp_path("one.png"), &a) == 0);
        if (a.data) { /* the lone point is a dot of series 2's colour */
            long n = 0;
            for (int yy = 0; yy < a.h; yy++)
                for (int xx = 0; xx < a.w; xx++)
                    n += near_rgb(px(&a, xx, yy), 0, 158, 115, 30);
            CHECK_MSG(n >= 9, "%ld dot pixels", n); /* dot and legend swatch */
        }
        nn_image_free(&a);
    }

    TEST("lines: many series and a user y range");
    {
        float yy[12][20];
        nn_series ms[12];
        for (int i = 0; i < 12; i++) {
            for (int j = 0; j < 20; j++)
                yy[i][j] = sinf(j * 0.3f + i) * 100;
            ms[i] = (nn_series){"series", NULL, yy[i], 20, i % 2};
        }
        nn_chart mc = {"twelve", NULL, NULL, 1000, 0, 0, -50, 50};
        CHECK(nn_plot_lines(tmp_path("many.png"), &mc, ms, 12, &e) == 0);
        CHECK(read_rgb(tmp_path("many.png"), &a) == 0);
        CHECK(a.w == 1000 && a.h == 625);
        nn_image_free(&a);
    }

    TEST("lines: extreme, tiny-range and clipped values still give charts");
    {
        static float big[2] = {-3e38f, 3e38f}, near1[3] = {1, 1.0000001f, 1.0000002f};
        static float same_x[3] = {5, 5, 5}, tiny[2] = {1e-30f, 2e-30f};
        static float noisy[100000];
        nn_rng r;
        nn_rng_seed(&r, 3);
        for (int i = 0; i < 100000; i++)
            noisy[i] = (float)nn_rng_normal(&r) * 1e6f;
        nn_series xs[5] = {{"big", NULL, big, 2, 0}, {"near 1", NULL, near1, 3, 1},
                           {"same x", same_x, near1, 3, 0}, {"tiny", NULL, tiny, 2, 0},
                           {"noisy", NULL, noisy, 100000, 0}};
        for (int i = 0; i < 5; i++) {
            CHECK_MSG(nn_plot_lines(tmp_path("x.png"), NULL, &xs[i], 1, &e) == 0,
                      "%s: %s", xs[i].label, e.msg);
            nn_chart lc = {NULL, NULL, NULL, 0, 0, 1, 0, 0};
            CHECK_MSG(nn_plot_lines(tmp_path("x.png"), &lc, &xs[i], 1, &e) == 0,
                      "log %s: %s", xs[i].label, e.msg);
        }
        /* a user range much narrower than the data: segments are clipped */
        nn_chart nc = {NULL, NULL, NULL, 0, 0, 0, -1e-3f, 1e-3f};
        CHECK(nn_plot_lines(tmp_path("x.png"), &nc, &xs[4], 1, &e) == 0);
        CHECK(nn_plot_bars(tmp_path("x.png"), &nc, noisy, 5000, NULL, 0, &e) == 0);
        float allnan[3] = {NAN, INFINITY, -INFINITY};
        CHECK(nn_plot_bars(tmp_path("x.png"), NULL, allnan, 3, NULL, 0, &e) == 0);
        const float *hv[2] = {allnan, big};
        size_t hn[2] = {3, 2};
        CHECK(nn_plot_histograms(tmp_path("x.png"), NULL, NULL, hv, hn, 2, 0, 0, &e) == 0);
        CHECK(nn_plot_heatmap(tmp_path("x.png"), NULL, allnan, 1, 3, NULL, NULL, &e) == 0);
        CHECK(nn_plot_heatmap(tmp_path("x.png"), NULL, big, 2, 1, NULL, NULL, &e) == 0);
    }

    TEST("lines: bad input and unwritable paths are errors naming the file");
    {
        nn_series bad = {NULL, NULL, NULL, 4, 0};
        CHECK(nn_plot_lines(tmp_path("bad.png"), NULL, &bad, 1, &e) == -1);
        CHECK(strstr(e.msg, "bad.png") != NULL);
        CHECK(nn_plot_lines(tmp_path("neg.png"), NULL, &s, -1, &e) == -1);
        nn_chart small = {NULL, NULL, NULL, 20, 10, 0, 0, 0};
        CHECK(nn_plot_lines(tmp_path("small.png"), &small, &s, 1, &e) == -1);
        nn_chart lg = {NULL, NULL, NULL, 0, 0, 1, -1, 1};
        CHECK(nn_plot_lines(tmp_path("lg.png"), &lg, &s, 1, &e) == -1);
        CHECK(nn_plot_lines(tmp_path("no/such/dir.png"), NULL, &s, 1, &e) == -1);
        CHECK_MSG(strstr(e.msg, "no/such/dir.png") != NULL, "message: %s", e.msg);
    }
}

/* ---- bar charts ------------------------------------------------------ */

static void test_bars(void)
{
    nn_error e;
    nn_image a;
    float v[40];
    for (int i = 0; i < 40; i++)
        v[i] = 1 + (i % 3) * 0.2f;
    v[27] = 5;
    int label[1] = {27};
    nn_chart c = {"spikes", "filter", "mean", 0, 0, 0, 0, 0};

    TEST("bars: the labelled bar has its index written above it");
    CHECK(nn_plot_bars(tmp_path("bars.png"), &c, v, 40, label, 1, &e) == 0);
    CHECK(read_rgb(tmp_path("bars.png"), &a) == 0);
    if (a.data) {
        /* the labelled bar is the vermillion one */
        int x0 = a.w, x1 = -1, y0 = a.h, y1 = -1;
        for (int y = 0; y < a.h; y++)
            for (int x = 0; x < a.w; x++)
                if (near_rgb(px(&a, x, y), 213, 94, 0, 10)) {
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                }
        CHECK_MSG(x1 >= x0 && x1 - x0 < 20 && y1 - y0 > a.h / 3,
                  "labelled bar at %d..%d x %d..%d", x0, x1, y0, y1);
        /* it stands at index 27 of 40: about 27.5/40 across the bars */
        long blue_left = 0, blue_right = 0;
        for (int x = 0; x < a.w; x++)
            if (near_rgb(px(&a, x, y1 - 2), 0, 114, 178, 10))
                *(x < x0 ? &blue_left : &blue_right) += 1;
        CHECK_MSG(blue_left * 10 > blue_right * 18 &&
                      blue_left * 10 < blue_right * 27,
                  "bars left %ld, right %ld",
                  blue_left, blue_right);
        long text = count_dark(&a, x0 - 10, y0 - 16, x1 + 11, y0);
        CHECK_MSG(text > 8, "%ld dark pixels above the bar", text);
        /* bars are filled: the middle of the labelled bar is coloured */
        CHECK(near_rgb(px(&a, (x0 + x1) / 2, (y0 + y1) / 2), 213, 94, 0, 10));
    }
    nn_image_free(&a);

    TEST("bars: without labels there is no text above the tallest bar");
    CHECK(nn_plot_bars(tmp_path("bars0.png"), &c, v, 40, NULL, 0, &e) == 0);
    CHECK(read_rgb(tmp_path("bars0.png"), &a) == 0);
    if (a.data) {
        /* the top row of the tallest bar, and its extent in that row */
        int y0 = -1, x0 = a.w, x1 = -1;
        for (int y = 0; y < a.h && y0 < 0; y++)
            for (int x = 0; x < a.w; x++)
                if (near_rgb(px(&a, x, y), 0, 114, 178, 10)) {
                    y0 = y;
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                }
        CHECK(x1 >= x0);
        CHECK(count_dark(&a, x0 - 10, y0 - 16, x1 + 11, y0) == 0);
    }
    nn_image_free(&a);

    TEST("bars: many bars, negatives, NaN and neighbouring labels");
    {
        float w[3000];
        int lab[6] = {10, 11, 12, 13, 1500, 2999};
        for (int i = 0; i < 3000; i++)
            w[i] = sinf(i * 0.01f);
        w[7] = NAN;
        CHECK(nn_plot_bars(tmp_path("many.png"), NULL, w, 3000, lab, 6, &e) == 0);
        CHECK(nn_plot_bars(tmp_path("nobars.png"), NULL, NULL, 0, NULL, 0, &e) == 0);
        c.logy = 1;
        CHECK(nn_plot_bars(tmp_path("logbars.png"), &c, v, 40, label, 1, &e) == 0);
        CHECK(read_rgb(tmp_path("logbars.png"), &a) == 0);
        nn_image_free(&a);
    }

    TEST("bars: a label index outside the bars is an error");
    label[0] = 40;
    CHECK(nn_plot_bars(tmp_path("badlabel.png"), NULL, v, 40, label, 1, &e) == -1);
    CHECK(strstr(e.msg, "40") != NULL);
}

/* ---- histograms and heat maps ----------------------------------------- */

static void test_histograms(void)
{
    nn_error e;
    nn_image a, b;
    static float g[4000];
    nn_rng r;
    nn_rng_seed(&r, 7);
    for (int i = 0; i < 4000; i++)
        g[i] = (float)nn_rng_normal(&r);
    g[5] = NAN;
    float k[3] = {2, 2, 2};
    const float *v[4] = {g, g, k, NULL};
    size_t n[4] = {4000, 2000, 3, 0};
    const char *name[4] = {"normal", "half", "constant", "empty"};

    TEST("histograms: panels side by side in rows of cols");
    CHECK(nn_plot_histograms(tmp_path("h2.png"), "acts", name, v, n, 4, 2, 30, &e) == 0);
    CHECK(nn_plot_histograms(tmp_path("h4.png"), "acts", name, v, n, 4, 4, 30, &e) == 0);
    CHECK(read_rgb(tmp_path("h2.png"), &a) == 0);
    CHECK(read_rgb(tmp_path("h4.png"), &b) == 0);
    if (a.data && b.data) {
        /* 2 columns: half as wide; 2 rows: the panel rows twice as tall */
        CHECK_MSG(b.w == 2 * a.w, "widths %d and %d", a.w, b.w);
        CHECK(a.h > b.h && a.h < 2 * b.h);
        /* each panel has bars: series colour in each quarter of h2 */
        for (int p = 0; p < 3; p++) {
            int x0 = (p % 2) * a.w / 2, y0 = a.h - 2 * (a.h - b.h) + (p / 2) * (a.h - b.h);
            long cnt = 0;
            for (int y = y0; y < y0 + (a.h - b.h); y++)
                for (int x = x0; x < x0 + a.w / 2; x++)
                    cnt += near_rgb(px(&a, x, y), 0, 114, 178, 10);
            CHECK_MSG(cnt > 200, "panel %d: %ld bar pixels", p, cnt);
        }
        /* the title: dark pixels in the top rows */
        CHECK(count_dark(&a, 0, 0, a.w, 24) > 20);
    }
    nn_image_free(&a);
    nn_image_free(&b);

    TEST("histograms: bad input is an error");
    CHECK(nn_plot_histograms(tmp_path("h0.png"), NULL, NULL, v, n, 0, 2, 30, &e) == -1);
    const float *nullv[1] = {NULL};
    size_t one[1] = {5};
    CHECK(nn_plot_histograms(tmp_path("h1.png"), NULL, NULL, nullv, one, 1, 1, 30, &e) == -1);
}

static void test_heatmap(void)
{
    nn_error e;
    nn_image a;
    float m[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            m[i * 4 + j] = i == j ? 90 + i : (float)((i * 7 + j * 3) % 6);
    const char *rows[4] = {"cat", "dog", "bird", "a very long class name indeed"};

    TEST("heat map: diagonal cells of a diagonal-dominant matrix are darker");
    CHECK(nn_plot_heatmap(tmp_path("heat.png"), "confusion", m, 4, 4, rows, rows,
                          &e) == 0);
    CHECK(read_rgb(tmp_path("heat.png"), &a) == 0);
    if (a.data) {
        /* the matrix: the bounding box of the strongly blue pixels (the
         * diagonal cells reach two opposite corners) */
        int x0 = a.w, x1 = -1, y0 = a.h, y1 = -1;
        for (int y = 0; y < a.h; y++)
            for (int x = 0; x < a.w; x++) {
                const uint8_t *p = px(&a, x, y);
                if (p[2] - p[0] > 80) {
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                }
            }
        CHECK_MSG(x1 - x0 > 40 && abs((x1 - x0) - (y1 - y0)) <= 2,
                  "matrix %d..%d x %d..%d", x0, x1, y0, y1);
        double cw = (x1 - x0 + 1) / 4.0;
        int maxdiag = 0, minoff = 255;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                /* a point near the cell's corner, away from its number */
                const uint8_t *p = px(&a, (int)(x0 + (j + 0.15) * cw),
                                      (int)(y0 + (i + 0.15) * cw));
                int l = luma(p);
                if (i == j)
                    maxdiag = l > maxdiag ? l : maxdiag;
                else
                    minoff = l < minoff ? l : minoff;
            }
        CHECK_MSG(maxdiag < minoff, "diagonal up to %d, others from %d", maxdiag,
                  minoff);
        /* numbers: white text in the dark cells, dark text in the light */
        long white = 0, dark = 0;
        for (int y = y0; y < y0 + (int)cw; y++)
            for (int x = x0; x < x0 + (int)cw; x++)
                white += near_rgb(px(&a, x, y), 255, 255, 255, 10);
        CHECK_MSG(white > 10, "%ld white pixels in cell 0,0", white);
        dark = count_dark(&a, x0 + (int)cw, y0, x0 + 2 * (int)cw, y0 + (int)cw);
        CHECK_MSG(dark > 10, "%ld dark pixels in cell 0,1", dark);
        /* row labels at the left, column labels below */
        CHECK(count_dark(&a, 0, y0, x0 - 2, y1) > 30);
        CHECK(count_dark(&a, x0, y1 + 3, x1, a.h) > 30);
        CHECK(count_dark(&a, 0, 0, a.w, y0 - 4) > 30); /* title */
    }
    nn_image_free(&a);

    TEST("heat map: large matrices, NaN cells and no labels");
    {
        static float big[60 * 60];
        for (int i = 0; i < 3600; i++)
            big[i] = (float)(i % 61 == 0 ? 100 : i % 5);
        big[3] = NAN;
        CHECK(nn_plot_heatmap(tmp_path("big.png"), NULL, big, 60, 60, NULL, NULL,
                              &e) == 0);
        CHECK(read_rgb(tmp_path("big.png"), &a) == 0);
        nn_image_free(&a);
    }

    TEST("heat map: zero rows is an error");
    CHECK(nn_plot_heatmap(tmp_path("none.png"), NULL, m, 0, 4, NULL, NULL, &e) == -1);
}

/* ---- GIF ------------------------------------------------------------- */

static int has_loop(const ExtensionBlock *b, int n)
{
    for (int i = 0; i + 1 < n; i++)
        if (b[i].Function == APPLICATION_EXT_FUNC_CODE && b[i].ByteCount == 11 &&
            !memcmp(b[i].Bytes, "NETSCAPE2.0", 11) && b[i + 1].ByteCount == 3 &&
            b[i + 1].Bytes[0] == 1 && b[i + 1].Bytes[1] == 0 && b[i + 1].Bytes[2] == 0)
            return 1;
    return 0;
}

static void test_gif(void)
{
    nn_error e;
    nn_image fr[5];
    for (int k = 0; k < 5; k++) {
        CHECK(nn_image_alloc(&fr[k], 16, 12, 1, &e) == 0);
        for (int i = 0; i < 16 * 12; i++)
            fr[k].data[i] = (uint8_t)(k * 40 + i % 16);
    }
    TEST("gif: 5 gray frames: 5 frames, size, delay, loop, exact pixels");
    const char *path = tmp_path("anim.gif");
    CHECK(nn_gif_write(path, fr, 5, 7, &e) == 0);
    int err = 0;
    GifFileType *g = DGifOpenFileName(path, &err);
    CHECK(g != NULL);
    if (g) {
        CHECK(DGifSlurp(g) == GIF_OK);
        CHECK_MSG(g->ImageCount == 5, "%d frames", g->ImageCount);
        CHECK(g->SWidth == 16 && g->SHeight == 12);
        int loop = has_loop(g->ExtensionBlocks, g->ExtensionBlockCount);
        for (int k = 0; k < g->ImageCount; k++) {
            SavedImage *si = &g->SavedImages[k];
            loop |= has_loop(si->ExtensionBlocks, si->ExtensionBlockCount);
            GraphicsControlBlock gcb;
            CHECK(DGifSavedExtensionToGCB(g, k, &gcb) == GIF_OK);
            CHECK_MSG(gcb.DelayTime == 7, "frame %d delay %d", k, gcb.DelayTime);
            CHECK(si->ImageDesc.Width == 16 && si->ImageDesc.Height == 12);
            ColorMapObject *map = si->ImageDesc.ColorMap ? si->ImageDesc.ColorMap
                                                         : g->SColorMap;
            CHECK(map != NULL);
            if (!map)
                continue;
            for (int i = 0; i < 16 * 12; i++) {
                GifColorType col = map->Colors[si->RasterBits[i]];
                if (col.Red != fr[k].data[i] || col.Green != col.Red) {
                    CHECK_MSG(0, "frame %d pixel %d: %d, wrote %d", k, i, col.Red,
                              fr[k].data[i]);
                    break;
                }
            }
        }
        CHECK_MSG(loop, "no NETSCAPE2.0 loop extension");
        DGifCloseFile(g, &err);
    }

    TEST("gif: RGB frames keep their colours closely (quantized palette)");
    nn_image rgb[3];
    for (int k = 0; k < 3; k++) {
        CHECK(nn_image_alloc(&rgb[k], 20, 10, 3, &e) == 0);
        for (int i = 0; i < 200; i++) {
            rgb[k].data[3 * i] = (uint8_t)(i % 20 * 12);
            rgb[k].data[3 * i + 1] = (uint8_t)(i / 20 * 25);
            rgb[k].data[3 * i + 2] = (uint8_t)(k * 100);
        }
    }
    path = tmp_path("rgb.gif");
    CHECK(nn_gif_write(path, rgb, 3, 0, &e) == 0);
    g = DGifOpenFileName(path, &err);
    CHECK(g != NULL);
    if (g) {
        CHECK(DGifSlurp(g) == GIF_OK && g->ImageCount == 3);
        int worst = 0;
        for (int k = 0; k < g->ImageCount && k < 3; k++) {
            SavedImage *si = &g->SavedImages[k];
            ColorMapObject *map = si->ImageDesc.ColorMap ? si->ImageDesc.ColorMap
                                                         : g->SColorMap;
            if (!map)
                continue;
            for (int i = 0; i < 200; i++) {
                GifColorType col = map->Colors[si->RasterBits[i]];
                int d = abs(col.Red - rgb[k].data[3 * i]);
                d = d > abs(col.Green - rgb[k].data[3 * i + 1]) ? d : abs(col.Green - rgb[k].data[3 * i + 1]);
                d = d > abs(col.Blue - rgb[k].data[3 * i + 2]) ? d : abs(col.Blue - rgb[k].data[3 * i + 2]);
                worst = d > worst ? d : worst;
            }
        }
        CHECK_MSG(worst <= 16, "a colour is off by %d", worst);
        DGifCloseFile(g, &err);
    }
    for (int k = 0; k < 3; k++)
        nn_image_free(&rgb[k]);

    TEST("gif: frames of different sizes are an error naming the file");
    nn_image odd = fr[4];
    odd.w = 8;
    nn_image two[2] = {fr[0], odd};
    CHECK(nn_gif_write(tmp_path("odd.gif"), two, 2, 5, &e) == -1);
    CHECK(strstr(e.msg, "odd.gif") != NULL);
    CHECK(nn_gif_write(tmp_path("none.gif"), fr, 0, 5, &e) == -1);
    CHECK(nn_gif_write(tmp_path("no/dir/x.gif"), fr, 5, 5, &e) == -1);
    CHECK_MSG(strstr(e.msg, "no/dir/x.gif") != NULL, "message: %s", e.msg);
    CHECK(access(tmp_path("odd.gif"), F_OK) != 0);
    for (int k = 0; k < 5; k++)
        nn_image_free(&fr[k]);
}

/* No temporary files are left beside the outputs; then the directory goes. */
static void cleanup(void)
{
    TEST("outputs are written through temporary files that are gone");
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        CHECK_MSG(!strstr(de->d_name, ".tmp."), "left over: %s", de->d_name);
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/nn-test-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    test_font();
    test_from_floats();
    test_grid();
    test_lines();
    test_bars();
    test_histograms();
    test_heatmap();
    test_gif();
    cleanup();
    return test_done();
}
