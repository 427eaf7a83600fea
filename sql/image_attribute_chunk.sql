-- p(a|x) for one chunk of images, as the sparse factor of the co-occurrence product
-- (tasks/count_cooccurrence.py, filterspeak/interpret/cooccurrence.py).
-- Inputs (views): image_attributes(image_id, attribute_id, probability).
-- $first, $last: the chunk's first and last image id. Ordered by attribute, then image: each
-- (filter, attribute) sum then runs over images in image order, the same on every run.
SELECT image_id, attribute_id, probability
FROM image_attributes
WHERE image_id BETWEEN $first AND $last
ORDER BY attribute_id, image_id;
