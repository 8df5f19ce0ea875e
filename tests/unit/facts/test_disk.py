"""Free disk: `df -Pk PATH`'s Available column, whatever the filesystem's name or df's vintage."""

from __future__ import annotations

import pytest

from hermes_ops.facts import disk

HEADER = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n"


def test_command():
    assert disk.free_kilobytes.command("/") == ["df", "-Pk", "/"]


@pytest.mark.parametrize("output, expected", [
    (HEADER + "/dev/vda1         25215872 10305680  14893808      41% /\n", 14893808),
    (HEADER + "overlay          102687672 52473432  45000940      54% /\n", 45000940),
    (HEADER + "/dev/vda1 25215872 10305680 14893808 41% /\r\n", 14893808),       # CRLF
    (HEADER + "/dev/vda1 25215872 10305680 14893808 41% /   \n\n", 14893808),    # trailing blanks
    ("/dev/vda1 25215872 10305680 14893808 41% /\n", 14893808),                # no header
    (HEADER + "my disk 2 25215872 10305680 14893808 41% /mnt/my data\n", 14893808),  # blanks in names
    (HEADER + "/dev/mapper/a-very-long-volume-group-name\n 25215872 10305680 14893808 41% /\n",
     14893808),                                                                 # wrapped by an old df
    # busybox
    ("Filesystem           1024-blocks    Used Available Capacity Mounted on\n"
     "/dev/root              8125880   2891460   4815132  38% /\n", 4815132),
    (HEADER + "tmpfs 0 0 0 - /\n", 0),                                          # capacity "-"
    (HEADER + "/dev/sda1 1000 1100 -100 100% /\n", -100),                       # over the reserve
    (HEADER + "/dev/vda1 25215872 10305680 0 100% /\n", 0),                     # full
    ("", None),
    (HEADER, None),
    ("df: /nonexistent: No such file or directory\n", None),
    (HEADER + "/dev/vda1 lots used some 41% /\n", None),
])
def test_available_kilobytes(output, expected):
    assert disk.parse_available_kilobytes(output) == expected
