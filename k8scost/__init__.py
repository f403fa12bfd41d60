"""The `k8scost` command line: it imports every part, and no part imports it."""
