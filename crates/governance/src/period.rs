//! Budget periods: which `[start, end)` a moment falls in for a reset rule.
//!
//! Why computed from the clock rather than reset by a ticker: every instance derives the same
//! period from the time alone, so counters kept in Redis line up across instances without any
//! coordination, and a period never "resets late" because a ticker was busy (Bifrost's
//! fixed-window reset by ticker is what this replaces).

use heimdall_config::ResetPeriod;
use time::{Date, Month, OffsetDateTime};

use crate::ledger::Period;

const DAY_MS: i64 = 86_400_000;
/// 1970-01-05 was the first Monday after the epoch.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;

/// The period `now_ms` falls in; no rule: one period forever.
pub fn period_of(reset: Option<ResetPeriod>, now_ms: i64) -> Period {
    match reset {
        None => Period {
            start_ms: 0,
            end_ms: i64::MAX,
        },
        // Multiples of the length since the epoch: `1d` periods are UTC days.
        Some(ResetPeriod::Fixed(len)) => aligned(now_ms, 0, len),
        // Weeks start on Mondays (UTC).
        Some(ResetPeriod::Weeks(n)) => aligned(now_ms, FIRST_MONDAY_MS, n * 7 * DAY_MS),
        Some(ResetPeriod::Months(n)) => months(now_ms, n),
        Some(ResetPeriod::Years(n)) => months(now_ms, n * 12),
    }
}

fn aligned(now_ms: i64, origin: i64, len: i64) -> Period {
    let len = len.max(1);
    let start = origin + (now_ms - origin).div_euclid(len) * len;
    Period {
        start_ms: start,
        end_ms: start + len,
    }
}

/// Calendar periods of `n` months counted from January 1970 (so `1Y` starts each 1 January
/// and `3M` on quarters).
fn months(now_ms: i64, n: i64) -> Period {
    let n = n.max(1);
    let Ok(now) = OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000)) else {
        return aligned(now_ms, 0, 30 * DAY_MS * n);
    };
    let index = (i64::from(now.year()) - 1970) * 12 + i64::from(u8::from(now.month())) - 1;
    let first = index - index.rem_euclid(n);
    Period {
        start_ms: month_start_ms(first),
        end_ms: month_start_ms(first + n),
    }
}

/// Unix ms of 00:00 UTC on the first day of month `index` (0 = January 1970).
fn month_start_ms(index: i64) -> i64 {
    let year = 1970 + index.div_euclid(12);
    let month = index.rem_euclid(12) as u8 + 1;
    let date = i32::try_from(year)
        .ok()
        .zip(Month::try_from(month).ok())
        .and_then(|(y, m)| Date::from_calendar_date(y, m, 1).ok());
    match date {
        Some(d) => d.midnight().assume_utc().unix_timestamp() * 1000,
        None => i64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-04T09:53:18Z
    const NOW: i64 = 1_796_377_998_000;

    #[test]
    fn days_are_utc_days_and_weeks_start_on_monday() {
        let d = period_of(Some(ResetPeriod::Fixed(DAY_MS)), NOW);
        assert_eq!(d.start_ms, 1_796_342_400_000); // 2026-12-04T00:00Z
        assert_eq!(d.end_ms - d.start_ms, DAY_MS);
        let w = period_of(Some(ResetPeriod::Weeks(1)), NOW);
        assert_eq!(w.start_ms, 1_795_996_800_000); // Monday 2026-11-30T00:00Z
        assert_eq!(w.end_ms, 1_796_601_600_000);
    }

    #[test]
    fn months_and_years_are_calendar_periods() {
        let m = period_of(Some(ResetPeriod::Months(1)), NOW);
        assert_eq!(m.start_ms, 1_796_083_200_000); // 2026-12-01
        assert_eq!(m.end_ms, 1_798_761_600_000); // 2027-01-01
        let y = period_of(Some(ResetPeriod::Years(1)), NOW);
        assert_eq!(y.start_ms, 1_767_225_600_000); // 2026-01-01
        assert_eq!(y.end_ms, 1_798_761_600_000);
        let never = period_of(None, NOW);
        assert_eq!((never.start_ms, never.end_ms), (0, i64::MAX));
    }

    #[test]
    fn short_periods_are_epoch_multiples() {
        let p = period_of(Some(ResetPeriod::Fixed(30_000)), NOW + 12_345);
        assert_eq!(p.start_ms % 30_000, 0);
        assert!(p.start_ms <= NOW + 12_345 && NOW + 12_345 < p.end_ms);
    }
}
