/* gif.c - animated GIFs with giflib: the only file that includes gif_lib.h.
 *
 * The GIF is built in memory, then written to path.tmp.XXXXXX beside the
 * target and renamed into place ("-": written to stdout). When every frame
 * is gray (c == 1) the frames share a global palette of the 256 gray
 * levels, so they are exact; otherwise each frame gets its own 256-colour
 * palette from giflib's median-cut quantizer (GifQuantizeBuffer, 5 bits a
 * channel) as a local colour table. An RGBA frame's alpha is ignored. The
 * NETSCAPE2.0 application extension makes the animation loop forever, and
 * a graphics control extension before each frame holds its delay. */
#include "nn.h"

#include <gif_lib.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The GIF being built, for giflib's output callback. */
typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} membuf;

static int mem_write(GifFileType *g, const GifByteType *data, int len)
{
    membuf *b = g->UserData;
    if (len <= 0)
        return 0;
    if (b->n + (size_t)len > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + (size_t)len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return 0;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, data, (size_t)len);
    b->n += (size_t)len;
    return len;
}

/* The message for a giflib failure while writing. */
static int gif_fail(nn_error *e, const char *name, const char *what,
                    GifFileType *g, const membuf *b)
{
    if (b->oom)
        return nn_fail(e, "%s: out of memory while encoding the GIF", name);
    const char *why = g ? GifErrorString(g->Error) : NULL;
    return nn_fail(e, "%s: GIF %s failed: %s", name, what,
                   why ? why : "giflib error");
}

/* The colour indices of one frame [h, w] and, for colour frames, its
 * palette of 256 entries (NULL for gray frames on the global gray map). */
static int frame_indices(const nn_image *f, int gray, GifByteType *idx,
                         ColorMapObject **map, const char *name, int k,
                         nn_error *e)
{
    size_t n = (size_t)f->w * f->h;
    *map = NULL;
    if (gray) {
        memcpy(idx, f->data, n);
        return 0;
    }
    GifByteType *rgb = malloc(3 * n);
    *map = GifMakeMapObject(256, NULL);
    if (!rgb || !*map) {
        free(rgb);
        if (*map)
            GifFreeMapObject(*map);
        *map = NULL;
        return nn_fail(e, "%s: out of memory", name);
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = f->data + i * f->c;
        rgb[i] = p[0];
        rgb[n + i] = f->c >= 3 ? p[1] : p[0];
        rgb[2 * n + i] = f->c >= 3 ? p[2] : p[0];
    }
    int size = 256;
    memset((*map)->Colors, 0, 256 * sizeof(GifColorType));
    int rc = GifQuantizeBuffer((unsigned)f->w, (unsigned)f->h, &size, rgb,
                               rgb + n, rgb + 2 * n, idx, (*map)->Colors);
    free(rgb);
    if (rc == GIF_ERROR) {
        GifFreeMapObject(*map);
        *map = NULL;
        return nn_fail(e, "%s: frame %d: colour quantization failed", name, k);
    }
    return 0;
}

