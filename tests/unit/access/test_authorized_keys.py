"""authorized_keys: sshd's reading of the file, and the edits (grant, revoke) that keep every other line as it was.

Where ssh-keygen can judge (`ssh-keygen -lf FILE` reads authorized_keys files, options
included), it does: hand-written tricky files and seeded random ones built from the same
pieces must give the same fingerprints, in the same order. Where ssh-keygen and sshd differ
(ssh-keygen does not check options, and wants exactly one space after them), the test says
which way we follow (sshd's) and why.
"""

from __future__ import annotations

import base64
import random
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from hermes_ops.access.authorized_keys import (AuthorizedKeys, Entry, grant_comment, parse_grant_comment,
                                               render_options, split_options)
from hermes_ops.access.public_keys import PublicKey, parse_public_key
from hermes_ops.errors import ConfigError
from tests.unit.access.test_public_keys import (needs_ssh_keygen, reference_key, sk_lines, ssh_keygen_fingerprints,
                                                ssh_keygen_lines, wire)

NOW = "20261127120000"


def fresh_key(comment: str = "") -> PublicKey:
    text = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return parse_public_key(f"{text} {comment}".strip())


def fingerprints(text: str) -> list[str]:
    return [entry.fingerprint for entry in AuthorizedKeys.from_text(text).entries]


def judged_by_ssh_keygen(tmp_path, text: str) -> list[str]:
    path = tmp_path / "authorized_keys"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return ssh_keygen_fingerprints(path)


# --- options ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, options, rest", [
    ("no-pty ssh-ed25519 AAAA c", (("no-pty", None),), "ssh-ed25519 AAAA c"),
    ('command="echo \\"hi\\", there",no-pty,from="a,b" key', (("command", 'echo "hi", there'), ("no-pty", None),
                                                             ("from", "a,b")), "key"),
    ('command="a b\tc # d" \t key', (("command", "a b\tc # d"),), "key"),
    ('command="back\\\\slash\\n"', (("command", "back\\\\slash\\n"),), ""),
    ('command=""', (("command", ""),), ""),
    (",,no-pty,,restrict, key", (("no-pty", None), ("restrict", None)), "key"),
    ("NO-PTY,Expiry-Time=\"20261201\" k", (("NO-PTY", None), ("Expiry-Time", "20261201")), "k"),
    ("", (), ""),
])
def test_split_options(text, options, rest):
    assert split_options(text) == (options, rest)


@pytest.mark.parametrize("text, problem", [
    ('command="never closed ssh-ed25519 AAAA', "has no closing quote"),
    ("command=unquoted key", "does not start with a double quote"),
    ('command="a"b key', "text after a quoted value"),
    ('no"pty" key', "a double quote inside an option name"),
    ('="value" key', "an option with a value but no name"),
])
def test_split_options_refuses_what_sshd_cannot_read(text, problem):
    with pytest.raises(ConfigError, match=problem) as caught:
        split_options(text)
    assert "never closed" not in str(caught.value) and "unquoted" not in str(caught.value)


def test_render_options_is_the_inverse_of_split_options():
    chosen = random.Random(20261127)
    alphabet = 'ab ,"\\=#\t\'-xyzé'
    for _ in range(300):
        options = tuple((chosen.choice(["command", "from", "environment", "no-pty", "x11-forwarding"]),
                         None if chosen.random() < 0.3 else "".join(chosen.choice(alphabet) for _ in range(
                             chosen.randrange(0, 12))).rstrip("\\"))
                        for _ in range(chosen.randrange(1, 4)))
        rendered = render_options(options)
        assert split_options(rendered + " ssh-ed25519 AAAA") == (options, "ssh-ed25519 AAAA")
    assert render_options(()) == ""
    assert render_options((("expiry-time", "202612011830"),)) == 'expiry-time="202612011830"'


