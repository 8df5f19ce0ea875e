"""Image facts: ids, labels, the deploy images `docker images` lists (with its date formats), label listings."""

from __future__ import annotations

import datetime

import pytest

from hermes_ops.facts import images
from hermes_ops.facts.images import DeployImage

UTC = datetime.timezone.utc
ID_A, ID_B, ID_C = ("sha256:" + letter * 64 for letter in "abc")
COMMIT = "412353f2b94e6425dbcf582145595d61a3d29f51"


def test_commands_are_the_runbooks():
    assert images.image_id.command("hermes/admin:latest") == [
        "docker", "inspect", "--type", "image", "--format", "{{.Id}}", "hermes/admin:latest"]
    assert images.labels.command("hermes/admin:latest") == [
        "docker", "inspect", "--type", "image", "--format", "{{json .Config.Labels}}", "hermes/admin:latest"]
    assert images.deploy_images.command("hermes/admin") == [
        "docker", "images", "--no-trunc", "--format", "{{.Tag}} {{.ID}} {{.CreatedAt}}", "hermes/admin"]
    assert images.ids_matching.command("label=io.hermes.sandbox=1") == [
        "docker", "images", "--quiet", "--filter", "label=io.hermes.sandbox=1"]


@pytest.mark.parametrize("output, ok, expected", [
    (f"{ID_A}\n", True, ID_A),
    (f"{ID_A}\r\n", True, ID_A),
    (f"  {ID_A}  \n\n", True, ID_A),
    ("", True, None),
    ("Error: No such image: hermes/admin:previous\n", False, None),
])
def test_image_id(output, ok, expected):
    assert images.image_id.value(output, ok=ok) == expected


@pytest.mark.parametrize("output, ok, expected", [
    (f'{{"io.hermes.commit":"{COMMIT}","io.hermes.operator":"Ana B"}}\n', True,
     {"io.hermes.commit": COMMIT, "io.hermes.operator": "Ana B"}),
    ('{"io.hermes.commit":"abc"}\r\n', True, {"io.hermes.commit": "abc"}),
    ("null\n", True, {}),                      # an image without labels
    ("{}\n", True, {}),
    ("", True, {}),
    ("<no value>\n", True, {}),
    ('["not", "an", "object"]\n', True, {}),
    ('{"port": 8080}\n', True, {"port": "8080"}),
    ("Error: No such image: x\n", False, None),
])
def test_labels(output, ok, expected):
    assert images.labels.value(output, ok=ok) == expected


