"""The docker command builders are pure: exact argument lists, no host."""

from hermes_ops.commands import docker


def test_run_defaults_to_no_network_and_sorts_env_and_labels():
    assert docker.run("hermes/admin:latest", name="hermes-admin", command=["sleep", "infinity"],
                      environment={"B": "2", "A": "1"}, labels={"z": "1", "a": "2"}) == [
        "docker", "run", "--detach", "--name", "hermes-admin", "--network", "none",
        "--env", "A=1", "--env", "B=2", "--label", "a=2", "--label", "z=1",
        "hermes/admin:latest", "sleep", "infinity",
    ]


def test_commit_writes_labels_as_changes():
    assert docker.commit("hermes-admin", "hermes/admin:abc123", labels={"commit": "abc123", "by": "Ana B"}) == [
        "docker", "commit", "--change", 'LABEL by="Ana B"', "--change", 'LABEL commit="abc123"',
        "hermes-admin", "hermes/admin:abc123",
    ]


def test_hostile_values_stay_single_arguments():
    hostile = "hermes-admin; touch /tmp/x"
    argv = docker.exec_in(hostile, ["git", "status"], workdir="$(id)")
    assert argv == ["docker", "exec", "--workdir", "$(id)", hostile, "git", "status"]


def test_inspect_and_listing():
    assert docker.inspect_format("hermes-app", "{{.Image}}", kind="container") == [
        "docker", "inspect", "--type", "container", "--format", "{{.Image}}", "hermes-app"]
    assert docker.list_repository_tags("hermes/admin") == [
        "docker", "images", "--no-trunc", "--format", "{{.Tag}} {{.ID}} {{.CreatedAt}}", "hermes/admin"]
