"""Pure command builders: each function returns an argument list and runs nothing.

Quoting happens later, in exactly one place (the runner that executes the list),
so these builders can be tested as plain data without a host.
"""