@pytest.mark.parametrize("options", [
    (("command", "ends in a backslash\\"),), (("command", "two\nlines"),), (("command", "nul\0"),),
    (("bad name", None),), (("", None),), (("-x", "v"),),
])
def test_render_options_refuses_what_cannot_be_written(options):
    with pytest.raises(ConfigError):
        render_options(options)


# --- which lines sshd uses -------------------------------------------------------------------------------

USED = [  # options sshd 9.2 accepts (auth-options.c, sshauthopt_parse)
    "restrict", "no-pty", "NO-PTY", "pty", "no-port-forwarding", "port-forwarding", "no-agent-forwarding",
    "no-X11-forwarding", "x11-forwarding", "no-user-rc", "user-rc", "cert-authority", "touch-required",
    "no-touch-required", "verify-required", "no-verify-required", 'command="uptime"', 'COMMAND="x"', 'command=""',
    'from="10.0.0.0/8,!10.1.*"', 'from=""', 'principals="a,b"', 'expiry-time="20261201"',
    'expiry-time="202612011830"', 'expiry-time="20261201183059"', 'expiry-time="20261201Z"',
    'expiry-time="202612011830utc"', 'expiry-time="20260231"', 'expiry-time="20261201235961"',
    'environment="LANG=C.UTF-8"', 'environment="A_1="', 'environment="1=x"', 'permitopen="host:22"',
    'permitopen="[::1]:80"', 'permitopen="host:*"', 'permitopen="h:ssh"', 'permitopen="h/22"',
    'permitlisten="8080"', 'permitlisten="localhost:8080"', 'permitlisten="*:*"', 'tunnel="0"', 'tunnel="any"',
    'tunnel="ANY"', "restrict,pty,command=\"a, b\"", ",no-pty", "no-pty,,restrict", "no-pty,",
    'expiry-time="20261201",expiry-time="20261130"', 'environment="A=1",environment="A=2"',
    'permitopen="a:1",permitopen="b:2"',
]
IGNORED = [  # options sshd refuses: it skips the whole line
    "bogus", "no-restrict", "no-cert-authority", "ptyx", "pty=\"yes\"", "restrict=\"1\"", 'nocommand="x"',
    'command="a",command="b"', 'from="a",from="b"', 'principals="a",principals="b"', 'expiry-time="20261301"',
    'expiry-time="2026120"', 'expiry-time="202612011860"', 'expiry-time="20261201240000"', 'expiry-time="19691231"',
    'expiry-time="19700101Z"', 'expiry-time="2026-12-01"', 'expiry-time="tomorrow"', 'expiry-time=""',
    'expiry-time="20261201X"', 'environment="novalue"', 'environment="=x"', 'environment="A-B=c"',
    'permitopen="host"', 'permitopen="host:0"', 'permitopen="host:65536"', 'permitopen="[::1]"',
    'permitopen="[::1]x:22"', 'permitopen="h:2 2"', 'tunnel="x"', 'tunnel="-1"', 'tunnel="2147483646"',
]


@pytest.mark.parametrize("options", USED)
def test_lines_with_options_sshd_accepts_are_entries(options):
    key = fresh_key()
    text = f"{options} {key.line} c\n"
    (entry,) = AuthorizedKeys.from_text(text).entries
    assert entry.fingerprint == key.fingerprint and entry.raw == text[:-1]
    assert entry.options == split_options(text)[0]


@pytest.mark.parametrize("options", IGNORED)
def test_lines_with_options_sshd_refuses_are_not_entries_but_still_hold_the_key(options):
    key, other = fresh_key(), fresh_key()
    authorized = AuthorizedKeys.from_text(f"{options} {key.line} c\n{other.line}\n")
    assert [entry.fingerprint for entry in authorized.entries] == [other.fingerprint]
    authorized.revoke(key.fingerprint)  # revoking removes it all the same
    assert authorized.text() == f"{other.line}\n"


def test_the_earliest_expiry_time_counts():
    key = fresh_key()
    (entry,) = AuthorizedKeys.from_text(f'expiry-time="20261201",Expiry-Time="202611301200" {key.line}').entries
    assert entry.expiry_time == "202611301200"


