/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Small helpers the C tests share. */

#include <glib.h>

G_BEGIN_DECLS

/* Remove a directory tree (symlinks are removed, never followed). */
void ar_test_rm_rf(const char *path);

G_END_DECLS
