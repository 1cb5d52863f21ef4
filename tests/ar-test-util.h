/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Small helpers the C tests share. */

#include <glib.h>

#include "ar-events.h"

G_BEGIN_DECLS

/* Remove a directory tree (symlinks are removed, never followed). */
void ar_test_rm_rf(const char *path);

/* A temporary log dir and an emitter writing into it, without the
 * journal: the fixture of the events tests (g_test_add). */
typedef struct {
  char *dir;
  ArEmitter *em;
} ArTestEvents;
void ar_test_events_set_up(ArTestEvents *f, gconstpointer data);
void ar_test_events_tear_down(ArTestEvents *f, gconstpointer data);

G_END_DECLS
