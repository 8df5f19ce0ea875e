"""Default locations: records in the working directory, the runbooks and the sandbox state of a clone."""

from pathlib import Path

from hermes_ops import paths

ROOT = Path(__file__).resolve().parents[2]


def test_records_default_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("HERMES_OPS_RECORDS", raising=False)
    monkeypatch.delenv("HERMES_RECORDS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.default_records_dir() == tmp_path / "records"


def test_the_records_variable_wins_and_the_old_name_still_works(tmp_path, monkeypatch):
    monkeypatch.delenv("HERMES_OPS_RECORDS", raising=False)
    monkeypatch.setenv("HERMES_RECORDS_DIR", str(tmp_path / "old"))
    assert paths.default_records_dir() == tmp_path / "old"
    monkeypatch.setenv("HERMES_OPS_RECORDS", str(tmp_path / "new"))
    assert paths.default_records_dir() == tmp_path / "new"


def test_a_relative_records_variable_is_made_absolute_where_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_OPS_RECORDS", "audit")
    monkeypatch.chdir(tmp_path)
    assert paths.default_records_dir() == tmp_path / "audit"


def test_a_clone_uses_its_own_notebooks_and_sandbox_folder(monkeypatch):
    monkeypatch.delenv("HERMES_SANDBOX_DIR", raising=False)
    assert paths.source_checkout() == ROOT
    assert paths.runbooks_dir() == ROOT / "notebooks"
    assert paths.sandbox_state_dir() == ROOT / ".sandbox"


def test_the_sandbox_variable_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_SANDBOX_DIR", str(tmp_path / "mine"))
    assert paths.sandbox_state_dir() == tmp_path / "mine"


def test_an_installed_copy_keeps_its_sandbox_per_user(tmp_path, monkeypatch):
    monkeypatch.delenv("HERMES_SANDBOX_DIR", raising=False)
    monkeypatch.setattr(paths, "source_checkout", lambda: None)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert paths.sandbox_state_dir() == tmp_path / "state" / "hermes-ops" / "sandbox"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.sandbox_state_dir() == tmp_path / "home" / ".local" / "state" / "hermes-ops" / "sandbox"


def test_deploy_parameters_default_their_records_to_the_working_directory(tmp_path, monkeypatch):
    from hermes_ops.params import DeployParameters

    monkeypatch.delenv("HERMES_OPS_RECORDS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert DeployParameters(operator="Ada").resolved().records_dir == str(tmp_path / "records")
