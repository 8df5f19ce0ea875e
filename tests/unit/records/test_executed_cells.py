"""The kernel's notebook, rebuilt from what it ran: outputs collected like a client's, laid over the runbook."""

from __future__ import annotations

import nbformat

from hermes_ops.records.executed_cells import MAX_DISPLAY_BYTES, MAX_OUTPUTS, Execution, OutputLog, merge
from hermes_ops.secrets import register_secret


def runbook() -> nbformat.NotebookNode:
    """A runbook like ours: markdown, a parameters cell, steps; with stored example outputs to be cleared."""
    cells = [
        nbformat.v4.new_markdown_cell("# Deploy", id="intro"),
        nbformat.v4.new_code_cell('host: str = "127.0.0.1"', id="params", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("deploy = Deploy.from_namespace(globals())", id="check"),
        nbformat.v4.new_markdown_cell("## 1. SSH key", id="md1"),
        nbformat.v4.new_code_cell("step1 = deploy.step1_ssh_key()", id="step1", execution_count=7,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="old example\n")]),
        nbformat.v4.new_code_cell("summary = deploy.step8_exit()", id="step8"),
    ]
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})


def ran(source: str, *texts: str, cell_id: str | None = None, count: int | None = None) -> Execution:
    execution = Execution(source=source, cell_id=cell_id, execution_count=count)
    for text in texts:
        execution.outputs.add("stream", {"name": "stdout", "text": text})
    return execution


INJECTED = '# Parameters\nhost = "10.0.0.5"\n'


def test_a_papermill_run_is_laid_over_the_runbook_with_the_injected_cell_after_the_parameters():
    executions = [ran('host: str = "127.0.0.1"', count=1), ran(INJECTED, count=2),
                  ran("deploy = Deploy.from_namespace(globals())", "run r1: Ada deploys\n", count=3),
                  ran("step1 = deploy.step1_ssh_key()", "Step 1 · SSH key\n", "  key: k\n", count=4)]
    shipped = runbook()
    notebook = merge(shipped, executions, first=2)
    assert [cell.get("id") for cell in notebook.cells if cell.get("id") != notebook.cells[2].get("id")] == \
        ["intro", "params", "check", "md1", "step1", "step8"]
    injected = notebook.cells[2]
    assert injected.metadata["tags"] == ["injected-parameters"] and injected.source == INJECTED
    assert injected.execution_count == 2
    step1 = notebook.cells[5]
    assert step1.outputs == [nbformat.v4.new_output("stream", name="stdout", text="Step 1 · SSH key\n  key: k\n")]
    assert step1.execution_count == 4
    assert notebook.cells[6].outputs == [] and notebook.cells[6].execution_count is None, "never ran: nothing"
    assert shipped.cells[4].outputs[0].text == "old example\n", "the runbook itself is not changed"
    nbformat.validate(notebook)


def test_cells_match_by_id_first_and_the_last_execution_of_a_cell_wins():
    executions = [ran("deploy = Deploy.from_namespace(globals())", count=1),
                  ran("step1 = deploy.step1_ssh_key()", "first try\n", count=2),
                  ran("step1 = deploy.step1_ssh_key()  # edited", "second try\n", cell_id="step1", count=3)]
    notebook = merge(runbook(), executions)
    step1 = next(cell for cell in notebook.cells if cell.get("id") == "step1")
    assert step1.source.endswith("# edited"), "the source that ran"
    assert step1.outputs[0].text == "second try\n" and step1.execution_count == 3


def test_a_cell_the_operator_added_follows_the_cell_run_before_it():
    executions = [ran("deploy = Deploy.from_namespace(globals())", count=1),
                  ran("print(deploy.run_id)", "r1\n", count=2)]
    notebook = merge(runbook(), executions)
    ids = [cell.get("id") for cell in notebook.cells]
    added = notebook.cells[ids.index("check") + 1]
    assert added.source == "print(deploy.run_id)" and added.outputs[0].text == "r1\n"


