/* http-service: shared declarations of the example's two files. */
#ifndef HTTP_SERVICE_H
#define HTTP_SERVICE_H

#include <curl/curl.h>
#include <uv.h>

#include "uvotel.h"
#include "uvotel/uv.h"

/* libcurl multi on a libuv loop (curl_loop.c). */
typedef struct curl_loop_s curl_loop_t;

/* One transfer: `done` runs on the loop when it finishes, after the easy handle has left the
 * multi handle (the callee cleans it up), in the context current at curl_loop_add. */
typedef struct curl_transfer_s curl_transfer_t;
struct curl_transfer_s {
  void (*done)(curl_transfer_t *t, CURLcode result, long http_code);
  uvotel_snapshot_t *ctx; /* set by curl_loop_add: the context the transfer belongs to */
  unsigned long id;       /* set by curl_loop_add: unique per transfer */
};

curl_loop_t *curl_loop_create(uv_loop_t *loop);
int curl_loop_add(curl_loop_t *cl, CURL *easy, curl_transfer_t *t);
void curl_loop_remove(curl_loop_t *cl, CURL *easy);
/* Clean up the multi handle and close the timer (the struct is freed by the close callback). */
void curl_loop_close(curl_loop_t *cl);

#endif