/* The whole GIF into b. */
static int gif_encode(const nn_image *frames, int nframes, int delay_cs,
                      const char *name, membuf *b, nn_error *e)
{
    int w = frames[0].w, h = frames[0].h, gray = 1;
    for (int k = 0; k < nframes; k++)
        gray &= frames[k].c == 1;
    int err = 0;
    GifFileType *g = EGifOpen(b, mem_write, &err);
    if (!g) {
        const char *why = GifErrorString(err);
        return nn_fail(e, "%s: cannot start the GIF: %s", name,
                       why ? why : "giflib error");
    }
    ColorMapObject *global = NULL, *local = NULL;
    GifByteType *idx = malloc((size_t)w * h);
    int rc = -1;
    if (!idx) {
        nn_fail(e, "%s: out of memory", name);
        goto done;
    }
    if (gray) {
        if (!(global = GifMakeMapObject(256, NULL))) {
            nn_fail(e, "%s: out of memory", name);
            goto done;
        }
        for (int i = 0; i < 256; i++)
            global->Colors[i].Red = global->Colors[i].Green =
                global->Colors[i].Blue = (GifByteType)i;
    }
    EGifSetGifVersion(g, true);
    if (EGifPutScreenDesc(g, w, h, 8, 0, global) == GIF_ERROR) {
        gif_fail(e, name, "header", g, b);
        goto done;
    }
    /* Loop forever: application extension NETSCAPE2.0, sub-block 1, count 0. */
    static const GifByteType loop[3] = {1, 0, 0};
    if (EGifPutExtensionLeader(g, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(g, 11, "NETSCAPE2.0") == GIF_ERROR ||
        EGifPutExtensionBlock(g, 3, loop) == GIF_ERROR ||
        EGifPutExtensionTrailer(g) == GIF_ERROR) {
        gif_fail(e, name, "loop extension", g, b);
        goto done;
    }
    GraphicsControlBlock gcb = {DISPOSE_DO_NOT, false, delay_cs,
                                NO_TRANSPARENT_COLOR};
    GifByteType ext[4];
    EGifGCBToExtension(&gcb, ext);
    for (int k = 0; k < nframes; k++) {
        if (frame_indices(&frames[k], gray, idx, &local, name, k, e) < 0)
            goto done;
        if (EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_ERROR ||
            EGifPutImageDesc(g, 0, 0, w, h, false, local) == GIF_ERROR) {
            gif_fail(e, name, "frame header", g, b);
            goto done;
        }
        for (int y = 0; y < h; y++)
            if (EGifPutLine(g, idx + (size_t)y * w, w) == GIF_ERROR) {
                gif_fail(e, name, "frame data", g, b);
                goto done;
            }
        if (local)
            GifFreeMapObject(local);
        local = NULL;
    }
    rc = 0;
done:
    if (local)
        GifFreeMapObject(local);
    if (global)
        GifFreeMapObject(global);
    free(idx);
    if (EGifCloseFile(g, &err) == GIF_ERROR && rc == 0) {
        const char *why = GifErrorString(err);
        rc = nn_fail(e, "%s: cannot finish the GIF: %s", name,
                     why ? why : "giflib error");
    }
    if (rc == 0 && b->oom)
        rc = nn_fail(e, "%s: out of memory while encoding the GIF", name);
    return rc;
}

int nn_gif_write(const char *path, const nn_image *frames, int nframes,
                 int delay_cs, nn_error *e)
{
    if (!path)
        return nn_fail(e, "GIF: no output path");
    if (!frames || nframes < 1)
        return nn_fail(e, "%s: no frames to write (%d)", path, nframes);
    if (delay_cs < 0 || delay_cs > 65535)
        return nn_fail(e, "%s: frame delay %d outside 0..65535 (1/100 s)", path,
                       delay_cs);
    int w = frames[0].w, h = frames[0].h;
    if (w < 1 || h < 1 || w > 65535 || h > 65535)
        return nn_fail(e, "%s: frame size %dx%d outside 1..65535", path, w, h);
    for (int k = 0; k < nframes; k++) {
        const nn_image *f = &frames[k];
        if (!f->data || (f->c != 1 && f->c != 3 && f->c != 4))
            return nn_fail(e, "%s: frame %d is not a gray or RGB image (%d "
                           "channels)", path, k, f->c);
        if (f->w != w || f->h != h)
            return nn_fail(e, "%s: frame %d is %dx%d, frame 0 is %dx%d: all "
                           "frames must have one size", path, k, f->w, f->h,
                           w, h);
    }
    int to_stdout = strcmp(path, "-") == 0;
    const char *name = to_stdout ? "stdout" : path;
    membuf b = {0};
    int rc = gif_encode(frames, nframes, delay_cs, name, &b, e);
    if (rc == 0 && !to_stdout)
        rc = nn_write_file(path, b.p, b.n, e);
    else if (rc == 0) {
        errno = 0;
        if (fwrite(b.p, 1, b.n, stdout) != b.n || fflush(stdout) != 0)
            rc = nn_fail(e, "stdout: write failed: %s",
                         strerror(errno ? errno : EIO));
    }
    free(b.p);
    return rc;
}
