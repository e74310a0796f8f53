//! Overnight financing (swap).
//!
//! ## Definition
//! A **rollover** happens every day at `rollover_hour_utc:00` UTC. A position is *held through* a
//! rollover at instant `R` when `entry_time < R <= exit_time` (times as recorded on the position:
//! bar open times in candle mode, tick times in tick mode). Each rollover has a weight by the UTC
//! weekday of `R`: Saturday and Sunday 0 (no rollover), the `triple_day` 3 (it carries the weekend's
//! value dates; Wednesday by default), every other weekday 1. So a position held Monday to Monday
//! pays Mon, Tue, Wed×3, Thu, Fri = 7 nights.
//!
//! The amount booked per rollover (account currency, **signed: positive is credited to the trader,
//! negative is charged**) is `weight × points × lots × value`, with `points` = `long_points` or
//! `short_points` by the position's direction and `value` by the unit:
//!
//! | unit     | value of one point                                                    |
//! |----------|-----------------------------------------------------------------------|
//! | `pips`   | `pip_size × value_per_price` (the default)                            |
//! | `points` | `pip_size / 10 × value_per_price` (MetaTrader's 5/3-digit "points")   |
//! | `price`  | `value_per_price` (points are a price difference)                     |
//! | `money`  | 1 unit of the swap `currency` per lot, converted to the account currency at `R` |
//!
//! `value_per_price` is the position's own (account currency per 1.0 price move per lot, fixed at
//! the fill, SEMANTICS §6). The simulator books each rollover into the balance when it happens
//! (so equity follows it), accumulates it on the position and reports it in
//! `ClosedPosition::swap`; net PnL = gross − fees + swap.

use crate::error::{ExecError, Result};
use crate::types::TimestampUs;

pub const US_PER_HOUR: i64 = 3_600_000_000;
pub const US_PER_DAY: i64 = 24 * US_PER_HOUR;

