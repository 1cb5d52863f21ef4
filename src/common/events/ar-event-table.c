/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "ar-events.h"
#include "ar-json.h"
#include "ar-util.h"

/* The one list of event kinds. docs/events.md and the journal catalog
 * (data/catalog/agent-runner.catalog) are generated from it by ar-gen-docs,
 * and the docs-drift test fails when they are out of date.
 *
 * Contract: the kind name is the version discriminator. Fields are
 * append-only: never rename, remove or re-type one; a breaking change is a
 * new kind (round_end_v2). Message ids never change. The first 43 kinds and
 * their leading fields are those of the Python tool cli-agent-runner. */

/* clang-format off */
#define FIELD(n, t, f, m) { .name = (n), .type = (t), .flags = (f), .max_chars = (m) }
/* clang-format on */
#define F_INT(n)        FIELD(n, AR_FIELD_INT, AR_FIELD_REQUIRED, 0)
#define F_INT_NULL(n)   FIELD(n, AR_FIELD_INT, AR_FIELD_NULLABLE, 0)
#define F_INT_OPT(n)    FIELD(n, AR_FIELD_INT, AR_FIELD_OPTIONAL, 0)
#define F_NUM(n)        FIELD(n, AR_FIELD_NUMBER, AR_FIELD_REQUIRED, 0)
#define F_NUM_NULL(n)   FIELD(n, AR_FIELD_NUMBER, AR_FIELD_NULLABLE, 0)
#define F_BOOL(n)       FIELD(n, AR_FIELD_BOOL, AR_FIELD_REQUIRED, 0)
#define F_BOOL_OPT(n)   FIELD(n, AR_FIELD_BOOL, AR_FIELD_OPTIONAL, 0)
#define F_STR(n)        FIELD(n, AR_FIELD_STRING, AR_FIELD_REQUIRED, 0)
#define F_STR_NULL(n)   FIELD(n, AR_FIELD_STRING, AR_FIELD_NULLABLE, 0)
#define F_STR_MAX(n, m) FIELD(n, AR_FIELD_STRING, AR_FIELD_REQUIRED, m)
#define F_STRV(n)       FIELD(n, AR_FIELD_STRING_LIST, AR_FIELD_REQUIRED, 0)
#define F_OBJV(n)       FIELD(n, AR_FIELD_OBJECT_LIST, AR_FIELD_REQUIRED, 0)
#define F_OBJ_NULL(n)   FIELD(n, AR_FIELD_OBJECT, AR_FIELD_NULLABLE, 0)

/* The Python tool cuts these excerpts to 200 characters. */
#define EXCERPT 200

