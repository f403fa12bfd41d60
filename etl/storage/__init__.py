"""The stores, and all I/O with them: one module per MongoDB collection or ClickHouse read
model (the layers above get functions, never a query or a collection), the ClickHouse
client factory, the warehouse's restatements, the SQL files and the DDL."""