# --- agreement with ssh-keygen ---------------------------------------------------------------------------

def _tricky_file() -> tuple[str, list[str]]:
    """A file of hard cases, and the fingerprints of its entries (in order) as sshd would use them."""
    ed, rsa, ec256, ec384, ec521, small = (reference_key(name) for name in
                                           ("ed25519", "rsa", "ecdsa256", "ecdsa384", "ecdsa521", "rsa1024"))
    sk_ed, sk_ec = (parse_public_key(sk_lines()[name]) for name in ("sk-ed25519", "sk-ecdsa"))
    alias = "rsa-sha2-512 " + rsa.base64
    text = "\n".join([
        "# keys for core",
        "",
        "   \t ",
        f"{ed.line} alice@laptop",
        f"  \t{rsa.line}\tbob with  spaces",
        f'no-pty,command="echo \\"hi, there\\" # not a comment" {ec256.line} quoted',
        f'from="10.0.0.0/8,!10.1.0.0/16",NO-X11-FORWARDING {ec384.line}',
        f'restrict,pty,expiry-time="202612011830" {ec521.line} expires\r',
        f'environment="A_B=c d",permitopen="[::1]:80",permitlisten="8080",tunnel="any" {sk_ed.line} x\r',
        f'cert-authority,principals="a,b" {sk_ec.line}',
        "ssh-ed25519 !!!!notbase64 bad",
        "ssh-ed25519",
        f'command="unterminated {ed.line}',
        f"ssh-rsa {ed.base64} type-and-blob-disagree",
        f"{ed.key_type} {ed.base64[:40]} cut-short",
        f"{alias} rsa-alias",
        f"{small.line} small-rsa",
        f"# {ed.line} commented out",
        f"#{rsa.line}",
        f"{ed.line}\r",
        f",,no-pty,, {ec256.line} empty-options",
        f"{ed.line} final line without a newline",
    ])
    expected = [ed, rsa, ec256, ec384, ec521, sk_ed, sk_ec, rsa, small, ed, ec256, ed]
    return text, [key.fingerprint for key in expected]


@needs_ssh_keygen
def test_a_tricky_file_reads_as_ssh_keygen_reads_it(tmp_path):
    text, expected = _tricky_file()
    assert fingerprints(text) == expected
    assert judged_by_ssh_keygen(tmp_path, text) == expected


PIECE_OPTIONS = [  # groups: at most one option of a group on a line (sshd refuses two command= ...)
    ["restrict"], ["no-pty", "NO-PTY", "pty"], ["no-port-forwarding"], ["no-agent-forwarding"],
    ["no-X11-forwarding"], ["no-user-rc"], ["cert-authority"], ["verify-required"], ["no-touch-required"],
    ['command="uptime"', 'command="echo \\"a, b\\" #x"', 'command="tab\there"', 'command="a  b"'],
    ['from="10.0.0.0/8,!10.1.*"'], ['principals="ops,dev"'],
    ['expiry-time="202612011830"', 'expiry-time="20270101"', 'expiry-time="20261201183059Z"'],
    ['environment="LANG=C x"'], ['permitopen="db.internal:5432"', 'permitopen="[::1]:80"'], ['permitlisten="8080"'],
    ['tunnel="1"'], [""],
]
PIECE_COMMENTS = ["", "alice@laptop", "with  two  spaces", "#hash", "hermes-access:operator=A%20B,by=x,at=y",
                  "trailing space ", "Zoë"]


