-- The rollup of cluster_bill_adjustments (sql/schema/014): the view's rows per
-- (cluster account, day) as computed for one set of its arguments, so that a reader
-- sums stored rows instead of joining the node-days, the PV-days and a period of bill
-- rows on every request (docs/dashboard.md, "Performance").
--
-- `rollup_key` names the arguments (a hash of the cost column, the cluster accounts and
-- the bill arguments: etl/storage/billrollup.py); `version` is the latest
-- warehouse_day_writes time (ns, sql/schema/015) of the day read before computing
-- it, so a compute holds every restatement up to its version; `compute_id` tells two
-- computes of one day apart (two API processes may compute it at once: a reader takes
-- the rows of one, sql/schema/017). Each compute writes a marker row per day
-- (`cloud_account_id` '', zeros), since a day with nothing matched has no view row
-- and must read as computed all the same. Computes are only appended: a day restated
-- gets a newer compute, never an edit. Partitioned by year: a compute's INSERT spans
-- the days of a reader's period, which may be years of months.
CREATE TABLE IF NOT EXISTS bill_adjustment_days
(
    rollup_key String,
    date DateTime,
    version Int64,
    compute_id UUID,
    cloud_account_id String,
    cpu_adjustment Float64,
    ram_adjustment Float64,
    gpu_adjustment Float64,
    pv_adjustment Float64,
    adjustment Float64,
    matched_nodes UInt64,
    node_names Array(String),
    matched_volumes UInt64,
    volume_names Array(String),
    list_usd Float64,
    bill_usd Float64
)
ENGINE = MergeTree()
PARTITION BY toYear(date)
ORDER BY (rollup_key, date, version, compute_id, cloud_account_id)
