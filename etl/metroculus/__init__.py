"""Query & aggregate (the seed's Metroculus): the PromQL client, the tenant-day query set
and the metric contract. The only code that speaks PromQL."""
