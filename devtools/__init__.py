"""Development tooling, out of the product packages: the cluster simulator, its live
exporter, the local Prometheus standing in for Thanos, and the demo."""
