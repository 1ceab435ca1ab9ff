/* image.c - 8-bit images: PNG and JPEG decoding and encoding, channel
 * conversion, bicubic resizing and centre fitting; and the float versions
 * of resizing and box blurring used by nn-vis. The only file that includes
 * png.h and jpeglib.h.
 *
 * Neither library may print or longjmp into the caller: every call into
 * them runs inside a function that owns the setjmp, with error and warning
 * handlers that record the library's message, so a broken file is one line
 * in an nn_error ("cat.jpg: truncated JPEG").
 *
 * Resampling follows PIL's bicubic: the Keys kernel (a = -0.5) applied
 * separably, stretched by the reduction factor when downsampling (so large
 * reductions are antialiased), with the taps that fall outside the image
 * dropped and the remaining weights renormalised to sum to 1. Each output
 * value is computed by one thread in a fixed order, so results do not
 * depend on the number of threads. */
#include "nn.h"
#include "resample_impl.h"

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define JPEG_QUALITY 92

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t jpeg_magic[3] = {0xff, 0xd8, 0xff};

/* ---- allocation and channel conversion --------------------------------- */

int nn_image_alloc(nn_image *img, int w, int h, int c, nn_error *e)
{
    img->w = img->h = img->c = 0;
    img->data = NULL;
    if (w < 1 || h < 1)
        return nn_fail(e, "image size %dx%d: width and height must be at least 1", w, h);
    if (c != 1 && c != 3 && c != 4)
        return nn_fail(e, "image with %d channels: must be 1 (gray), 3 (RGB) or 4 (RGBA)", c);
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    if (n / (size_t)c / (size_t)h != (size_t)w || !(img->data = malloc(n)))
        return nn_fail(e, "image %dx%dx%d: out of memory", w, h, c);
    img->w = w, img->h = h, img->c = c;
    return 0;
}

void nn_image_free(nn_image *img)
{
    if (!img)
        return;
    free(img->data);
    img->data = NULL;
    img->w = img->h = img->c = 0;
}

/* Puts the finished image out into dst; when dst is the source (an in-place
 * call) the source's pixels are freed first. */
static void image_give(nn_image *dst, const nn_image *src, nn_image *out)
{
    if (dst == src)
        nn_image_free(dst);
    *dst = *out;
}

/* Rounded ITU-R 601 luma, in 16-bit fixed point: 0.299 R + 0.587 G + 0.114 B. */
static inline uint8_t luma(const uint8_t *p)
{
    return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

int nn_image_convert(const nn_image *src, int c, nn_image *dst, nn_error *e)
{
    nn_image out;
    if (!src->data || src->w < 1 || src->h < 1 ||
        (src->c != 1 && src->c != 3 && src->c != 4))
        return nn_fail(e, "convert: not a valid image (%dx%dx%d)", src->w, src->h, src->c);
    if (nn_image_alloc(&out, src->w, src->h, c, e) < 0)
        return -1;
    size_t n = (size_t)src->w * (size_t)src->h;
    int sc = src->c;
    const uint8_t *s = src->data;
    uint8_t *d = out.data;
    if (sc == c) {
        memcpy(d, s, n * (size_t)c);
    } else if (c == 1) { /* RGB or RGBA to luma */
        for (size_t i = 0; i < n; i++)
            d[i] = luma(s + i * (size_t)sc);
    } else { /* to RGB or RGBA: gray repeated, alpha dropped or made opaque */
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = s + i * (size_t)sc;
            uint8_t *q = d + i * (size_t)c;
            q[0] = p[0];
            q[1] = sc == 1 ? p[0] : p[1];
            q[2] = sc == 1 ? p[0] : p[2];
            if (c == 4)
                q[3] = 255;
        }
    }
    image_give(dst, src, &out);
    return 0;
}

/* ---- PNG decoding ------------------------------------------------------ */

/* Everything the setjmp-guarded code touches lives here, not in its locals,
 * so nothing is lost when libpng longjmps out. */
