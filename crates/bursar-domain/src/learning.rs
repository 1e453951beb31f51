//! The rules of learning analytics that need no database: difficulty bands,
//! the two-week periods of progress charts, a learner's study days in their
//! time zone and the streak they make, pace against a form's target time,
//! percentile ranks from counts, and how weak a topic is.

use jiff::tz::TimeZone;

/// Difficulty bands of the progress chart: easy (1–2), medium (3), hard (4–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Band {
    Easy,
    Medium,
    Hard,
}

impl Band {
    /// The band of an item difficulty (1 to 5); `None` outside that range.
    pub fn of(difficulty: i64) -> Option<Band> {
        match difficulty {
            1 | 2 => Some(Band::Easy),
            3 => Some(Band::Medium),
            4 | 5 => Some(Band::Hard),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Easy => "easy",
            Band::Medium => "medium",
            Band::Hard => "hard",
        }
    }

    pub fn parse(s: &str) -> Option<Band> {
        match s {
            "easy" => Some(Band::Easy),
            "medium" => Some(Band::Medium),
            "hard" => Some(Band::Hard),
            _ => None,
        }
    }

    pub const ALL: [Band; 3] = [Band::Easy, Band::Medium, Band::Hard];
}

/// Days since 1970-01-01 of the first Monday (1970-01-05): two-week periods
/// start on Mondays counted from it.
const FIRST_MONDAY: i64 = 4;

/// The first day of the two-week period that holds `day` (days since
/// 1970-01-01). Periods start on Mondays, every 14 days.
pub fn fortnight_start(day: i64) -> i64 {
    FIRST_MONDAY + (day - FIRST_MONDAY).div_euclid(14) * 14
}

/// Why a time could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearningError {
    #[error("the instant {0} ms is outside the supported range")]
    OutOfRange(i64),
    #[error("unknown time zone `{0}`")]
    TimeZone(String),
}

/// A time zone by its IANA name (`Europe/Berlin`), or UTC for "UTC".
pub fn time_zone(name: &str) -> Result<TimeZone, LearningError> {
    if name.eq_ignore_ascii_case("utc") {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| LearningError::TimeZone(name.to_string()))
}

/// The learner's calendar day of an instant (epoch ms), as days since
/// 1970-01-01, in their time zone.
pub fn local_day(ms: i64, tz: &TimeZone) -> Result<i64, LearningError> {
    let ts = jiff::Timestamp::from_millisecond(ms).map_err(|_| LearningError::OutOfRange(ms))?;
    let date = ts.to_zoned(tz.clone()).date();
    let epoch = jiff::civil::date(1970, 1, 1);
    let secs = date.duration_since(epoch).as_secs();
    Ok(secs.div_euclid(86_400))
}

/// The date of a day number, `YYYY-MM-DD`.
pub fn day_to_date(day: i64) -> Result<jiff::civil::Date, LearningError> {
    let epoch = jiff::civil::date(1970, 1, 1);
    let span = jiff::Span::new().try_days(day).map_err(|_| LearningError::OutOfRange(day))?;
    epoch.checked_add(span).map_err(|_| LearningError::OutOfRange(day))
}

/// Study streaks from the days a learner studied (any order, duplicates
/// allowed): the current streak counts consecutive days ending today or,
/// when nothing was done yet today, yesterday; the best is the longest run
/// among the days given.
pub fn streaks(days: &[i64], today: i64) -> (i64, i64) {
    let mut d: Vec<i64> = days.to_vec();
    d.sort_unstable();
    d.dedup();
    let mut best = 0;
    let mut run = 0;
    let mut prev: Option<i64> = None;
    for &x in &d {
        run = if prev.is_some_and(|p| p + 1 == x) { run + 1 } else { 1 };
        best = best.max(run);
        prev = Some(x);
    }
    let mut current = 0;
    let set: std::collections::BTreeSet<i64> = d.into_iter().collect();
    let mut day = if set.contains(&today) { today } else { today - 1 };
    while set.contains(&day) {
        current += 1;
        day -= 1;
    }
    (current, best)
}

/// How a response's time compares with the form's target time per question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Under half the target: rushing.
    Rushed,
    OnPace,
    /// Over one and a half times the target.
    Overtime,
}

/// The pace of one response; `None` without a positive target or a time.
pub fn pace(time_ms: Option<i64>, target_ms: Option<i64>) -> Option<Pace> {
    let (t, target) = (time_ms?, target_ms?);
    if target <= 0 || t < 0 {
        return None;
    }
    let (t, target) = (i128::from(t), i128::from(target));
    Some(if 2 * t < target {
        Pace::Rushed
    } else if 2 * t > 3 * target {
        Pace::Overtime
    } else {
        Pace::OnPace
    })
}

/// A learner's average score as a histogram bucket: thousandths of the
/// maximum (0 to 1000), rounded half up; `None` without a maximum.
pub fn score_bucket(score_milli: i64, max_milli: i64) -> Option<i64> {
    if max_milli <= 0 {
        return None;
    }
    let s = i128::from(score_milli.clamp(0, max_milli));
    let m = i128::from(max_milli);
    i64::try_from((s * 2000 + m) / (2 * m)).ok()
}

