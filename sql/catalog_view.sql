-- One catalog view over the current Parquet files of a table.
-- {view}: table name; {files}: a DuckDB list literal of absolute Parquet paths (or object-store URLs);
-- {hive_types}: struct literal typing the partition columns (backbone, layer) as VARCHAR;
-- {located}: `REPLACE (...)` turning each location column (an image's path) that names a file inside its
-- stage output (a relative name) into that file's full path or URL, or nothing for a table without one.
CREATE OR REPLACE VIEW {view} AS
SELECT * EXCLUDE (filename) {located}
FROM read_parquet({files}, hive_partitioning = true, hive_types = {hive_types}, union_by_name = true, filename = true);
