-- What `expenses` currently holds for one cloud account and day, per resource
-- (live_rows is normally 1); the restatement cancels exactly this.
SELECT {{day_state: cost}}
FROM expenses
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{live_keys: resource_id}}
