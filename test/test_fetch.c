/* test_fetch.c - SHA-256 and downloads: nn_sha256 gives the FIPS 180-4
 * test-vector digests and the same digest however the input is split;
 * nn_fetch_url against a local server (test/cli/fetch_server.py) downloads
 * a file whole, resumes a broken download with a Range request, rejects a
 * wrong checksum without leaving a file behind, fails at once on 404,
 * retries a 500 with growing back-off (and gives up when out of retries),
 * starts again when the server ignores Range or the old .part is wrong,
 * takes a 416 on a complete .part as complete, resumes after a stall, uses
 * an existing right DEST without a request, and draws the progress bar only
 * when asked and not quiet. The server cases are skipped without python3. */
#include "nn.h"
#include "test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];       /* this run's files */
static char root[320];      /* what the server serves */
static char logpath[320];   /* the server's request log */
static int port;
static pid_t server;

/* ---- helpers -------------------------------------------------------------- */

static void sha_hex(const void *data, size_t n, char hex[65])
{
    nn_sha256 s;
    nn_sha256_init(&s);
    nn_sha256_update(&s, data, n);
    nn_sha256_final(&s, hex);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        printf("FAIL writing %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* The whole file in a malloc'd buffer (*n its size, plus a NUL); NULL
 * when absent. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(size > 0 ? size + 1 : 1);
    *n = size > 0 ? fread(b, 1, size, f) : 0;
    b[*n] = '\0'; /* so text can be searched with strstr */
    fclose(f);
    return b;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* 1 when the file at path holds exactly data[0..n-1]. */
static int same_bytes(const char *path, const unsigned char *data, size_t n)
{
    size_t m;
    unsigned char *b = read_bytes(path, &m);
    int ok = b && m == n && memcmp(b, data, n) == 0;
    free(b);
    return ok;
}

static void dest_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static void url_of(char *buf, size_t size, const char *path)
{
    snprintf(buf, size, "http://127.0.0.1:%d%s", port, path);
}

/* Requests the server logged for exactly this path; *ranged counts those
 * that carried a Range header, and last_range gets the last one's. */
static int requests(const char *path, int *ranged, char *last_range)
{
    FILE *f = fopen(logpath, "r");
    char line[512], p[400], r[100];
    int n = 0;
    if (ranged)
        *ranged = 0;
    if (last_range)
        last_range[0] = '\0';
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "GET %399s %99s", p, r) == 2 && strcmp(p, path) == 0) {
            n++;
            if (strcmp(r, "-") != 0 && ranged)
                ++*ranged;
            if (last_range)
                strcpy(last_range, r);
        }
    fclose(f);
    return n;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char p[800];
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        if (de->d_type == DT_DIR)
            remove_tree(p);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* Starts the server on a free port; 0 on success, 1 when python3 is not
 * there (skip), -1 when it is there and the server would not start. */
static int start_server(const char *script)
{
    if (system("python3 -c 'import http.server' >/dev/null 2>&1") != 0)
        return 1;
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(stdout);
    server = fork();
    if (server < 0)
        return -1;
    if (server == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execlp("python3", "python3", script, root, logpath, "120", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[64];
    port = f && fgets(line, sizeof line, f) ? atoi(line) : 0;
    if (f)
        fclose(f);
    else
        close(fd[0]);
    return port > 0 ? 0 : -1;
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = 0;
    }
}

/* ---- SHA-256 -------------------------------------------------------------- */

static void test_sha256(void)
{
    char hex[65];
    TEST("sha256: FIPS 180-4 vectors: empty, \"abc\", 448-bit and 896-bit messages");
    static const struct {
        const char *msg, *sum;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
         "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sha_hex(v[i].msg, strlen(v[i].msg), hex);
        CHECK_MSG(strcmp(hex, v[i].sum) == 0, "\"%s\": got %s", v[i].msg, hex);
    }

    TEST("sha256: one million 'a's, fed 1000 at a time");
    {
        char a[1000];
        memset(a, 'a', sizeof a);
        nn_sha256 s;
        nn_sha256_init(&s);
        for (int i = 0; i < 1000; i++)
            nn_sha256_update(&s, a, sizeof a);
        nn_sha256_final(&s, hex);
        CHECK_MSG(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
                  "got %s", hex);
    }

    TEST("sha256: streaming in odd chunk sizes equals one-shot, for every length up to 300");
    {
        unsigned char data[300];
        for (int i = 0; i < 300; i++)
            data[i] = (unsigned char)(i * 131 + 7);
        static const size_t chunk[] = {1, 3, 7, 63, 64, 65, 127, 2, 129};
        int bad = -1;
        for (size_t n = 0; n <= sizeof data && bad < 0; n++) {
            char one[65], many[65];
            sha_hex(data, n, one);
            nn_sha256 s;
            nn_sha256_init(&s);
            for (size_t off = 0, k = n % 9; off < n; k++) {
                size_t c = chunk[k % 9] < n - off ? chunk[k % 9] : n - off;
                nn_sha256_update(&s, data + off, c);
                off += c;
            }
            nn_sha256_update(&s, data, 0);
            nn_sha256_final(&s, many);
            if (strcmp(one, many) != 0)
                bad = (int)n;
        }
        CHECK_MSG(bad < 0, "length %d differs", bad);
    }

    TEST("sha256: file digest equals the in-memory one; a missing file is an error naming it");
    {
        unsigned char data[200000];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (unsigned char)(i * 2654435761u >> 13);
        char path[400], want[65];
        dest_path(path, sizeof path, "sha.bin");
        write_bytes(path, data, sizeof data);
        sha_hex(data, sizeof data, want);
        nn_error e = {{0}};
        CHECK(nn_sha256_file(path, hex, &e) == 0 && strcmp(hex, want) == 0);
        dest_path(path, sizeof path, "no-such-file");
        CHECK(nn_sha256_file(path, hex, &e) < 0 && strstr(e.msg, path));
    }
}

/* ---- downloads ------------------------------------------------------------ */

enum { SIZE = 300000 };
static unsigned char data[SIZE]; /* every served file holds these bytes */
static char sum[65];

static const nn_fetch_opts quiet = {.retries = 4, .timeout_s = 10, .quiet = 1};

static void test_fetch(void)
{
    nn_error e = {{0}};
    char url[256], dest[400], part[420], range[100], want[1024];
    int n, ranged;
    nn_fetch_opts o;

#define DEST(name)                                                             \
    (dest_path(dest, sizeof dest, name),                                       \
     snprintf(part, sizeof part, "%s.part", dest))

    TEST("fetch: clean download: the bytes and the sum, no .part left, one request");
    DEST("clean.bin");
    url_of(url, sizeof url, "/clean.bin");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));
    CHECK(!exists(part));
    CHECK(requests("/clean.bin", NULL, NULL) == 1);

    TEST("fetch: a redirect is followed");
    DEST("redirected.bin");
    url_of(url, sizeof url, "/redirect/clean.bin");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));

    TEST("fetch: a broken download leaves half in .part; the next call resumes it with Range");
    DEST("drop1.bin");
    url_of(url, sizeof url, "/drop/drop1.bin");
    o = quiet;
    o.retries = 0;
    CHECK(nn_fetch_url(url, dest, sum, &o, &e) < 0);
    CHECK(!exists(dest));
    CHECK_MSG(same_bytes(part, data, SIZE / 2), ".part does not hold the first half");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &o, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));
    CHECK(!exists(part));
    n = requests("/drop/drop1.bin", &ranged, range);
    CHECK_MSG(n == 2 && ranged == 1 && strcmp(range, "bytes=150000-") == 0,
              "%d requests, %d with Range, last %s", n, ranged, range);

    TEST("fetch: with retries, a broken download resumes within one call");
    DEST("drop2.bin");
    url_of(url, sizeof url, "/drop/drop2.bin");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));
    n = requests("/drop/drop2.bin", &ranged, range);
    CHECK_MSG(n == 2 && ranged == 1 && strcmp(range, "bytes=150000-") == 0,
              "%d requests, %d with Range, last %s", n, ranged, range);

    TEST("fetch: checksum mismatch: error naming both sums, no DEST and no .part left");
    {
        char wrong[65];
        sha_hex("abc", 3, wrong);
        DEST("mismatch.bin");
        url_of(url, sizeof url, "/clean.bin");
        CHECK(nn_fetch_url(url, dest, wrong, &quiet, &e) < 0);
        snprintf(want, sizeof want, "%s: checksum mismatch: expected %s, got %s "
                 "(the download is corrupt or the registry is out of date)",
                 dest, wrong, sum);
        CHECK_MSG(strcmp(e.msg, want) == 0, "message: %s", e.msg);
        CHECK(!exists(dest) && !exists(part));
    }

    TEST("fetch: 404 fails at once, one request, no retries, no file");
    DEST("missing.bin");
    url_of(url, sizeof url, "/status/404");
    {
        double t0 = nn_now();
        CHECK(nn_fetch_url(url, dest, sum, &quiet, &e) < 0);
        snprintf(want, sizeof want, "%s: HTTP 404 Not Found", url);
        CHECK_MSG(strcmp(e.msg, want) == 0, "message: %s", e.msg);
        CHECK(requests("/status/404", NULL, NULL) == 1);
        CHECK(!exists(dest) && !exists(part));
        CHECK_MSG(nn_now() - t0 < 2, "took %.2f s", nn_now() - t0);
    }

    TEST("fetch: 500 twice then OK: succeeds on the third attempt after 100+200 ms of back-off");
    setenv("NN_FETCH_BACKOFF_MS", "100", 1);
    DEST("flaky1.bin");
    url_of(url, sizeof url, "/flaky/flaky1.bin");
    {
        double t0 = nn_now();
        CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
        double dt = nn_now() - t0;
        CHECK(same_bytes(dest, data, SIZE));
        CHECK(requests("/flaky/flaky1.bin", NULL, NULL) == 3);
        CHECK_MSG(dt >= 0.3 && dt < 3, "took %.2f s", dt);
    }
    setenv("NN_FETCH_BACKOFF_MS", "10", 1);

    TEST("fetch: 500 twice with retries=1: fails after 2 attempts, the error page not saved");
    DEST("flaky2.bin");
    url_of(url, sizeof url, "/flaky/flaky2.bin");
    o = quiet;
    o.retries = 1;
    CHECK(nn_fetch_url(url, dest, sum, &o, &e) < 0);
    snprintf(want, sizeof want, "%s: HTTP 500 Internal Server Error (after 2 attempts)", url);
    CHECK_MSG(strcmp(e.msg, want) == 0, "message: %s", e.msg);
    CHECK(requests("/flaky/flaky2.bin", NULL, NULL) == 2);
    CHECK(!exists(dest) && !exists(part));

    TEST("fetch: a server that ignores Range: starts again from zero, file not doubled");
    DEST("norange.bin");
    write_bytes(part, data, SIZE / 3);
    url_of(url, sizeof url, "/norange/norange.bin");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));
    CHECK(!exists(part));
    n = requests("/norange/norange.bin", &ranged, range);
    CHECK_MSG(n == 2 && ranged == 1 && strcmp(range, "-") == 0,
              "%d requests, %d with Range, last %s", n, ranged, range);

    TEST("fetch: a .part from another file: the resumed sum is wrong, so it starts again");
    DEST("stale.bin");
    {
        unsigned char junk[1000];
        memset(junk, 'x', sizeof junk);
        write_bytes(part, junk, sizeof junk);
    }
    url_of(url, sizeof url, "/stale.bin");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));
    n = requests("/stale.bin", &ranged, range);
    CHECK_MSG(n == 2 && ranged == 1 && strcmp(range, "-") == 0,
              "%d requests, %d with Range, last %s", n, ranged, range);

    TEST("fetch: 416 on a complete .part: verified and kept, the 416 page not appended");
    DEST("complete.bin");
    write_bytes(part, data, SIZE);
    url_of(url, sizeof url, "/complete.bin");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));
    n = requests("/complete.bin", &ranged, range);
    CHECK_MSG(n == 1 && strcmp(range, "bytes=300000-") == 0, "%d requests, last %s", n, range);

    TEST("fetch: a stalled transfer times out (timeout_s=1) and resumes");
    DEST("stall.bin");
    url_of(url, sizeof url, "/stall/stall.bin");
    o = quiet;
    o.timeout_s = 1;
    {
        double t0 = nn_now();
        CHECK_MSG(nn_fetch_url(url, dest, sum, &o, &e) == 0, "%s", e.msg);
        CHECK(same_bytes(dest, data, SIZE));
        n = requests("/stall/stall.bin", &ranged, range);
        CHECK_MSG(n == 2 && strcmp(range, "bytes=150000-") == 0, "%d requests, last %s", n, range);
        CHECK_MSG(nn_now() - t0 < 5, "took %.2f s", nn_now() - t0);
    }

    TEST("fetch: an existing DEST with the right sum is used without a request");
    DEST("present.bin");
    write_bytes(dest, data, SIZE);
    url_of(url, sizeof url, "/present.bin");
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(requests("/present.bin", NULL, NULL) == 0);
    TEST("fetch: an existing DEST with the wrong sum is downloaded again");
    write_bytes(dest, data, SIZE - 1);
    CHECK_MSG(nn_fetch_url(url, dest, sum, &quiet, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));
    CHECK(requests("/present.bin", NULL, NULL) == 1);

    TEST("fetch: no sum given: downloaded and not checked");
    DEST("nosum.bin");
    url_of(url, sizeof url, "/clean.bin");
    CHECK_MSG(nn_fetch_url(url, dest, NULL, NULL, &e) == 0, "%s", e.msg);
    CHECK(same_bytes(dest, data, SIZE));

    TEST("fetch: a malformed sum is an error before any request");
    DEST("badsum.bin");
    url_of(url, sizeof url, "/badsum.bin");
    CHECK(nn_fetch_url(url, dest, "1234", &quiet, &e) < 0 && strstr(e.msg, "1234"));
    CHECK(requests("/badsum.bin", NULL, NULL) == 0);

    TEST("fetch: connection refused is retried, then fails naming the attempts");
    {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int closed_port = 0;
        if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(s, (struct sockaddr *)&a, &len) == 0)
            closed_port = ntohs(a.sin_port);
        if (s >= 0)
            close(s);
        DEST("refused.bin");
        snprintf(url, sizeof url, "http://127.0.0.1:%d/x", closed_port);
        o = quiet;
        o.retries = 2;
        CHECK(closed_port > 0 && nn_fetch_url(url, dest, sum, &o, &e) < 0);
        CHECK_MSG(strstr(e.msg, url) && strstr(e.msg, "(after 3 attempts)"), "message: %s", e.msg);
        CHECK(!exists(dest) && !exists(part));
    }

    TEST("fetch: progress bar on stderr only when asked and not quiet");
    {
        char errpath[400];
        dest_path(errpath, sizeof errpath, "stderr.txt");
        int saved = dup(2);
        size_t n1 = 0, n2 = 0;
        for (int q = 0; q < 2; q++) {
            fflush(stderr);
            FILE *f = fopen(errpath, "w");
            dup2(fileno(f), 2);
            fclose(f);
            DEST(q ? "bar_quiet.bin" : "bar.bin");
            url_of(url, sizeof url, "/clean.bin");
            o = (nn_fetch_opts){.retries = 0, .progress = 1, .timeout_s = 10, .quiet = q};
            CHECK_MSG(nn_fetch_url(url, dest, sum, &o, &e) == 0, "%s", e.msg);
            fflush(stderr);
            dup2(saved, 2);
            unsigned char *b = read_bytes(errpath, q ? &n2 : &n1);
            if (!q)
                CHECK_MSG(b && n1 > 0 && memchr(b, '\r', n1) &&
                              strstr((char *)b, "100%") && strstr((char *)b, "clean") == NULL &&
                              strstr((char *)b, "bar.bin"),
                          "progress output: %.*s", (int)n1, b ? (char *)b : "");
            free(b);
        }
        close(saved);
        CHECK_MSG(n2 == 0, "quiet wrote %zu bytes to stderr", n2);
    }
