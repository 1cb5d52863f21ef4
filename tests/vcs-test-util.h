/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the ar-vcs tests share: a temporary root with an empty home, the
 * host's git configuration kept out (HOME, GIT_CONFIG_GLOBAL and
 * GIT_CONFIG_NOSYSTEM for the CLI, libgit2's search paths for the
 * library), the git CLI to check with, and files to write and read. */

#include <glib.h>

G_BEGIN_DECLS

/* g_test_init, the temporary root and the git environment. */
void vcs_test_init(int *argc, char ***argv);
/* In a forked child of a root test run: become nobody (65534), with the
 * scratch folder handed over, for a test that needs permissions to bite. */
void vcs_test_drop_root(void);
/* Back in the root parent: the scratch folder is root's again (git refuses
 * repositories of another owner). */
void vcs_test_reclaim(void);
/* Ends libgit2 and removes the temporary root; returns rc. */
int vcs_test_finish(int rc);
const char *vcs_test_tmp(void);

/* git -C dir ARGS...: must succeed; returns stdout. */
G_GNUC_NULL_TERMINATED char *git(const char *dir, ...);
/* git -C dir ARGS...: returns whether it succeeded. */
G_GNUC_NULL_TERMINATED gboolean git_ok(const char *dir, ...);
/* Same as git(), first line of stdout without the newline. */
G_GNUC_NULL_TERMINATED char *git_line(const char *dir, ...);

void write_bytes(const char *dir, const char *rel, const void *data, gsize len);
void write_file(const char *dir, const char *rel, const char *text);
void remove_file(const char *dir, const char *rel);
GBytes *read_bytes(const char *dir, const char *rel);
char *read_text(const char *dir, const char *rel);
gboolean exists(const char *dir, const char *rel);
guint count_lines(const char *text);
void assert_files(GPtrArray *files, const char *const *expected);

/* A committed repository: a.txt, b.txt, bin.dat, src/c.c, .gitignore. */
char *make_repo(gboolean identity);
/* git init with an identity, no commit. */
char *make_empty_repo(void);

G_END_DECLS