static const ArEventKind kinds[] = {
  /* ---- serve loop, before the round ---- */
  { "round_substrate_before",
    "fd3ec615f720450e8d3ffc496b1d3108",
    LOG_INFO,
    "daemon",
    "Work tree fingerprint taken before a round",
    "Round %{round_num}: work tree recorded before the round[ at %{git_head}]",
    "The supervisor recorded the state of the work tree before starting the round: the "
    "HEAD commit and a hash over the files matched by the substrate globs. Compared with "
    "round_substrate_after it shows whether a round changed anything.\n\n"
    "git_head is null outside a git repository; paths_hash is null when no globs are "
    "configured. No action needed.",
    { F_INT("round_num"), F_STR_NULL("git_head"), F_STR_NULL("paths_hash") } },

  { "fresh_eyes_round_triggered",
    "90ed790416584ffd9d2486ca4f38e1d4",
    LOG_INFO,
    "daemon",
    "A fresh-eyes round starts",
    "Round %{round_num} is a fresh-eyes round (every %{every_n})",
    "The round number is a multiple of fresh_eyes_every_n, so the agent gets "
    "AGENT_RUNNER_FRESH_EYES=1 in its environment for this round. No action needed.",
    { F_INT("round_num"), F_INT("every_n") } },

  { "smoke_check_failed",
    "9a914824de7341c98def268b1463de64",
    LOG_ERR,
    "daemon",
    "A startup check failed",
    "Startup check failed: %{reason}",
    "One of the checks run before each round failed (reason is \"<check>: <why>\"): for "
    "example the agent command is missing, the log directory is not writable or the "
    "prompt file does not exist. One event is emitted per failed check, then the round "
    "is not started and the supervisor treats the configuration as broken.\n\n"
    "Fix the cause named in reason, then start the service again.",
    { F_STR("reason") } },

  { "waiting_for_secret",
    "d14913b0fd5540b49990597ab1cb001c",
    LOG_WARNING,
    "daemon",
    "The next round waits for a locked keyring",
    "Round waits: secret %{name} is in a locked keyring",
    "A name in [agent] secrets is stored in the Secret Service, but its keyring is "
    "locked, so its value cannot be read. This is not a crash: the service stays in the "
    "state waiting_for_secret (status, Peek, the State property) and starts the round as "
    "soon as the keyring is unlocked (the Secret Service announces it on the session "
    "bus).\n\n"
    "Unlock the keyring (log in to the desktop session, or run "
    "'gnome-keyring-daemon --unlock' with the password on stdin), or stop the service.",
    { F_STR("name"), F_STR("source") } },

  { "log_permissions_tightened",
    "41ac12066c7741dca92c76f874075a71",
    LOG_NOTICE,
    "daemon",
    "Transcripts and events were readable by other users; their modes were tightened",
    "Tightened %{files} files and %{dirs} directories in %{log_dir} to owner-only",
    "Files in log_dir (transcripts keep the agent's raw output, secrets it printed "
    "included) must be readable by the service's user only. At start the supervisor "
    "found files or directories with wider modes (for example created by an earlier "
    "version) and set the directories to 0700 and the files to 0600.\n\n"
    "No action needed; if another user relied on reading them, give that user access "
    "to the service's bus (Peek) instead.",
    { F_STR("log_dir"), F_INT("files"), F_INT("dirs") } },

  { "status_recovered",
    "601185c8eb0449a5af5d8823b8b87e37",
    LOG_WARNING,
    "daemon",
    "The saved state could not be parsed and was rebuilt",
    "State file recovered: %{reason}",
    "The persisted state file exists but could not be parsed. The supervisor rebuilt it "
    "and continues; the round counter is taken from the highest round log on disk so no "
    "log is overwritten.\n\n"
    "Check the disk (a full or failing disk is the usual cause) and whether something "
    "else writes into the log directory.",
    { F_STR("reason") } },

  { "hook_failed",
    "c0990a4fbd444ca7ae41320bb00d5cec",
    LOG_WARNING,
    "daemon",
    "A hook failed; the round continues",
    "Hook %{hook_name} (%{hook_kind}) failed: %{error_message}",
    "A pre-round hook, context enricher, post-round hook or dirty-tree handler failed. "
    "The failure is isolated: the round goes on without that hook's contribution. "
    "hook_kind is one of pre_round, context_enricher, post_round, dirty_handler; "
    "error_type is spawn, exit, signal, timeout ([hooks] timeout_s), output_limit "
    "(more than 1 MiB on stdout) or bad_output (an answer that is not a JSON object); "
    "traceback holds the head and tail (1 KB each) of the hook's stderr; exit_code "
    "(null unless it exited) and signal (null unless a signal ended it).\n\n"
    "Fix or disable the hook named in hook_name.",
    { F_STR("hook_name"), F_STR("hook_kind"), F_STR("error_type"), F_STR("error_message"),
      F_STR("traceback"),
      FIELD("exit_code", AR_FIELD_INT, AR_FIELD_NULLABLE | AR_FIELD_OPTIONAL, 0),
      FIELD("signal", AR_FIELD_STRING, AR_FIELD_NULLABLE | AR_FIELD_OPTIONAL, 0) } },

  { "prompt_overwritten",
    "9b207ad5710c45668b4b6164f76713ea",
    LOG_NOTICE,
    "daemon",
    "A pre-round hook changed the prompt file",
    "Round %{round_num}: hook %{hook} rewrote %{prompt_path}",
    "A pre-round hook changed the content of the primary prompt file. old_hash and "
    "new_hash are \"sha256:<hex>\" (empty hex when the file was missing).\n\n"
    "Expected when a hook generates the prompt; otherwise find out why the hook writes "
    "to it.",
    { F_INT("round_num"), F_STR_NULL("phase"), F_STR("hook"), F_STR("prompt_path"),
      F_STR("old_hash"), F_STR("new_hash") } },

  /* ---- the round ---- */
  { "round_start",
    "3c06bf3c28204964a7f8d48f0a674709",
    LOG_INFO,
    "daemon",
    "A round started",
    "Round %{round_num} started[ (phase %{phase})]",
    "The round's context is written and the prompt is about to be assembled. phase is "
    "null when no phases are configured. No action needed.",
    { F_INT("round_num"), F_STR_NULL("phase") } },

  { "agent_spawn",
    "c1fcecf987f04945922fb3b99f50077f",
    LOG_INFO,
    "daemon",
    "The agent is being started",
    "Round %{round_num}: starting the agent with a timeout of %{timeout_s} s",
    "The supervisor is about to start the agent process. timeout_s is the wall-clock "
    "limit of the round after per-phase overrides. No action needed.",
    { F_INT("round_num"), F_NUM("timeout_s") } },

  { "round_progress",
    "aa36e2098d0a41b9a70e241bb330c5c7",
    LOG_DEBUG,
    "daemon",
    "The round is still running",
    "Round %{round_num} running for %{wall_age_s} s, log %{log_size_kb} KB, last write "
    "%{last_write_age_s} s ago",
    "Emitted every round_progress_interval_s while the agent runs. last_write_age_s is "
    "how long the agent has been silent; a growing value is the first sign of a stuck "
    "round (see round_stalled). No action needed.",
    { F_INT("round_num"), F_INT("log_size_kb"), F_NUM("last_write_age_s"), F_NUM("wall_age_s") } },

  { "round_grace_extended",
    "fb7a1271eee54013958880eba3e7a65a",
    LOG_NOTICE,
    "daemon",
    "The agent reported a result but its workers still run",
    "Round %{round_num}: grace of %{grace_s} s elapsed, waiting for live workers",
    "The grace period after the agent's result elapsed while worker processes were "
    "still alive, so the round was extended once. live_children and ignored_children "
    "list at most 5 processes each as {name, pid} (ignored ones add the pattern they "
    "matched).\n\n"
    "If this repeats, look at what the agent leaves running.",
    { F_INT("round_num"), F_NUM("grace_s"), F_OBJV("live_children"), F_OBJV("ignored_children") } },

  { "agent_exit",
    "cfa460b9c6e849459089f16503cf97e0",
    LOG_INFO,
    "daemon",
    "The agent exited",
    "Round %{round_num}: the agent exited with %{exit_code} (%{exit_cause}) after %{duration_s} s",
    "The agent process ended or was killed. exit_cause is timeout, signal:<NAME>, clean "
    "or error, in that order of precedence. cpu_user_s, cpu_sys_s and max_rss_kb are the "
    "resources used by the agent and its descendants (from the round's cgroup when one "
    "is delegated, else from wait4).\n\n"
    "A non-zero exit is classified in round_end; repeated short crashes stop the "
    "service with crash_loop.",
    { F_INT("round_num"), F_INT("exit_code"), F_NUM("duration_s"), F_BOOL("timed_out"),
      F_STR("exit_cause"), F_NUM("cpu_user_s"), F_NUM("cpu_sys_s"), F_INT("max_rss_kb") } },

  { "agent_network_blip",
    "26d5789b91e5418ca37c0570d9441769",
    LOG_WARNING,
    "daemon",
    "The agent failed on a network error",
    "Round %{round_num}: agent failed on a network error: %{matched}",
    "The agent exited non-zero or timed out (not by a signal) and its output matches the "
    "network error patterns; matched is the first match. The round is not counted as a "
    "crash.\n\n"
    "Check the host's network if this repeats.",
    { F_INT("round_num"), F_STR_NULL("phase"), F_STR("matched"), F_NUM("round_duration_s"),
      F_INT("exit_code"), F_BOOL("timed_out") } },

  /* ---- the work tree after the round ---- */
  { "dirty_detected",
    "13d251dead154681b7b36723b7a2a197",
    LOG_NOTICE,
    "daemon",
    "The agent left uncommitted changes",
    "Round %{round_num}: %{count} uncommitted file(s) left in the work tree",
    "After the agent exited the work tree has uncommitted changes. files lists the first "
    "20 paths (paths owned by agent-runner filtered out); count is the total. The "
    "configured dirty action (stash, commit or leave) follows.\n\n"
    "Usually the agent was interrupted; its work is kept by the dirty action.",
    { F_INT("round_num"), F_STRV("files"), F_INT("count") } },

  { "orphan_stashed",
    "3090710dbc2a4ca99cd82fc538c20080",
    LOG_NOTICE,
    "daemon",
    "Orphaned changes were stashed",
    "Round %{round_num}: orphaned changes stashed as %{ref}",
    "The uncommitted changes left by the agent were saved in a git stash (ref is the "
    "stash commit) and the tree was cleaned for the next round, which is told about the "
    "stash in its context. files lists the stashed paths (at most 20).\n\n"
    "agent-runner orphans lists the stashes; agent-runner orphans pop <ref> restores one "
    "(by SHA, refusing on conflicts).",
    { F_INT("round_num"), F_STR("ref"), F_STR("reason"), F_STRV("files") } },

  { "orphan_idempotent_skip",
    "c636aff9a71848809c72bb774973c57d",
    LOG_INFO,
    "daemon",
    "Orphaned changes were already stashed",
    "Round %{round_num}: orphaned changes already stashed as %{ref}",
    "The same dirty state was stashed recently, so the existing stash is reused instead "
    "of stacking another one. No action needed.",
    { F_INT("round_num"), F_STR("ref"), F_STR("reason"), F_STRV("files") } },

  { "orphan_stash_failed",
    "f1643b05f4f0466e8d48fe679eb89031",
    LOG_ERR,
    "daemon",
    "Stashing orphaned changes failed",
    "Round %{round_num}: stashing orphaned changes failed: %{reason}",
    "The uncommitted changes could not be stashed; they are still in the work tree.\n\n"
    "Inspect the repository (git status), resolve the cause in reason (locked index, "
    "conflicts, permissions) and clean the tree.",
    { F_INT("round_num"), F_STR_NULL("phase"), F_STR_MAX("reason", EXCERPT) } },

  { "dirty_auto_committed",
    "6dff981542be4a868fd073e56f82c403",
    LOG_NOTICE,
    "daemon",
    "Orphaned changes were committed",
    "Round %{round_num}: uncommitted changes committed as %{ref}",
    "The dirty action is commit: the changes left by the agent were committed (ref is "
    "the new commit, files the first 20 paths). No action needed.",
    { F_INT("round_num"), F_STRV("files"), F_STR("ref") } },

  { "dirty_commit_failed",
    "4babf728cf7b43fcb8a7a9856cebb2f9",
    LOG_ERR,
    "daemon",
    "Committing orphaned changes failed",
    "Round %{round_num}: committing uncommitted changes failed: %{reason}",
    "The changes left by the agent could not be committed; they are still in the work "
    "tree.\n\n"
    "Inspect the repository, fix the cause in reason (identity, hooks, permissions) and "
    "clean the tree.",
    { F_INT("round_num"), F_STR_NULL("phase"), F_STR_MAX("reason", EXCERPT) } },

  { "round_grace_kill",
    "f6031181eaa64208a1b9d33035794375",
    LOG_NOTICE,
    "daemon",
    "The round was ended after its grace period",
    "Round %{round_num}: killed after a grace of %{grace_s} s",
    "The agent had reported its result but did not exit within the grace period, so its "
    "process group was killed. Usually harmless: the work was done.",
    { F_INT("round_num"), F_NUM("grace_s"), F_OBJV("live_children") } },

  { "round_timeout_kill",
    "ce31f0544b4741dabb6636af449ace20",
    LOG_WARNING,
    "daemon",
    "The round exceeded its time limit and was killed",
    "Round %{round_num} killed: %{reason}",
    "The round ran longer than its wall-clock limit (reason is \"exceeded "
    "round_timeout_s=<N>\"); the agent and all its descendants were killed.\n\n"
    "If rounds time out often, raise round_timeout_s or give the agent smaller tasks.",
    { F_INT("round_num"), F_STR("reason") } },

  { "round_end",
    "2670d9cbe691433c94830b7ebe344866",
    LOG_INFO,
    "daemon",
    "A round ended",
    "Round %{round_num} ended: %{outcome} after %{duration_s} s",
    "The round is over and its state is saved. outcome classifies the round: how the "
    "agent ended (clean, error, timeout, signal, cancelled, stalled) or, when its output "
    "explains a failure, that classification (for example auth_failure, "
    "rate_limit_account, api_transient_5xx). exit_code is the agent's exit code "
    "(negative for a signal).\n\n"
    "The next step (delay, back-off, stop) follows from the outcome.",
    { F_INT("round_num"), F_STR("outcome"), F_INT("exit_code"), F_NUM("duration_s") } },

  /* ---- after the round: output classification ---- */
  { "transient_error_detected",
    "f30ed12dfd5a4dc593a86c285b59763b",
    LOG_WARNING,
    "daemon",
    "The agent hit a transient API error",
    "Round %{round_num}: transient error %{classification} from %{agent}",
    "The agent's output shows a transient failure of its API. classification is one of "
    "rate_limit_account, rate_limit_model, api_transient_5xx, api_timeout, network; "
    "reset_at_epoch (seconds since the epoch) is when the limit lifts: the CLI's own "
    "reset time for rate_limit_account, else the estimate of the first back-off step; "
    "raw is the CLI's message; action is transient_error_action; throttled_until_epoch "
    "is when the back-off ends (the reset plus a 5-30 s jitter, capped; null unless "
    "action is back_off).\n\n"
    "What follows is [runtime] transient_error_action: back_off waits (state "
    "backing_off, ThrottledUntil) until the reset, exponentially longer for repeated "
    "estimated errors, then transient_error_recovered; skip starts the next round as "
    "usual; stop ends the service (agent_self_terminated, exit 0). A stop request ends "
    "the wait at once; a restart keeps waiting until the same time. No action needed "
    "unless it persists.",
    { F_STR("classification"), F_STR("agent"), F_INT_NULL("reset_at_epoch"), F_INT("round_num"),
      F_STR_MAX("raw", EXCERPT), F_STR("action"), F_INT_NULL("throttled_until_epoch") } },

  { "agent_usage_recorded",
    "41f9dc3b1b5c4cd5abcc284b43694f51",
    LOG_INFO,
    "daemon",
    "Token usage and cost of a round",
    "Round %{round_num}: %{agent} used %{input_tokens} in / %{output_tokens} out tokens"
    "[, cost %{cost_usd} USD]",
    "Usage parsed from the agent's output. input_tokens are fresh input tokens, "
    "cached_tokens cache reads, cache_creation_tokens cache writes; cost_usd is null "
    "when the agent does not report it; models_breakdown maps each model to its token "
    "counts when the agent used several, else null; success is exit 0 without timeout. "
    "No action needed.",
    { F_STR("agent"), F_STR_NULL("model"), F_INT("round_num"), F_INT("input_tokens"),
      F_INT("output_tokens"), F_INT("cached_tokens"), F_NUM_NULL("cost_usd"), F_INT("duration_ms"),
      F_OBJ_NULL("models_breakdown"), F_INT("cache_creation_tokens"), F_INT("tool_call_count"),
      F_STR_NULL("phase"), F_BOOL("success") } },

  { "anomaly_repetitive_tool",
    "2a474c9cda534fccaf851a073244a29d",
    LOG_WARNING,
    "daemon",
    "The agent repeated the same tool call",
    "Round %{round_num}: %{tool_name} called %{count} times on %{target}",
    "Within a window of window consecutive tool calls, the agent called tool_name on "
    "the same target count times: it is probably looping.\n\n"
    "Read the round's transcript; rephrase the prompt if the agent is stuck.",
    { F_INT("round_num"), F_STR("tool_name"), F_STR("target"), F_INT("count"), F_INT("window") } },

  /* ---- serve loop, after the round ---- */
  { "round_substrate_after",
    "11c3886adcab4c91be3f1d5ac77c3eab",
    LOG_INFO,
    "daemon",
    "Work tree fingerprint taken after a round",
    "Round %{round_num}: work tree recorded after the round[ at %{git_head}]",
    "Same as round_substrate_before, taken after the round. No action needed.",
    { F_INT("round_num"), F_STR_NULL("git_head"), F_STR_NULL("paths_hash") } },

  { "config_broken",
    "f8215e6144054e4298a1f75d4b473000",
    LOG_ERR,
    "daemon",
    "The service stopped: the configuration is broken",
    "Stopped, configuration broken: %{reason}",
    "The startup checks failed permanently (see the smoke_check_failed events before "
    "this one). The service exits with 78 (EX_CONFIG) and the unit does not restart "
    "it.\n\n"
    "Fix the configuration, then run agent-runner start.",
    { F_STR("reason") } },

  { "crash_loop",
    "13f3bf2564ee41efb6a61351ed16e3ff",
    LOG_ERR,
    "daemon",
    "The service stopped: the agent keeps crashing",
    "Stopped after %{consecutive} consecutive crashes (last exit %{exit_code})",
    "The agent crashed quickly several rounds in a row for no known reason, so the "
    "supervisor stopped instead of burning quota. reason holds the tail of the last "
    "round's log.\n\n"
    "Read reason and the round log, fix the agent or its environment, then run "
    "agent-runner start.",
    { F_INT("consecutive"), F_INT("exit_code"), F_STR("reason") } },

  /* ---- stop triggers ---- */
  { "agent_self_terminated",
    "d781d48ea81f4afaa4147ae7509418d8",
    LOG_NOTICE,
    "daemon",
    "The agent asked to stop",
    "Stopped at the agent's request: %{reason}",
    "The agent wrote the .agent-done file into the log directory (reason is its "
    "content), or a transient error met [runtime] transient_error_action = stop (reason "
    "is transient_error). The service exits 0 and stays stopped across restarts.\n\n"
    "Review the agent's work; run agent-runner start to continue.",
    { F_STR_MAX("reason", EXCERPT) } },

  { "stop_file_detected",
    "89b0166c9b1b407b9851ee3002fd7274",
    LOG_NOTICE,
    "daemon",
    "The stop file appeared",
    "Stopped: stop file %{stop_file} found after %{rounds_completed} round(s)",
    "The configured stop_file exists, so the supervisor stopped between rounds. "
    "content is the start of the file.\n\n"
    "Deleting the file does not resume: run agent-runner start.",
    { F_STR("stop_file"), F_STR_MAX("content", EXCERPT), F_INT("rounds_completed") } },

  { "max_rounds_reached",
    "244c108e2bf2487b8e4620e0ab4e0eb6",
    LOG_NOTICE,
    "daemon",
    "The round limit was reached",
    "Stopped: %{rounds_completed} of %{max_rounds} round(s) done",
    "The service ran max_rounds rounds in this invocation and stopped. No action "
    "needed.",
    { F_INT("rounds_completed"), F_INT("max_rounds") } },

  /* ---- back-off ---- */
  { "transient_error_backoff_capped",
    "c0c328486fc24457899fab2986f77f02",
    LOG_WARNING,
    "daemon",
    "The back-off was lengthened or capped",
    "Backing off %{applied_sleep_s} s for %{classification} (requested %{requested_sleep_s} s)",
    "The sleep before the next round differs from the reset time the agent reported: "
    "repeated errors multiply it (consecutive_count), and it is capped (30 minutes, or "
    "8 hours as a safety bound). The fields original_reset_at_epoch, "
    "applied_reset_at_epoch, consecutive_count and capped_by_absolute_max are present "
    "only on the exponential path. No action needed; a stop request ends the wait.",
    { F_STR("classification"), F_STR("agent"), F_NUM("requested_sleep_s"), F_NUM("applied_sleep_s"),
      F_INT_OPT("original_reset_at_epoch"), F_INT_OPT("applied_reset_at_epoch"),
      F_INT_OPT("consecutive_count"), F_BOOL_OPT("capped_by_absolute_max") } },

  { "transient_error_recovered",
    "9256922ad2204e319bd4d3f40aaf3198",
    LOG_NOTICE,
    "daemon",
    "The back-off ended",
    "Back-off for %{classification} over after %{throttled_for_s} s, resuming",
    "The wait after a transient error is over and the next round starts. No action "
    "needed.",
    { F_STR("classification"), F_STR("agent"), F_NUM("throttled_for_s") } },

  { "serve_startup_hook_failed",
    "d98221bd5a534fd2ae9c83555611e732",
    LOG_ERR,
    "daemon",
    "A startup hook failed; the service did not start",
    "Startup hook %{hook} failed: %{exc_msg}",
    "A hook run once at service start failed, so the service exits.\n\n"
    "Fix or disable the hook, then start the service again.",
    { F_STR("hook"), F_STR("exc_type"), F_STR_MAX("exc_msg", EXCERPT) } },

  /* ---- monitor ---- */
  { "monitor_started",
    "c31300fb965a4f9d87884bfc61f33f74",
    LOG_INFO,
    "monitor",
    "The monitor started",
    "Monitor started for %{host} every %{interval_s} s",
    "The monitor started watching a project. host is null for a local project. No "
    "action needed.",
    { F_STR_NULL("host"), F_NUM("interval_s"), F_STR("log_dir"), F_STR("mode") } },

  { "monitor_alert_emitted",
    "0c4d69ee244e4c6ca107534749965537",
    LOG_WARNING,
    "monitor",
    "The monitor raised an alert",
    "Monitor alert %{detector} (%{severity}): %{message}",
    "A detector's condition became true (once per transition: monitor_alert_resolved "
    "follows when it becomes false). auto_action is stop_service when the detector is "
    "in [monitor] auto_stop_on and the monitor stops the service, else null. The "
    "monitor hands alerts to the daemon, which writes them here.\n\n"
    "Read message; the detector's documentation says what to check.",
    { F_STR("detector"), F_STR("severity"), F_STR("message"), F_STR_NULL("auto_action") } },

  { "monitor_alert_resolved",
    "52796aad765246aba5a09b84de9ed2eb",
    LOG_NOTICE,
    "monitor",
    "A monitor alert is over",
    "Monitor alert %{detector} resolved: %{message}",
    "The condition a detector raised an alert for no longer holds. Each alert is "
    "emitted once when its condition becomes true and resolved once when it becomes "
    "false; moving values never raise it again. No action needed.",
    { F_STR("detector"), F_STR("severity"), F_STR("message") } },

  { "monitor_auto_stop_triggered",
    "884b42dda68e4fa282dd5852211bfe5e",
    LOG_WARNING,
    "monitor",
    "The monitor is stopping the service",
    "Monitor stopping %{host} because of %{detector}",
    "An alert from a detector listed in auto_stop_on asked to stop the service, and the "
    "monitor is doing so.\n\n"
    "Fix what the detector found, then start the service again.",
    { F_STR("detector"), F_STR_NULL("host") } },

  { "monitor_auto_stop_failed",
    "4ad70b971f9846f790109bf4dc8b581d",
    LOG_ERR,
    "monitor",
    "The monitor could not stop the service",
    "Monitor could not stop %{host}: %{error}",
    "The automatic stop failed (for a remote host: the ssh connection failed). The "
    "service may still be running.\n\n"
    "Stop it by hand and check the connection.",
    { F_STR("detector"), F_STR_NULL("host"), F_STR("error") } },

  { "monitor_remote_blip",
    "e469ba4a939f4b7ebe1252eae5fc79a4",
    LOG_NOTICE,
    "monitor",
    "A remote poll failed; retrying",
    "Remote %{host} unreachable (attempt %{attempt}): %{error}",
    "A poll of the remote host failed inside the tolerance window (cap_s); the monitor "
    "retries after next_sleep_s. No action needed unless it gives up.",
    { F_STR("host"), F_STR("error"), F_INT("attempt"), F_NUM("elapsed_s"), F_NUM("cap_s"),
      F_NUM("interval_s"), F_NUM("next_sleep_s") } },

  { "monitor_remote_giveup",
    "d2db45bb9c4640eca833343512ae5410",
    LOG_ERR,
    "monitor",
    "The monitor gave up on a remote host",
    "Gave up on %{host} after %{total_attempts} attempts: %{final_error}",
    "The remote host stayed unreachable for longer than the tolerance window "
    "(remote_failure_tolerance_s); the monitor alerts once and keeps retrying with a "
    "bounded back-off (at most every 30 s); monitor_remote_recovered follows when the "
    "host answers again.\n\n"
    "Check the host and the ssh connection (ssh HOST systemd-stdio-bridge).",
    { F_STR("host"), F_INT("total_attempts"), F_NUM("total_elapsed_s"), F_NUM("cap_s"),
      F_STR("final_error") } },

  { "monitor_remote_recovered",
    "457f1ce5f4f54c4d8e212ce49fef8ee0",
    LOG_NOTICE,
    "monitor",
    "A remote host answers again",
    "Remote %{host} reachable again after %{outage_s} s",
    "The monitor's ssh connection to the host's bus works again after an outage "
    "(gave_up tells whether it had alerted); its projects are followed again and the "
    "events they wrote meanwhile are read from their daemons.",
    { F_STR("host"), F_INT("attempts"), F_NUM("outage_s"), F_BOOL("gave_up") } },

  /* ---- upgrade ---- */
  { "service_upgraded",
    "3a50ab1d18cc439c8e503b04535729c7",
    LOG_NOTICE,
    "upgrade",
    "The service was upgraded",
    "Upgraded from %{from_version} to %{to_version} in %{duration_s} s",
    "The new version passed its smoke test and took over the running service in place: "
    "same PID, state kept. round_kept is true when a round was running at the hand-over: "
    "its agent kept running untouched and the round goes on in the new version (a round "
    "in its hooks, grace period or teardown is finished first, and round_kept is false). "
    "No action needed.",
    { F_STR("from_version"), F_STR("to_version"), F_NUM("duration_s"), F_BOOL("round_kept") } },

  { "package_upgraded",
    "1a4b9de281754ec4817e9841a823dacd",
    LOG_NOTICE,
    "upgrade",
    "The package was upgraded; the service restarts later",
    "Package upgraded from %{from_version} to %{to_version}, restart deferred",
    "An upgrade was asked for while a round is in a stage that is not handed over (its "
    "hooks, the grace period after the agent's result, its teardown): the new version "
    "passed its smoke test and the service re-executes into it when the round ends "
    "(service_upgraded follows then).\n\n"
    "No action needed.",
    { F_STR("from_version"), F_STR("to_version"), F_BOOL("restart_deferred") } },

  { "service_upgrade_rolled_back",
    "e3cda08198424aa8ba2b4101e9d25bec",
    LOG_WARNING,
    "upgrade",
    "An upgrade failed and was rolled back",
    "Upgrade to %{attempted_version} failed, back on %{restored_version}: %{failure_reason}",
    "The new version failed its smoke test or did not report ready; the previous "
    "version was restored and is running.\n\n"
    "Read failure_reason before trying again.",
    { F_STR("attempted_version"), F_STR("restored_version"), F_STR("failure_reason"),
      F_NUM("duration_s") } },

  { "service_upgrade_rollback_failed",
    "22b2485c49d941deb39efaca1dad8690",
    LOG_ERR,
    "upgrade",
    "An upgrade failed and so did the rollback",
    "Rollback to %{restore_target_version} failed: %{failure_reason}",
    "After a failed upgrade the previous version could not be restored or started. The "
    "service is probably down.\n\n"
    "Reinstall a known good version by hand and start the service.",
    { F_STR("attempted_version"), F_STR("restore_target_version"),
      F_STR_MAX("failure_reason", EXCERPT) } },

  /* ---- agent-runner additions ---- */
  { "serve_started",
    "c884fac61e074fe991871b1ceeb4f597",
    LOG_NOTICE,
    "daemon",
    "The supervisor started serving",
    "agent-runner %{version} serving (pid %{pid}, config %{config_path})",
    "The supervisor loaded its configuration and starts the round loop. max_rounds is "
    "null when unlimited. No action needed.",
    { F_INT("pid"), F_STR("version"), F_STR("config_path"), F_INT_NULL("max_rounds") } },

  { "serve_stopping",
    "0eb8ebeedba44cdea2a7da2cfad7a350",
    LOG_NOTICE,
    "daemon",
    "The supervisor is stopping",
    "Stopping: %{reason}",
    "The supervisor leaves its loop: a stop request, a signal, a stop trigger or a "
    "fatal condition (reason says which). The event of the trigger itself, if any, "
    "comes before this one. No action needed.",
    { F_STR("reason") } },

  { "round_stalled",
    "e6a78ceca9114633b70c92f9a39e3933",
    LOG_WARNING,
    "daemon",
    "The agent stopped producing output",
    "Round %{round_num} stalled: silent for %{silent_s} s (%{reason})",
    "The agent has written nothing for longer than the stall limit while still alive; "
    "the round is ended like a timeout.\n\n"
    "Look at the end of the round's transcript for what the agent was waiting on (a "
    "prompt for input, a hung tool).",
    { F_INT("round_num"), F_STR("reason"), F_NUM("silent_s") } },

  { "auth_failed",
    "505263310e154a6c87730610c7012309",
    LOG_ERR,
    "daemon",
    "The agent could not authenticate",
    "Round %{round_num}: %{agent} authentication failed: %{hint}",
    "The agent's output shows that its credentials were rejected (raw is the matched "
    "excerpt). After [monitor] auth_fail_threshold such rounds in a row retrying cannot "
    "help: no further round starts, the stop reason auth_failed is kept in state.json, "
    "the service exits 80 and the unit does not restart it.\n\n"
    "Follow hint: log the agent in again or update its key (agent-runner secret set), "
    "then run agent-runner start.",
    { F_INT("round_num"), F_STR("agent"), F_STR_MAX("raw", EXCERPT), F_STR("hint") } },

  { "quota_exhausted",
    "9d909e0660f34e1d88c982c126c60593",
    LOG_WARNING,
    "daemon",
    "The agent's usage quota is exhausted",
    "Round %{round_num}: %{agent} quota exhausted[ until %{reset_at_epoch}]",
    "The agent's plan or account quota is used up (raw is the matched excerpt). When "
    "the CLI said when it resets (reset_at_epoch, seconds since the epoch) the "
    "supervisor treats it like an account rate limit and waits until then (per "
    "transient_error_action; throttled_until_epoch is the end of that wait). Without a "
    "reset time (null) retrying cannot help: the "
    "service stops with exit 0 and the stop reason quota_exhausted, so the unit does not "
    "restart it.\n\n"
    "Raise the quota or wait for it to renew, then run agent-runner start.",
    { F_INT("round_num"), F_STR("agent"), F_STR_MAX("raw", EXCERPT), F_INT_NULL("reset_at_epoch"),
      F_INT_NULL("throttled_until_epoch") } },

  { "round_cancelled",
    "d8f194f016804d60824e8170fc78caa8",
    LOG_NOTICE,
    "daemon",
    "The round was cancelled",
    "Round %{round_num} cancelled",
    "An operator cancelled the current round (Cancel on the bus, or Stop now); the "
    "agent was ended. With Cancel the service goes on with the next round.",
    { F_INT("round_num") } },

  { "config_reloaded",
    "5c4092ae746140afa9970b02af5a844b",
    LOG_NOTICE,
    "daemon",
    "The configuration was reloaded",
    "Configuration reloaded from %{config_path}",
    "The configuration was read again (Reload or SIGHUP); it applies from the next "
    "round. No action needed.",
    { F_STR("config_path") } },

  { "config_reload_failed",
    "7ddf1aee8af1454b9f514030ff61d06d",
    LOG_WARNING,
    "daemon",
    "Reloading the configuration failed",
    "Configuration reload from %{config_path} failed: %{reason}",
    "The new configuration is invalid; the service keeps running with the previous "
    "one.\n\n"
    "Fix the file (agent-runner status shows the error too) and reload again.",
    { F_STR("config_path"), F_STR("reason") } },

  { "backoff_ended_early",
    "21817a4fc9474e4bbbbd132ce433bf4a",
    LOG_NOTICE,
    "daemon",
    "An operator ended the back-off early",
    "Back-off for %{classification} ended early by %{requested_by} after %{throttled_for_s} s",
    "Serve was called (agent-runner start) while the service waited out a transient "
    "error, so the next round starts now instead of at the reset time. If the limit "
    "still holds, the round fails the same way and the back-off starts again.",
    { F_STR("classification"), F_STR("agent"), F_NUM("throttled_for_s"), F_STR("requested_by") } },
  { "disk_full",
    "2f13b0a9cf92408a8ebf52525a632558",
    LOG_ERR,
    "daemon",
    "The service stopped: no space left in the log directory",
    "Stopped, no space left in %{path} (%{free_bytes} bytes free)",
    "The startup checks could not write in log_dir because its file system is full "
    "(or the user's quota is used up). path is log_dir, free_bytes what the file system "
    "has left, reason the checks that failed. The service exits with 78 (EX_CONFIG), "
    "like config_broken, so the unit does not restart it into the same full disk; "
    "this line may be missing from the events file itself (the journal has it).\n\n"
    "Free space there (old round logs in rounds/, old events files), then run "
    "agent-runner start.",
    { F_STR("path"), F_INT("free_bytes"), F_STR("reason") } },

  { "round_leftovers_killed",
    "6b1e5d42fa4b45e3a0b507cc6b7ce787",
    LOG_NOTICE,
    "daemon",
    "Processes the agent left behind were ended",
    "Round %{round_num}: ended %{count} process(es) the agent left behind",
    "The agent exited but processes it started were still running (background jobs, "
    "double-forked daemons), or, with after_restart true, the supervisor was killed "
    "during round round_num and found them running when it started again. They were "
    "sent SIGTERM, then SIGKILL, before anything else touched the work tree. "
    "processes lists up to 20 of them (pid, name, cmdline redacted and cut to 200 "
    "characters); count is exact.\n\n"
    "If this repeats, tell the agent not to leave background processes, or list the "
    "ones that may outlive the result in grace_kill_ignore_patterns.",
    { F_INT("round_num"), F_INT("count"), F_OBJV("processes"), F_BOOL("after_restart") } },
  { "stale_index_lock_removed",
    "5358ed8b8f5a4143946e83372ee0c85e",
    LOG_NOTICE,
    "daemon",
    "A git index lock left by a killed round was removed",
    "Round %{round_num}: removed the stale git index lock %{path}",
    "The supervisor (or the agent's own git command) was killed while round round_num "
    "wrote the git index, which left path (.git/index.lock) behind; every later stash, "
    "commit or git add in the tree would fail until it is removed. It was removed at "
    "start, after the round's leftover processes were ended, because it was created "
    "during that round and no process had it open. A lock older than the round, or one "
    "some process holds, is never touched.\n\n"
    "Nothing to do; if it repeats, look for what kills the service (OOM, watchdog).",
    { F_INT("round_num"), F_STR("path"), F_INT("size") } },
};

