/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One supervisor per project: an flock on log_dir/agent-runner.lock held for
 * the daemon's whole lifetime, plus a JSON sidecar naming the holder so a
 * refused second daemon can say who is in the way. */

#include <glib.h>

G_BEGIN_DECLS

typedef struct ArdLock ArdLock;

/* Take the lock or fail with AR_ERROR_LOCKED and a message naming the
 * holder (pid, since when, command). */
ArdLock *ard_lock_acquire(const char *log_dir, GError **error);
/* Take over the lock an earlier image of this process held on fd (an
 * upgrade in place kept it open across execve): a second open() of the
 * file would be refused by our own lock. Works on a duplicate of fd; NULL
 * when fd cannot be duplicated. */
ArdLock *ard_lock_adopt(const char *log_dir, int fd);
/* Release the lock and remove the sidecar. */
void ard_lock_release(ArdLock *lock);
int ard_lock_get_fd(const ArdLock *lock);
const char *ard_lock_get_path(const ArdLock *lock);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdLock, ard_lock_release)

G_END_DECLS
