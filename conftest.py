"""Project-wide defaults of the gate's suites (smoke/, contract/).

The engine itself is the `promorang_gate` pytest plugin, loaded through its entry point;
each suite's own fixtures live in its own conftest.py.
"""