/* Fields whose strings come from outside the supervisor (agent output,
 * exception text, file content, remote errors) and may carry a secret. */
static const char *const free_text_fields[] = {
  "raw",     "reason",  "error_message", "traceback",      "exc_msg", "content", "error",
  "matched", "message", "final_error",   "failure_reason", "target",  NULL,
};

static const char *const type_names[] = {
  [AR_FIELD_INT] = "integer",
  [AR_FIELD_NUMBER] = "number",
  [AR_FIELD_BOOL] = "boolean",
  [AR_FIELD_STRING] = "string",
  [AR_FIELD_STRING_LIST] = "array of strings",
  [AR_FIELD_OBJECT_LIST] = "array of objects",
  [AR_FIELD_OBJECT] = "object",
};

static const char *const priority_names[] = {
  [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
  [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static GHashTable *
kind_index(void)
{
  static gsize once = 0;
  static GHashTable *index = NULL;
  if (g_once_init_enter(&once)) {
    GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
    for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++)
      g_hash_table_insert(h, (gpointer)kinds[i].name, (gpointer)&kinds[i]);
    index = h;
    g_once_init_leave(&once, 1);
  }
  return index;
}

gboolean
ar_event_kind_register_custom(const char *name, GError **error)
{
  const ArEventKind *known = ar_event_kind_lookup(name);
  if (known && g_str_equal(known->origin, AR_EVENT_ORIGIN_HOOK))
    return TRUE; /* a reload declares it again */
  if (known) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS, "\"%s\" is a built-in event kind", name);
    return FALSE;
  }
  /* Lives as long as the process: a kind once declared stays valid for
   * the events already written and for readers. */
  ArEventKind *kind = g_new0(ArEventKind, 1);
  kind->name = g_strdup(name);
  /* A fixed id per name, so journalctl MESSAGE_ID= finds it across runs. */
  kind->message_id = g_compute_checksum_for_string(G_CHECKSUM_MD5, name, -1);
  kind->priority = LOG_INFO;
  kind->origin = AR_EVENT_ORIGIN_HOOK;
  kind->summary = "An event of a hook";
  kind->message = g_strdup_printf("Hook event %s", name);
  kind->description = "Declared in [events] kinds and emitted by a hook; its payload is the "
                      "hook's.";
  g_hash_table_insert(kind_index(), (gpointer)kind->name, kind);
  return TRUE;
}

