-- Catalog view: how many filters of each backbone/layer have each attribute as their top attribute.
-- Compare two backbones with `filterspeak diff`, or directly:
--   SELECT * FROM attribute_filter_counts WHERE backbone IN ('a', 'b') ORDER BY phrase;
CREATE OR REPLACE VIEW attribute_filter_counts AS
SELECT s.backbone,
       s.layer,
       s.top_attribute_id AS attribute_id,
       a.phrase,
       count(*) AS filters,
       avg(s.selectivity) AS mean_selectivity
FROM filter_stats AS s
JOIN attributes AS a ON a.attribute_id = s.top_attribute_id
GROUP BY ALL;
