"""The docker builders behind the facts and preflight: exact argument lists, no host."""

from hermes_ops.commands import docker


def test_versions():
    assert docker.server_version() == ["docker", "version", "--format", "{{.Server.Version}}"]
    assert docker.daemon_version() == ["docker", "info", "--format", "{{.ServerVersion}}"]


def test_id_listings_take_one_filter_as_one_argument():
    assert docker.list_container_ids("label=io.hermes.sandbox=a b") == [
        "docker", "ps", "--all", "--quiet", "--filter", "label=io.hermes.sandbox=a b"]
    assert docker.list_image_ids("label=io.hermes.sandbox=1") == [
        "docker", "images", "--quiet", "--filter", "label=io.hermes.sandbox=1"]
