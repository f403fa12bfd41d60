"""The stores: the ClickHouse client factory, the warehouse's restatements, the registry
(MongoDB accounts and resources), the SQL files and the DDL."""
