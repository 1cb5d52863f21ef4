/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one place where g_autoptr() learns about sd-bus, sd-event, sd-journal
 * and libgit2 types, so no file declares them again. */

#include <git2.h>
#include <glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event, sd_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event_source, sd_event_source_unref)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_repository, git_repository_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_reference, git_reference_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_object, git_object_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_commit, git_commit_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_tree, git_tree_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_index, git_index_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_signature, git_signature_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_status_list, git_status_list_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_diff, git_diff_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_config, git_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_revwalk, git_revwalk_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_tree_entry, git_tree_entry_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_reflog, git_reflog_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_transaction, git_transaction_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(git_index_conflict_iterator, git_index_conflict_iterator_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(git_buf, git_buf_dispose)

/* sd-bus wants a plain sd_bus_error on the stack, cleaned with
 * sd_bus_error_free; g_auto(sd_bus_error) does that. */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, sd_bus_error_free)

/* A file descriptor that closes itself: g_auto(ArFd) fd = -1; */
typedef int ArFd;
void ar_fd_close(ArFd *fd);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ArFd, ar_fd_close)
