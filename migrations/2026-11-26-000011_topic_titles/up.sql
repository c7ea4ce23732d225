-- Two topics with one title (case aside) look like one topic to learners.
-- Titles already repeated keep the oldest as they are; the later ones get
-- their slug appended, so nothing is lost and the index can be built.
UPDATE topics t
   SET title = left(t.title, greatest(80 - length(t.slug) - 3, 1)) || ' (' || t.slug || ')'
 WHERE EXISTS (
        SELECT 1 FROM topics o
         WHERE lower(o.title) = lower(t.title)
           AND (o.created_at, o.id) < (t.created_at, t.id));

CREATE UNIQUE INDEX topics_title_key ON topics (lower(title));