typedef struct png_dec {
    const uint8_t *buf;
    size_t len, pos;
    int truncated;      /* the reader ran out of bytes */
    char msg[256];      /* libpng's error message */
    png_structp png;
    png_infop info;
    png_bytep *rows;
    nn_image img;
} png_dec;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_dec *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* ancillary problems (a bad iCCP...) are not ours */
}

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_dec *d = png_get_io_ptr(png);
    if (n > d->len - d->pos) {
        d->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, d->buf + d->pos, n);
    d->pos += n;
}

/* The guarded part: returns 0, or -1 with d->msg / d->truncated set. */
static int png_decode_run(png_dec *d)
{
    if (setjmp(png_jmpbuf(d->png)))
        return -1;
    png_set_read_fn(d->png, d, png_read_mem);
    png_read_info(d->png, d->info);
    int type = png_get_color_type(d->png, d->info);
    int depth = png_get_bit_depth(d->png, d->info);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(d->png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(d->png);
    if (png_get_valid(d->png, d->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(d->png);
    if (depth == 16)
        png_set_strip_16(d->png); /* the high byte */
    /* gray + alpha has no nn_image form: it becomes RGBA */
    if (((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(d->png, d->info, PNG_INFO_tRNS)) &&
        !(type & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    png_uint_32 w = png_get_image_width(d->png, d->info);
    png_uint_32 h = png_get_image_height(d->png, d->info);
    int c = png_get_channels(d->png, d->info);
    if (w > INT32_MAX || h > INT32_MAX || (c != 1 && c != 3 && c != 4) ||
        png_get_rowbytes(d->png, d->info) != (size_t)w * (size_t)c)
        png_error(d->png, "unsupported pixel layout");
    if (nn_image_alloc(&d->img, (int)w, (int)h, c, NULL) < 0 ||
        !(d->rows = malloc(h * sizeof *d->rows)))
        png_error(d->png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        d->rows[y] = d->img.data + (size_t)y * w * (size_t)c;
    png_read_image(d->png, d->rows);
    /* the chunks after the image data (text, time) are not read */
    return 0;
}

static int png_decode(const uint8_t *buf, size_t len, const char *name,
                      nn_image *img, nn_error *e)
{
    png_dec d;
    memset(&d, 0, sizeof d);
    d.buf = buf, d.len = len;
    d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, png_on_error,
                                   png_on_warning);
    if (d.png)
        d.info = png_create_info_struct(d.png);
    if (!d.png || !d.info) {
        png_destroy_read_struct(d.png ? &d.png : NULL, NULL, NULL);
        return nn_fail(e, "%s: out of memory for the PNG decoder", name);
    }
    int rc = png_decode_run(&d);
    png_destroy_read_struct(&d.png, &d.info, NULL);
    free(d.rows);
    if (rc < 0) {
        nn_image_free(&d.img);
        if (d.truncated)
            return nn_fail(e, "%s: truncated PNG", name);
        return nn_fail(e, "%s: corrupt PNG: %s", name, d.msg);
    }
    *img = d.img;
    return 0;
}

/* ---- JPEG decoding ----------------------------------------------------- */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *err = (jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, err->msg);
    longjmp(err->jump, 1);
}

/* Warnings that mean the pixels are missing or garbled end the decoding
 * (libjpeg would fill the rest with gray and go on); the others (extra
 * bytes between markers, an unknown JFIF revision) are ignored. Trace
 * messages (level > 0) are never shown. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_err *err = (jpeg_err *)cinfo->err;
    if (level >= 0)
        return;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF) {
        err->truncated = 1;
        jpeg_on_error(cinfo);
    }
    if (code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE || code == JWRN_ARITH_BAD_CODE ||
        code == JWRN_MUST_RESYNC)
        jpeg_on_error(cinfo);
}

static void jpeg_on_output(j_common_ptr cinfo) { (void)cinfo; }

static void jpeg_err_setup(jpeg_err *err)
{
    jpeg_std_error(&err->pub);
    err->pub.error_exit = jpeg_on_error;
    err->pub.emit_message = jpeg_on_message;
    err->pub.output_message = jpeg_on_output;
}

typedef struct jpeg_dec {
    const uint8_t *buf;
    size_t len;
    jpeg_err err;
    struct jpeg_decompress_struct cinfo;
    int created;
    uint8_t *row; /* one CMYK row */
    nn_image img;
} jpeg_dec;

/* CMYK (and YCCK, which libjpeg turns into CMYK) to RGB, the naive way:
 * R = (1 - C)(1 - K). Adobe's files store the inks inverted. */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, int w, int inverted)
{
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        unsigned k = inverted ? in[3] : 255u - in[3];
        for (int i = 0; i < 3; i++) {
            unsigned v = inverted ? in[i] : 255u - in[i];
            out[i] = (uint8_t)((v * k + 127u) / 255u);
        }
    }
}

static int jpeg_decode_run(jpeg_dec *d)
{
    struct jpeg_decompress_struct *ci = &d->cinfo;
    if (setjmp(d->err.jump))
        return -1;
    ci->err = &d->err.pub;
    jpeg_create_decompress(ci);
    d->created = 1;
    jpeg_mem_src(ci, d->buf, (unsigned long)d->len);
    jpeg_read_header(ci, TRUE);
    int cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    if (cmyk)
        ci->out_color_space = JCS_CMYK;
    else if (ci->num_components == 1)
        ci->out_color_space = JCS_GRAYSCALE;
    else
        ci->out_color_space = JCS_RGB;
    jpeg_start_decompress(ci);
    int c = cmyk ? 3 : ci->output_components;
    if (ci->output_width > INT32_MAX || ci->output_height > INT32_MAX ||
        (c != 1 && c != 3))
        ERREXIT(ci, JERR_CONVERSION_NOTIMPL);
    if (nn_image_alloc(&d->img, (int)ci->output_width, (int)ci->output_height, c, NULL) < 0 ||
        (cmyk && !(d->row = malloc((size_t)ci->output_width * 4))))
        ERREXIT1(ci, JERR_OUT_OF_MEMORY, 0);
    size_t stride = (size_t)d->img.w * (size_t)c;
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = d->img.data + ci->output_scanline * stride;
        JSAMPROW row = cmyk ? d->row : dst;
        if (jpeg_read_scanlines(ci, &row, 1) != 1)
            ERREXIT(ci, JERR_INPUT_EOF);
        if (cmyk)
            cmyk_to_rgb(d->row, dst, d->img.w, ci->saw_Adobe_marker);
    }
    jpeg_finish_decompress(ci);
    return 0;
}

static int jpeg_decode(const uint8_t *buf, size_t len, const char *name,
                       nn_image *img, nn_error *e)
{
    jpeg_dec *d = calloc(1, sizeof *d);
    if (!d)
        return nn_fail(e, "%s: out of memory for the JPEG decoder", name);
    d->buf = buf, d->len = len;
    jpeg_err_setup(&d->err);
    int rc = jpeg_decode_run(d);
    if (d->created)
        jpeg_destroy_decompress(&d->cinfo);
    free(d->row);
    if (rc < 0) {
        nn_image_free(&d->img);
        const char *m = d->err.msg, *prefix = "Corrupt JPEG data: ";
        if (strncmp(m, prefix, strlen(prefix)) == 0)
            m += strlen(prefix);
        if (d->err.truncated)
            rc = nn_fail(e, "%s: truncated JPEG", name);
        else
            rc = nn_fail(e, "%s: corrupt JPEG: %s", name, m);
    } else {
        *img = d->img;
    }
    free(d);
    return rc;
}

int nn_image_decode(const void *buf, size_t len, const char *name,
                    nn_image *img, nn_error *e)
{
    const uint8_t *p = buf;
    img->w = img->h = img->c = 0;
    img->data = NULL;
    if (!name)
        name = "image";
    if (len == 0)
        return nn_fail(e, "%s: empty file, not a PNG or JPEG file", name);
    /* a file cut inside the signature is still recognised, as truncated */
    size_t np = len < sizeof png_magic ? len : sizeof png_magic;
    size_t nj = len < sizeof jpeg_magic ? len : sizeof jpeg_magic;
    if (memcmp(p, png_magic, np) == 0)
        return len < sizeof png_magic ? nn_fail(e, "%s: truncated PNG", name)
                                      : png_decode(p, len, name, img, e);
    if (memcmp(p, jpeg_magic, nj) == 0)
        return len < sizeof jpeg_magic ? nn_fail(e, "%s: truncated JPEG", name)
                                       : jpeg_decode(p, len, name, img, e);
    return nn_fail(e, "%s: not a PNG or JPEG file", name);
}

/* ---- reading files ----------------------------------------------------- */

/* The whole of fd into a malloc'd buffer; -1 with errno set. */
static int read_fd(int fd, uint8_t **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1; /* +1: the read that sees the end */
    uint8_t *buf = malloc(cap);
    if (!buf)
        return errno = ENOMEM, -1;
    for (;;) {
        if (n == cap) {
            uint8_t *b = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                return errno = ENOMEM, -1;
            }
            buf = b, cap *= 2;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int err = errno;
            free(buf);
            return errno = err, -1;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    *out = buf, *len = n;
    return 0;
}

int nn_image_read(const char *path, nn_image *img, nn_error *e)
{
    img->w = img->h = img->c = 0;
    img->data = NULL;
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0)
        return nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!is_stdin)
            close(fd);
        return nn_fail(e, "%s: is a directory, not an image", name);
    }
    uint8_t *buf;
    size_t len;
    int rc = read_fd(fd, &buf, &len);
    int err = errno;
    if (!is_stdin)
        close(fd);
    if (rc < 0)
        return nn_fail(e, "%s: cannot read: %s", name, strerror(err));
    rc = nn_image_decode(buf, len, name, img, e);
    free(buf);
    return rc;
}

