-- Course search: a full-text index over each course's title, subtitle,
-- description and topics, a table of topics for exact topic filters, and
-- the indexes behind the listing's sorts. Everything here is kept in step
-- with `courses` by the database itself (a generated column, a trigger),
-- so no write path has to remember it.

-- The weighted document, computed by PostgreSQL on every write: the title
-- weighs most (A), then the subtitle and topics (B), then the description
-- (D). ASCII punctuation is turned into spaces first, so that words are
-- runs of letters and digits as they are in the SQLite index ("node.js"
-- is "node" and "js" on both). The column exists on PostgreSQL only and is
-- never selected by the portable queries.
ALTER TABLE courses ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', regexp_replace(title, '[[:punct:]]+', ' ', 'g')), 'A')
    || setweight(to_tsvector('simple', regexp_replace(subtitle, '[[:punct:]]+', ' ', 'g')), 'B')
    || setweight(to_tsvector('simple', regexp_replace(topics, '[[:punct:]]+', ' ', 'g')), 'B')
    || setweight(to_tsvector('simple', regexp_replace(description, '[[:punct:]]+', ' ', 'g')), 'D')
) STORED;
CREATE INDEX courses_search ON courses USING GIN (search_tsv);

-- One row per (topic, course): the JSON `topics` array, unnested.
CREATE TABLE course_topics (
    topic TEXT NOT NULL,
    course_id TEXT NOT NULL,
    PRIMARY KEY (topic, course_id)
);
CREATE INDEX course_topics_course ON course_topics(course_id);

CREATE FUNCTION bursar_course_topics() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM course_topics WHERE course_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO course_topics (topic, course_id)
            SELECT e.value #>> '{}', NEW.id FROM jsonb_array_elements(CAST(NEW.topics AS jsonb)) e
            WHERE jsonb_typeof(e.value) = 'string'
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER courses_topics_insert AFTER INSERT ON courses
    FOR EACH ROW EXECUTE FUNCTION bursar_course_topics();
CREATE TRIGGER courses_topics_update AFTER UPDATE OF topics ON courses
    FOR EACH ROW EXECUTE FUNCTION bursar_course_topics();
CREATE TRIGGER courses_topics_delete AFTER DELETE ON courses
    FOR EACH ROW EXECUTE FUNCTION bursar_course_topics();

-- Courses that existed before this migration.
INSERT INTO course_topics (topic, course_id)
    SELECT e.value #>> '{}', c.id FROM courses c, jsonb_array_elements(CAST(c.topics AS jsonb)) e
    WHERE jsonb_typeof(e.value) = 'string'
    ON CONFLICT DO NOTHING;

-- The sorts of the listing, each ending with the id as the tie-breaker.
-- The expressions must match the ones the search query orders by.
CREATE INDEX courses_newest ON courses(livemode, status, (COALESCE(published_at, created_at)), id);
CREATE INDEX courses_best_selling ON courses(livemode, status, sales_count, id);
CREATE INDEX courses_rating ON courses(
    livemode, status,
    (CASE WHEN rating_count > 0 THEN rating_sum * 1000000000 / rating_count ELSE -1 END),
    rating_count, id
);
CREATE INDEX course_prices_amount ON course_prices(currency, amount, course_id);
