/* test_image.c - images (lib/image.c): PNG round trips are bit-exact for
 * gray, RGB and RGBA, JPEG ones close; 16-bit, palette, gray+alpha, 1-bit,
 * interlaced PNGs and CMYK JPEGs decode to the documented layouts; broken
 * files fail with one line naming the file and print nothing themselves;
 * writing picks the format by extension and is atomic; the bicubic resize
 * keeps constants constant, reproduces linear ramps, antialiases when
 * reducing and agrees with its float twin; fit crops the centre; the box
 * blur keeps constants and spreads an impulse over k x k pixels; the
 * per-value twins in resample_impl.h (what the GPU kernels compute) give
 * the same planes as the resize and the blur. */
#include "nn.h"
#include "resample_impl.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Hand-made PNGs (Python's zlib and struct, no image library):
 *   png_rgb16      2x1 RGB 16-bit: (1234,abcd,ff00) (00ff,8000,7fff) hex
 *   png_pal_trns   2x2 palette red, green, blue; tRNS: red 255, green 128
 *                  pixels: red green / blue red
 *   png_gray_alpha 2x1 gray+alpha: (10,200) (250,0)
 *   png_gray1      10x1 1-bit gray: bits 1010110000
 *   png_adam7      5x5 8-bit gray, Adam7 interlaced: pixel (x,y) = 10y + x */
static const unsigned char png_rgb16[78] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x10, 0x02, 0x00, 0x00, 0x00, 0x2b, 0xd0, 0x34,
    0x9e, 0x00, 0x00, 0x00, 0x15, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x10, 0x32, 0x59, 0x7d,
    0xf6, 0x3f, 0x03, 0xc3, 0xff, 0x06, 0x86, 0xfa, 0xff, 0x00, 0x21, 0xf4, 0x05, 0xbb, 0xd2, 0xa6,
    0x9d, 0xc5, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};
static const unsigned char png_pal_trns[106] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x03, 0x00, 0x00, 0x00, 0x45, 0x68, 0xfd,
    0x16, 0x00, 0x00, 0x00, 0x09, 0x50, 0x4c, 0x54, 0x45, 0xff, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00,
    0x00, 0xff, 0x2d, 0x4a, 0xcd, 0x8a, 0x00, 0x00, 0x00, 0x02, 0x74, 0x52, 0x4e, 0x53, 0xff, 0x80,
    0x08, 0x0f, 0xb3, 0x6a, 0x00, 0x00, 0x00, 0x0e, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60,
    0x60, 0x64, 0x60, 0x62, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x04, 0xc6, 0x88, 0x7c, 0xf8, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};
static const unsigned char png_gray_alpha[70] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00, 0x00, 0x5e, 0x2b, 0xb7,
    0x01, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xe0, 0x3a, 0xf1, 0x8b,
    0x01, 0x00, 0x04, 0x79, 0x01, 0xcd, 0xd4, 0x1e, 0xab, 0x37, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};
static const unsigned char png_gray1[68] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0xcf, 0x8e, 0x02,
    0xd3, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x58, 0xc3, 0x00, 0x00,
    0x01, 0x5b, 0x00, 0xad, 0x9d, 0xb5, 0x4c, 0xf6, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
};
static const unsigned char png_adam7[101] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x05, 0x08, 0x00, 0x00, 0x00, 0x01, 0xdf, 0x03, 0x49,
    0xaf, 0x00, 0x00, 0x00, 0x2c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0x61,
    0xd0, 0xd0, 0x61, 0x60, 0x62, 0xd0, 0x62, 0x10, 0x11, 0x93, 0x60, 0x60, 0x64, 0x66, 0x10, 0x15,
    0x67, 0xd0, 0xd4, 0x66, 0xe0, 0xe2, 0xe6, 0xe1, 0xe5, 0x63, 0x90, 0x93, 0x57, 0x50, 0x54, 0x02,
    0x00, 0x20, 0x85, 0x02, 0x27, 0x48, 0x68, 0x63, 0x47, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
};

/* 8x8 CMYK JPEG made with libjpeg (JCS_CMYK, quality 95, Adobe marker,
 * inks stored inverted as Photoshop does): left half red (M+Y), right half
 * blue (C+M). */
static const unsigned char jpeg_cmyk[379] = {
    0xff, 0xd8, 0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01,
    0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03,
    0x04, 0x06, 0x05, 0x06, 0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09,
    0x07, 0x06, 0x06, 0x08, 0x0b, 0x08, 0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c,
    0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff, 0xc0, 0x00, 0x14, 0x08, 0x00, 0x08, 0x00, 0x08,
    0x04, 0x43, 0x11, 0x00, 0x4d, 0x11, 0x00, 0x59, 0x11, 0x00, 0x4b, 0x11, 0x00, 0xff, 0xc4, 0x00,
    0x1f, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4,
    0x00, 0xb5, 0x10, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00,
    0x00, 0x01, 0x7d, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13,
    0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15,
    0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
    0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46,
    0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66,
    0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86,
    0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4,
    0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2,
    0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9,
    0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5,
    0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xda, 0x00, 0x0e, 0x04, 0x43, 0x00, 0x4d, 0x00, 0x59, 0x00,
    0x4b, 0x00, 0x00, 0x3f, 0x00, 0x6f, 0xfc, 0x1f, 0x39, 0xff, 0x00, 0x36, 0xbb, 0xff, 0x00, 0x73,
    0xb7, 0xfe, 0xe0, 0x2b, 0xf9, 0xff, 0x00, 0xa6, 0xff, 0x00, 0xc1, 0x8c, 0x7f, 0xf3, 0x74, 0x5f,
    0xf7, 0x24, 0xff, 0x00, 0xee, 0x7e, 0xbf, 0x7f, 0x2b, 0xff, 0xd9,
};