/* ---- PNG encoding ------------------------------------------------------ */

typedef struct png_enc {
    const nn_image *img;
    uint8_t *out;
    size_t len, cap;
    char msg[256];
    png_structp png;
    png_infop info;
} png_enc;

static void png_write_mem(png_structp png, png_bytep data, size_t n)
{
    png_enc *s = png_get_io_ptr(png);
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap - s->len < n && cap <= SIZE_MAX / 2)
            cap *= 2;
        uint8_t *b = cap - s->len >= n ? realloc(s->out, cap) : NULL;
        if (!b)
            png_error(png, "out of memory");
        s->out = b, s->cap = cap;
    }
    memcpy(s->out + s->len, data, n);
    s->len += n;
}

static void png_flush_mem(png_structp png) { (void)png; }

static int png_encode_run(png_enc *s)
{
    if (setjmp(png_jmpbuf(s->png)))
        return -1;
    const nn_image *im = s->img;
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_write_fn(s->png, s, png_write_mem, png_flush_mem);
    png_set_IHDR(s->png, s->info, (png_uint_32)im->w, (png_uint_32)im->h, 8,
                 types[im->c], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(s->png, s->info);
    size_t stride = (size_t)im->w * (size_t)im->c;
    for (int y = 0; y < im->h; y++)
        png_write_row(s->png, im->data + (size_t)y * stride);
    png_write_end(s->png, NULL);
    return 0;
}

static int check_image(const nn_image *img, const char *name, nn_error *e)
{
    if (!img->data || img->w < 1 || img->h < 1 || (img->c != 1 && img->c != 3 && img->c != 4))
        return nn_fail(e, "%s: not a valid image to write (%dx%dx%d)", name, img->w, img->h,
                       img->c);
    if (img->w > 1000000 || img->h > 1000000)
        return nn_fail(e, "%s: image %dx%d is too large for PNG (at most 1000000 a side)",
                       name, img->w, img->h);
    return 0;
}

/* PNG of img into a malloc'd buffer (*out, *len); name is for errors. */
static int png_encode(const nn_image *img, const char *name, uint8_t **out, size_t *len,
                      nn_error *e)
{
    if (check_image(img, name, e) < 0)
        return -1;
    png_enc s;
    memset(&s, 0, sizeof s);
    s.img = img;
    s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s, png_on_error, png_on_warning);
    if (s.png)
        s.info = png_create_info_struct(s.png);
    if (!s.png || !s.info) {
        png_destroy_write_struct(s.png ? &s.png : NULL, NULL);
        return nn_fail(e, "%s: out of memory for the PNG encoder", name);
    }
    int rc = png_encode_run(&s);
    png_destroy_write_struct(&s.png, &s.info);
    if (rc < 0) {
        free(s.out);
        return nn_fail(e, "%s: cannot encode PNG: %s", name, s.msg);
    }
    *out = s.out, *len = s.len;
    return 0;
}

