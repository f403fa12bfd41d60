-- The Services that select each allocation row's pod (etl/allocation: the Services of
-- its namespace whose non-empty selector matches its labels; a load balancer's
-- `__unmounted__` row names its own Service; other rows none), as sorted plain names:
-- what clean_expenses' `k8s_service` filter matches with hasAny. Added by ALTER so
-- that deployments created by 003 gain it; ADD ... IF NOT EXISTS keeps the file
-- idempotent like every schema file. Rows written before it read as [] (no Service)
-- until their day is restated. Services are part of a row's key (resource_id), so
-- all copies of a row carry the same list and readers may take any() of it. The
-- bloom filter skips granules without the filtered names, like the label index of 003.
ALTER TABLE k8s_allocation
    ADD COLUMN IF NOT EXISTS services Array(LowCardinality(String)) AFTER namespace_labels,
    ADD INDEX IF NOT EXISTS services_index services TYPE bloom_filter GRANULARITY 4
