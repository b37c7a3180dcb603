"""Demo data and the demo LMS: a small, realistic district for `make demo`, tests and benchmarks."""
