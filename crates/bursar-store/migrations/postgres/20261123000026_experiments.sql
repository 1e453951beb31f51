-- Experiments: which variant each visitor was first shown (one row per
-- visitor and experiment), and the goals they then reached. A conversion
-- counts only for a visitor who was exposed.
CREATE TABLE experiment_exposures (
    livemode BIGINT NOT NULL,
    experiment TEXT NOT NULL,
    visitor TEXT NOT NULL,
    variant TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (livemode, experiment, visitor)
);
CREATE TABLE experiment_conversions (
    livemode BIGINT NOT NULL,
    experiment TEXT NOT NULL,
    visitor TEXT NOT NULL,
    goal TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (livemode, experiment, visitor, goal)
);