static char dir[256]; /* a fresh directory for this run's files */

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* ---- stderr capture: the libraries must not print ---------------------- */

static int saved_stderr = -1;
static char errlog[300];

static void quiet_begin(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
}

/* Bytes written to stderr since quiet_begin. */
static long quiet_end(void)
{
    fflush(stderr);
    if (saved_stderr >= 0) {
        dup2(saved_stderr, 2);
        close(saved_stderr);
        saved_stderr = -1;
    }
    struct stat st;
    return stat(errlog, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- helpers ----------------------------------------------------------- */

static void fill_random(nn_image *im, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    size_t n = (size_t)im->w * im->h * im->c;
    for (size_t i = 0; i < n; i++)
        im->data[i] = (uint8_t)(nn_rng_u64(&r) >> 56);
}

/* A smooth picture (what JPEG is for): gradients and a soft blob. */
static void fill_smooth(nn_image *im)
{
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            for (int ch = 0; ch < im->c; ch++) {
                double dx = x - im->w / 2.0, dy = y - im->h / 2.0;
                double v = 40 + 150.0 * x / im->w + 40 * exp(-(dx * dx + dy * dy) / 200.0) +
                           20.0 * ch * y / im->h;
                im->data[((size_t)y * im->w + x) * im->c + ch] = (uint8_t)v;
            }
}

static double mean_abs_diff(const nn_image *a, const nn_image *b)
{
    size_t n = (size_t)a->w * a->h * a->c;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += abs((int)a->data[i] - (int)b->data[i]);
    return s / (double)n;
}

static int same_image(const nn_image *a, const nn_image *b)
{
    return a->w == b->w && a->h == b->h && a->c == b->c &&
           memcmp(a->data, b->data, (size_t)a->w * a->h * a->c) == 0;
}

static uint8_t *pixel(const nn_image *im, int x, int y)
{
    return im->data + ((size_t)y * im->w + x) * im->c;
}

static int read_bytes(const char *path, uint8_t *buf, size_t size, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    *n = fread(buf, 1, size, f);
    fclose(f);
    return 0;
}

/* Files in dir whose name has ".tmp." (a leftover temporary). */
static int temporaries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += strstr(de->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* ---- codecs ------------------------------------------------------------ */

static void test_png_roundtrip(void)
{
    TEST("png round trip is bit-exact for gray, RGB and RGBA (memory and file)");
    static const int chans[3] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        nn_image a, b;
        nn_error e;
        CHECK(nn_image_alloc(&a, 37, 23, chans[i], &e) == 0);
        fill_random(&a, 10 + i);
        uint8_t *buf = NULL;
        size_t len = 0;
        CHECK(nn_image_encode_png(&a, &buf, &len, &e) == 0);
        CHECK(len > 8 && buf[0] == 0x89 && buf[1] == 'P');
        CHECK_MSG(nn_image_decode(buf, len, "mem.png", &b, &e) == 0, "%s", e.msg);
        CHECK_MSG(same_image(&a, &b), "c=%d: decoded %dx%dx%d differs", chans[i], b.w, b.h,
                  b.c);
        nn_image_free(&b);
        free(buf);
        char path[300];
        path_in(path, sizeof path, "rt.png");
        CHECK_MSG(nn_image_write(path, &a, &e) == 0, "%s", e.msg);
        CHECK_MSG(nn_image_read(path, &b, &e) == 0, "%s", e.msg);
        CHECK_MSG(same_image(&a, &b), "c=%d: file round trip differs", chans[i]);
        nn_image_free(&a);
        nn_image_free(&b);
    }
    CHECK(temporaries() == 0);
}

static void test_png_layouts(void)
{
    nn_image im;
    nn_error e;
    TEST("png 16-bit is reduced to its high byte");
    CHECK_MSG(nn_image_decode(png_rgb16, sizeof png_rgb16, "rgb16.png", &im, &e) == 0, "%s",
              e.msg);
    if (im.data) {
        static const uint8_t want[6] = {0x12, 0xab, 0xff, 0x00, 0x80, 0x7f};
        CHECK(im.w == 2 && im.h == 1 && im.c == 3 && memcmp(im.data, want, 6) == 0);
    }
    nn_image_free(&im);

    TEST("png palette with transparency expands to RGBA");
    CHECK_MSG(nn_image_decode(png_pal_trns, sizeof png_pal_trns, "pal.png", &im, &e) == 0,
              "%s", e.msg);
    if (im.data) {
        static const uint8_t want[16] = {255, 0, 0, 255, 0, 255, 0, 128,
                                         0,   0, 255, 255, 255, 0, 0, 255};
        CHECK(im.w == 2 && im.h == 2 && im.c == 4 && memcmp(im.data, want, 16) == 0);
    }
    nn_image_free(&im);

    TEST("png gray+alpha becomes RGBA with the gray repeated");
    CHECK_MSG(nn_image_decode(png_gray_alpha, sizeof png_gray_alpha, "ga.png", &im, &e) == 0,
              "%s", e.msg);
    if (im.data) {
        static const uint8_t want[8] = {10, 10, 10, 200, 250, 250, 250, 0};
        CHECK(im.w == 2 && im.h == 1 && im.c == 4 && memcmp(im.data, want, 8) == 0);
    }
    nn_image_free(&im);

    TEST("png 1-bit gray expands to 0/255");
    CHECK_MSG(nn_image_decode(png_gray1, sizeof png_gray1, "g1.png", &im, &e) == 0, "%s",
              e.msg);
    if (im.data) {
        static const uint8_t want[10] = {255, 0, 255, 0, 255, 255, 0, 0, 0, 0};
        CHECK(im.w == 10 && im.h == 1 && im.c == 1 && memcmp(im.data, want, 10) == 0);
    }
    nn_image_free(&im);

    TEST("png Adam7 interlaced decodes to the plain pixel order");
    CHECK_MSG(nn_image_decode(png_adam7, sizeof png_adam7, "adam7.png", &im, &e) == 0, "%s",
              e.msg);
    if (im.data) {
        CHECK(im.w == 5 && im.h == 5 && im.c == 1);
        int bad = 0;
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++)
                bad += *pixel(&im, x, y) != 10 * y + x;
        CHECK_MSG(bad == 0, "%d pixels out of place", bad);
    }
    nn_image_free(&im);
}

static void test_jpeg(void)
{
    nn_error e;
    char path[300];
    TEST("jpeg round trip (quality 92) of a smooth RGB picture: mean error < 2");
    nn_image a, b;
    CHECK(nn_image_alloc(&a, 64, 48, 3, &e) == 0);
    fill_smooth(&a);
    path_in(path, sizeof path, "x.jpg");
    CHECK_MSG(nn_image_write(path, &a, &e) == 0, "%s", e.msg);
    uint8_t head[8];
    size_t n = 0;
    CHECK(read_bytes(path, head, sizeof head, &n) == 0 && n >= 3);
    CHECK_MSG(head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff,
              "x.jpg starts %02x %02x, not FF D8", head[0], head[1]);
    CHECK_MSG(nn_image_read(path, &b, &e) == 0, "%s", e.msg);
    if (b.data) {
        CHECK(b.w == 64 && b.h == 48 && b.c == 3);
        double d = mean_abs_diff(&a, &b);
        printf("# jpeg rgb mean abs error %.3f\n", d);
        CHECK_MSG(d < 2, "mean abs error %.3f", d);
    }
    nn_image_free(&b);

    TEST("jpeg extension is case-insensitive (.JPEG), other names give PNG");
    path_in(path, sizeof path, "y.JPEG");
    CHECK_MSG(nn_image_write(path, &a, &e) == 0, "%s", e.msg);
    CHECK(read_bytes(path, head, sizeof head, &n) == 0 && n >= 2 && head[0] == 0xff &&
          head[1] == 0xd8);
    path_in(path, sizeof path, "jpg.dir.png");
    CHECK_MSG(nn_image_write(path, &a, &e) == 0, "%s", e.msg);
    CHECK(read_bytes(path, head, sizeof head, &n) == 0 && n >= 2 && head[0] == 0x89 &&
          head[1] == 'P');
    CHECK(temporaries() == 0);

    TEST("jpeg of RGBA drops alpha; gray stays one channel");
    nn_image rgba, g;
    CHECK(nn_image_convert(&a, 4, &rgba, &e) == 0);
    path_in(path, sizeof path, "rgba.jpg");
    CHECK_MSG(nn_image_write(path, &rgba, &e) == 0, "%s", e.msg);
    CHECK_MSG(nn_image_read(path, &b, &e) == 0, "%s", e.msg);
    CHECK(b.c == 3 && mean_abs_diff(&a, &b) < 2);
    nn_image_free(&b);
    CHECK(nn_image_convert(&a, 1, &g, &e) == 0);
    path_in(path, sizeof path, "gray.jpeg");
    CHECK_MSG(nn_image_write(path, &g, &e) == 0, "%s", e.msg);
    CHECK_MSG(nn_image_read(path, &b, &e) == 0, "%s", e.msg);
    if (b.data) {
        CHECK_MSG(b.c == 1, "gray JPEG read back with %d channels", b.c);
        double d = b.c == 1 ? mean_abs_diff(&g, &b) : 99;
        printf("# jpeg gray mean abs error %.3f\n", d);
        CHECK(d < 2);
    }
    nn_image_free(&b);
    nn_image_free(&g);
    nn_image_free(&rgba);
    nn_image_free(&a);

    TEST("jpeg CMYK (Adobe, inverted) converts to RGB");
    CHECK_MSG(nn_image_decode(jpeg_cmyk, sizeof jpeg_cmyk, "cmyk.jpg", &b, &e) == 0, "%s",
              e.msg);
    if (b.data) {
        CHECK(b.w == 8 && b.h == 8 && b.c == 3);
        uint8_t *red = pixel(&b, 0, 3), *blue = pixel(&b, 7, 3);
        CHECK_MSG(red[0] > 230 && red[1] < 25 && red[2] < 25, "left %d %d %d, want red",
                  red[0], red[1], red[2]);
        CHECK_MSG(blue[0] < 25 && blue[1] < 25 && blue[2] > 230, "right %d %d %d, want blue",
                  blue[0], blue[1], blue[2]);
    }
    nn_image_free(&b);
}

/* Decodes buf expecting failure with a message containing want; the
 * libraries must print nothing. */
static void expect_fail(const void *buf, size_t len, const char *name, const char *want)
{
    nn_image im = {1, 1, 1, (uint8_t *)"x"};
    nn_error e = {{0}};
    quiet_begin();
    int rc = nn_image_decode(buf, len, name, &im, &e);
    long printed = quiet_end();
    CHECK_MSG(rc == -1, "%s: decoded though broken", name);
    CHECK_MSG(strstr(e.msg, want) != NULL, "message \"%s\", want \"%s\"", e.msg, want);
    CHECK_MSG(strncmp(e.msg, name, strlen(name)) == 0, "message \"%s\" does not start with %s",
              e.msg, name);
    CHECK_MSG(strchr(e.msg, '\n') == NULL, "message has more than one line: %s", e.msg);
    CHECK_MSG(printed == 0, "%ld bytes on stderr", printed);
    CHECK(im.data == NULL && im.w == 0);
    nn_image_free(&im);
}

static void test_broken(void)
{
    nn_error e;
    nn_image a;
    CHECK(nn_image_alloc(&a, 64, 48, 3, &e) == 0);
    fill_smooth(&a);
    uint8_t *png = NULL, *jpg = NULL;
    size_t npng = 0, njpg = 0;
    CHECK(nn_image_encode_png(&a, &png, &npng, &e) == 0);
    char path[300];
    path_in(path, sizeof path, "whole.jpg");
    CHECK(nn_image_write(path, &a, &e) == 0);
    jpg = malloc(1 << 20);
    CHECK(jpg && read_bytes(path, jpg, 1 << 20, &njpg) == 0 && njpg > 100);

    TEST("png cut in half: 'truncated PNG', nothing printed");
    expect_fail(png, npng / 2, "half.png", "half.png: truncated PNG");
    TEST("png cut inside its signature: 'truncated PNG'");
    expect_fail(png, 5, "sig.png", "sig.png: truncated PNG");
    TEST("png cut just after IHDR: 'truncated PNG'");
    expect_fail(png, 33, "ihdr.png", "ihdr.png: truncated PNG");

    TEST("png with a damaged IDAT: 'corrupt PNG: <libpng's reason>'");
    uint8_t *bad = malloc(npng);
    memcpy(bad, png, npng);
    bad[33 + 8 + 10] ^= 0x55; /* inside the first IDAT's data: its CRC fails */
    expect_fail(bad, npng, "crc.png", "crc.png: corrupt PNG: ");
    nn_image im;
    nn_image_decode(bad, npng, "crc.png", &im, &e);
    printf("# %s\n", e.msg);
    nn_image_free(&im);
    free(bad);

    TEST("jpeg cut in half: 'truncated JPEG', nothing printed");
    expect_fail(jpg, njpg / 2, "half.jpg", "half.jpg: truncated JPEG");
    TEST("jpeg cut inside its scan data (10 bytes short): 'truncated JPEG', no gray fill");
    expect_fail(jpg, njpg - 10, "short.jpg", "short.jpg: truncated JPEG");
    TEST("jpeg cut inside its header: 'truncated JPEG'");
    expect_fail(jpg, 40, "head.jpg", "head.jpg: truncated JPEG");
    TEST("jpeg of two bytes (FF D8): 'truncated JPEG'");
    expect_fail(jpg, 2, "two.jpg", "two.jpg: truncated JPEG");

    TEST("jpeg with a damaged marker segment: 'corrupt JPEG: <libjpeg's reason>'");
    bad = malloc(njpg);
    memcpy(bad, jpg, njpg);
    bad[3] = 0x02; /* the APP0 marker after SOI becomes a reserved one */
    expect_fail(bad, njpg, "marker.jpg", "marker.jpg: corrupt JPEG: ");
    nn_image_decode(bad, njpg, "marker.jpg", &im, &e);
    printf("# %s\n", e.msg);
    nn_image_free(&im);
    free(bad);

    TEST("random bytes: 'not a PNG or JPEG file'");
    uint8_t noise[1000];
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)nn_rng_u64(&r);
    noise[0] = 'R'; /* not 0x89 or 0xFF, whatever the generator says */
    expect_fail(noise, sizeof noise, "noise.bin", "noise.bin: not a PNG or JPEG file");
    TEST("an empty file: an error, not a crash");
    expect_fail(noise, 0, "empty.png", "empty.png: empty file");

    TEST("reading a truncated file names the path");
    path_in(path, sizeof path, "cut.png");
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(png, 1, npng / 3, f) == npng / 3);
    if (f)
        fclose(f);
    quiet_begin();
    int rc = nn_image_read(path, &im, &e);
    long printed = quiet_end();
    char want[400];
    snprintf(want, sizeof want, "%s: truncated PNG", path);
    CHECK(rc == -1 && strcmp(e.msg, want) == 0 && printed == 0);

    TEST("reading a missing file or a directory fails naming it");
    path_in(path, sizeof path, "missing.png");
    CHECK(nn_image_read(path, &im, &e) == -1 && strstr(e.msg, path) == e.msg &&
          strstr(e.msg, "No such file"));
    CHECK(nn_image_read(dir, &im, &e) == -1 && strstr(e.msg, dir) == e.msg &&
          strstr(e.msg, "directory"));

    free(png);
    free(jpg);
    nn_image_free(&a);
}

