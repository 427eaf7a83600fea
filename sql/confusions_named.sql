-- Catalog view: what the model confuses, in words. One row per (true class, predicted class) with
-- at least one test error, with both names, the sentence and the ranked distinguishing attributes:
--   SELECT true_class, predicted_class, count, rate, attributes FROM confusions_named ORDER BY count DESC LIMIT 5;
CREATE OR REPLACE VIEW confusions_named AS
SELECT c.backbone,
       c.layer,
       t.name AS true_class,
       p.name AS predicted_class,
       c.count,
       c.rate,
       c.sentence,
       (SELECT list(a.phrase ORDER BY a.rank)
        FROM confusion_attributes AS a
        WHERE a.backbone = c.backbone AND a.layer = c.layer
          AND a.true_class_id = c.true_class_id AND a.predicted_class_id = c.predicted_class_id) AS attributes,
       c.true_class_id,
       c.predicted_class_id
FROM confusions AS c
JOIN classes AS t ON t.class_id = c.true_class_id
JOIN classes AS p ON p.class_id = c.predicted_class_id;
