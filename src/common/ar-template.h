/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The files install --system writes from templates under data/templates
 * (installed to PKGDATADIR/templates): @KEY@ placeholders filled with
 * XML-escaped values, in one place. */

#include <glib.h>

G_BEGIN_DECLS

/* PKGDATADIR/templates, or $AGENT_RUNNER_TEMPLATES_DIR (build tree). */
const char *ar_templates_dir(void);

/* Replace every @KEY@ in text with the XML-escaped value of KEY from kv
 * (NULL-terminated key, value pairs). A placeholder without a value is an
 * error, so a template and its caller cannot drift apart silently. */
char *ar_template_fill_xml(const char *text, const char *const *kv, GError **error);

/* Read ar_templates_dir()/name and fill it. */
char *ar_template_load_xml(const char *name, const char *const *kv, GError **error);

G_END_DECLS
