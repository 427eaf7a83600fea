-- Catalog view: every misclassified test image with both class names, its image file and its
-- sentence, beside what pushed the decision (for_predicted) and what the true class usually shows
-- that the image lacks (missing_from_true):
--   SELECT true_class, predicted_class, sentence, missing_from_true FROM failures_named LIMIT 5;
CREATE OR REPLACE VIEW failures_named AS
SELECT f.backbone,
       f.layer,
       f.image_id,
       i.path,
       t.name AS true_class,
       p.name AS predicted_class,
       f.probability,
       e.sentence,
       f.for_predicted,
       f.missing_from_true,
       f.true_class_id,
       f.predicted_class_id
FROM failures AS f
JOIN images AS i ON i.image_id = f.image_id
JOIN classes AS t ON t.class_id = f.true_class_id
JOIN classes AS p ON p.class_id = f.predicted_class_id
LEFT JOIN explanations AS e ON e.image_id = f.image_id AND e.backbone = f.backbone AND e.layer = f.layer;