@pytest.mark.parametrize("text, expected", [
    (COMMIT, COMMIT),
    (f" {COMMIT} \r", COMMIT),
    ("<no value>", None),
    ("", None),
    ("   ", None),
])
def test_a_label_value(text, expected):
    assert images.parse_label_value(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01 12:34:56 +0000 UTC", datetime.datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
    # older engines print the daemon's local zone
    ("2016-09-21 10:12:33 -0700 PDT", datetime.datetime(2016, 9, 21, 17, 12, 33, tzinfo=UTC)),
    ("2024-05-01 18:04:56 +0530 +0530", datetime.datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
    ("2024-05-01 12:34:56.123456789 +0000 UTC", datetime.datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
    ("2024-05-01T12:34:56Z", datetime.datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
    ("2024-05-01T14:34:56+02:00", datetime.datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
    ("2024-05-01 12:34:56", datetime.datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
    ("3 days ago", None),
    ("", None),
    ("2024-13-45 99:99:99 +0000 UTC", None),
])
def test_created(text, expected):
    assert images.parse_created(text) == expected


def listing(*rows: str) -> str:
    return "".join(f"{row}\n" for row in rows)


def tags(output: str) -> list[str]:
    return [image.tag for image in images.parse_deploy_images(output)]


def test_deploy_images_are_commit_tags_newest_first():
    output = listing(f"latest {ID_C} 2024-05-03 10:00:00 +0000 UTC",
                     f"previous {ID_B} 2024-05-02 10:00:00 +0000 UTC",
                     f"aaaaaaaaaaaa {ID_A} 2024-05-01 10:00:00 +0000 UTC",
                     f"cccccccccccc {ID_C} 2024-05-03 10:00:00 +0000 UTC",
                     f"bbbbbbbbbbbb {ID_B} 2024-05-02 10:00:00 +0000 UTC",
                     f"<none> {ID_A} 2024-04-01 10:00:00 +0000 UTC")
    assert images.parse_deploy_images(output) == (
        DeployImage("cccccccccccc", ID_C, datetime.datetime(2024, 5, 3, 10, tzinfo=UTC),
                    "2024-05-03 10:00:00 +0000 UTC"),
        DeployImage("bbbbbbbbbbbb", ID_B, datetime.datetime(2024, 5, 2, 10, tzinfo=UTC),
                    "2024-05-02 10:00:00 +0000 UTC"),
        DeployImage("aaaaaaaaaaaa", ID_A, datetime.datetime(2024, 5, 1, 10, tzinfo=UTC),
                    "2024-05-01 10:00:00 +0000 UTC"),
    )


@pytest.mark.parametrize("output, expected", [
    ("", []),
    ("\n\n", []),
    ("Error response from daemon: ...\n", []),
    # CRLF and trailing blanks
    (f"aaaaaaaaaaaa {ID_A} 2024-05-01 10:00:00 +0000 UTC\r\nbbbbbbbbbbbb {ID_B} 2024-05-02 10:00:00 +0000 UTC  \r\n",
     ["bbbbbbbbbbbb", "aaaaaaaaaaaa"]),
    # zones differ: sorted by the instant, not the text
    (listing(f"aaaaaaaaaaaa {ID_A} 2024-05-01 11:00:00 +0200 CEST",
             f"bbbbbbbbbbbb {ID_B} 2024-05-01 10:00:00 +0000 UTC"), ["bbbbbbbbbbbb", "aaaaaaaaaaaa"]),
    # the same second: docker's order is kept
    (listing(f"aaaaaaaaaaaa {ID_A} 2024-05-01 10:00:00 +0000 UTC",
             f"bbbbbbbbbbbb {ID_B} 2024-05-01 10:00:00 +0000 UTC"), ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]),
    # an unreadable date sorts as the newest: kept, never pruned first
    (listing(f"aaaaaaaaaaaa {ID_A} 2024-05-01 10:00:00 +0000 UTC",
             f"bbbbbbbbbbbb {ID_B} about an hour ago"), ["bbbbbbbbbbbb", "aaaaaaaaaaaa"]),
    (listing(f"aaaaaaaaaaaa {ID_A}"), ["aaaaaaaaaaaa"]),                 # no date at all
    (listing("aaaaaaaaaaaa"), []),                                      # no id: not a listing row
    (listing(f"AAAAAAAAAAAA {ID_A} 2024-05-01 10:00:00 +0000 UTC",      # not a commit tag
             f"aaaaaaaaaaa {ID_A} 2024-05-01 10:00:00 +0000 UTC",
             f"aaaaaaaaaaaaa {ID_A} 2024-05-01 10:00:00 +0000 UTC"), []),
])
def test_deploy_image_listings(output, expected):
    assert tags(output) == expected


def test_a_failed_listing_lists_nothing():
    assert images.deploy_images.value("Cannot connect to the Docker daemon", ok=False) == ()


@pytest.mark.parametrize("image, expected", [
    (ID_A, "a" * 12),
    ("3f1c2a9b8d7e6f5a", "3f1c2a9b8d7e"),
    (None, "none"),
    ("", "none"),
])
def test_short_id(image, expected):
    assert images.short_id(image) == expected


@pytest.mark.parametrize("output, expected", [
    (f"{ID_A}\n", ID_A),                        # what `docker commit` prints: the new image's id
    (f"{ID_A}\r\n", ID_A),
    ("sha256:" + "A" * 64 + "\n", None),          # docker prints lower-case hex
    ("sha256:" + "a" * 63 + "\n", None),
    ("a" * 64 + "\n", None),                      # no algorithm: not docker's answer
    ("", None),
    ("Error response from daemon: No such container: hermes-admin\n", None),
])
def test_new_image_id(output, expected):
    assert images.parse_new_image_id(output) == expected
