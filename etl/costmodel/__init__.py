"""The cost model: the asset view (`assets`) and the allocation down to the pod. Pure
functions of the PromQL answers; no I/O."""
