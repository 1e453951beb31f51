-- Daily FX reference rates: units of each currency per EUR, times 10^6.
CREATE TABLE fx_rates (
    rate_date TEXT NOT NULL,
    currency TEXT NOT NULL,
    per_eur_micro BIGINT NOT NULL,
    source TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (rate_date, currency)
);