static void test_write_errors(void)
{
    TEST("writing into a missing directory fails naming the path");
    nn_image a;
    nn_error e;
    CHECK(nn_image_alloc(&a, 4, 4, 3, &e) == 0);
    fill_random(&a, 3);
    char path[300];
    path_in(path, sizeof path, "no/such/dir/out.png");
    CHECK(nn_image_write(path, &a, &e) == -1);
    CHECK_MSG(strncmp(e.msg, path, strlen(path)) == 0 && strstr(e.msg, "No such file"),
              "message: %s", e.msg);
    path_in(path, sizeof path, "no/such/dir/out.jpg");
    CHECK(nn_image_write(path, &a, &e) == -1 && strncmp(e.msg, path, strlen(path)) == 0);

    TEST("writing an invalid image (2 channels) fails, nothing created");
    nn_image two = {4, 4, 2, a.data};
    path_in(path, sizeof path, "two.png");
    CHECK(nn_image_write(path, &two, &e) == -1 && access(path, F_OK) != 0);
    CHECK(nn_image_alloc(&two, 4, 4, 2, &e) == -1 && two.data == NULL);
    CHECK(nn_image_alloc(&two, 0, 4, 3, &e) == -1 && two.data == NULL);

    TEST("\"-\" writes a PNG to stdout and reads one from stdin");
    path_in(path, sizeof path, "stdout.png");
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = nn_image_write("-", &a, &e);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    CHECK_MSG(rc == 0, "%s", e.msg);
    saved = dup(0);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    dup2(fd, 0);
    close(fd);
    nn_image b;
    rc = nn_image_read("-", &b, &e);
    dup2(saved, 0);
    close(saved);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK(rc == 0 && same_image(&a, &b));
    nn_image_free(&b);

    TEST("stdin with bad bytes: the error names stdin");
    path_in(path, sizeof path, "junk");
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs("hello, world\n", f) >= 0);
    if (f)
        fclose(f);
    saved = dup(0);
    fd = open(path, O_RDONLY);
    dup2(fd, 0);
    close(fd);
    rc = nn_image_read("-", &b, &e);
    dup2(saved, 0);
    close(saved);
    CHECK(rc == -1 && strcmp(e.msg, "stdin: not a PNG or JPEG file") == 0);
    nn_image_free(&a);
}