/// Day of the week, Monday first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    Monday = 0,
    Tuesday = 1,
    Wednesday = 2,
    Thursday = 3,
    Friday = 4,
    Saturday = 5,
    Sunday = 6,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Lower-case English name (`"wednesday"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    /// Parses a full or three-letter English name, any case.
    pub fn parse(name: &str) -> Option<Weekday> {
        let n = name.to_ascii_lowercase();
        Weekday::ALL
            .into_iter()
            .find(|d| d.as_str() == n || (n.len() == 3 && d.as_str().starts_with(&n)))
    }

    /// The UTC weekday of `ts`.
    #[inline]
    pub fn of(ts: TimestampUs) -> Weekday {
        // 1970-01-01 was a Thursday.
        Weekday::ALL[(ts.div_euclid(US_PER_DAY) + 3).rem_euclid(7) as usize]
    }

    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

/// What the swap points are measured in (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SwapUnit {
    #[default]
    Pips,
    Points,
    Price,
    Money,
}

impl SwapUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            SwapUnit::Pips => "pips",
            SwapUnit::Points => "points",
            SwapUnit::Price => "price",
            SwapUnit::Money => "money",
        }
    }

    pub fn parse(name: &str) -> Option<SwapUnit> {
        [
            SwapUnit::Pips,
            SwapUnit::Points,
            SwapUnit::Price,
            SwapUnit::Money,
        ]
        .into_iter()
        .find(|u| u.as_str() == name)
    }
}

/// One symbol's swap rates.
#[derive(Clone, Debug, PartialEq)]
pub struct SwapModel {
    /// Points per lot per night for long positions (signed: negative is a charge).
    pub long_points: f64,
    /// Points per lot per night for short positions (signed).
    pub short_points: f64,
    pub unit: SwapUnit,
    /// The rollover that counts three nights (Monday..Friday).
    pub triple_day: Weekday,
    /// Hour of the daily rollover, 0..=23 UTC.
    pub rollover_hour_utc: u8,
    /// Currency of `money` amounts; `None`: the account currency. Ignored by the other units.
    pub currency: Option<String>,
}

impl Default for SwapModel {
    fn default() -> Self {
        SwapModel {
            long_points: 0.0,
            short_points: 0.0,
            unit: SwapUnit::Pips,
            triple_day: Weekday::Wednesday,
            rollover_hour_utc: DEFAULT_ROLLOVER_HOUR_UTC,
            currency: None,
        }
    }
}

/// 22:00 UTC: 17:00 New York in winter, the usual FX value-date roll (00:00 at GMT+2 servers).
pub const DEFAULT_ROLLOVER_HOUR_UTC: u8 = 22;

impl SwapModel {
    pub fn new(long_points: f64, short_points: f64) -> Self {
        SwapModel {
            long_points,
            short_points,
            ..SwapModel::default()
        }
    }

    pub(crate) fn validate(&self, field: &str) -> Result<()> {
        for (name, v) in [
            ("long_points", self.long_points),
            ("short_points", self.short_points),
        ] {
            if !v.is_finite() {
                return Err(ExecError::invalid(
                    format!("{field}.{name}"),
                    format!("must be finite, got {v}"),
                ));
            }
        }
        if self.rollover_hour_utc > 23 {
            return Err(ExecError::invalid(
                format!("{field}.rollover_hour_utc"),
                format!("must be in 0..=23, got {}", self.rollover_hour_utc),
            ));
        }
        if self.triple_day.is_weekend() {
            return Err(ExecError::invalid(
                format!("{field}.triple_day"),
                format!(
                    "must be a weekday (monday..friday), got {}",
                    self.triple_day.as_str()
                ),
            ));
        }
        super::validate_currency(field, self.currency.as_deref())
    }

    /// The first rollover instant at or after `ts`.
    #[inline]
    pub fn rollover_at_or_after(&self, ts: TimestampUs) -> TimestampUs {
        let r = ts.div_euclid(US_PER_DAY) * US_PER_DAY
            + i64::from(self.rollover_hour_utc) * US_PER_HOUR;
        if r < ts {
            r + US_PER_DAY
        } else {
            r
        }
    }

    /// Nights charged at the rollover instant `r`: 0 on weekends, 3 on the triple day, else 1.
    #[inline]
    pub fn weight(&self, r: TimestampUs) -> u32 {
        let d = Weekday::of(r);
        if d.is_weekend() {
            0
        } else if d == self.triple_day {
            3
        } else {
            1
        }
    }

    /// Nights a position entered at `entry` and closed at `exit` is charged for: the sum of the
    /// weights of the rollovers `R` with `entry < R <= exit`.
    pub fn nights(&self, entry: TimestampUs, exit: TimestampUs) -> u32 {
        if exit <= entry {
            return 0;
        }
        let mut r = self.rollover_at_or_after(entry.saturating_add(1));
        let mut n = 0;
        while r <= exit {
            n += self.weight(r);
            r += US_PER_DAY;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// µs timestamp of a UTC date and hour (days from 1970-01-01 via the civil-from-days inverse).
    fn at(y: i64, m: i64, d: i64, h: i64) -> TimestampUs {
        // Howard Hinnant's days_from_civil.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * US_PER_DAY + h * US_PER_HOUR
    }

    #[test]
    fn weekdays() {
        assert_eq!(Weekday::of(0), Weekday::Thursday);
        assert_eq!(Weekday::of(-1), Weekday::Wednesday);
        // 2024-01-01 was a Monday, 2024-01-06 a Saturday.
        assert_eq!(Weekday::of(at(2024, 1, 1, 0)), Weekday::Monday);
        assert_eq!(Weekday::of(at(2024, 1, 6, 23)), Weekday::Saturday);
        assert_eq!(Weekday::parse("Wednesday"), Some(Weekday::Wednesday));
        assert_eq!(Weekday::parse("fri"), Some(Weekday::Friday));
        assert_eq!(Weekday::parse("fr"), None);
        assert_eq!(SwapUnit::parse("points"), Some(SwapUnit::Points));
        assert_eq!(SwapUnit::parse("lots"), None);
    }

    #[test]
    fn rollover_instants() {
        let m = SwapModel::new(-1.0, 0.5);
        let mon = at(2024, 1, 1, 0);
        assert_eq!(m.rollover_at_or_after(mon), mon + 22 * US_PER_HOUR);
        assert_eq!(
            m.rollover_at_or_after(mon + 22 * US_PER_HOUR),
            mon + 22 * US_PER_HOUR
        );
        assert_eq!(
            m.rollover_at_or_after(mon + 22 * US_PER_HOUR + 1),
            mon + 46 * US_PER_HOUR
        );
        // before the epoch
        let m0 = SwapModel {
            rollover_hour_utc: 0,
            ..m.clone()
        };
        assert_eq!(m0.rollover_at_or_after(-5), 0);
        assert_eq!(m0.rollover_at_or_after(-US_PER_DAY - 5), -US_PER_DAY);
    }

    #[test]
    fn nights_across_weekends_and_the_triple_day() {
        let m = SwapModel::new(-1.0, 0.5); // rollover 22:00 UTC, triple Wednesday
                                           // Monday 10:00 -> Monday 21:00: no rollover
        assert_eq!(m.nights(at(2024, 1, 1, 10), at(2024, 1, 1, 21)), 0);
        // Monday 10:00 -> Monday 22:00: the rollover at exactly the exit counts
        assert_eq!(m.nights(at(2024, 1, 1, 10), at(2024, 1, 1, 22)), 1);
        // entering exactly at the rollover does not count it
        assert_eq!(m.nights(at(2024, 1, 1, 22), at(2024, 1, 2, 10)), 0);
        // Monday -> Tuesday morning: 1; -> Wednesday morning: 2
        assert_eq!(m.nights(at(2024, 1, 1, 10), at(2024, 1, 2, 10)), 1);
        assert_eq!(m.nights(at(2024, 1, 1, 10), at(2024, 1, 3, 10)), 2);
        // Wednesday 10:00 -> Thursday 10:00: the triple day
        assert_eq!(m.nights(at(2024, 1, 3, 10), at(2024, 1, 4, 10)), 3);
        // Friday 10:00 -> Monday 10:00: Friday's rollover only (Sat/Sun none)
        assert_eq!(m.nights(at(2024, 1, 5, 10), at(2024, 1, 8, 10)), 1);
        // Friday 23:00 -> Monday 10:00: none (Saturday and Sunday 22:00 have weight 0)
        assert_eq!(m.nights(at(2024, 1, 5, 23), at(2024, 1, 8, 10)), 0);
        // a full week Monday -> Monday: 1 + 1 + 3 + 1 + 1
        assert_eq!(m.nights(at(2024, 1, 1, 10), at(2024, 1, 8, 10)), 7);
        // two weeks
        assert_eq!(m.nights(at(2024, 1, 1, 10), at(2024, 1, 15, 10)), 14);
        // triple on Friday instead: Wed -> Thu is 1, Fri -> Mon is 3
        let f = SwapModel {
            triple_day: Weekday::Friday,
            ..m.clone()
        };
        assert_eq!(f.nights(at(2024, 1, 3, 10), at(2024, 1, 4, 10)), 1);
        assert_eq!(f.nights(at(2024, 1, 5, 10), at(2024, 1, 8, 10)), 3);
        // rollover at 21:00: Monday 21:30 entry misses Monday's
        let h21 = SwapModel {
            rollover_hour_utc: 21,
            ..m.clone()
        };
        assert_eq!(
            h21.nights(at(2024, 1, 1, 21) + US_PER_HOUR / 2, at(2024, 1, 2, 21)),
            1
        );
        assert_eq!(m.nights(at(2024, 1, 2, 0), at(2024, 1, 1, 0)), 0);
    }

    #[test]
    fn validation() {
        let mut m = SwapModel::new(f64::NAN, 0.0);
        assert!(m
            .validate("swap")
            .unwrap_err()
            .to_string()
            .contains("swap.long_points"));
        m.long_points = 1.0;
        m.rollover_hour_utc = 24;
        assert!(m
            .validate("swap")
            .unwrap_err()
            .to_string()
            .contains("rollover_hour_utc"));
        m.rollover_hour_utc = 0;
        m.triple_day = Weekday::Sunday;
        assert!(m
            .validate("swap")
            .unwrap_err()
            .to_string()
            .contains("triple_day"));
        m.triple_day = Weekday::Monday;
        m.currency = Some(String::new());
        assert!(m.validate("swap").is_err());
        m.currency = None;
        assert!(m.validate("swap").is_ok());
    }
}
