"""Load generator and benchmarks: print figures and write JSON, never assert."""
