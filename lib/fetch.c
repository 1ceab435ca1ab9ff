/* fetch.c - downloads with libcurl (the only file that includes curl.h):
 * into DEST.part, resumed with a Range request, retried with exponential
 * back-off, shown with a progress bar, and checked against a SHA-256 sum
 * (or an MD5 sum of 32 hex digits, where that is all a publisher gives)
 * before DEST.part is renamed to DEST.
 *
 * Environment: NN_FETCH_BACKOFF_MS is the first back-off delay in
 * milliseconds (default 1000, doubled after each retry); the tests make it
 * small. */
#include "nn.h"

#include <curl/curl.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* curl_global_init is not thread-safe on every libcurl: run it once. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;
static void curl_init(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* One attempt's state, shared by the header, body and progress callbacks. */
typedef struct transfer {
    const char *part;   /* DEST.part */
    const char *label;  /* the name the progress bar shows */
    FILE *fp;           /* DEST.part, opened at the first byte of data */
    curl_off_t offset;  /* bytes in DEST.part when the attempt began */
    curl_off_t written; /* bytes this attempt added */
    int http;           /* an HTTP status line was seen */
    long status;        /* the latest response's status */
    char reason[96];    /* and its reason phrase */
    curl_off_t range_total; /* the length after '/' in Content-Range; -1: none */
    int unexpected_200; /* a full body where a range was asked for */
    int write_errno;    /* writing DEST.part failed */
    double timeout_s;   /* the stall timeout */
    curl_off_t last_now; /* bytes received when the count last moved */
    double last_move;   /* and when */
    int stalled;        /* aborted: nothing arrived for timeout_s */
    int progress;
    double t0, last_draw;
    int drawn;
} transfer;

static const char *http_reason(long code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

/* Header lines of every response (redirects included): keeps the status,
 * its reason phrase and the total length of a Content-Range. */
static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    transfer *t = arg;
    size_t len = size * n;
    char line[256];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, buf, k);
    while (k > 0 && (line[k - 1] == '\r' || line[k - 1] == '\n'))
        k--;
    line[k] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) { /* a new response begins */
        char *p = strchr(line, ' ');
        t->http = 1;
        t->status = p ? strtol(p + 1, &p, 10) : 0;
        while (p && *p == ' ')
            p++;
        snprintf(t->reason, sizeof t->reason, "%s",
                 p && *p ? p : http_reason(t->status));
        t->range_total = -1;
    } else if (strncasecmp(line, "Content-Range:", 14) == 0) {
        /* "bytes FIRST-LAST/TOTAL" or "bytes * /TOTAL" */
        char *slash = strchr(line, '/');
        if (slash && isdigit((unsigned char)slash[1]))
            t->range_total = strtoll(slash + 1, NULL, 10);
    }
    return len;
}

static int ok_status(const transfer *t)
{
    return !t->http || (t->status >= 200 && t->status < 300);
}

/* Body bytes: appended to DEST.part, except the body of an error response
 * (an error page is never data). */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    transfer *t = arg;
    size_t len = size * n;
    if (!ok_status(t))
        return len;
    if (t->http && t->status == 200 && t->offset > 0) {
        /* libcurl normally stops this itself (CURLE_RANGE_ERROR) */
        t->unexpected_200 = 1;
        return 0;
    }
    if (!t->fp && !(t->fp = fopen(t->part, t->offset > 0 ? "ab" : "wb"))) {
        t->write_errno = errno;
        return 0;
    }
    if (fwrite(data, 1, len, t->fp) != len) {
        t->write_errno = errno ? errno : EIO;
        return 0;
    }
    t->written += len;
    return len;
}

static void format_bytes(char *buf, size_t size, double b)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4)
        b /= 1024, u++;
    if (u == 0)
        snprintf(buf, size, "%.0f B", b);
    else
        snprintf(buf, size, "%.1f %s", b, unit[u]);
}

/* One line, redrawn in place with \r:
 *   NAME  45%  12.3 MiB / 26.4 MiB  3.2 MiB/s  ETA 0:04 */
static void draw_progress(transfer *t, curl_off_t dltotal)
{
    double now = nn_now(), dt = now - t->t0;
    double have = (double)(t->offset + t->written);
    double total = dltotal > 0 ? (double)(t->offset + dltotal) : 0;
    double rate = dt > 0 ? t->written / dt : 0;
    char shave[32], stotal[32], srate[32], eta[32], pct[8];
    format_bytes(shave, sizeof shave, have);
    format_bytes(srate, sizeof srate, rate);
    if (total > 0) {
        format_bytes(stotal, sizeof stotal, total);
        snprintf(pct, sizeof pct, "%3.0f%%", 100 * have / total);
    } else {
        snprintf(stotal, sizeof stotal, "?");
        snprintf(pct, sizeof pct, "  ?%%");
    }
    if (total > 0 && rate > 0) {
        long s = (long)((total - have) / rate + 0.5);
        if (s >= 3600)
            snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
        else
            snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
    } else {
        snprintf(eta, sizeof eta, "--:--");
    }
    fprintf(stderr, "\r%-20.20s %s %10s / %-10s %10s/s  ETA %-8s", t->label,
            pct, shave, stotal, srate, eta);
    fflush(stderr);
    t->drawn = 1;
    t->last_draw = now;
}

