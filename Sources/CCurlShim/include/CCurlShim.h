// libcurl for git's smart HTTP over TLS (https://). curl_easy_setopt is variadic, which Swift
// cannot call, so one whole request is wrapped here: plain C types only.
#ifndef CCURLSHIM_H
#define CCURLSHIM_H

#include <stddef.h>

/// Size of the error text buffer callers pass (CURL_ERROR_SIZE).
#define SCORPIO_HTTP_ERROR_SIZE 256

/// Performs one GET (body == NULL) or POST of `body`. `headers` are complete "Name: value"
/// lines. `timeout_seconds` bounds connecting and any stretch without progress (a large pack
/// may take longer in total). `ca_file` may be NULL (the system's trust store).
/// With `body_socket` -1, returns 0 with the HTTP status and a malloc'ed response body (free it
/// with scorpio_http_free); with a socket, sends the body to it as it arrives instead (the
/// caller closes it). Non-zero: a message in `error` (at least SCORPIO_HTTP_ERROR_SIZE), and
/// the status when the headers had come.
int scorpio_http_request(const char *url, const char *const *headers, int header_count,
                         const void *body, size_t body_length, long timeout_seconds, const char *ca_file,
                         int body_socket, long *status, unsigned char **response, size_t *response_length,
                         char *error);

void scorpio_http_free(void *pointer);

#endif
