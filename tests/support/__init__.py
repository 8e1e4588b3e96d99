"""What the tests, the local stack (`make up`) and the benchmarks share: the project's paths, sample
prompts, one supervisor for the servers they start, the real helm, podman, and the load runner."""