int nn_image_encode_png(const nn_image *img, uint8_t **out, size_t *len, nn_error *e)
{
    return png_encode(img, "PNG", out, len, e);
}

/* ---- JPEG encoding ----------------------------------------------------- */

typedef struct jpeg_enc {
    const nn_image *img;
    jpeg_err err;
    struct jpeg_compress_struct cinfo;
    int created;
    unsigned char *out;
    unsigned long len;
    uint8_t *row; /* one RGB row when the image has alpha */
} jpeg_enc;

static int jpeg_encode_run(jpeg_enc *s)
{
    struct jpeg_compress_struct *ci = &s->cinfo;
    const nn_image *im = s->img;
    if (setjmp(s->err.jump))
        return -1;
    ci->err = &s->err.pub;
    jpeg_create_compress(ci);
    s->created = 1;
    jpeg_mem_dest(ci, &s->out, &s->len);
    ci->image_width = (JDIMENSION)im->w;
    ci->image_height = (JDIMENSION)im->h;
    ci->input_components = im->c == 1 ? 1 : 3;
    ci->in_color_space = im->c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(ci);
    jpeg_set_quality(ci, JPEG_QUALITY, TRUE);
    if (im->c == 4 && !(s->row = malloc((size_t)im->w * 3)))
        ERREXIT1(ci, JERR_OUT_OF_MEMORY, 0);
    jpeg_start_compress(ci, TRUE);
    size_t stride = (size_t)im->w * (size_t)im->c;
    while (ci->next_scanline < ci->image_height) {
        const uint8_t *src = im->data + ci->next_scanline * stride;
        JSAMPROW row = (JSAMPROW)src;
        if (im->c == 4) { /* JPEG has no alpha: dropped */
            for (int x = 0; x < im->w; x++)
                memcpy(s->row + 3 * x, src + 4 * x, 3);
            row = s->row;
        }
        jpeg_write_scanlines(ci, &row, 1);
    }
    jpeg_finish_compress(ci);
    return 0;
}