def _random_line(chosen: random.Random, keys: list[PublicKey]) -> tuple[str, PublicKey | None]:
    """One line built from the pieces, and the key sshd would use from it (None: not an entry)."""
    key = chosen.choice(keys)
    comment = chosen.choice(PIECE_COMMENTS)
    key_type = "rsa-sha2-256" if key.key_type == "ssh-rsa" and chosen.random() < 0.3 else key.key_type
    separator = chosen.choice([" ", "\t", "  "])
    body = f"{key_type}{separator}{key.base64}" + (f"{chosen.choice([' ', chr(9)])}{comment}" if comment else "")
    kind = chosen.randrange(10)
    if kind < 3:
        return chosen.choice(["", "  ", "\t"]) + body, key
    if kind < 6:
        options = ",".join(chosen.choice(group) for group in chosen.sample(PIECE_OPTIONS, chosen.randrange(1, 4)))
        return (f"{options} {body}", key) if options.strip(",") else (body, key)
    if kind == 6:
        return chosen.choice(["# a comment", f"#{body}", f"  # {body}", ""]), None
    if kind == 7:
        return chosen.choice(["", "   ", "\t"]), None
    bad = [f"{key_type} !!!{key.base64[3:]}", f"{key_type} {key.base64[:-8]}", key_type, "not a key line",
           f'command="unterminated {body}', f"ssh-ed25519 {fresh_rsa_blob_text(chosen, keys)}",
           f"{key_type} {key.base64}=="]
    return chosen.choice(bad), None


def fresh_rsa_blob_text(chosen: random.Random, keys: list[PublicKey]) -> str:
    """The base64 of some key that is not an ed25519 key (on an ssh-ed25519 line: the types disagree)."""
    return chosen.choice([key for key in keys if key.key_type != "ssh-ed25519"]).base64


@needs_ssh_keygen
def test_seeded_random_files_read_as_ssh_keygen_reads_them_and_edits_keep_other_lines(tmp_path):
    keys = [reference_key(name) for name in ("ed25519", "rsa", "ecdsa256", "ecdsa384", "ecdsa521", "rsa1024")]
    keys += [parse_public_key(text) for text in sk_lines().values()]
    for seed in range(50):
        chosen = random.Random(seed)
        built = [_random_line(chosen, keys) for _ in range(chosen.randrange(1, 14))]
        lines = [text + ("\r" if chosen.random() < 0.15 else "") for text, _ in built]
        text = "\n".join(lines) + ("\n" if chosen.random() < 0.8 or not lines[-1] else "")
        expected = [key.fingerprint for _, key in built if key is not None]
        authorized = AuthorizedKeys.from_text(text)
        assert [entry.fingerprint for entry in authorized.entries] == expected, f"seed {seed}"
        assert judged_by_ssh_keygen(tmp_path, text) == expected, f"seed {seed}"
        assert authorized.text() == text + ("" if text.endswith("\n") or not text else "\n")

        newcomer = fresh_key()
        comment = grant_comment(operator=f"Op {seed}", request_id=None, granted_by="admin", granted_at="t")
        grant = authorized.grant(newcomer, comment=comment, expiry_time="202612011830" if seed % 2 else None)
        assert grant.change == "added"
        assert authorized.text() == AuthorizedKeys.from_text(text).text() + grant.entry.raw + "\n"
        assert judged_by_ssh_keygen(tmp_path, authorized.text()) == expected + [newcomer.fingerprint]

        if expected:
            gone = chosen.choice(expected)
            authorized.revoke(gone)
            kept = [text for text, (_, key) in zip(lines, built) if key is None or key.fingerprint != gone]
            assert authorized.text() == "\n".join(kept + [grant.entry.raw]) + "\n", f"seed {seed}"
            left = [fingerprint for fingerprint in expected if fingerprint != gone] + [newcomer.fingerprint]
            assert judged_by_ssh_keygen(tmp_path, authorized.text()) == left, f"seed {seed}"


@needs_ssh_keygen
@pytest.mark.parametrize("text_for, why", [
    (lambda key: f"no-pty  {key.line}", "two spaces after the options: sshd skips them, ssh-keygen does not"),
    (lambda key: f"no-pty \t{key.line}", "a space and a tab after the options"),
])
def test_where_ssh_keygen_is_stricter_than_sshd_we_follow_sshd(tmp_path, text_for, why):
    key = fresh_key()
    assert fingerprints(text_for(key)) == [key.fingerprint], why  # sshd: skip_space, then the key
    assert judged_by_ssh_keygen(tmp_path, text_for(key)) == []  # ssh-keygen: one separator only


