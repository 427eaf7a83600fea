-- Every stage of every build run, newest first (one Parquet file per run).
CREATE OR REPLACE VIEW runs AS
SELECT *
FROM read_parquet({files}, union_by_name = true)
ORDER BY started_at DESC, stage;