/// The mid-point percentile rank, 100 (below + ½ equal) ÷ total, of a value
/// with `below` values under it and `equal` equal to it (itself included)
/// among `total`; `None` for an empty population.
pub fn percentile_rank(below: i64, equal: i64, total: i64) -> Option<f64> {
    if total <= 0 {
        return None;
    }
    Some(100.0 * (below as f64 + 0.5 * equal as f64) / total as f64)
}

/// How weak a topic is, 0 (every answer right) to 1 (none right): one
/// minus the accuracy (the mean score of its responses).
pub fn weakness(score_milli: i64, responses: i64) -> Option<f64> {
    (responses > 0).then(|| 1.0 - (score_milli as f64 / (responses as f64 * 1000.0)).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bands_follow_the_difficulty_scale() {
        assert_eq!(Band::of(1), Some(Band::Easy));
        assert_eq!(Band::of(2), Some(Band::Easy));
        assert_eq!(Band::of(3), Some(Band::Medium));
        assert_eq!(Band::of(4), Some(Band::Hard));
        assert_eq!(Band::of(5), Some(Band::Hard));
        assert_eq!(Band::of(0), None);
        assert_eq!(Band::of(6), None);
    }

    #[test]
    fn fortnights_start_on_mondays_two_weeks_apart() {
        // 1970-01-05 was a Monday.
        assert_eq!(fortnight_start(4), 4);
        assert_eq!(fortnight_start(17), 4);
        assert_eq!(fortnight_start(18), 18);
        assert_eq!(fortnight_start(3), -10);
        // 2026-12-07 is a Monday: day 20_794; its fortnight starts on a Monday.
        let d = day_to_date(fortnight_start(20_794)).unwrap();
        assert_eq!(d.weekday(), jiff::civil::Weekday::Monday);
    }

    #[test]
    fn a_day_is_the_learners_day() {
        // 2026-12-07T23:30:00Z is already the 8th in Berlin and still the 7th in New York.
        let ms = 1_796_686_200_000;
        let berlin = local_day(ms, &time_zone("Europe/Berlin").unwrap()).unwrap();
        let ny = local_day(ms, &time_zone("America/New_York").unwrap()).unwrap();
        let utc = local_day(ms, &time_zone("UTC").unwrap()).unwrap();
        assert_eq!(utc, ny);
        assert_eq!(berlin, utc + 1);
        assert_eq!(day_to_date(utc).unwrap(), jiff::civil::date(2026, 12, 7));
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn streaks_end_today_or_yesterday() {
        assert_eq!(streaks(&[10, 11, 12], 12), (3, 3));
        assert_eq!(streaks(&[10, 11, 12], 13), (3, 3));
        assert_eq!(streaks(&[10, 11, 12], 14), (0, 3));
        assert_eq!(streaks(&[1, 2, 3, 4, 8, 9], 9), (2, 4));
        assert_eq!(streaks(&[9, 9, 8], 9), (2, 2));
        assert_eq!(streaks(&[], 9), (0, 0));
    }

    #[test]
    fn pace_against_the_target() {
        assert_eq!(pace(Some(40_000), Some(100_000)), Some(Pace::Rushed));
        assert_eq!(pace(Some(50_000), Some(100_000)), Some(Pace::OnPace));
        assert_eq!(pace(Some(150_000), Some(100_000)), Some(Pace::OnPace));
        assert_eq!(pace(Some(150_001), Some(100_000)), Some(Pace::Overtime));
        assert_eq!(pace(None, Some(100_000)), None);
        assert_eq!(pace(Some(1), None), None);
        assert_eq!(pace(Some(1), Some(0)), None);
    }

    #[test]
    fn buckets_and_ranks() {
        assert_eq!(score_bucket(2, 3), Some(667));
        assert_eq!(score_bucket(1, 2000), Some(1), "0.5 rounds up");
        assert_eq!(score_bucket(0, 0), None);
        assert_eq!(score_bucket(5, 3), Some(1000));
        assert_eq!(percentile_rank(3, 1, 4), Some(87.5));
        assert_eq!(percentile_rank(0, 0, 0), None);
        assert_eq!(weakness(750, 1), Some(0.25));
        assert_eq!(weakness(0, 0), None);
    }

    proptest! {
        #[test]
        fn percentile_ranks_grow_with_the_score(scores in proptest::collection::vec(0i64..=1000, 1..60), a in 0i64..=1000, b in 0i64..=1000) {
            let rank = |x: i64| {
                let below = scores.iter().filter(|&&s| s < x).count() as i64;
                let equal = scores.iter().filter(|&&s| s == x).count() as i64;
                percentile_rank(below, equal, scores.len() as i64).unwrap()
            };
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(rank(lo) <= rank(hi));
            prop_assert!((0.0..=100.0).contains(&rank(lo)));
        }

        #[test]
        fn the_current_streak_is_never_longer_than_the_best(days in proptest::collection::vec(0i64..60, 0..40), today in 0i64..70) {
            let (current, best) = streaks(&days, today);
            prop_assert!(current <= best);
            prop_assert!(best as usize <= days.len());
        }

        #[test]
        fn every_day_is_in_its_fortnight(day in -100_000i64..100_000) {
            let s = fortnight_start(day);
            prop_assert!(s <= day && day < s + 14);
            prop_assert_eq!((s - 4).rem_euclid(14), 0);
        }
    }
}