const ArEventKind *
ar_event_kind_lookup(const char *name)
{
  if (name == NULL)
    return NULL;
  return g_hash_table_lookup(kind_index(), name);
}

const ArEventKind *
ar_event_kinds(gsize *n_kinds)
{
  *n_kinds = G_N_ELEMENTS(kinds);
  return kinds;
}

const ArEventField *
ar_event_kind_field(const ArEventKind *kind, const char *field_name)
{
  for (const ArEventField *f = kind->fields; f->name != NULL; f++)
    if (strcmp(f->name, field_name) == 0)
      return f;
  return NULL;
}

guint
ar_event_kind_n_fields(const ArEventKind *kind)
{
  guint n = 0;
  while (n < AR_EVENT_MAX_FIELDS && kind->fields[n].name != NULL)
    n++;
  return n;
}

gboolean
ar_event_field_is_free_text(const char *field_name)
{
  return field_name != NULL && g_strv_contains(free_text_fields, field_name);
}

const char *const *
ar_event_free_text_fields(void)
{
  return free_text_fields;
}

const char *
ar_event_field_type_name(ArFieldType type)
{
  g_return_val_if_fail((gsize)type < G_N_ELEMENTS(type_names), "?");
  return type_names[type];
}

const char *
ar_event_priority_name(int priority)
{
  g_return_val_if_fail(priority >= 0 && (gsize)priority < G_N_ELEMENTS(priority_names), "?");
  return priority_names[priority];
}