static int jpeg_encode(const nn_image *img, const char *name, uint8_t **out, size_t *len,
                       nn_error *e)
{
    if (check_image(img, name, e) < 0)
        return -1;
    if (img->w > JPEG_MAX_DIMENSION || img->h > JPEG_MAX_DIMENSION)
        return nn_fail(e, "%s: image %dx%d is too large for JPEG (at most %d a side)", name,
                       img->w, img->h, (int)JPEG_MAX_DIMENSION);
    jpeg_enc *s = calloc(1, sizeof *s);
    if (!s)
        return nn_fail(e, "%s: out of memory for the JPEG encoder", name);
    s->img = img;
    jpeg_err_setup(&s->err);
    int rc = jpeg_encode_run(s);
    if (s->created)
        jpeg_destroy_compress(&s->cinfo);
    free(s->row);
    if (rc < 0) {
        free(s->out);
        rc = nn_fail(e, "%s: cannot encode JPEG: %s", name, s->err.msg);
    } else {
        *out = s->out, *len = s->len;
    }
    free(s);
    return rc;
}

/* ---- writing files ----------------------------------------------------- */

static int is_jpeg_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && slash > dot))
        return 0;
    return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0;
}

int nn_image_write(const char *path, const nn_image *img, nn_error *e)
{
    int to_stdout = strcmp(path, "-") == 0;
    const char *name = to_stdout ? "stdout" : path;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = !to_stdout && is_jpeg_path(path) ? jpeg_encode(img, name, &buf, &len, e)
                                               : png_encode(img, name, &buf, &len, e);
    if (rc < 0)
        return -1;
    if (!to_stdout) {
        rc = nn_write_file(path, buf, len, e);
    } else {
        errno = 0;
        if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
            rc = nn_fail(e, "stdout: write failed: %s", strerror(errno ? errno : EIO));
    }
    free(buf);
    return rc;
}

