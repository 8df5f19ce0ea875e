"""Image facts from `docker inspect --type image` and `docker images`: ids, labels, the kept deploy images."""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass

from hermes_ops.commands import docker
from hermes_ops.facts.containers import parse_ids
from hermes_ops.facts.fact import Fact, first_line, lines

COMMIT_LABEL = "io.hermes.commit"
# The other labels step 6 puts on a deploy image: who made it, when, why, in which run.
OPERATOR_LABEL = "io.hermes.operator"
DEPLOYED_AT_LABEL = "io.hermes.deployed-at"
REASON_LABEL = "io.hermes.reason"
RUN_ID_LABEL = "io.hermes.run-id"
# A deploy image is tagged with the first 12 hex digits of its commit (`hermes/admin:412353f2b94e`).
COMMIT_TAG = re.compile(r"[0-9a-f]{12}")
NEW_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
NO_VALUE = "<no value>"  # what a Go template prints for a missing key (an image without the label)

# `{{.CreatedAt}}` is Go's time.String(): "2024-05-01 12:34:56 +0000 UTC", with fractions of a second on
# some engines, an offset and a zone name that may repeat the offset ("+0530 +0530"); RFC 3339 on others.
_CREATED = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{2}:\d{2}:\d{2})(?:\.\d+)?"
                      r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?")


@dataclass(frozen=True)
class DeployImage:
    """One `<repository>:<12-hex commit>` tag as `docker images` lists it."""

    tag: str
    image_id: str
    created: datetime.datetime | None  # None if the engine's date could not be read
    created_text: str


def parse_image_id(output: str) -> str | None:
    """`{{.Id}}` → the image id (`sha256:…`); None if docker printed nothing."""
    return first_line(output) or None


def parse_new_image_id(output: str) -> str | None:
    """What `docker commit` prints, the new image's id (`sha256:` and 64 hex digits); None for anything else."""
    word = first_line(output)
    return word if NEW_IMAGE_ID.fullmatch(word) else None


def parse_label_value(text: str) -> str | None:
    """One label as a template prints it: None when absent (`<no value>`) or empty."""
    value = text.strip()
    return None if not value or value == NO_VALUE else value


def parse_labels(output: str) -> dict[str, str]:
    """`{{json .Config.Labels}}` → the labels; {} for `null`, nothing, or anything that is not a JSON object."""
    try:
        labels = json.loads(first_line(output) or "null")
    except ValueError:
        return {}
    if not isinstance(labels, dict):
        return {}
    return {str(key): str(value) for key, value in labels.items()}


def parse_created(text: str) -> datetime.datetime | None:
    """A `{{.CreatedAt}}` value as an aware datetime (UTC when no offset is given); None if unreadable."""
    match = _CREATED.search(text)
    if not match:
        return None
    offset = match["offset"] or "Z"
    if offset == "Z":
        zone = datetime.timezone.utc
    else:
        digits = offset.replace(":", "")
        minutes = int(digits[1:3]) * 60 + int(digits[3:5])
        zone = datetime.timezone(datetime.timedelta(minutes=-minutes if digits[0] == "-" else minutes))
    try:
        return datetime.datetime.fromisoformat(f"{match['date']}T{match['time']}").replace(tzinfo=zone)
    except ValueError:
        return None


def parse_deploy_images(output: str) -> tuple[DeployImage, ...]:
    """`{{.Tag}} {{.ID}} {{.CreatedAt}}` lines → the deploy images (commit tags only), newest first.

    An image whose date cannot be read sorts as the newest: it counts as kept, never as the
    oldest to prune. Equal dates keep docker's order.
    """
    found = []
    for line in lines(output):
        fields = line.strip().split(maxsplit=2)
        if len(fields) < 2 or not COMMIT_TAG.fullmatch(fields[0]):
            continue
        created_text = fields[2] if len(fields) == 3 else ""
        found.append(DeployImage(tag=fields[0], image_id=fields[1], created=parse_created(created_text),
                                 created_text=created_text))
    newest_first = sorted(found, key=lambda image: image.created.timestamp() if image.created else float("inf"),
                          reverse=True)
    return tuple(newest_first)


def short_id(image: str | None) -> str:
    """An image id as people read it: 12 hex digits without `sha256:` ("none" for no image)."""
    return (image or "none").removeprefix("sha256:")[:12]


def _image_id_command(image: str) -> list[str]:
    return docker.inspect_format(image, "{{.Id}}", kind="image")


def _labels_command(image: str) -> list[str]:
    return docker.inspect_format(image, "{{json .Config.Labels}}", kind="image")


image_id = Fact("image id", _image_id_command, parse_image_id)
labels = Fact("image labels", _labels_command, parse_labels)
deploy_images = Fact("deploy images", docker.list_repository_tags, parse_deploy_images, when_failed=())
ids_matching = Fact("ids of the images matching a filter", docker.list_image_ids, parse_ids, when_failed=())
