/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by the classifier tests (test-classify*.c). */

#include <glib.h>

#include "ar-classify.h"
#include "classify-cases.h"

/* tests/fixtures/agent-cli, NULL when absent. */
extern const char *fixtures_dir;

/* A claude stream-json run that succeeds with two tool calls. */
extern const char claude_ok_lines[];

typedef struct {
  gint64 first_stdout_us; /* arrival time of the first stdout line */
} FeedInfo;

ArDialect case_dialect(const char *name);
char *fixture_file(const char *name, const char *ext, gsize *len);
int fixture_rc(const char *name);
/* Feed a file line by line as the daemon's line scanner would; *clock is
 * the arrival time, advanced by one second per line. */
void feed_lines(ArClassifier *c, const char *data, gsize len, gint64 *clock);
ArClassifier *classify_case(const Case *tc, gboolean stderr_first, ArClassification *out,
                            FeedInfo *info);
const Case *find_case(const char *name);
/* FALSE (and the test skipped) without the fixtures. */
gboolean need_fixtures(void);
void assert_evidence_shape(const char *evidence);
void feed_str(ArClassifier *c, const char *line);
void feed_text_block(ArClassifier *c, const char *text);
/* One row of the expectation table against its fixture. */
void test_fixture_case(gconstpointer data);

/* g_test_init, and where the fixtures are. */
void classify_test_init(int *argc, char ***argv);
/* The expectation rows whose case name starts with prefix. */
void classify_test_add_cases(const char *prefix);
/* g_test_run; 77 when it ran without the fixtures. */
int classify_test_run(void);