/* Called about once a second even when nothing arrives: the stall timer
 * (libcurl's low-speed limit averages the speed over several seconds, so
 * it alone would fire late after a burst) and the progress bar. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    transfer *t = arg;
    double now = nn_now();
    (void)ultotal, (void)ulnow;
    if (dlnow != t->last_now) {
        t->last_now = dlnow;
        t->last_move = now;
    } else if (now - t->last_move > t->timeout_s) {
        t->stalled = 1;
        return 1; /* abort the transfer */
    }
    if (t->progress && t->written > 0 && ok_status(t) && now - t->last_draw >= 0.1)
        draw_progress(t, dltotal);
    return 0;
}

/* What one attempt came to. */
enum { GOT_ALL, RETRY, RESTART, RESTART_NORANGE, GIVE_UP, DISK_ERROR };

/* One request from byte offset (0: the whole file). On anything
 * but GOT_ALL, msg says what went wrong. */
static int attempt(CURL *c, transfer *t, curl_off_t offset,
                   char *msg, size_t msgsize)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    t->fp = NULL;
    t->offset = offset;
    t->written = 0;
    t->http = 0;
    t->status = 0;
    t->reason[0] = '\0';
    t->range_total = -1;
    t->unexpected_200 = 0;
    t->write_errno = 0;
    t->t0 = t->last_move = nn_now();
    t->last_now = 0;
    t->stalled = 0;
    t->last_draw = 0;
    t->drawn = 0;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, offset);
    CURLcode res = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);

    if (t->fp) { /* on disk before DEST.part is checked and renamed */
        if ((fflush(t->fp) != 0 || fsync(fileno(t->fp)) != 0) && !t->write_errno)
            t->write_errno = errno;
        if (fclose(t->fp) != 0 && !t->write_errno)
            t->write_errno = errno;
        t->fp = NULL;
    }
    if (t->progress && t->drawn) {
        if (res == CURLE_OK && ok_status(t)) {
            curl_off_t len = -1;
            curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
            draw_progress(t, len);
        }
        fputc('\n', stderr);
    }

    if (t->write_errno) {
        snprintf(msg, msgsize, "%s: %s", t->part, strerror(t->write_errno));
        return DISK_ERROR;
    }
    if (t->http && !ok_status(t)) {
        snprintf(msg, msgsize, "HTTP %ld %s", t->status, t->reason);
        if (t->status == 416 && offset > 0)
            /* DEST.part reaches the end already, unless the server says
             * the file has another length */
            return t->range_total < 0 || t->range_total == offset ? GOT_ALL
                                                                  : RESTART;
        /* server errors and the two 4xx that mean "try again later" */
        if (t->status >= 500 || t->status == 408 || t->status == 429)
            return RETRY;
        return GIVE_UP;
    }
    if (res == CURLE_RANGE_ERROR || t->unexpected_200) {
        snprintf(msg, msgsize, "the server does not resume downloads");
        return RESTART_NORANGE;
    }
    if (res == CURLE_OK)
        return GOT_ALL;
    if (t->stalled) {
        snprintf(msg, msgsize, "no data for %.0f s", t->timeout_s);
        return RETRY;
    }
    snprintf(msg, msgsize, "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
    switch (res) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_FTP_ACCEPT_TIMEOUT:
    case CURLE_FTP_CANT_GET_HOST:
        return RETRY;
    default:
        return GIVE_UP;
    }
}