/* ---- conversion -------------------------------------------------------- */

static void test_convert(void)
{
    nn_error e;
    TEST("convert RGB to gray is rounded 0.299 R + 0.587 G + 0.114 B");
    nn_image a, g, back, rgba;
    CHECK(nn_image_alloc(&a, 4, 1, 3, &e) == 0);
    static const uint8_t px[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 100, 200};
    memcpy(a.data, px, 12);
    CHECK(nn_image_convert(&a, 1, &g, &e) == 0);
    /* 76.245, 149.685, 29.07, 84.49 */
    CHECK_MSG(g.c == 1 && g.data[0] == 76 && g.data[1] == 150 && g.data[2] == 29 &&
                  g.data[3] == 84,
              "got %d %d %d %d", g.data[0], g.data[1], g.data[2], g.data[3]);

    TEST("convert gray to RGB repeats the value; to RGBA adds opaque alpha");
    CHECK(nn_image_convert(&g, 3, &back, &e) == 0);
    CHECK(back.c == 3 && back.data[0] == 76 && back.data[1] == 76 && back.data[2] == 76 &&
          back.data[9] == 84 && back.data[11] == 84);
    CHECK(nn_image_convert(&g, 4, &rgba, &e) == 0);
    CHECK(rgba.c == 4 && rgba.data[4] == 150 && rgba.data[6] == 150 && rgba.data[7] == 255);
    nn_image_free(&rgba);

    TEST("convert RGBA to RGB drops alpha; in place (dst == src) works");
    CHECK(nn_image_convert(&a, 4, &rgba, &e) == 0);
    rgba.data[3] = 7;
    CHECK(nn_image_convert(&rgba, 3, &rgba, &e) == 0);
    CHECK(same_image(&rgba, &a));
    CHECK(nn_image_convert(&rgba, 1, &rgba, &e) == 0 && same_image(&rgba, &g));
    CHECK(nn_image_convert(&a, 2, &back, &e) == -1);
    nn_image_free(&rgba);
    nn_image_free(&back);
    nn_image_free(&g);
    nn_image_free(&a);
}