/* ---- bicubic resampling ------------------------------------------------ */

/* The taps of one axis, in -> out samples: output i reads inputs
 * start[i] .. start[i]+count[i]-1 with weights w[i*kmax ...]. */
typedef struct taps {
    int *start, *count;
    float *w;
    int kmax;
} taps;

static void taps_free(taps *t)
{
    free(t->start);
    free(t->count);
    free(t->w);
}

/* Output sample i is centred at input coordinate (i + 0.5) * in / out; the
 * kernel is stretched by the reduction factor (>= 1), the taps outside
 * 0..in-1 dropped and the rest normalised to sum 1. */
static int taps_make(int in, int out, taps *t)
{
    double scale = (double)in / out, fs = scale > 1 ? scale : 1, support = 2 * fs;
    t->kmax = (int)ceil(support) * 2 + 1;
    t->start = malloc((size_t)out * sizeof(int));
    t->count = malloc((size_t)out * sizeof(int));
    t->w = malloc((size_t)out * (size_t)t->kmax * sizeof(float));
    if (!t->start || !t->count || !t->w) {
        taps_free(t);
        return -1;
    }
    for (int i = 0; i < out; i++) {
        double center = (i + 0.5) * scale;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in ? in : hi;
        if (hi - lo > t->kmax)
            hi = lo + t->kmax;
        double sum = 0;
        for (int x = lo; x < hi; x++)
            sum += nn_keys((x + 0.5 - center) / fs);
        float *w = t->w + (size_t)i * (size_t)t->kmax;
        for (int x = lo; x < hi; x++)
            w[x - lo] = (float)(sum != 0 ? nn_keys((x + 0.5 - center) / fs) / sum : 0);
        t->start[i] = lo;
        t->count[i] = hi - lo;
    }
    return 0;
}

/* Horizontal pass: src rows of w pixels of c interleaved channels (pixel
 * stride c, row stride w*c) into tmp rows of ow*c floats. */
static void resize_rows_u8(const uint8_t *src, int h, int w, int c, const taps *tx, int ow,
                           float *tmp)
{
#pragma omp parallel for schedule(static) if ((size_t)h * (size_t)ow * (size_t)c > 65536)
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)w * (size_t)c;
        float *out = tmp + (size_t)y * (size_t)ow * (size_t)c;
        for (int x = 0; x < ow; x++) {
            const float *wt = tx->w + (size_t)x * (size_t)tx->kmax;
            const uint8_t *p = row + (size_t)tx->start[x] * (size_t)c;
            for (int ch = 0; ch < c; ch++) {
                float s = 0;
                for (int k = 0; k < tx->count[x]; k++)
                    s += wt[k] * (float)p[k * c + ch];
                out[x * c + ch] = s;
            }
        }
    }
}

/* Vertical pass: rows of n floats, tmp (h rows) to out (oh rows), rounded
 * and clamped to 0..255. */
static void resize_cols_u8(const float *tmp, size_t n, const taps *ty, int oh, uint8_t *dst)
{
#pragma omp parallel for schedule(static) if ((size_t)oh * n > 65536)
    for (int y = 0; y < oh; y++) {
        const float *wt = ty->w + (size_t)y * (size_t)ty->kmax;
        const float *base = tmp + (size_t)ty->start[y] * n;
        uint8_t *out = dst + (size_t)y * n;
        for (size_t i = 0; i < n; i++) {
            float s = 0;
            for (int k = 0; k < ty->count[y]; k++)
                s += wt[k] * base[(size_t)k * n + i];
            s = floorf(s + 0.5f);
            out[i] = (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s);
        }
    }
}