static curl_off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (curl_off_t)st.st_size : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The download loop around an easy handle set up by nn_fetch_url. */
static int fetch(CURL *c, transfer *t, const char *url, const char *dest,
                 const char *want, const nn_fetch_opts *o, nn_error *e)
{
    const char *env = getenv("NN_FETCH_BACKOFF_MS");
    long backoff = env && *env ? strtol(env, NULL, 10) : 1000;
    if (backoff < 0)
        backoff = 0;
    if (backoff > 3600000)
        backoff = 3600000;
    int tries = 0, restarts = 0, norange = 0;
    /* bytes from an earlier run: when the sum comes out wrong they may be
     * of another version of the file, so they get one more chance */
    int old_part = file_size(t->part) > 0;
    char msg[CURL_ERROR_SIZE + 64];
    for (;;) {
        curl_off_t offset = norange ? 0 : file_size(t->part);
        if (offset < 0)
            offset = 0;
        tries++;
        int r = attempt(c, t, offset, msg, sizeof msg);
        if (r == DISK_ERROR)
            return nn_fail(e, "%s", msg);
        if (r == GIVE_UP)
            return nn_fail(e, "%s: %s", url, msg);
        if (r == RESTART || r == RESTART_NORANGE) {
            /* not a failure of the network: start again from byte 0 */
            if (++restarts > 3)
                return nn_fail(e, "%s: %s", url, msg);
            if (!o->quiet)
                fprintf(stderr, "%s: %s; starting again from the beginning\n",
                        url, msg);
            remove(t->part);
            old_part = 0;
            norange |= r == RESTART_NORANGE;
            tries--;
            continue;
        }
        if (r == RETRY) {
            if (tries > o->retries)
                return nn_fail(e, "%s: %s (after %d attempt%s)", url, msg,
                               tries, tries == 1 ? "" : "s");
            long wait = backoff << (tries - 1 < 10 ? tries - 1 : 10);
            if (wait > 60000 && backoff <= 60000)
                wait = 60000; /* at most a minute between attempts */
            if (!o->quiet)
                fprintf(stderr, "%s: %s; retrying in %.3g s (attempt %d of %d)\n",
                        url, msg, wait / 1000.0, tries + 1, o->retries + 1);
            sleep_ms(wait);
            continue;
        }
        /* GOT_ALL: DEST.part holds the whole file */
        if (file_size(t->part) < 0) { /* an empty file sends no bytes */
            FILE *f = fopen(t->part, "wb");
            if (!f || fclose(f) != 0)
                return nn_fail(e, "%s: %s", t->part, strerror(errno));
        }
        if (want) {
            char got[65];
            if (nn_file_sum(t->part, want, got, e) < 0)
                return -1;
            if (strcmp(got, want) != 0) {
                remove(t->part);
                if (old_part && restarts++ < 3) {
                    if (!o->quiet)
                        fprintf(stderr, "%s: checksum mismatch after resuming an "
                                "earlier download; starting again\n", dest);
                    old_part = 0;
                    tries = 0;
                    continue;
                }
                return nn_fail(e, "%s: checksum mismatch: expected %s, got %s "
                               "(the download is corrupt or the registry is "
                               "out of date)", dest, want, got);
            }
        }
        if (rename(t->part, dest) != 0)
            return nn_fail(e, "%s: %s", dest, strerror(errno));
        return 0;
    }
}

int nn_fetch_url(const char *url, const char *dest, const char *sha256,
                 const nn_fetch_opts *opts, nn_error *e)
{
    nn_fetch_opts o = {.retries = 4, .timeout_s = 60};
    if (opts) {
        o = *opts;
        if (o.retries < 0)
            o.retries = 0;
        if (o.timeout_s <= 0)
            o.timeout_s = 60;
    }
    if (!url || !*url || !dest || !*dest)
        return nn_fail(e, "fetch: no URL or no destination");
    char want[65] = "";
    if (sha256) {
        size_t n = strlen(sha256);
        for (size_t i = 0; i < n && i < 64; i++)
            want[i] = (char)tolower((unsigned char)sha256[i]);
        want[n < 64 ? n : 64] = '\0';
        if (!nn_sum_kind(sha256))
            return nn_fail(e, "%s: bad checksum '%s': expected 64 hex digits (SHA-256) or "
                           "32 (MD5)", dest, sha256);
    }

    /* A DEST that is already right needs no network. */
    if (sha256 && file_size(dest) >= 0) {
        char got[65];
        if (nn_file_sum(dest, want, got, NULL) == 0 && strcmp(got, want) == 0)
            return 0;
        if (!o.quiet)
            fprintf(stderr, "%s: exists but its checksum differs; downloading "
                    "it again\n", dest);
    }

    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return nn_fail(e, "%s: libcurl: %s", url, curl_easy_strerror(curl_init_result));
    size_t len = strlen(dest);
    char *part = malloc(len + 6);
    if (!part)
        return nn_fail(e, "%s: out of memory", dest);
    memcpy(part, dest, len);
    memcpy(part + len, ".part", 6);
    const char *base = strrchr(dest, '/');
    transfer t = {.part = part, .label = base ? base + 1 : dest,
                  .timeout_s = (double)o.timeout_s,
                  .progress = o.progress && !o.quiet};
    CURL *c = curl_easy_init();
    if (!c) {
        free(part);
        return nn_fail(e, "%s: libcurl: cannot make a handle", url);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,ftp,ftps,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp,ftps");
#endif
    curl_easy_setopt(c, CURLOPT_USERAGENT, "nn/" NN_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o.timeout_s);
    /* stall timeout: fewer than 1 byte/s for timeout_s seconds; on_progress
     * keeps the exact timer */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o.timeout_s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    int rc = fetch(c, &t, url, dest, sha256 ? want : NULL, &o, e);
    curl_easy_cleanup(c);
    free(part);
    return rc;
}