/* ---- resizing ---------------------------------------------------------- */

static void test_resize(void)
{
    nn_error e;
    nn_image a, b;
    TEST("resize of a constant image stays constant (up, down, mixed)");
    CHECK(nn_image_alloc(&a, 37, 23, 3, &e) == 0);
    for (size_t i = 0; i < (size_t)37 * 23 * 3; i++)
        a.data[i] = (uint8_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 137 : 255);
    static const int sizes[4][2] = {{80, 61}, {9, 5}, {100, 7}, {1, 1}};
    for (int s = 0; s < 4; s++) {
        CHECK(nn_image_resize(&a, sizes[s][0], sizes[s][1], &b, &e) == 0);
        int bad = 0;
        for (size_t i = 0; i < (size_t)b.w * b.h * 3; i++)
            bad += b.data[i] != (i % 3 == 0 ? 0 : i % 3 == 1 ? 137 : 255);
        CHECK_MSG(b.w == sizes[s][0] && b.h == sizes[s][1] && bad == 0,
                  "to %dx%d: %d values changed", sizes[s][0], sizes[s][1], bad);
        nn_image_free(&b);
    }
    nn_image_free(&a);

    TEST("resize to the same size is the identity");
    CHECK(nn_image_alloc(&a, 13, 11, 4, &e) == 0);
    fill_random(&a, 8);
    CHECK(nn_image_resize(&a, 13, 11, &b, &e) == 0 && same_image(&a, &b));
    nn_image_free(&b);
    nn_image_free(&a);

    TEST("bicubic 4x upscale of a linear ramp stays linear in the interior");
    CHECK(nn_image_alloc(&a, 20, 3, 1, &e) == 0);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 20; x++)
            *pixel(&a, x, y) = (uint8_t)(10 * x + 5);
    CHECK(nn_image_resize(&a, 80, 12, &b, &e) == 0);
    double worst = 0;
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 80; x++) {
            double c = (x + 0.5) / 4 - 0.5; /* in input pixel coordinates */
            if (c < 2 || c > 17)
                continue; /* the kernel reaches past the edge */
            double d = fabs(*pixel(&b, x, y) - (10 * c + 5));
            worst = d > worst ? d : worst;
        }
    printf("# ramp: largest interior deviation %.3f\n", worst);
    CHECK_MSG(worst <= 0.5 + 1e-6, "deviation %.3f from the line", worst);
    nn_image_free(&b);
    nn_image_free(&a);

    TEST("downscaling a 1-pixel checkerboard averages near 128 (antialiased)");
    CHECK(nn_image_alloc(&a, 96, 96, 1, &e) == 0);
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 96; x++)
            *pixel(&a, x, y) = (x + y) % 2 ? 255 : 0;
    static const int outs[3] = {48, 32, 12}; /* 2x, 3x, 8x */
    for (int s = 0; s < 3; s++) {
        CHECK(nn_image_resize(&a, outs[s], outs[s], &b, &e) == 0);
        int lo = 255, hi = 0;
        double mean = 0;
        for (int i = 0; i < b.w * b.h; i++) {
            lo = b.data[i] < lo ? b.data[i] : lo;
            hi = b.data[i] > hi ? b.data[i] : hi;
            mean += b.data[i] / (double)(b.w * b.h);
        }
        printf("# checkerboard 96 -> %d: min %d max %d mean %.2f\n", outs[s], lo, hi, mean);
        CHECK_MSG(fabs(mean - 127.5) < 2 && lo >= 110 && hi <= 145,
                  "to %d: min %d max %d mean %.2f", outs[s], lo, hi, mean);
        nn_image_free(&b);
    }
    nn_image_free(&a);

    TEST("resize gives the same bytes with 1 and 4 threads");
    CHECK(nn_image_alloc(&a, 311, 217, 3, &e) == 0);
    fill_random(&a, 77);
    nn_image r1, r4;
    int threads = nn_threads();
    nn_set_threads(1);
    CHECK(nn_image_resize(&a, 500, 401, &r1, &e) == 0);
    nn_set_threads(4);
    CHECK(nn_image_resize(&a, 500, 401, &r4, &e) == 0);
    nn_set_threads(threads);
    CHECK(same_image(&r1, &r4));
    nn_image_free(&r1);
    nn_image_free(&r4);
    nn_image_free(&a);

    TEST("resize rejects sizes below 1x1");
    CHECK(nn_image_alloc(&a, 4, 4, 1, &e) == 0);
    memset(a.data, 0, 16);
    CHECK(nn_image_resize(&a, 0, 4, &b, &e) == -1 && b.data == NULL);
    nn_image_free(&a);
}