int nn_image_resize(const nn_image *src, int w, int h, nn_image *dst, nn_error *e)
{
    if (!src->data || src->w < 1 || src->h < 1 || (src->c != 1 && src->c != 3 && src->c != 4))
        return nn_fail(e, "resize: not a valid image (%dx%dx%d)", src->w, src->h, src->c);
    if (w < 1 || h < 1)
        return nn_fail(e, "resize: target size %dx%d: must be at least 1x1", w, h);
    nn_image out;
    if (nn_image_alloc(&out, w, h, src->c, e) < 0)
        return -1;
    taps tx, ty;
    size_t n = (size_t)w * (size_t)src->c;
    float *tmp = malloc((size_t)src->h * n * sizeof(float));
    if (!tmp || taps_make(src->w, w, &tx) < 0) {
        free(tmp);
        nn_image_free(&out);
        return nn_fail(e, "resize to %dx%d: out of memory", w, h);
    }
    if (taps_make(src->h, h, &ty) < 0) {
        taps_free(&tx);
        free(tmp);
        nn_image_free(&out);
        return nn_fail(e, "resize to %dx%d: out of memory", w, h);
    }
    resize_rows_u8(src->data, src->h, src->w, src->c, &tx, w, tmp);
    resize_cols_u8(tmp, n, &ty, h, out.data);
    taps_free(&tx);
    taps_free(&ty);
    free(tmp);
    image_give(dst, src, &out);
    return 0;
}

/* Like torchvision's Resize(size) + CenterCrop(size): the shorter side
 * becomes size, the longer one size * long / short rounded down; the crop
 * starts at (longer - size) / 2 rounded down. */
int nn_image_fit(const nn_image *src, int size, nn_image *dst, nn_error *e)
{
    if (size < 1)
        return nn_fail(e, "fit: size %d: must be at least 1", size);
    if (!src->data || src->w < 1 || src->h < 1)
        return nn_fail(e, "fit: not a valid image (%dx%dx%d)", src->w, src->h, src->c);
    int64_t shorter = src->w < src->h ? src->w : src->h;
    int64_t longer = (int64_t)size * (src->w < src->h ? src->h : src->w) / shorter;
    if (longer < size)
        longer = size;
    if (longer > INT32_MAX)
        return nn_fail(e, "fit: %dx%d to %d: the resized image would be too large", src->w,
                       src->h, size);
    int rw = src->w < src->h ? size : (int)longer, rh = src->w < src->h ? (int)longer : size;
    nn_image big, out;
    if (nn_image_resize(src, rw, rh, &big, e) < 0)
        return -1;
    if (nn_image_alloc(&out, size, size, src->c, e) < 0) {
        nn_image_free(&big);
        return -1;
    }
    int x0 = (rw - size) / 2, y0 = (rh - size) / 2;
    size_t row = (size_t)size * (size_t)src->c;
    for (int y = 0; y < size; y++)
        memcpy(out.data + (size_t)y * row,
               big.data + ((size_t)(y0 + y) * (size_t)rw + (size_t)x0) * (size_t)src->c, row);
    nn_image_free(&big);
    image_give(dst, src, &out);
    return 0;
}

/* ---- float planes ------------------------------------------------------ */

/* src: c planes of h x w; dst: c planes of oh x ow. Same weights as
 * nn_image_resize, without rounding or clamping. */
