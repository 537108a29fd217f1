"""The onestop performance harness: ``python -m benchmarks [--quick] [--only NAME] [--json FILE]``.

Not part of the test suite: every figure is printed beside a floor measured in the same run.
"""