#undef DEST
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/nn-test-fetch-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    test_sha256();

    /* the server script: from the source tree (make check runs here), or
     * beside this program's build/test directory */
    char script[600] = "test/cli/fetch_server.py";
    if (!exists(script)) {
        const char *slash = strrchr(argv[0], '/');
        int len = slash ? (int)(slash - argv[0]) : 1;
        snprintf(script, sizeof script, "%.*s/../../test/cli/fetch_server.py",
                 len, slash ? argv[0] : ".");
    }
    snprintf(root, sizeof root, "%s/www", dir);
    snprintf(logpath, sizeof logpath, "%s/requests.log", dir);
    mkdir(root, 0755);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(nn_hash64(i) >> 29);
    sha_hex(data, SIZE, sum);
    static const char *names[] = {"clean.bin", "drop1.bin", "drop2.bin", "flaky1.bin",
                                  "flaky2.bin", "norange.bin", "stale.bin",
                                  "complete.bin", "stall.bin", "present.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", root, names[i]);
        write_bytes(p, data, SIZE);
    }
    setenv("NN_FETCH_BACKOFF_MS", "10", 1);

    TEST("fetch: the local test server starts");
    int s = exists(script) ? start_server(script) : -1;
    if (s == 1)
        SKIP("python3 is not installed");
    else if (s < 0)
        FAILF("could not start %s", script);
    else
        test_fetch();
    stop_server();
    remove_tree(dir);
    return test_done();
}
