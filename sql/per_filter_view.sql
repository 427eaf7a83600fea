-- A catalog view with one row per (image, filter) over a table that stores one row per image
-- and a list of per-filter values per column (storage/vectors.py): `activations` over
-- `filter_responses`, `contributions` over `filter_contributions`. The unnests run side by side,
-- so the k-th value of every list lands on the row of filter k.
-- Filled in by tasks/graph.py: the view's name, the stored table, one of its list columns, and
-- `unnest(c) AS c` for each of them.
CREATE OR REPLACE VIEW {view} AS
SELECT image_id,
       unnest(range(len({first})))::INTEGER AS filter,
       {columns},
       backbone,
       layer
FROM {table};
