-- The period [first_day, last_day] of clean_expenses' rollup under {rollup_key}
-- (sql/schema/021), as the one "day" (its start) to compute, with its version: the
-- latest restatement of a table the costing reads ({table_names}: sql/schema/015) on
-- any of its days (ns; 0 when none was restated), when the rollup has no compute of
-- it or only an older one; no row when the stored compute is current.
SELECT toUInt32({first_day:UInt32}) AS day, writes.version AS version
FROM
(
    SELECT max(toUnixTimestamp64Nano(written_at)) AS version
    FROM warehouse_day_writes
    WHERE table_name IN {table_names:Array(String)}
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
) AS writes
CROSS JOIN
(
    SELECT count() AS computes, max(version) AS computed_version
    FROM clean_expense_periods
    WHERE rollup_key = {rollup_key:String}
      AND resource_id = ''
      AND date = toDateTime({first_day:UInt32})
) AS computed
WHERE computed.computes = 0 OR computed.computed_version < writes.version
