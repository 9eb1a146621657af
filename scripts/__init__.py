"""Command-line entry points; a package so that the tests and the benchmarks import what they share."""