static void test_fit(void)
{
    nn_error e;
    nn_image a, b;
    TEST("fit 300x200 to 100: 100x100 from the centre");
    CHECK(nn_image_alloc(&a, 300, 200, 3, &e) == 0);
    memset(a.data, 255, (size_t)300 * 200 * 3); /* white */
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 300; x++) {
            uint8_t *p = pixel(&a, x, y);
            if (x < 40) /* a blue band at the left, cropped away */
                p[0] = 0, p[1] = 0, p[2] = 255;
            if (x >= 140 && x < 160 && y >= 90 && y < 110) /* red marker, centred */
                p[0] = 255, p[1] = 0, p[2] = 0;
        }
    CHECK_MSG(nn_image_fit(&a, 100, &b, &e) == 0, "%s", e.msg);
    CHECK(b.w == 100 && b.h == 100 && b.c == 3);
    if (b.w == 100 && b.h == 100) {
        /* 300x200 -> 150x100, crop x from 25: the marker (140..160, 90..110)
         * lands on 45..55 x 45..55 */
        uint8_t *m = pixel(&b, 50, 50), *edge = pixel(&b, 0, 50), *out = pixel(&b, 40, 50);
        CHECK_MSG(m[0] > 240 && m[1] < 15 && m[2] < 15, "centre %d %d %d", m[0], m[1], m[2]);
        CHECK_MSG(out[0] > 240 && out[1] > 240 && out[2] > 240, "(40,50) %d %d %d", out[0],
                  out[1], out[2]);
        CHECK_MSG(edge[0] > 240 && edge[1] > 240, "the left band was not cropped: %d %d %d",
                  edge[0], edge[1], edge[2]);
        int red = 0;
        for (int x = 0; x < 100; x++)
            red += pixel(&b, x, 50)[1] < 128;
        CHECK_MSG(red == 10, "marker %d pixels wide, want 10", red);
    }
    nn_image_free(&b);

    TEST("fit of a portrait image, and in place");
    nn_image p;
    CHECK(nn_image_alloc(&p, 50, 120, 1, &e) == 0);
    memset(p.data, 9, (size_t)50 * 120);
    CHECK(nn_image_fit(&p, 32, &p, &e) == 0 && p.w == 32 && p.h == 32 && p.data[0] == 9);
    nn_image_free(&p);
    nn_image_free(&a);
}

