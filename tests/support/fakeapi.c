/* fakeapi.c — the loopback HTTP/1.1 server of fakeapi.h (all but fake_echo, which lives in
 * fakeapi_echo.c).
 *
 * One thread accepts connections on 127.0.0.1 and serves them one at a time: it reads a request
 * (Content-Length or chunked body; "Expect: 100-continue" answered), records it, picks the reply
 * (scripted queue, handler, 404) and writes it as scripted — delays, pieces, a cut — then closes
 * the connection ("Connection: close"), so a client never waits on a kept-alive socket. Every
 * wait is a poll() of at most 50 ms that also watches the stop flag, so fake_stop() returns
 * promptly whatever the server was doing. Pieces are written with TCP_NODELAY, one send() each,
 * so that a client really sees them arrive apart. */
#include "fakeapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    POLL_MS = 50,
    IDLE_LIMIT_MS = 10000,                 /* a silent client is dropped after this */
    MAX_HEAD = 64 * 1024,                  /* request line and headers */
};
#define MAX_BODY ((size_t)64 << 20)

/* A queued reply with its own copies of the strings. */
typedef struct owned_reply {
    fake_reply r;
    char *content_type, *headers, *body;
} owned_reply;

struct fake_server {
    int listen_fd;
    int port;
    char base[64];
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;                    /* guards what follows */
    fake_request **reqs;                   /* pointers, so that fake_get's results stay put */
    int n_reqs, cap_reqs;
    owned_reply *queue;
    size_t q_head, q_len, q_cap;
    fake_handler handler;
    void *handler_ud;
    uint64_t rng;                          /* for random_split; only the server thread uses it */
};

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fakeapi: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup_or_null(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *p = xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

static uint64_t next_rand(uint64_t *s) { /* xorshift64 */
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void sleep_s(double s) {
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

static bool stopping(fake_server *s) { return atomic_load(&s->stop); }

/* Wait secs, in steps, unless the server stops; false if it stopped. */
static bool wait_s(fake_server *s, double secs) {
    while (secs > 0) {
        if (stopping(s)) return false;
        double step = secs < POLL_MS / 1000.0 ? secs : POLL_MS / 1000.0;
        sleep_s(step);
        secs -= step;
    }
    return !stopping(s);
}

/* ---- reading a request ---- */

typedef struct conn {
    fake_server *s;
    int fd;
    char *buf;
    size_t len, pos, cap;
} conn;

/* Read more bytes into c->buf; false on EOF, error, stop or a long silence. */
static bool fill(conn *c) {
    if (c->pos > 0 && c->pos == c->len) c->pos = c->len = 0;
    if (c->len == c->cap) {
        if (c->cap >= MAX_BODY + MAX_HEAD) return false;
        c->cap = c->cap ? c->cap * 2 : 16384;
        char *nb = realloc(c->buf, c->cap);
        if (!nb) return false;
        c->buf = nb;
    }
    for (int waited = 0; waited < IDLE_LIMIT_MS; waited += POLL_MS) {
        if (stopping(c->s)) return false;
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        int r = poll(&pfd, 1, POLL_MS);
        if (r < 0 && errno != EINTR) return false;
        if (r <= 0) continue;
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        c->len += (size_t)n;
        return true;
    }
    return false;
}

/* A line ending in CRLF (or LF), without it; NULL on failure. Valid until the next read. */
static char *read_line(conn *c, size_t max) {
    for (;;) {
        char *nl = c->pos < c->len ? memchr(c->buf + c->pos, '\n', c->len - c->pos) : NULL;
        if (nl) {
            char *line = c->buf + c->pos;
            size_t n = (size_t)(nl - line);
            c->pos += n + 1;
            if (n > 0 && line[n - 1] == '\r') n--;
            line[n] = 0;
            return line;
        }
        if (c->len - c->pos > max) return NULL;
        if (c->pos > 0) { /* keep the partial line at the front */
            memmove(c->buf, c->buf + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        }
        if (!fill(c)) return NULL;
    }
}

/* Append n body bytes to body. */
static bool read_n(conn *c, size_t n, char **body, size_t *len) {
    if (*len + n > MAX_BODY) return false;
    char *nb = realloc(*body, *len + n + 1);
    if (!nb) return false;
    *body = nb;
    while (n > 0) {
        if (c->pos == c->len && !fill(c)) return false;
        size_t k = c->len - c->pos < n ? c->len - c->pos : n;
        memcpy(*body + *len, c->buf + c->pos, k);
        c->pos += k;
        *len += k;
        n -= k;
    }
    (*body)[*len] = 0;
    return true;
}

static bool send_all(fake_server *s, int fd, const char *p, size_t n) {
    while (n > 0) {
        if (stopping(s)) return false;
        struct pollfd pfd = { fd, POLLOUT, 0 };
        int r = poll(&pfd, 1, POLL_MS);
        if (r < 0 && errno != EINTR) return false;
        if (r <= 0) continue;
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k <= 0) return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* The value of header name in raw "Name: value\r\n" lines, copied to buf; NULL if absent. */
static const char *find_header(const char *headers, const char *name, char *buf, size_t cap) {
    size_t nl = strlen(name);
    for (const char *line = headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1, *ve = line + len;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            size_t n = (size_t)(ve - v) < cap - 1 ? (size_t)(ve - v) : cap - 1;
            memcpy(buf, v, n);
            buf[n] = 0;
            return buf;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

static void free_request(fake_request *r) {
    if (!r) return;
    free(r->headers);
    free(r->body);
    free(r);
}

/* Read one request from c; NULL when the connection ends or the request is malformed. */
static fake_request *read_request(conn *c) {
    char *line = read_line(c, MAX_HEAD);
    if (!line) return NULL;
    fake_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    char version[16] = "";
    if (sscanf(line, "%15s %511s %15s", r->method, r->path, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        free_request(r);
        return NULL;
    }
    size_t hcap = 1024, hlen = 0;
    r->headers = xmalloc(hcap);
    r->headers[0] = 0;
    for (;;) {
        if (!(line = read_line(c, MAX_HEAD))) {
            free_request(r);
            return NULL;
        }
        if (!*line) break;
        size_t n = strlen(line);
        if (hlen + n + 3 > MAX_HEAD) {
            free_request(r);
            return NULL;
        }
        while (hlen + n + 3 > hcap) hcap *= 2;
        r->headers = realloc(r->headers, hcap);
        if (!r->headers) abort();
        memcpy(r->headers + hlen, line, n);
        memcpy(r->headers + hlen + n, "\r\n", 3);
        hlen += n + 2;
    }

    char v[64];
    if (find_header(r->headers, "expect", v, sizeof v) && strcasecmp(v, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!send_all(c->s, c->fd, cont, sizeof cont - 1)) {
            free_request(r);
            return NULL;
        }
    }
    r->body = xmalloc(1);
    r->body[0] = 0;
    bool ok = true;
    if (find_header(r->headers, "transfer-encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
        for (;;) { /* chunk-size [; ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF */
            char *sz = read_line(c, 1024);
            char *end;
            unsigned long long n = sz ? strtoull(sz, &end, 16) : 0;
            if (!sz || end == sz || n > MAX_BODY) {
                ok = false;
                break;
            }
            if (n == 0) {
                while ((sz = read_line(c, MAX_HEAD)) && *sz) {} /* trailers */
                ok = sz != NULL;
                break;
            }
            if (!read_n(c, (size_t)n, &r->body, &r->body_len) || !(sz = read_line(c, 16)) || *sz) {
                ok = false;
                break;
            }
        }
    } else if (find_header(r->headers, "content-length", v, sizeof v)) {
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        ok = end != v && !*end && n <= MAX_BODY && read_n(c, (size_t)n, &r->body, &r->body_len);
    }
    if (!ok) {
        free_request(r);
        return NULL;
    }
    return r;
}

/* ---- writing a reply ---- */

static const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return "Status";
    }
}

/* Write r on fd as its fields say. The body is cut (and the connection then closed by the
 * caller) after cut_after bytes; with chunked encoding a cut at or past the end still leaves
 * out the final zero-length chunk, so that the body is never complete. */
static void send_reply(fake_server *s, int fd, const fake_reply *r) {
    int status = r->status ? r->status : 200;
    const char *body = r->body ? r->body : "";
    size_t len = r->body_len ? r->body_len : strlen(body);
    if (r->first_byte_delay_s > 0 && !wait_s(s, r->first_byte_delay_s)) return;

    char *head = xmalloc(512 + (r->headers ? strlen(r->headers) : 0));
    int n = sprintf(head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sConnection: close\r\n", status,
                    reason_phrase(status), r->content_type ? r->content_type : "application/json",
                    r->headers ? r->headers : "");
    if (r->chunked) n += sprintf(head + n, "Transfer-Encoding: chunked\r\n\r\n");
    else n += sprintf(head + n, "Content-Length: %zu\r\n\r\n", len);
    bool ok = send_all(s, fd, head, (size_t)n);
    free(head);

    bool cut = r->cut_after > 0 && (r->cut_after < len || r->chunked);
    size_t limit = cut && r->cut_after < len ? r->cut_after : len; /* body bytes to send */
    size_t off = 0;
    while (ok && off < len) {
        size_t piece = len - off;
        if (r->split > 0) {
            piece = r->random_split ? 1 + (size_t)(next_rand(&s->rng) % r->split) : r->split;
            if (piece > len - off) piece = len - off;
        }
        size_t send_n = off + piece > limit ? limit - off : piece; /* short of the piece if cut */
        if (off > 0 && r->piece_delay_s > 0 && !wait_s(s, r->piece_delay_s)) return;
        if (r->chunked) {
            char hdr[32];
            int hn = sprintf(hdr, "%zx\r\n", piece); /* claims the whole piece */
            ok = send_all(s, fd, hdr, (size_t)hn);
        }
        if (ok && send_n > 0) ok = send_all(s, fd, body + off, send_n);
        if (!ok || send_n < piece) return;
        if (r->chunked) ok = send_all(s, fd, "\r\n", 2);
        off += piece;
        if (off >= limit && cut) return;
    }
    if (ok && r->chunked && !cut) send_all(s, fd, "0\r\n\r\n", 5);
}

/* ---- the server thread ---- */

static void record(fake_server *s, fake_request *r) {
    pthread_mutex_lock(&s->mu);
    if (s->n_reqs == s->cap_reqs) {
        s->cap_reqs = s->cap_reqs ? s->cap_reqs * 2 : 16;
        s->reqs = realloc(s->reqs, (size_t)s->cap_reqs * sizeof *s->reqs);
        if (!s->reqs) abort();
    }
    s->reqs[s->n_reqs++] = r;
    pthread_mutex_unlock(&s->mu);
}

static void free_owned(owned_reply *o) {
    free(o->content_type);
    free(o->headers);
    free(o->body);
}

static void answer(fake_server *s, int fd, const fake_request *req) {
    owned_reply scripted;
    bool have = false;
    fake_handler h;
    void *hud;
    pthread_mutex_lock(&s->mu);
    if (s->q_len > 0) {
        scripted = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        have = true;
    }
    h = s->handler;
    hud = s->handler_ud;
    pthread_mutex_unlock(&s->mu);

    if (have) {
        send_reply(s, fd, &scripted.r);
        free_owned(&scripted);
        return;
    }
    fake_reply out;
    char *to_free = NULL;
    memset(&out, 0, sizeof out);
    if (h && h(req, &out, &to_free, hud)) {
        send_reply(s, fd, &out);
        free(to_free);
        return;
    }
    free(to_free);
    char body[700];
    snprintf(body, sizeof body, "{\"error\":{\"message\":\"no reply for %s %.500s\",\"type\":"
             "\"not_found\"}}", req->method, req->path);
    fake_reply nf = { .status = 404, .body = body };
    send_reply(s, fd, &nf);
}

static void serve_connection(fake_server *s, int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn c = { .s = s, .fd = fd };
    fake_request *r = read_request(&c);
    if (r) {
        record(s, r);
        answer(s, fd, r);
    }
    free(c.buf);
    /* Read nothing more: the request was read whole, so this close is a clean FIN. */
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void *server_main(void *arg) {
    fake_server *s = arg;
    while (!stopping(s)) {
        struct pollfd pfd = { s->listen_fd, POLLIN, 0 };
        int r = poll(&pfd, 1, POLL_MS);
        if (r <= 0) continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        serve_connection(s, fd);
    }
    return NULL;
}

/* ---- the API ---- */

fake_server *fake_start(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return NULL;
    }
    fake_server *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return NULL;
    }
    s->listen_fd = fd;
    s->port = ntohs(a.sin_port);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    s->rng = 0x9E3779B97F4A7C15ull;
    atomic_init(&s->stop, false);
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

void fake_stop(fake_server *s) {
    if (!s) return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    for (int i = 0; i < s->n_reqs; i++) free_request(s->reqs[i]);
    free(s->reqs);
    for (size_t i = 0; i < s->q_len; i++) free_owned(&s->queue[(s->q_head + i) % s->q_cap]);
    free(s->queue);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int fake_port(const fake_server *s) { return s->port; }

const char *fake_base(const fake_server *s) { return s->base; }

void fake_push(fake_server *s, const fake_reply *r) {
    owned_reply o;
    o.r = *r;
    o.content_type = xstrdup_or_null(r->content_type);
    o.headers = xstrdup_or_null(r->headers);
    size_t len = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0;
    o.body = xmalloc(len + 1);
    if (len) memcpy(o.body, r->body, len);
    o.body[len] = 0;
    o.r.content_type = o.content_type;
    o.r.headers = o.headers;
    o.r.body = o.body;
    o.r.body_len = len;

    pthread_mutex_lock(&s->mu);
    if (s->q_len == s->q_cap) { /* grow, unrolling the ring */
        size_t cap = s->q_cap ? s->q_cap * 2 : 8;
        owned_reply *q = xmalloc(cap * sizeof *q);
        for (size_t i = 0; i < s->q_len; i++) q[i] = s->queue[(s->q_head + i) % s->q_cap];
        free(s->queue);
        s->queue = q;
        s->q_cap = cap;
        s->q_head = 0;
    }
    s->queue[(s->q_head + s->q_len) % s->q_cap] = o;
    s->q_len++;
    pthread_mutex_unlock(&s->mu);
}

void fake_set_handler(fake_server *s, fake_handler h, void *ud) {
    pthread_mutex_lock(&s->mu);
    s->handler = h;
    s->handler_ud = ud;
    pthread_mutex_unlock(&s->mu);
}

int fake_count(fake_server *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->n_reqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const fake_request *fake_get(fake_server *s, int i) {
    pthread_mutex_lock(&s->mu);
    const fake_request *r = i >= 0 && i < s->n_reqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

const char *fake_header(fake_server *s, int i, const char *name, char *buf, size_t cap) {
    const fake_request *r = fake_get(s, i);
    if (!r || cap == 0) return NULL;
    return find_header(r->headers, name, buf, cap);
}
