"""nbval runs the notebooks for real against the sandbox: put it in the state the stored outputs came from."""

import os

import pytest

_prepared = set()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # tryfirst: before pytest sets up the notebook node, which starts its kernel.
    notebook = str(item.fspath)
    if notebook.endswith(".ipynb") and notebook not in _prepared:
        from hermes_ops.records.living_docs import KERNEL_ENVIRONMENT, prepare_sandbox

        _prepared.add(notebook)
        os.environ.update(KERNEL_ENVIRONMENT)  # nbval starts its kernel from this process's environment
        prepare_sandbox(item.fspath.basename)