/* ---- float planes ------------------------------------------------------ */

static void test_float_resize(void)
{
    TEST("float bicubic resize agrees with the uint8 resize within rounding");
    nn_error e;
    nn_image a, b;
    CHECK(nn_image_alloc(&a, 37, 23, 3, &e) == 0);
    fill_random(&a, 21);
    float *src = malloc(sizeof(float) * 37 * 23 * 3);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 23; y++)
            for (int x = 0; x < 37; x++)
                src[(ch * 23 + y) * 37 + x] = *(pixel(&a, x, y) + ch);
    static const int sizes[3][2] = {{80, 61}, {11, 7}, {50, 17}};
    for (int s = 0; s < 3; s++) {
        int ow = sizes[s][0], oh = sizes[s][1];
        CHECK(nn_image_resize(&a, ow, oh, &b, &e) == 0);
        float *dst = malloc(sizeof(float) * ow * oh * 3);
        nn_resize_bicubic(src, 3, 23, 37, dst, oh, ow);
        double worst = 0;
        int overshoot = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    float f = dst[(ch * oh + y) * ow + x];
                    overshoot += f < -0.5f || f > 255.5f;
                    f = f < 0 ? 0 : f > 255 ? 255 : f;
                    double d = fabs(f - *(pixel(&b, x, y) + ch));
                    worst = d > worst ? d : worst;
                }
        printf("# float vs uint8 to %dx%d: max diff %.4f, %d values beyond 0..255 "
               "(not clamped)\n", ow, oh, worst, overshoot);
        CHECK_MSG(worst <= 0.5 + 1e-3, "to %dx%d: max diff %.4f", ow, oh, worst);
        if (s == 0)
            CHECK_MSG(overshoot > 0, "random data upscaled never overshoots: clamped?");
        free(dst);
        nn_image_free(&b);
    }
    free(src);
    nn_image_free(&a);
}

static void test_blur(void)
{
    enum { H = 11, W = 13 };
    float img[2 * H * W], tmp[2 * H * W];
    TEST("box blur of a constant plane is constant, borders included");
    for (int i = 0; i < 2 * H * W; i++)
        img[i] = i < H * W ? 0.25f : -3.0f;
    nn_blur_box(img, 2, H, W, 5, tmp);
    int bad = 0;
    for (int i = 0; i < 2 * H * W; i++)
        bad += fabsf(img[i] - (i < H * W ? 0.25f : -3.0f)) > 1e-6f;
    CHECK_MSG(bad == 0, "%d values changed", bad);

    static const int ks[2] = {3, 5};
    for (int t = 0; t < 2; t++) {
        int k = ks[t], r = k / 2;
        char name[80];
        snprintf(name, sizeof name, "box blur %dx%d spreads an interior impulse to 1/%d", k, k,
                 k * k);
        TEST(name);
        memset(img, 0, sizeof img);
        img[H * W + 5 * W + 6] = 1; /* second plane, (y=5, x=6) */
        nn_blur_box(img, 2, H, W, k, tmp);
        double worst = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double want = abs(y - 5) <= r && abs(x - 6) <= r ? 1.0 / (k * k) : 0;
                double d = fabs(img[H * W + y * W + x] - want);
                worst = d > worst ? d : worst;
                CHECK(img[y * W + x] == 0); /* the first plane stays zero */
            }
        CHECK_MSG(worst < 1e-6, "max deviation %.3g", worst);
    }

    TEST("box blur borders are clamped (replicated): a corner impulse keeps 4/9");
    memset(img, 0, sizeof img);
    img[0] = 1;
    img[H * W - 1] = 1;
    nn_blur_box(img, 1, H, W, 3, tmp);
    /* rows: (p0+p0+p1)/3 = 2/3 at x=0, 1/3 at x=1; then the same down; and
     * mirrored at the bottom-right corner */
    const float *z = img + H * W - 1; /* the last pixel; z[-1] its left, z[-W] above */
    CHECK_MSG(fabsf(img[0] - 4.0f / 9) < 1e-6f && fabsf(img[1] - 2.0f / 9) < 1e-6f &&
                  fabsf(img[W] - 2.0f / 9) < 1e-6f && fabsf(img[W + 1] - 1.0f / 9) < 1e-6f &&
                  img[2] == 0 && img[2 * W] == 0,
              "top-left %.4f %.4f / %.4f %.4f", img[0], img[1], img[W], img[W + 1]);
    CHECK_MSG(fabsf(z[0] - 4.0f / 9) < 1e-6f && fabsf(z[-1] - 2.0f / 9) < 1e-6f &&
                  fabsf(z[-W] - 2.0f / 9) < 1e-6f && fabsf(z[-W - 1] - 1.0f / 9) < 1e-6f &&
                  z[-2] == 0 && z[-2 * W] == 0,
              "bottom-right %.4f %.4f / %.4f %.4f", z[0], z[-1], z[-W], z[-W - 1]);

    TEST("box blur with k = 1 changes nothing; k larger than the plane stays finite");
    for (int i = 0; i < H * W; i++)
        img[i] = (float)i;
    nn_blur_box(img, 1, H, W, 1, tmp);
    bad = 0;
    for (int i = 0; i < H * W; i++)
        bad += img[i] != (float)i;
    CHECK(bad == 0);
    nn_blur_box(img, 1, H, W, 31, tmp);
    double lo = 1e9, hi = -1e9;
    for (int i = 0; i < H * W; i++)
        lo = img[i] < lo ? img[i] : lo, hi = img[i] > hi ? img[i] : hi;
    CHECK(lo >= 0 && hi <= H * W - 1);
}

