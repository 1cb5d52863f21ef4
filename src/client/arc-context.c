/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The life of a verb's context beyond its options: the project's
 * connection, opened on the first call and shared by the rest of the verb,
 * and what main() ends once the verb returns. */

#include "ar-exit.h"
#include "arc-bus.h"
#include "arc-client.h"
#include "arc-polkit-agent.h"

int
arc_context_conn(ArcContext *ctx, ArcConn **conn)
{
  /* Only rows that say so reach the service: a verb that starts using
   * the bus must say it in the table (which also decides the polkit
   * agent). */
  g_return_val_if_fail(ctx->verb->flags & ARC_VERB_BUS, AR_EXIT_FAILURE);
  if (!ctx->conn) {
    ctx->conn = g_new0(ArcConn, 1);
    ctx->conn_rc = arc_conn_open(ctx, ctx->conn);
  }
  *conn = ctx->conn;
  return ctx->conn_rc;
}

void
arc_context_clear(ArcContext *ctx)
{
  if (ctx->conn) {
    arc_conn_clear(ctx->conn);
    g_clear_pointer(&ctx->conn, g_free);
  }
  arc_polkit_agent_close(ctx);
  g_clear_pointer(&ctx->hosts, g_ptr_array_unref);
  g_clear_pointer(&ctx->config_path, g_free);
  g_clear_pointer(&ctx->project, g_free);
}
