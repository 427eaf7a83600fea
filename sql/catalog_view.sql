-- One catalog view over the current Parquet files of a table.
-- {view}: table name; {files}: a DuckDB list literal of absolute Parquet paths;
-- {hive_types}: struct literal typing the partition columns (backbone, layer) as VARCHAR.
CREATE OR REPLACE VIEW {view} AS
SELECT *
FROM read_parquet({files}, hive_partitioning = true, hive_types = {hive_types}, union_by_name = true);
