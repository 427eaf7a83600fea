-- Test images whose sentence differs between build A and build B.
-- Parameters: $a_backbone, $a_layer, $b_backbone, $b_layer.
SELECT a.image_id,
       a.correct AS correct_a,
       b.correct AS correct_b,
       a.sentence AS sentence_a,
       b.sentence AS sentence_b
FROM explanations AS a
JOIN explanations AS b USING (image_id)
WHERE a.backbone = $a_backbone AND a.layer = $a_layer
  AND b.backbone = $b_backbone AND b.layer = $b_layer
  AND a.sentence <> b.sentence
ORDER BY a.image_id;
