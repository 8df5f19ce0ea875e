"""Headless deploys: validate the parameters, run the runbook notebook with papermill, archive the record."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from hermes_ops import records
from hermes_ops.errors import ConfigError
from hermes_ops.params import DeployParameters, check_names
from hermes_ops.runbook.journal import new_run_id, utc_now

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SUCCESSFUL_OUTCOMES = {"deploy.ipynb": ("success", "nothing-new", "dry-run"),
                       "rollback.ipynb": ("rolled-back", "dry-run")}


@dataclass(frozen=True)
class HeadlessRun:
    record: Path
    outcome: str
    notebook: str = "deploy.ipynb"

    @property
    def succeeded(self) -> bool:
        return self.outcome in SUCCESSFUL_OUTCOMES[self.notebook]


def load_parameters(params_file: Path | None, overrides: list[tuple[str, str]] = ()) -> dict:
    """The params file's values, then `-p NAME VALUE` overrides (VALUE read as YAML: 22 → int, true → bool)."""
    values: dict = {}
    if params_file:
        try:
            loaded = yaml.safe_load(Path(params_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read parameters file {params_file}: {error}", step="parameters",
                              hint="give a YAML file of name: value pairs") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{params_file} is not a mapping of name: value", step="parameters")
        values.update(loaded)
    for name, raw in overrides:
        try:
            values[name] = yaml.safe_load(raw)
        except yaml.YAMLError:
            values[name] = raw
        if values[name] is None:
            values[name] = raw
    check_names(values)
    return values


def deploy(params_file: Path | None, overrides: list[tuple[str, str]] = (), *, records_dir: Path | None = None,
           notebook: str = "deploy.ipynb", stream=sys.stdout) -> HeadlessRun:
    """Run `notebooks/<notebook>` with papermill; the record is archived whatever the outcome."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    values = load_parameters(params_file, overrides)
    records_dir = Path(records_dir or values.get("records_dir") or records.default_records_dir()).resolve()
    run_id = values.get("run_id") or new_run_id()
    values.update(records_dir=str(records_dir), run_id=run_id)
    DeployParameters(**values).resolved()  # refuse bad values before a kernel starts or a host is touched
    records_dir.mkdir(parents=True, exist_ok=True)
    executed = records_dir / f"{run_id}.running.ipynb"
    started_at = utc_now().isoformat()
    outcome_if_no_journal = "failed"
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / notebook), str(executed), parameters=values, cwd=str(NOTEBOOKS),
            kernel_name="python3", progress_bar=False, stdout_file=stream, stderr_file=sys.stderr,
        )
    except PapermillExecutionError:
        pass  # the notebook and the journal already say what failed
    except KeyboardInterrupt:
        outcome_if_no_journal = "interrupted"
        raise
    finally:
        fallback = {"run_id": run_id, "started_at": started_at, "outcome": outcome_if_no_journal,
                    "operator": values.get("operator"), "parameters": values, "facts": {}}
        record = records.archive(records_dir, run_id, executed, fallback=fallback)
    journal = records.load_journal(record.with_suffix(".json")) or {}
    return HeadlessRun(record, journal.get("outcome", "failed"), notebook)