void nn_resize_bicubic(const float *src, int c, int h, int w, float *dst, int oh, int ow)
{
    if (c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1)
        return;
    taps tx, ty;
    size_t plane = (size_t)h * (size_t)ow, oplane = (size_t)oh * (size_t)ow;
    float *tmp = malloc((size_t)c * plane * sizeof(float));
    int have_tx = 0, have_ty = 0;
    if (tmp && taps_make(w, ow, &tx) == 0)
        have_tx = 1;
    if (have_tx && taps_make(h, oh, &ty) == 0)
        have_ty = 1;
    if (!have_ty) { /* out of memory: the slow path needs none */
        if (have_tx)
            taps_free(&tx);
        free(tmp);
#pragma omp parallel for collapse(2) schedule(static)
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                    dst[(size_t)ch * oplane + (size_t)y * (size_t)ow + (size_t)x] =
                        nn_resize_point(src + (size_t)ch * (size_t)h * (size_t)w, h, w, oh, ow,
                                     y, x);
        return;
    }
    /* horizontal: each row of each plane */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)c * plane > 65536)
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            const float *row = src + (size_t)ch * (size_t)h * (size_t)w + (size_t)y * (size_t)w;
            float *out = tmp + (size_t)ch * plane + (size_t)y * (size_t)ow;
            for (int x = 0; x < ow; x++) {
                const float *wt = tx.w + (size_t)x * (size_t)tx.kmax;
                const float *p = row + tx.start[x];
                float s = 0;
                for (int k = 0; k < tx.count[x]; k++)
                    s += wt[k] * p[k];
                out[x] = s;
            }
        }
    /* vertical */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)c * oplane > 65536)
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < oh; y++) {
            const float *wt = ty.w + (size_t)y * (size_t)ty.kmax;
            const float *base = tmp + (size_t)ch * plane + (size_t)ty.start[y] * (size_t)ow;
            float *out = dst + (size_t)ch * oplane + (size_t)y * (size_t)ow;
            for (int x = 0; x < ow; x++) {
                float s = 0;
                for (int k = 0; k < ty.count[y]; k++)
                    s += wt[k] * base[(size_t)k * (size_t)ow + (size_t)x];
                out[x] = s;
            }
        }
    taps_free(&tx);
    taps_free(&ty);
    free(tmp);
}

/* Mean of the k values centred on each of the n values of p (stride
 * `step`), the indices beyond either end clamped to the first or last
 * value (replicated borders, OpenCV's BORDER_REPLICATE); out is written with
 * the same stride. A running sum in double, so the cost does not grow
 * with k and the rounding stays far below float precision. */
static void box_line(const float *p, size_t step, int n, int r, float *out)
{
    double s = 0, inv = 1.0 / (2 * r + 1);
    for (int j = -r; j <= r; j++)
        s += p[(size_t)(j < 0 ? 0 : j >= n ? n - 1 : j) * step];
    for (int i = 0; i < n; i++) {
        out[(size_t)i * step] = (float)(s * inv);
        int add = i + r + 1, sub = i - r;
        add = add >= n ? n - 1 : add;
        sub = sub < 0 ? 0 : sub;
        s += (double)p[(size_t)add * step] - (double)p[(size_t)sub * step];
    }
}

/* img: c planes of h x w, replaced by their k x k mean (k odd; an even k is
 * taken as k + 1, k <= 1 leaves img as it is). Borders are clamped: a
 * pixel outside the plane takes the value of the nearest edge pixel
 * (replicated, like OpenCV's BORDER_REPLICATE), so a constant plane stays
 * constant up to the edges. tmp: c*h*w floats of scratch. */
void nn_blur_box(float *img, int c, int h, int w, int k, float *tmp)
{
    if (k <= 1 || c < 1 || h < 1 || w < 1)
        return;
    int r = k / 2;
    size_t plane = (size_t)h * (size_t)w;
    /* rows into tmp */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)c * plane > 65536)
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            size_t o = (size_t)ch * plane + (size_t)y * (size_t)w;
            box_line(img + o, 1, w, r, tmp + o);
        }
    /* columns back into img */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)c * plane > 65536)
    for (int ch = 0; ch < c; ch++)
        for (int x = 0; x < w; x++) {
            size_t o = (size_t)ch * plane + (size_t)x;
            box_line(tmp + o, (size_t)w, h, r, img + o);
        }
}
