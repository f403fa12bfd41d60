-- The FOCUS columns the cost metrics read (docs/api.md, "Cost metrics"), on every
-- expense row, so that a metric is a column choice in SQL and not a second import.
-- `cost` stays the billed cost (FOCUS BilledCost: the platform's contract, what every
-- reader sums today); effective_cost, list_cost and contracted_cost are FOCUS
-- EffectiveCost, ListCost and ContractedCost. Their DEFAULT is `cost`, so that a
-- writer that knows only `cost` (the platform's other importers; rows written before
-- this file) states the three equal to it, which is what a price without discounts
-- or commitments is.
-- The row's FOCUS attributes are part of its key: the billing period that charged
-- it (BillingPeriodStart's day; 1970-01-01 where no bill says, the K8s rows), which a
-- bill's re-import restates whatever days its rows fall on; ChargeCategory,
-- PricingCategory, CommitmentDiscountStatus and CommitmentDiscountId ('' for NULL).
-- A resource's day may hold one row per combination (a VM partly covered by a
-- commitment, a correction of last month beside this month's usage), and
-- CollapsingMergeTree collapses rows of one sorting key into one: so the sorting key
-- gains them (only columns added in the same ALTER may be appended to it). ADD ...
-- IF NOT EXISTS and a MODIFY to the key the table already has keep the file
-- idempotent like every schema file. The primary key (the index) stays
-- (cloud_account_id, date, resource_id).
ALTER TABLE expenses
    ADD COLUMN IF NOT EXISTS effective_cost Float64 DEFAULT cost AFTER cost,
    ADD COLUMN IF NOT EXISTS list_cost Float64 DEFAULT cost AFTER effective_cost,
    ADD COLUMN IF NOT EXISTS contracted_cost Float64 DEFAULT cost AFTER list_cost,
    ADD COLUMN IF NOT EXISTS billing_period Date AFTER contracted_cost,
    ADD COLUMN IF NOT EXISTS charge_category LowCardinality(String) AFTER billing_period,
    ADD COLUMN IF NOT EXISTS pricing_category LowCardinality(String) AFTER charge_category,
    ADD COLUMN IF NOT EXISTS commitment_discount_status LowCardinality(String)
        AFTER pricing_category,
    ADD COLUMN IF NOT EXISTS commitment_discount_id String AFTER commitment_discount_status,
    MODIFY ORDER BY (
        cloud_account_id,
        date,
        resource_id,
        billing_period,
        charge_category,
        pricing_category,
        commitment_discount_status,
        commitment_discount_id
    )