/* The per-value forms of resample_impl.h (one output at a time, as the GPU
 * computes them) against the table-driven resize and the running-sum blur
 * of image.c, on random planes: a wrong tap range, weight or border would
 * move values by far more than rounding. */
static void test_point_twins(void)
{
    nn_rng r;
    nn_rng_seed(&r, 17);
    static const int rs[3][4] = {{7, 9, 11, 13}, {23, 17, 8, 6}, {10, 12, 10, 12}};
    static const char *const what[3] = {"upscale 7x9 -> 11x13", "downscale 23x17 -> 8x6",
                                        "same size 10x12"};
    enum { C = 3 };
    for (int t = 0; t < 3; t++) {
        int h = rs[t][0], w = rs[t][1], oh = rs[t][2], ow = rs[t][3];
        char name[120];
        snprintf(name, sizeof name,
                 "resize per point (nn_resize_point) = nn_resize_bicubic, %s, %d planes",
                 what[t], C);
        TEST(name);
        float *src = malloc(sizeof(float) * C * h * w), *want = malloc(sizeof(float) * C * oh * ow);
        for (int i = 0; i < C * h * w; i++)
            src[i] = (float)nn_rng_normal(&r);
        nn_resize_bicubic(src, C, h, w, want, oh, ow);
        double top = 0, worst = 0;
        for (int i = 0; i < C * oh * ow; i++)
            top = fabs(want[i]) > top ? fabs(want[i]) : top;
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    float got = nn_resize_point(src + (size_t)ch * h * w, h, w, oh, ow, y, x);
                    double d = fabs((double)got - want[(ch * oh + y) * ow + x]);
                    worst = d > worst || d != d ? d : worst;
                }
        CHECK_MSG(top > 0 && worst <= 1e-5 * top, "largest difference %.3g (values up to %.3g)",
                  worst, top);
        free(src), free(want);
    }

    enum { H = 9, W = 14, P = 2 };
    static const int ks[5] = {1, 3, 5, 4, 41};
    for (int t = 0; t < 5; t++) {
        int k = ks[t], rad = k / 2;
        char name[120];
        snprintf(name, sizeof name,
                 "blur per point (nn_box_point, rows then columns) = nn_blur_box, k = %d%s", k,
                 k == 4 ? " (taken as 5)" : k > W ? " (wider than the plane)" : "");
        TEST(name);
        float img[P * H * W], tmp[P * H * W], got[P * H * W], mid[P * H * W];
        for (int i = 0; i < P * H * W; i++)
            img[i] = got[i] = (float)(2 * nn_rng_uniform(&r) - 1);
        nn_blur_box(img, P, H, W, k, tmp);
        if (k > 1) {
            for (int p = 0; p < P; p++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++)
                        mid[(p * H + y) * W + x] =
                            nn_box_point(got + (p * H + y) * W, 1, W, rad, x);
            for (int p = 0; p < P; p++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++)
                        got[(p * H + y) * W + x] =
                            nn_box_point(mid + p * H * W + x, W, H, rad, y);
        }
        double worst = 0;
        for (int i = 0; i < P * H * W; i++) {
            double d = fabs((double)got[i] - img[i]);
            worst = d > worst || d != d ? d : worst;
        }
        CHECK_MSG(worst <= 1e-6, "largest difference %.3g", worst);
    }
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/nn-test-image-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(errlog, sizeof errlog, "%s/stderr.log", dir);
    test_png_roundtrip();
    test_png_layouts();
    test_jpeg();
    test_broken();
    test_write_errors();
    test_convert();
    test_resize();
    test_fit();
    test_float_resize();
    test_blur();
    test_point_twins();
    int rc = test_done();
    /* remove the run's files */
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[600];
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
    return rc;
}
