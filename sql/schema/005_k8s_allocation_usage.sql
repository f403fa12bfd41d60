-- What each allocation row requested and used (etl/costmodel/allocation/usage.py):
-- core-hours and byte-hours of cpu and memory requests (kube-state-metrics) and of
-- usage (cAdvisor). Used is NULL where the pod had no usage series (unknown, never
-- 0); idle and unmounted rows request and use nothing (0 and NULL). Collapsed like
-- every value column, sum(x * sign); a key whose rows are all NULL collapses to NULL.
-- Added by ALTER so that tables created by 003 gain them; rows written before it read
-- 0 requested and NULL used until their day is restated.
ALTER TABLE k8s_allocation
    ADD COLUMN IF NOT EXISTS cpu_request_core_hours Float64 AFTER gpu_hours,
    ADD COLUMN IF NOT EXISTS ram_request_byte_hours Float64 AFTER cpu_request_core_hours,
    ADD COLUMN IF NOT EXISTS cpu_used_core_hours Nullable(Float64) AFTER ram_request_byte_hours,
    ADD COLUMN IF NOT EXISTS ram_used_byte_hours Nullable(Float64) AFTER cpu_used_core_hours
