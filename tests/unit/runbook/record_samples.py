"""Records as the runbook wrote them, today and before issue 9: samples for the record, store and resume tests."""

from __future__ import annotations

from hermes_ops.runbook.vocabulary import STEPS

BEFORE = "8c855e5ba0f75bf43553249dba0067dfad5978ef"
AFTER = "71346f5a42ddb6e6fe00d5e227ac0b14ad86afa7"
IMAGE_BEFORE = "sha256:161a8a9149bcfe6eacdfd3b26aed92bc7b29e38fe8b403d9a5a544116c6e11f6"
IMAGE_AFTER = "sha256:69d333d13897208e105edaec79c8999ebd0b887e49e367e51005905b8165f93c"
PARAMETERS = {"operator": "Ada", "reason": "ticket 42", "host": "127.0.0.1", "port": 2222, "user": "core",
              "image": "hermes/admin:latest", "branch": "main", "dry_run": False, "records_dir": "/srv/records",
              "run_id": ""}
COMMAND = {"host": "core@127.0.0.1:2222", "command": "hostname", "exit_code": 0, "stdout": "texasca2\n",
           "stderr": "", "started_at": "2026-11-27T10:08:52.338915+00:00",
           "ended_at": "2026-11-27T10:08:52.424990+00:00", "duration": 0.086, "stdout_bytes": 9, "stderr_bytes": 0,
           "stdout_sha256": "39c5103cc024a4b5bb443a9dff49956ed5abb70ac5d17173cca75fd028e65c04",
           "stderr_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "truncated": False, "dry_run": False, "ok": True}
SERVING_BEFORE = {"image": IMAGE_BEFORE, "running": True, "label_commit": BEFORE, "version": BEFORE, "healthy": True,
                  "commit": BEFORE}
SERVING_AFTER = {**SERVING_BEFORE, "image": IMAGE_AFTER, "label_commit": AFTER, "version": AFTER, "commit": AFTER}


def step(number, name, title, status, **changes):
    return {"number": number, "name": name, "title": title, "status": status,
            "started_at": "2026-11-27T10:08:52.302749+00:00", "ended_at": "2026-11-27T10:08:52.623100+00:00",
            "duration": 0.32, "summary": "core@texasca2", "facts": {"hostname": "texasca2"}, "commands": [COMMAND],
            "error": None, **changes}


# A rolled-back console deploy, as the journal and the archive write one today (trimmed).
TODAY = {
    "run_id": "20261127T100851Z-a2e0e8", "kind": "deploy", "started_at": "2026-11-27T10:08:51.299885+00:00",
    "ended_at": "2026-11-27T10:08:58.123839+00:00", "duration": 6.824, "outcome": "rolled-back",
    "failed_step": None, "failure": None,
    "facts": {"hostname": "texasca2", "host_key_fingerprint": "SHA256:lc0IDcgQfz3X7zPkkRhKXhss37FmFM6Fb5iItzyNty4"},
    "steps": [step(2, "connect", "Connect", "done"), step(0, "preflight", "Preflight", "done"),
              step(5, "build", "Build", "failed", error="[step 5 Build] the build `make` failed"),
              step(9, "rollback", "Roll back", "done")],
    "local_host": "vm", "pid": 28827, "process_start": 171502,
    "operator": "Ada", "reason": "ticket 42", "dry_run": False, "host": "core@127.0.0.1:2222",
    "parameters": PARAMETERS, "commit_before": BEFORE, "commit_after": AFTER, "image_before": IMAGE_BEFORE,
    "image_after": IMAGE_AFTER, "changelog": ["413efbd A broken build (Ada)"],
    "serving_before": SERVING_BEFORE, "abandoned_runs": [], "target_commit": AFTER,
    "lock_acquired_at": "2026-11-27T10:08:53.913818+00:00",
    "stopped_builds": [{"run_id": "20261127T100001Z-0a1b2c", "pids": [412, 413]}], "checkout_before": BEFORE,
    "rollback": {"reason": "requested by the operator", "restored_image": IMAGE_AFTER, "unavailable_seconds": 1.716},
    "serving_after": SERVING_AFTER,
    "audit_line": "2026-11-27T10:08:58Z kind=deploy run=20261127T100851Z-a2e0e8 operator=Ada host=texasca2 "
                  "commit='8c855e5ba0f7->71346f5a42dd' image=69d333d13897 outcome=rolled-back reason='ticket 42'",
    "audit_logged": True, "lock_released": True, "session_closed": True,
    "console_account": ["Step 1 · SSH key", "  key: ./.sandbox/keys/operator_ed25519 (ssh-ed25519, mode 600)"],
    "record": {"notebook": "20261127T100851Z_texasca2_71346f5a42dd_rolled-back.ipynb",
               "html": "20261127T100851Z_texasca2_71346f5a42dd_rolled-back.html",
               "summary": "20261127T100851Z_texasca2_71346f5a42dd_rolled-back.json"},
}

# A headless deploy as the code before issue 9 wrote it: no process identity, no serving facts,
# no checkout_before, and the host log line in its old format.
BEFORE_ISSUE_9 = {
    "run_id": "20261127T094236Z-a8c5e5", "kind": "deploy", "started_at": "2026-11-27T09:42:37.600556+00:00",
    "ended_at": "2026-11-27T09:42:41.054481+00:00", "duration": 3.454, "outcome": "success", "failed_step": None,
    "failure": None, "facts": {"hostname": "texasca2"},
    "steps": [step(number, entry.name, entry.title, "done") for number, entry in enumerate(STEPS[:7], start=1)],
    "operator": "Ada", "reason": "rehearsal on the sandbox host", "dry_run": False, "host": "core@127.0.0.1:2222",
    "parameters": PARAMETERS, "commit_before": BEFORE, "commit_after": AFTER, "image_before": IMAGE_BEFORE,
    "image_after": IMAGE_AFTER, "changelog": ["7bf0b5f Rehearsal: a visible change (Hermes Sandbox)"],
    "target_commit": AFTER, "lock_acquired_at": "2026-11-27T09:42:38.261346+00:00",
    "audit_line": "[2026-11-27T09:42:41Z] [Ada] deploy run=20261127T094236Z-a8c5e5 host=texasca2 "
                  "commit=8c855e5ba0f7->71346f5a42dd image=69d333d13897 outcome=success reason='rehearsal'",
    "audit_logged": True, "lock_released": True, "session_closed": True,
    "record": {"notebook": "20261127T094237Z_texasca2_71346f5a42dd_success.ipynb",
               "html": "20261127T094237Z_texasca2_71346f5a42dd_success.html",
               "summary": "20261127T094237Z_texasca2_71346f5a42dd_success.json"},
}

# What headless runs wrote before issue 9 when the notebook died before its journal existed.
OLD_FALLBACK = {"run_id": "20261127T050000Z-00aa11", "started_at": "2026-11-27T05:00:00+00:00", "outcome": "failed",
                "failure": "ConfigError: [step parameters] port must be an integer", "operator": "Ada",
                "parameters": {"port": "twenty-two"}, "facts": {}}