def test_a_second_run_in_one_kernel_never_shows_the_first_runs_step_outputs():
    executions = [ran('host: str = "127.0.0.1"', count=1),
                  ran("deploy = Deploy.from_namespace(globals())", "run r1\n", count=2),
                  ran("step1 = deploy.step1_ssh_key()", "run 1's key\n", count=3),
                  ran("summary = deploy.step8_exit()", "run 1's summary\n", count=4),
                  ran("deploy = Deploy.from_namespace(globals())", "run r2\n", count=5)]
    notebook = merge(runbook(), executions, first=4)
    by_id = {cell.get("id"): cell for cell in notebook.cells}
    assert by_id["params"].execution_count == 1, "the parameters that ran before it still count"
    assert by_id["check"].outputs[0].text == "run r2\n"
    assert by_id["step1"].outputs == [] and by_id["step8"].outputs == []


def test_streams_run_together_by_name_and_are_bounded_head_and_tail():
    log = OutputLog()
    log.add("stream", {"name": "stdout", "text": "a\n"})
    log.add("stream", {"name": "stdout", "text": "b\n"})
    log.add("stream", {"name": "stderr", "text": "warn\n"})
    log.add("stream", {"name": "stdout", "text": "x" * 200_000 + "end\n"})
    outputs = log.outputs()
    assert [(output["name"], output["text"][:4]) for output in outputs] == \
        [("stdout", "a\nb\n"), ("stderr", "warn"), ("stdout", "xxxx")]
    assert len(outputs[2]["text"]) < 70_000 and outputs[2]["text"].endswith("end\n")
    assert "bytes omitted by hermes-ops" in outputs[2]["text"]


def test_displays_errors_updates_and_clears_as_a_client_keeps_them():
    log = OutputLog()
    log.add("stream", {"name": "stdout", "text": "gone\n"})
    log.add("clear_output", {"wait": True})
    log.add("display_data", {"data": {"text/plain": "v1"}, "metadata": {"hermes_ops": {"run_id": "r"}},
                             "transient": {"display_id": "d"}})
    log.add("update_display_data", {"data": {"text/plain": "v2"}, "metadata": {}, "transient": {"display_id": "d"}})
    log.add("execute_result", {"data": {"text/plain": "42"}, "metadata": {}, "execution_count": 3})
    log.add("display_data", {"data": {"image/png": "A" * (MAX_DISPLAY_BYTES + 10)}, "metadata": {}})
    log.add("error", {"ename": "DeployFailed", "evalue": "deploy stopped at step 5 Build", "traceback": ["tb"]})
    log.add("status", {"execution_state": "idle"})
    outputs = log.outputs()
    assert [output["output_type"] for output in outputs] == ["display_data", "execute_result", "display_data",
                                                             "error"]
    assert outputs[0]["data"] == {"text/plain": "v2"}
    assert outputs[1]["execution_count"] == 3
    assert "omitted by hermes-ops" in outputs[2]["data"]["text/plain"]
    assert outputs[3]["ename"] == "DeployFailed"
    for output in outputs:
        nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
            nbformat.from_dict(output)])]))


def test_outputs_are_bounded_in_number():
    log = OutputLog()
    for number in range(MAX_OUTPUTS + 5):
        log.add("display_data", {"data": {"text/plain": str(number)}, "metadata": {}})
    outputs = log.outputs()
    assert len(outputs) == MAX_OUTPUTS + 1 and "5 more outputs omitted" in outputs[-1]["text"]


def test_registered_secrets_are_masked_in_outputs_and_sources_even_when_registered_later():
    secret = "kernel-notebook-secret-3f9a"
    execution = ran(f"x = '{secret}'", f"printed {secret}\n")
    execution.outputs.add("error", {"ename": "E", "evalue": secret, "traceback": [f"line {secret}"]})
    execution.outputs.add("display_data", {"data": {"text/plain": secret}, "metadata": {}})
    register_secret(secret)
    notebook = merge(runbook(), [execution])
    assert secret not in nbformat.writes(notebook)
    assert "****" in nbformat.writes(notebook)
