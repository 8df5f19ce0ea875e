"""Secret masking and redaction: no way to print a Secret by accident."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.secrets import MASK, Redactor, Secret

VALUE = "hunter2-registry-token"


def test_secret_is_masked_however_it_is_shown():
    secret = Secret(VALUE)
    shown = [str(secret), repr(secret), f"{secret}", f"{secret!r}", f"{secret:>30}", "%s" % secret,
             "%r" % (secret,), str([secret]), str({"token": secret})]
    assert all(VALUE not in text for text in shown)
    assert str(secret) == MASK
    assert repr(secret) == "Secret('****')"
    assert repr(Secret(VALUE, name="registry")) == "Secret('registry', '****')"


def test_reveal_is_the_only_way_out():
    assert Secret(VALUE).reveal() == VALUE
    assert Secret(Secret(VALUE)).reveal() == VALUE


def test_secret_does_not_leak_into_logs(caplog):
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("token is %s / %r", Secret(VALUE), Secret(VALUE))
    assert VALUE not in caplog.text
    assert MASK in caplog.text


def test_secret_cannot_be_pickled_or_json_dumped():
    with pytest.raises(TypeError):
        pickle.dumps(Secret(VALUE))
    with pytest.raises(TypeError):
        json.dumps({"token": Secret(VALUE)})


def test_secret_copies_are_the_same_value():
    secret = Secret(VALUE)
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"k": secret})["k"] is secret


def test_secret_equality_and_hash_follow_the_value():
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret("other")
    assert len({Secret(VALUE), Secret(VALUE)}) == 1
    assert Secret(VALUE) != VALUE  # a Secret never equals its plain text by accident


def test_secret_rejects_non_strings():
    with pytest.raises(TypeError):
        Secret(b"bytes")


def test_redactor_masks_every_occurrence():
    redactor = Redactor([Secret(VALUE), "plainpass"])
    assert redactor.redact(f"a {VALUE} b {VALUE} plainpass") == "a **** b **** ****"
    assert redactor.redact("nothing here") == "nothing here"


def test_redactor_masks_longest_match_first():
    redactor = Redactor(["abc", "abcdef"])
    assert redactor.redact("xabcdefx abcx") == "x****x ****x"


def test_redactor_escapes_regex_characters():
    redactor = Redactor(["p@ss.w*rd(1)"])
    assert redactor.redact("use p@ss.w*rd(1) not pXss") == "use **** not pXss"


def test_redactor_ignores_empty_values_and_is_falsy_without_values():
    redactor = Redactor(["", Secret("")])
    assert not redactor
    assert redactor.redact("text") == "text"
    redactor.add("x1")
    assert redactor


def test_redactor_masks_lines_of_a_multiline_secret():
    pem = "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUFFS\nU1RVVldYWVphYmNkZWZnaGlq\n-----END KEY-----"
    redactor = Redactor([Secret(pem)])
    assert redactor.redact(pem) == MASK
    # Output is redacted line by line while streaming: each line of the key must go too.
    assert redactor.redact("QUJDREVGR0hJSktMTU5PUFFS") == MASK
    assert redactor.redact("U1RVVldYWVphYmNkZWZnaGlq") == MASK


def test_redactor_repr_shows_no_values():
    assert VALUE not in repr(Redactor([VALUE]))


def test_redact_cut_masks_a_secret_split_by_the_cut():
    redactor = Redactor(["supersecret"])
    # The kept head ends inside the secret; the kept tail starts inside it.
    assert redactor.redact_cut("log line supers", cut_at_end=True) == "log line ****"
    assert redactor.redact_cut("ecret and more", cut_at_start=True) == "**** and more"
    assert redactor.redact_cut("supersecret whole", cut_at_end=True) == "**** whole"
    assert redactor.redact_cut("unrelated", cut_at_end=True, cut_at_start=True) == "unrelated"


# --- the process-wide registry (the key's passphrase, once loaded) ------------------------------

PASSPHRASE = "tr0ub4dor&3 horse"


def test_registered_secret_is_masked_by_mask_and_every_redactor(secrets_registry):
    from hermes_ops.secrets import mask, register_secret

    made_before = Redactor(["other-token"])
    assert mask(f"x {PASSPHRASE}") == f"x {PASSPHRASE}"
    register_secret(Secret(PASSPHRASE))
    assert mask(f"x {PASSPHRASE} y") == "x **** y"
    assert made_before.redact(f"{PASSPHRASE} other-token") == "**** ****"
    assert Redactor().redact(PASSPHRASE) == MASK and Redactor()
    assert Redactor(include_registered=False).redact(PASSPHRASE) == PASSPHRASE
    assert made_before.redact_cut(f"head {PASSPHRASE[:6]}", cut_at_end=True) == "head ****"


def test_register_ignores_empty_values_and_keeps_longest_first(secrets_registry):
    from hermes_ops.secrets import mask, register_secret

    register_secret("")
    register_secret(Secret(""))
    assert mask("text") == "text"
    register_secret("horse")
    redactor = Redactor(["tr0ub4dor&3 horse battery"])
    register_secret(PASSPHRASE)
    assert redactor.redact("tr0ub4dor&3 horse battery") == MASK
    assert mask(PASSPHRASE) == MASK and mask("a horse") == "a ****"


def test_mask_data_masks_strings_inside_json_like_data(secrets_registry):
    from hermes_ops.secrets import mask_data, register_secret

    register_secret('pa"ss\\wörd')
    data = {"parameters": {"reason": 'x pa"ss\\wörd'}, "commands": [{"stdout": 'pa"ss\\wörd\n'}], "n": 3,
            "t": ("pa\"ss\\wörd",), 'pa"ss\\wörd': None}
    masked = mask_data(data)
    text = json.dumps(masked)
    assert "ss\\\\w" not in text and "ss\\\\u00f6rd" not in text
    assert masked == {"parameters": {"reason": "x ****"}, "commands": [{"stdout": "****\n"}], "n": 3,
                      "t": ["****"], "****": None}
    assert data["parameters"]["reason"] == 'x pa"ss\\wörd'  # the original is left alone


def test_errors_mask_registered_secrets(secrets_registry):
    from hermes_ops.errors import HermesOpsError
    from hermes_ops.secrets import register_secret

    error = HermesOpsError(f"remote said {PASSPHRASE}", hint=f"not {PASSPHRASE}")
    register_secret(PASSPHRASE)
    assert PASSPHRASE not in str(error) and PASSPHRASE not in repr(error)
    assert str(error) == "remote said ****\n  what to do: not ****"


def test_remote_output_lines_are_masked_once_registered(secrets_registry):
    from hermes_ops.secrets import register_secret
    from hermes_ops.ssh.streams import LineSplitter

    lines = []
    splitter = LineSplitter(lines.append, Redactor())
    register_secret(PASSPHRASE)
    splitter.feed(f"echo {PASSPHRASE}\n".encode())
    assert lines == ["echo ****"]


def test_loading_an_encrypted_key_registers_its_passphrase(tmp_path, monkeypatch, secrets_registry):
    import shutil
    import subprocess

    from hermes_ops.secrets import mask
    from hermes_ops.ssh.auth import load_private_key

    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    key = tmp_path / "protected"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-f", str(key)], check=True)
    monkeypatch.setenv("HERMES_TEST_PASSPHRASE", PASSPHRASE)
    assert mask(PASSPHRASE) == PASSPHRASE
    load_private_key(str(key), passphrase_env="HERMES_TEST_PASSPHRASE")
    assert mask(f"[{PASSPHRASE}]") == "[****]"


def test_a_prompted_passphrase_is_registered_even_if_wrong(tmp_path, secrets_registry):
    import shutil
    import subprocess

    from hermes_ops.secrets import mask
    from hermes_ops.ssh.auth import load_private_key

    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    key = tmp_path / "protected"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-f", str(key)], check=True)
    with pytest.raises(ConfigError) as refused:
        load_private_key(str(key), passphrase_prompt=lambda path: "almost-" + PASSPHRASE)
    assert mask("almost-" + PASSPHRASE) == MASK and PASSPHRASE not in str(refused.value)
