"""haproxy's runtime API: the commands as argument lists, its answers as plain data (formats of haproxy 2.6)."""

from __future__ import annotations

import subprocess

import pytest

from hermes_ops.commands import proxy as commands
from hermes_ops.facts import proxy

SERVERS_STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 hermes_app 1 blue 127.0.0.1 2 0 1 1 2 15 3 2 6 0 0 0 - 8091 - 0 0 - - 0
3 hermes_app 2 green 127.0.0.1 0 1 1 1 3 8 2 0 6 0 0 0 - 8092 - 0 0 - - 0
"""

STATS = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,status
hermes_app,blue,0,0,3,5,,2,196,286,UP
hermes_app,green,0,0,0,0,,0,0,0,MAINT
hermes_app,BACKEND,0,0,3,5,,2,196,286,UP
"""


def test_servers_state_is_read_by_its_header():
    servers = proxy.parse_servers_state(SERVERS_STATE)
    assert servers["blue"] == proxy.ProxyServer("blue", "127.0.0.1", 8091, "running", False, False)
    assert servers["blue"].in_rotation
    assert servers["green"].operational == "stopped" and servers["green"].maintenance
    assert not servers["green"].in_rotation


@pytest.mark.parametrize("admin, maintenance, draining", [
    (0x00, False, False), (0x01, True, False), (0x08, False, True), (0x20, False, True), (0x80, True, False),
])
def test_admin_state_bits(admin, maintenance, draining):
    row = SERVERS_STATE.splitlines()[2].split()
    row[6] = str(admin)
    server = proxy.parse_servers_state("1\n" + SERVERS_STATE.splitlines()[1] + "\n" + " ".join(row))["blue"]
    assert (server.maintenance, server.draining, server.in_rotation) == (maintenance, draining,
                                                                         not maintenance and not draining)


@pytest.mark.parametrize("answer", ["", "Unknown command.\n", "1\n", "# be_id be_name\n3 x\n"])
def test_answers_without_servers_give_none_of_them(answer):
    assert proxy.parse_servers_state(answer) == {}


def test_sessions_per_server_leave_out_the_backend_line():
    assert proxy.parse_sessions(STATS) == {"blue": 3, "green": 0}
    assert proxy.parse_sessions("No such proxy.\n") == {}


def test_set_server_state_refuses_unknown_states():
    with pytest.raises(ValueError):
        commands.set_server_state("/run/haproxy/admin.sock", "hermes_app", "blue", "up")


def test_the_runtime_command_and_socket_are_arguments_never_shell_syntax(tmp_path):
    """Run the real script with `socat` replaced by a recorder: what arrives is exactly the command."""
    recorder = tmp_path / "socat"
    recorder.write_text('#!/bin/sh\nprintf "%s|" "$@"\ncat\n')
    recorder.chmod(0o755)
    hostile = "/tmp/a b; touch $HOME/pwned"
    argv = commands.set_server_state(hostile, "hermes_app", "blue", "drain")
    completed = subprocess.run(argv, capture_output=True, text=True, env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert completed.stdout == f"-t|5|stdio|unix-connect:{hostile}|set server hermes_app/blue state drain\n"
