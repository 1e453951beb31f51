-- Course search: a full-text index over each course's title, subtitle,
-- description and topics, a table of topics for exact topic filters, and
-- the indexes behind the listing's sorts. Everything here is kept in step
-- with `courses` by triggers, so no write path has to remember it.

-- The full-text index is keyed by an integer of our own rather than by
-- the implicit rowid of `courses` (which is not an INTEGER PRIMARY KEY and
-- so is not promised to survive VACUUM). INTEGER PRIMARY KEY is SQLite's
-- rowid alias, which is what makes the key stable: this table exists on
-- SQLite only.
-- It also carries the course's mode and whether it is published, so a
-- text search can leave out other modes and unpublished courses while it
-- reads its matches, before it touches `courses`.
CREATE TABLE course_search_rowids (
    rid INTEGER PRIMARY KEY,
    course_id TEXT NOT NULL UNIQUE,
    livemode BIGINT NOT NULL,
    published BIGINT NOT NULL
);

-- Contentless: the index keeps no copy of the text (the text lives in
-- `courses`); rows can still be deleted by rowid. Tokens are runs of
-- letters and digits, case-folded, diacritics removed.
CREATE VIRTUAL TABLE courses_fts USING fts5(
    title, subtitle, description, topics,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- One row per (topic, course): the JSON `topics` array, unnested.
CREATE TABLE course_topics (
    topic TEXT NOT NULL,
    course_id TEXT NOT NULL,
    PRIMARY KEY (topic, course_id)
);
CREATE INDEX course_topics_course ON course_topics(course_id);

CREATE TRIGGER courses_search_insert AFTER INSERT ON courses
BEGIN
    INSERT INTO course_search_rowids (course_id, livemode, published)
        VALUES (new.id, new.livemode, new.status = 'published');
    INSERT INTO courses_fts (rowid, title, subtitle, description, topics)
        VALUES ((SELECT rid FROM course_search_rowids WHERE course_id = new.id),
                new.title, new.subtitle, new.description, new.topics);
    INSERT OR IGNORE INTO course_topics (topic, course_id)
        SELECT value, new.id FROM json_each(new.topics) WHERE type = 'text';
END;

CREATE TRIGGER courses_search_update AFTER UPDATE OF title, subtitle, description, topics ON courses
BEGIN
    DELETE FROM courses_fts WHERE rowid = (SELECT rid FROM course_search_rowids WHERE course_id = old.id);
    INSERT INTO courses_fts (rowid, title, subtitle, description, topics)
        VALUES ((SELECT rid FROM course_search_rowids WHERE course_id = new.id),
                new.title, new.subtitle, new.description, new.topics);
    DELETE FROM course_topics WHERE course_id = old.id;
    INSERT OR IGNORE INTO course_topics (topic, course_id)
        SELECT value, new.id FROM json_each(new.topics) WHERE type = 'text';
END;

CREATE TRIGGER courses_search_status AFTER UPDATE OF status, livemode ON courses
BEGIN
    UPDATE course_search_rowids SET livemode = new.livemode, published = new.status = 'published'
        WHERE course_id = new.id;
END;

CREATE TRIGGER courses_search_delete AFTER DELETE ON courses
BEGIN
    DELETE FROM courses_fts WHERE rowid = (SELECT rid FROM course_search_rowids WHERE course_id = old.id);
    DELETE FROM course_search_rowids WHERE course_id = old.id;
    DELETE FROM course_topics WHERE course_id = old.id;
END;

-- Courses that existed before this migration.
INSERT INTO course_search_rowids (course_id, livemode, published)
    SELECT id, livemode, status = 'published' FROM courses ORDER BY id;
INSERT INTO courses_fts (rowid, title, subtitle, description, topics)
    SELECT m.rid, c.title, c.subtitle, c.description, c.topics
    FROM courses c JOIN course_search_rowids m ON m.course_id = c.id;
INSERT OR IGNORE INTO course_topics (topic, course_id)
    SELECT j.value, c.id FROM courses c, json_each(c.topics) j WHERE j.type = 'text';

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
