-- Co-occurrence of filters and attributes: p(a|f) before normalisation,
--   cooccurrence(f, a) = Σ_x p(x|f) · p(a|x)
-- with p(x|f) ∝ s_f(x) over the train images where f responds most.
-- Inputs (views): activations(image_id, filter, <one column per response>),
--                 image_attributes(image_id, attribute_id, probability), images(image_id, split).
-- {response_column}: the activations column of the chosen s_f (filterspeak.interpret.responses),
-- filled in by the stage; $top_k: images kept per filter (0 = all).
-- Both sums run in image order: a parallel sum adds in whatever order threads finish, so the
-- last bits (and ties further down) would differ from run to run; these tables must not.
WITH responses AS (
    SELECT a.image_id,
           a.filter,
           a.{response_column} AS response
    FROM activations AS a
    JOIN images AS i USING (image_id)
    WHERE i.split = 'train'
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY filter ORDER BY response DESC, image_id) AS response_rank
    FROM responses
    WHERE response > 0
),
selected AS (
    SELECT filter, image_id,
           response / sum(response) OVER (PARTITION BY filter ORDER BY image_id
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS image_given_filter
    FROM ranked
    WHERE $top_k = 0 OR response_rank <= $top_k
)
SELECT s.filter::INTEGER AS filter,
       ia.attribute_id,
       sum(s.image_given_filter * ia.probability ORDER BY s.image_id) AS cooccurrence,
       count(*)::BIGINT AS support
FROM selected AS s
JOIN image_attributes AS ia USING (image_id)
GROUP BY s.filter, ia.attribute_id
ORDER BY filter, attribute_id;
