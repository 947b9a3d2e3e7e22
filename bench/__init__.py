"""The benchmarks behind `make bench` and `make profile`: run each as ``python -m bench.<name>``."""