/* One value as the journal sentence shows it. */
static void
append_message_value(GString *out, JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
    g_string_append_c(out, '-');
    return;
  }
  if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
    g_string_append(out, json_node_get_string(node));
    return;
  }
  if (JSON_NODE_HOLDS_ARRAY(node)) {
    JsonArray *a = json_node_get_array(node);
    gboolean all_strings = TRUE;
    for (guint i = 0; i < json_array_get_length(a) && all_strings; i++) {
      JsonNode *e = json_array_get_element(a, i);
      all_strings = JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING;
    }
    if (all_strings) {
      for (guint i = 0; i < json_array_get_length(a); i++) {
        if (i > 0)
          g_string_append(out, ", ");
        g_string_append(out, json_array_get_string_element(a, i));
      }
      return;
    }
  }
  ar_json_append(out, node);
}

/* A value that makes an optional part of a sentence pointless. */
static gboolean
message_value_empty(JsonNode *node)
{
  return node == NULL || JSON_NODE_HOLDS_NULL(node) ||
         (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING &&
          *json_node_get_string(node) == '\0');
}

/* Render template[0, len): "%{field}" is the field's value; "[...]" is
 * left out when a field inside it is null, missing or "" (so a round
 * without a phase reads "Round 3 started", not "... (phase -)").
 * *complete is cleared when a field was empty. */
