/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The web page's connections, each with a bound on how long it may hold a
 * descriptor without progress, and a cap on how many there are
 * (arm-http-conns.c). */

#include <glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Default bounds, in seconds (the hidden --http-bounds option changes them
 * for tests). */
#define ARM_HTTP_FIRST_S    30.0  /* connect (or a request's first byte) -> its whole header read */
#define ARM_HTTP_IDLE_S     60.0  /* a keep-alive connection with no request */
#define ARM_HTTP_RESPONSE_S 120.0 /* request read -> response written (not an event stream) */
/* Open connections: every event stream (ARM_WEB_MAX_CLIENTS) and room for
 * pages, scripts and actions beside them; more are closed at once. */
#define ARM_HTTP_MAX_CONNS 320

typedef struct ArmHttpConns ArmHttpConns;

/* Watches every connection of server. bounds: "FIRST,IDLE,RESPONSE" in
 * seconds, or NULL for the defaults; FALSE/NULL with error when wrong. */
ArmHttpConns *arm_http_conns_new(SoupServer *server, const char *bounds, GError **error);
void arm_http_conns_free(ArmHttpConns *c);

G_END_DECLS