@needs_ssh_keygen
@pytest.mark.parametrize("options", ["bogus", 'command="a",command="b"', 'expiry-time="20261301"', "0"])
def test_where_ssh_keygen_ignores_options_sshd_refuses_we_follow_sshd(tmp_path, options):
    key = fresh_key()
    assert judged_by_ssh_keygen(tmp_path, f"{options} {key.line}\n") == [key.fingerprint]  # ssh-keygen: a key
    assert fingerprints(f"{options} {key.line}\n") == []  # sshd: a line it skips


def test_types_we_do_not_grant_are_not_entries():
    key = fresh_key()
    blob = wire(b"ssh-dss", b"\1", b"\2", b"\3", b"\4")
    text = f"ssh-dss {base64.b64encode(blob).decode()} old\nssh-ed25519-cert-v01@openssh.com {key.base64}\n"
    assert AuthorizedKeys.from_text(text).entries == []


@needs_ssh_keygen
def test_a_grant_comment_survives_ssh_keygen(tmp_path):
    key = fresh_key()
    comment = grant_comment(operator="Zoë O'Brien, ops", request_id="20261127T172500Z-1a2b3c",
                            granted_by="root@admin box", granted_at="2026-11-27T18:00:00Z")
    authorized = AuthorizedKeys.from_text("")
    authorized.grant(key, comment=comment, expiry_time="202612011830")
    path = tmp_path / "authorized_keys"
    path.write_text(authorized.text())
    (printed,) = ssh_keygen_lines(path)
    assert printed == f"256 {key.fingerprint} {comment} (ED25519)"
    assert parse_grant_comment(authorized.entries[0].comment)["operator"] == "Zoë O'Brien, ops"


# --- the text is kept -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "", "\n", "\n\n", "# only a comment", "# only a comment\n", "a\r\nb\r\n", "x\ty  \n\n z", "\ufeffbom\n",
    "bad\udcffbyte\n", "line\x0bwith\x0cother\u2028breaks\n",
])
def test_text_is_kept_byte_for_byte(text):
    kept = AuthorizedKeys.from_text(text).text()
    assert kept == (text if not text or text.endswith("\n") else text + "\n")


def test_lines_are_split_at_newlines_only():
    key = fresh_key()
    (entry,) = AuthorizedKeys.from_text(f"# a\x0bb\u2028c {key.line}\n{key.line} x\u2028y\n").entries
    assert entry.line_number == 2 and entry.comment == "x\u2028y"


# --- grant ----------------------------------------------------------------------------------------------

def test_grant_adds_a_line_and_keeps_the_others():
    old, new = fresh_key(), fresh_key("alice@laptop")
    text = f"# admins\r\n{old.line} admin\r\n\nno-pty {old.line}"  # no newline at the end
    authorized = AuthorizedKeys.from_text(text)
    grant = authorized.grant(new, comment="hermes-access:operator=alice,by=x,at=y", expiry_time="202612011830")
    assert grant.change == "added" and grant.previous is None
    assert grant.entry == Entry(5, f'expiry-time="202612011830" {new.line} hermes-access:operator=alice,by=x,at=y',
                                (("expiry-time", "202612011830"),), grant.entry.key)
    assert grant.entry.expiry_time == "202612011830" and grant.entry.fingerprint == new.fingerprint
    assert authorized.text() == text + "\n" + grant.entry.raw + "\n"


def test_grant_without_expiry_or_comment():
    key = fresh_key()
    authorized = AuthorizedKeys.from_text("")
    assert authorized.grant(key, comment="", expiry_time=None).entry.raw == key.line
    assert authorized.text() == key.line + "\n"