static void
format_part(GString *out, const char *tmpl, gsize len, JsonObject *payload, gboolean *complete)
{
  const char *p = tmpl, *stop = tmpl + len;
  while (p < stop) {
    if (*p == '[') {
      const char *close = memchr(p, ']', stop - p);
      if (close) {
        g_autoptr(GString) inner = g_string_new(NULL);
        gboolean inner_complete = TRUE;
        format_part(inner, p + 1, close - p - 1, payload, &inner_complete);
        if (inner_complete)
          g_string_append_len(out, inner->str, inner->len);
        p = close + 1;
        continue;
      }
    }
    if (p[0] == '%' && p + 1 < stop && p[1] == '{') {
      const char *end = memchr(p, '}', stop - p);
      if (end) {
        g_autofree char *name = g_strndup(p + 2, end - p - 2);
        JsonNode *node = payload && json_object_has_member(payload, name)
                             ? json_object_get_member(payload, name)
                             : NULL;
        if (message_value_empty(node))
          *complete = FALSE;
        append_message_value(out, node);
        p = end + 1;
        continue;
      }
    }
    g_string_append_c(out, *p++);
  }
}

char *
ar_event_format_message(const ArEventKind *kind, JsonObject *payload)
{
  GString *out = g_string_new(NULL);
  gboolean complete = TRUE;
  format_part(out, kind->message, strlen(kind->message), payload, &complete);
  return g_string_free(out, FALSE);
}
