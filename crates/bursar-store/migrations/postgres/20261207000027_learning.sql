-- Learning analytics. Forms (assessments) list item codes; items are kept
-- by code and version (a changed item is a new version; responses keep the
-- version they answered). Learners are the platform's user ids. Attempts
-- and responses come in batches, idempotent by the platform's ids; every
-- new response updates the aggregates below in the same transaction, so a
-- dashboard never scans responses.

CREATE TABLE assessments (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    -- The platform's id of the form.
    code TEXT NOT NULL,
    -- The exam the form prepares for (gmat, sat-math, …): dashboards are per exam.
    exam TEXT NOT NULL,
    title TEXT NOT NULL,
    -- A marketplace course the form belongs to (its instructor sees its analysis).
    course_id TEXT,
    -- How long one question should take (time management), in ms.
    target_ms_per_item BIGINT,
    -- active, archived
    status TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX assessments_code ON assessments(livemode, code);
CREATE INDEX assessments_course ON assessments(course_id);

CREATE TABLE items (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    code TEXT NOT NULL,
    version BIGINT NOT NULL,
    exam TEXT NOT NULL,
    topic TEXT NOT NULL,
    skill TEXT,
    -- 1 (easiest) to 5
    difficulty BIGINT NOT NULL,
    -- What the item's content is, for the version check (a digest of the platform's text).
    content_hash TEXT,
    -- 1 for the version responses are recorded against now.
    current BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX items_version ON items(livemode, code, version);
CREATE INDEX items_current ON items(livemode, code, current);

CREATE TABLE assessment_items (
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    position BIGINT NOT NULL,
    item_code TEXT NOT NULL,
    PRIMARY KEY (assessment_id, position)
);
CREATE UNIQUE INDEX assessment_items_code ON assessment_items(assessment_id, item_code);

CREATE TABLE learners (
    livemode BIGINT NOT NULL,
    learner TEXT NOT NULL,
    -- ISO 3166-1 alpha-2, the regional cohort.
    country TEXT,
    -- The cohort key of the learner's organization.
    organization TEXT,
    -- IANA time zone: study days (streaks) are the learner's days.
    time_zone TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (livemode, learner)
);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    external_id TEXT NOT NULL,
    learner TEXT NOT NULL,
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    exam TEXT NOT NULL,
    -- in_progress, completed, abandoned
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    responses BIGINT NOT NULL,
    -- Sums of response scores in thousandths (1000 = one item fully right).
    score_milli BIGINT NOT NULL,
    max_score_milli BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX attempts_external ON attempts(livemode, external_id);
CREATE INDEX attempts_learner ON attempts(livemode, learner, exam, started_at);
CREATE INDEX attempts_assessment ON attempts(assessment_id, status);

CREATE TABLE responses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attempt_id TEXT NOT NULL,
    -- The platform's id of the response (the item code when it sends none).
    external_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_code TEXT NOT NULL,
    score_milli BIGINT NOT NULL,
    time_ms BIGINT,
    answered_at BIGINT NOT NULL,
    -- 1 skipped, 2 reviewed, 4 flagged by the learner
    flags BIGINT NOT NULL
);
CREATE UNIQUE INDEX responses_once ON responses(attempt_id, external_id);

-- Per learner and exam: what the dashboard's summary shows.
CREATE TABLE learner_exam_stats (
    livemode BIGINT NOT NULL,
    learner TEXT NOT NULL,
    exam TEXT NOT NULL,
    attempts_completed BIGINT NOT NULL,
    -- Over completed attempts: their scores and maxima (average score = score ÷ max).
    completed_score_milli BIGINT NOT NULL,
    completed_max_milli BIGINT NOT NULL,
    responses BIGINT NOT NULL,
    score_milli BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    -- Responses with a time and a target: how many, how many rushed (< ½
    -- target) or over time (> 1½ target), their time and their targets' sum.
    timed BIGINT NOT NULL,
    rushed BIGINT NOT NULL,
    overtime BIGINT NOT NULL,
    timed_ms BIGINT NOT NULL,
    target_ms BIGINT NOT NULL,
    -- The learner's bucket in the score histograms (average score in
    -- thousandths), or -1 before a completed attempt.
    bucket BIGINT NOT NULL,
    last_activity_at BIGINT NOT NULL,
    PRIMARY KEY (livemode, learner, exam)
);

CREATE TABLE learner_topic_stats (
    livemode BIGINT NOT NULL,
    learner TEXT NOT NULL,
    exam TEXT NOT NULL,
    topic TEXT NOT NULL,
    responses BIGINT NOT NULL,
    score_milli BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    PRIMARY KEY (livemode, learner, exam, topic)
);

-- Accuracy by difficulty band (easy 1–2, medium 3, hard 4–5) in two-week
-- buckets of the learner's days (`period` = the bucket's first day, days since 1970-01-01).
CREATE TABLE learner_difficulty_stats (
    livemode BIGINT NOT NULL,
    learner TEXT NOT NULL,
    exam TEXT NOT NULL,
    period BIGINT NOT NULL,
    band TEXT NOT NULL,
    responses BIGINT NOT NULL,
    score_milli BIGINT NOT NULL,
    PRIMARY KEY (livemode, learner, exam, period, band)
);

-- The days a learner studied (in their time zone), for streaks.
CREATE TABLE learner_days (
    livemode BIGINT NOT NULL,
    learner TEXT NOT NULL,
    day BIGINT NOT NULL,
    PRIMARY KEY (livemode, learner, day)
);

-- How many learners of an exam have each average score (thousandths),
-- globally, per country and per organization: percentiles without a scan.
CREATE TABLE score_histograms (
    livemode BIGINT NOT NULL,
    exam TEXT NOT NULL,
    -- global, country, organization
    cohort_kind TEXT NOT NULL,
    cohort TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    learners BIGINT NOT NULL,
    PRIMARY KEY (livemode, exam, cohort_kind, cohort, bucket)
);

-- IRT calibrations of a form, versioned; the newest succeeded one marked
-- active is the one learners are scored against. Run as a background job
-- (`lease_until` lets another node take over a calibration whose node died).
CREATE TABLE calibrations (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    version BIGINT NOT NULL,
    model TEXT NOT NULL,
    -- queued, running, succeeded, failed
    status TEXT NOT NULL,
    progress BIGINT NOT NULL,
    active BIGINT NOT NULL,
    activate BIGINT NOT NULL,
    persons BIGINT,
    items BIGINT,
    -- The fitted parameters (item codes, a, d, latent variance) as JSON.
    params TEXT,
    -- The bursar-psychometrics/1 report and the item flags, as JSON.
    report TEXT,
    flags TEXT,
    error TEXT,
    requested_by TEXT NOT NULL,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE UNIQUE INDEX calibrations_version ON calibrations(assessment_id, version);
CREATE INDEX calibrations_queue ON calibrations(status, created_at);

-- Hosted dashboards the platform opens for a learner or an instructor
-- (only a token's hash is kept). The link the platform hands out is used
-- once: opening it exchanges it for a session cookie with another secret.
CREATE TABLE dashboard_sessions (
    token_hash TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    -- 1 for the one-time link, 0 for the cookie it was exchanged for.
    link BIGINT NOT NULL,
    used_at BIGINT,
    -- learner, instructor
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    exam TEXT,
    return_url TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