def test_a_repeated_grant_changes_nothing():
    key = fresh_key()
    authorized = AuthorizedKeys.from_text("")
    first = grant_comment(operator="alice", request_id="r1", granted_by="admin", granted_at="2026-11-27T18:00:00Z")
    authorized.grant(key, comment=first, expiry_time="202612011830")
    before = authorized.text()
    again = grant_comment(operator="alice", request_id="r1", granted_by="other", granted_at="2026-11-28T09:00:00Z")
    for comment in (first, again):
        grant = authorized.grant(key, comment=comment, expiry_time="202612011830")
        assert grant.change == "unchanged" and grant.entry.line_number == 1
        assert authorized.text() == before  # the first grant's time and admin stay


@pytest.mark.parametrize("line_for, expiry, comment", [
    (lambda key: f'expiry-time="202612011830" {key.line} c', "202701011200", "c"),   # extended
    (lambda key: f'expiry-time="202612011830" {key.line} c', None, "c"),             # expiry removed
    (lambda key: f"{key.line} c", "202612011830", "c"),                              # expiry added
    (lambda key: f"{key.line} old comment", None, "new comment"),                    # comment changed
    (lambda key: f'EXPIRY-TIME="202612011830",expiry-time="202612011830" {key.line} c', "202612011830", "c"),
    (lambda key: f'expiry-time="20261301" {key.line} c', "202612011830", "c"),       # an expiry sshd refused
    (lambda key: f"rsa-sha2-512 {key.base64} c", "202612011830", "c"),              # the type word as an alias
])
def test_grant_renews_a_line_with_only_an_expiry_in_place(line_for, expiry, comment):
    key = reference_key("rsa")
    other = fresh_key()
    text = f"{other.line} first\r\n{line_for(key)}\r\n# last\n"
    authorized = AuthorizedKeys.from_text(text)
    grant = authorized.grant(key, comment=comment, expiry_time=expiry)
    assert grant.change == "renewed" and grant.previous.raw == line_for(key) + "\r"
    written = (f'expiry-time="{expiry}" ' if expiry else "") + f"{key.line} {comment}"
    assert authorized.text() == f"{other.line} first\r\n{written}\r\n# last\n"  # the CRLF ending stays
    assert grant.entry.line_number == 2 and grant.entry.raw == written + "\r"


@pytest.mark.parametrize("options, named", [
    ('command="/usr/bin/backup"', "command"), ('from="10.0.0.1"', "from"), ("restrict", "restrict"),
    ('no-pty,expiry-time="202612011830"', "no-pty"), ('environment="TOKEN=hunter2-secret"', "environment"),
    ('cert-authority,principals="ops"', "cert-authority, principals"), ("bogus", "bogus"),
])
def test_grant_refuses_a_key_held_with_other_options(options, named):
    key = fresh_key()
    text = f"{options} {key.line} restricted\n"
    authorized = AuthorizedKeys.from_text(text)
    with pytest.raises(ConfigError) as caught:
        authorized.grant(key, comment="c", expiry_time=None)
    message = str(caught.value)
    assert f"the key {key.fingerprint} is already granted with options {named} on line 1" in message
    assert "revoke it first" in message and "hunter2" not in message and "/usr/bin" not in message
    assert authorized.text() == text


def test_grant_refuses_a_key_on_two_lines_and_options_it_cannot_read():
    key = fresh_key()
    text = f"{key.line} one\n# between\n{key.line} two\n"
    with pytest.raises(ConfigError, match=r"is already on lines 1, 3 of authorized_keys"):
        AuthorizedKeys.from_text(text).grant(key, comment="c", expiry_time=None)
    with pytest.raises(ConfigError, match="with options that cannot be read"):
        AuthorizedKeys.from_text(f'no"p"ty {key.line}\n').grant(key, comment="c", expiry_time=None)


@pytest.mark.parametrize("comment, expiry", [
    ("two\nlines", None), ("carriage\rreturn", None), ("escape\x1b[0m", None), ("ok", "2026-12-01T18:30"),
    ("ok", '202612011830" ,command="sh'), ("ok", "20261301"), ("ok", ""),
])
def test_grant_refuses_a_comment_or_expiry_that_could_break_the_file(comment, expiry):
    authorized = AuthorizedKeys.from_text("# keep\n")
    with pytest.raises(ConfigError):
        authorized.grant(fresh_key(), comment=comment, expiry_time=expiry)
    assert authorized.text() == "# keep\n"


