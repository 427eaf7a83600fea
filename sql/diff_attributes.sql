-- Attributes that gained or lost filters between build A and build B (top attribute per filter).
-- Parameters: $a_backbone, $a_layer, $b_backbone, $b_layer.
WITH a AS (SELECT attribute_id, phrase, filters FROM attribute_filter_counts WHERE backbone = $a_backbone AND layer = $a_layer),
     b AS (SELECT attribute_id, phrase, filters FROM attribute_filter_counts WHERE backbone = $b_backbone AND layer = $b_layer)
SELECT coalesce(a.phrase, b.phrase) AS phrase,
       coalesce(a.filters, 0) AS filters_a,
       coalesce(b.filters, 0) AS filters_b,
       coalesce(b.filters, 0) - coalesce(a.filters, 0) AS change
FROM a FULL OUTER JOIN b USING (attribute_id)
WHERE coalesce(a.filters, 0) <> coalesce(b.filters, 0)
ORDER BY abs(change) DESC, phrase;
