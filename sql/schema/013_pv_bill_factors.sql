{% import "include/macros.sql" as m %}
-- The reconciliation of persistent volumes to the bill (docs/api.md, "Reconciliation:
-- nodes priced from the bill"), the PV-day twin of node_bill_factors (sql/schema/009),
-- as a parameterized view with the same arguments: per allocation row holding part of
-- a PV-day (sql/schema/011_k8s_pv_days.sql) of the clusters {cluster_account_ids} over
-- [first_day, last_day] whose disk is in the bill that day, what that part costs
-- priced from the bill.
--
-- Matching: the PV-day's instance key (from its provider id) equals a bill resource's
-- on the same day; the bill's side is bill_instance_days (sql/schema/012), the disk's
-- live expense rows that day under the metric's column. A PV-day without a bill row is
-- not returned: it stays at its list price.
--
-- Splitting: with a list price (list_usd > 0, the PV's whole exporter cost that day)
-- every holder's part scales by one factor, bill_usd / list_usd, so the split of the
-- PV between the pods mounting it and its `__unmounted__` row stays OpenCost's. A PV
-- whose list price is 0 has nothing to scale: its bill goes to its `__unmounted__`
-- row, since no price says which pod used what it cost. `holder_bill_usd` is a
-- holder's part priced from the bill, `holder_list_usd` its exporter's part; a
-- holder's pv cost moves by their difference, and so does its cluster's
-- (sql/schema/014_cluster_bill_adjustments.sql).
--
-- Collapsing as everywhere: the holder rows per (account, date, PV, provider id,
-- holder) are sums of x * sign over their live keys, and the PV's list is the sum of
-- its holders'. CREATE OR REPLACE keeps the file idempotent like every schema file.
CREATE OR REPLACE VIEW pv_bill_factors AS
SELECT
    volumes.cloud_account_id AS cloud_account_id,
    volumes.date AS date,
    volumes.persistentvolume AS persistentvolume,
    volumes.provider_id AS provider_id,
    volumes.holder AS holder,
    volumes.holder_kind AS holder_kind,
    volumes.holder_list_usd AS holder_list_usd,
    volumes.list_usd AS list_usd,
    bill.bill_usd AS bill_usd,
    if(list_usd > 0, bill_usd / list_usd, 0) AS factor,
    if(list_usd > 0, holder_list_usd * factor, if(holder_kind = 'unmounted', bill_usd, 0))
        AS holder_bill_usd
FROM
(
    SELECT
        *,
        {{ m.exact_sum(
            "holder_list_usd",
            over="(PARTITION BY cloud_account_id, date, persistentvolume, provider_id)"
        ) }} AS list_usd
    FROM
    (
        SELECT
            cloud_account_id,
            date,
            resource_id AS persistentvolume,
            provider_id,
            holder,
            any(instance_key) AS instance_key,
            any(holder_kind) AS holder_kind,
            {{ m.exact_sum("list_usd * sign") }} AS holder_list_usd
        FROM k8s_pv_days
        WHERE {{ m.in_period(
            "{cluster_account_ids:Array(String)}", "{first_day:UInt32}", "{last_day:UInt32}"
        ) | indent(10) }}
        {{ m.live_keys(["cloud_account_id", "date", "resource_id", "provider_id", "holder"]) | indent(8) }}
    )
) AS volumes
INNER JOIN {{ m.bill_instance_days() }} AS bill
ON bill.date = volumes.date AND bill.instance_key = volumes.instance_key