def test_grant_accepts_every_expiry_form_sshd_reads():
    for expiry in ("20261201", "202612011830", "20261201183059", "202612011830Z", "202612011830UTC"):
        authorized = AuthorizedKeys.from_text("")
        assert authorized.grant(fresh_key(), comment="", expiry_time=expiry).entry.expiry_time == expiry


# --- revoke ---------------------------------------------------------------------------------------------

def test_revoke_removes_every_line_holding_the_key():
    key, admin = reference_key("rsa"), fresh_key()
    text = (f"# header\n{key.line} a\n{admin.line} admin\r\n"
            f"no-pty,bogus {key.line} refused-by-sshd\n  rsa-sha2-256 {key.base64} alias\n# {key.line}\n")
    authorized = AuthorizedKeys.from_text(text)
    removed = authorized.revoke(key.fingerprint)
    assert removed.line_number == 2 and removed.comment == "a"
    assert authorized.text() == f"# header\n{admin.line} admin\r\n# {key.line}\n"  # a comment is not a key


def test_revoke_refuses_a_key_not_there_and_leaving_no_key():
    key, other = fresh_key(), fresh_key()
    authorized = AuthorizedKeys.from_text(f"{key.line}\n{key.line} twice\nbogus {other.line}\n")
    absent = fresh_key().fingerprint
    with pytest.raises(ConfigError, match=f"no line of authorized_keys holds the key {re.escape(absent)}"):
        authorized.revoke(absent)
    with pytest.raises(ConfigError, match="would leave no key in authorized_keys: nobody could log in"):
        authorized.revoke(key.fingerprint)  # the other line is one sshd skips: it does not count
    assert len(authorized.entries) == 2


@pytest.mark.parametrize("fingerprint", ["", "SHA256:short", "MD5:aa:bb", None, "SHA256:" + "A" * 44])
def test_revoke_refuses_what_is_not_a_fingerprint(fingerprint):
    with pytest.raises(ConfigError, match="is not a key fingerprint"):
        AuthorizedKeys.from_text(f"{fresh_key().line}\n").revoke(fingerprint)


# --- listing and expiry ---------------------------------------------------------------------------------

def test_listing():
    key, plain = fresh_key(), fresh_key()
    comment = grant_comment(operator="Grace Hopper", request_id="20261127T172500Z-1a2b3c", granted_by="admin",
                            granted_at="2026-11-27T18:00:00Z")
    text = f'# x\nexpiry-time="202612011830",no-pty {key.line} {comment}\n{plain.line} bob@desk\nbogus {key.line}\n'
    assert AuthorizedKeys.from_text(text).listing(NOW) == [
        {"line": 2, "fingerprint": key.fingerprint, "type": "ssh-ed25519", "bits": 256, "comment": comment,
         "operator": "Grace Hopper", "request": "20261127T172500Z-1a2b3c", "expiry": "2026-12-01 18:30",
         "expired": False, "options": ["expiry-time", "no-pty"]},
        {"line": 3, "fingerprint": plain.fingerprint, "type": "ssh-ed25519", "bits": 256, "comment": "bob@desk",
         "operator": None, "request": None, "expiry": None, "expired": False, "options": []},
    ]


