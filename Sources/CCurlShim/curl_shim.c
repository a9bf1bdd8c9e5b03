#include "CCurlShim.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

struct growing_buffer {
    unsigned char *data;
    size_t length;
    size_t capacity;
    int failed;
};

static size_t collect(char *bytes, size_t size, size_t count, void *context) {
    struct growing_buffer *buffer = context;
    size_t total = size * count;
    if (buffer->length + total > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 65536;
        while (capacity < buffer->length + total) capacity *= 2;
        unsigned char *grown = realloc(buffer->data, capacity);
        if (!grown) { buffer->failed = 1; return 0; }  /* makes curl stop with CURLE_WRITE_ERROR */
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, bytes, total);
    buffer->length += total;
    return total;
}

/* Hands the body on to a socket as it arrives (the reader parses it meanwhile). A reader that
   stopped (closed its end) makes the send fail, and curl stop with CURLE_WRITE_ERROR. */
struct forwarding {
    int socket;
    int failed;
};

static size_t forward(char *bytes, size_t size, size_t count, void *context) {
    struct forwarding *target = context;
    size_t total = size * count, sent = 0;
    while (sent < total) {
        ssize_t written = send(target->socket, bytes + sent, total - sent, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR) continue;
            target->failed = 1;
            return 0;
        }
        sent += (size_t)written;
    }
    return total;
}

int scorpio_http_request(const char *url, const char *const *headers, int header_count,
                         const void *body, size_t body_length, long timeout_seconds, const char *ca_file,
                         int body_socket, long *status, unsigned char **response, size_t *response_length,
                         char *error) {
    pthread_once(&global_once, global_init);
    error[0] = 0;
    CURL *curl = curl_easy_init();
    if (!curl) { strncpy(error, "curl_easy_init failed", SCORPIO_HTTP_ERROR_SIZE - 1); return -1; }
    struct curl_slist *list = NULL;
    for (int i = 0; i < header_count; i++) list = curl_slist_append(list, headers[i]);
    struct growing_buffer buffer = {0};
    struct forwarding forwarding = {body_socket, 0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  /* many threads; no SIGALRM for DNS timeouts */
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  /* gzip answers are decoded */
    if (ca_file) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
    }
    if (body_socket >= 0) {
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, forward);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &forwarding);
    } else {
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buffer);
    }
    CURLcode code = curl_easy_perform(curl);
    /* The status is known even when the transfer failed after the headers (or the reader stopped). */
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (code == CURLE_OK) {
        *response = buffer.data;
        *response_length = buffer.length;
    } else {
        if (!error[0]) strncpy(error, curl_easy_strerror(code), SCORPIO_HTTP_ERROR_SIZE - 1);
        if (buffer.failed) strncpy(error, "out of memory for the response", SCORPIO_HTTP_ERROR_SIZE - 1);
        if (forwarding.failed) strncpy(error, "the reader stopped reading the response", SCORPIO_HTTP_ERROR_SIZE - 1);
        free(buffer.data);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return code == CURLE_OK ? 0 : (int)code;
}

void scorpio_http_free(void *pointer) { free(pointer); }
