/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The generators of ar-gen-docs that live in their own files. */

#include <glib.h>

/* docs/classifiers.md with its generated part (gen-classifiers.c). */
void gen_classifiers_md(GString *out);
/* docs/monitor.md with its detector table (gen-monitor.c). */
void gen_monitor_md(GString *out);

/* The committed file at path (from the source root) with the text between
 * the begin and end markers replaced by generated; the markers stay. A
 * file or a marker that is missing is fatal: the tool's run fails. */
void gen_splice(GString *out, const char *path, const char *begin, const char *end,
                const char *generated);