@pytest.mark.parametrize("expiry, shown, last_good, first_expired", [
    ("202612011830", "2026-12-01 18:30", "20261201183000", "20261201183001"),
    ("20261201", "2026-12-01 00:00", "20261201000000", "20261201000001"),
    ("20261201183059", "2026-12-01 18:30:59", "20261201183059", "20261201183100"),
    ("20260231", "2026-03-03 00:00", "20260303000000", "20260303000001"),          # mktime normalises
    ("20261231235960", "2027-01-01 00:00", "20270101000000", "20270101000001"),    # a leap second too
])
def test_a_key_expires_once_the_time_is_past_its_expiry(expiry, shown, last_good, first_expired):
    """sshd: refused when valid_before < now, so at the expiry second itself the key still works."""
    authorized = AuthorizedKeys.from_text(f'expiry-time="{expiry}" {fresh_key().line}\n')
    for now, expired in (("20200101000000", False), (last_good, False), (first_expired, True)):
        (listed,) = authorized.listing(now)
        assert (listed["expiry"], listed["expired"]) == (shown, expired), now


@pytest.mark.parametrize("expiry", ["202612011830Z", "202612011830z", "202612011830UTC", "202612011830utc"])
def test_utc_expiry_needs_the_utc_time(expiry):
    authorized = AuthorizedKeys.from_text(f'expiry-time="{expiry}" {fresh_key().line}\n')
    (listed,) = authorized.listing("20261201233000")
    assert listed["expiry"] == "2026-12-01 18:30 UTC" and listed["expired"] is None  # not known without UTC
    assert authorized.listing("20261201233000", now_utc="20261201183000")[0]["expired"] is False
    assert authorized.listing("20261201120000", now_utc="20261201183001")[0]["expired"] is True


@pytest.mark.parametrize("now", ["", "2026112712000", "202611271200000", "2026-11-27 12:00", "20261332120000", None])
def test_listing_refuses_a_bad_clock(now):
    with pytest.raises(ConfigError, match="now_local"):
        AuthorizedKeys.from_text("").listing(now)


# --- grant comments -------------------------------------------------------------------------------------

def test_grant_comments_round_trip():
    chosen = random.Random(7)
    alphabet = "aZ09 ._@+-:,=%/\"'#\\éßø東京🙂"
    for _ in range(300):
        values = ["".join(chosen.choice(alphabet) for _ in range(chosen.randrange(1, 20))) for _ in range(4)]
        request = values[1] if chosen.random() < 0.7 else None
        comment = grant_comment(operator=values[0], request_id=request, granted_by=values[2], granted_at=values[3])
        assert re.fullmatch(r"hermes-access:[A-Za-z0-9._@+\-:,=%]+", comment)
        assert parse_grant_comment(comment) == {"operator": values[0], "request": request,
                                                "granted_by": values[2], "granted_at": values[3]}
        assert parse_grant_comment(comment + " alice@laptop")["operator"] == values[0]


def test_grant_comment_form():
    assert grant_comment(operator="Grace Hopper", request_id=None, granted_by="admin@ops",
                         granted_at="2026-11-27T18:00:00Z") == \
        "hermes-access:operator=Grace%20Hopper,by=admin@ops,at=2026-11-27T18:00:00Z"


@pytest.mark.parametrize("comment", [
    "", "alice@laptop", "hermes-access:", "hermes-access:operator=a", "hermes-access:operator=a,by=b,at=c,x=d",
    "hermes-access:operator=a,operator=b,by=c,at=d", "hermes-access:operator=%zz,by=b,at=c",
    "hermes-access:operator=%ff,by=b,at=c", "hermes-access:operator=a b,by=c,at=d", "x hermes-access:operator=a,by=b,at=c",
    "hermes-access:operator=a,by=b,at=c,", None,
])
def test_comments_that_are_not_ours_parse_to_nothing(comment):
    assert parse_grant_comment(comment) == {}


@pytest.mark.parametrize("field, value", [
    ("operator", ""), ("operator", "two\nlines"), ("granted_by", ""), ("granted_at", ""), ("operator", "x" * 201),
    ("request_id", ""), ("operator", "bidi\u202e"), ("operator", None),
])
def test_grant_comment_refuses_bad_fields(field, value):
    given = {"operator": "a", "request_id": "r", "granted_by": "b", "granted_at": "c", field: value}
    with pytest.raises(ConfigError, match="grant comment field"):
        grant_comment(**given)
