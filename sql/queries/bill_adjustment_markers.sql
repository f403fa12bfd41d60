-- The marker rows of a compute of the rollup (sql/schema/016), one per day {days} with
-- its version {versions}: inserted after the compute's rows (bill_adjustment_compute.sql),
-- so that a day reads as computed only once its rows are there.
INSERT INTO bill_adjustment_days (rollup_key, date, version, compute_id, cloud_account_id)
SELECT {rollup_key:String}, toDateTime(day_version.1), day_version.2, {compute_id:UUID}, ''
FROM (SELECT arrayJoin(arrayZip({days:Array(UInt32)}, {versions:Array(Int64)})) AS day_version)
