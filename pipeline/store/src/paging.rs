//! Keyset paging over the `*_by_day` index tables: entries are ordered by
//! (day, score, id), all descending; a cursor is the key of the last entry
//! returned, and the next page starts strictly after it.

use std::cmp::Ordering;

use chrono::{Days, NaiveDate};

use crate::error::StoreError;
use crate::model::IndexEntry;
use crate::store::PENDING_LOOKBACK_DAYS;

/// Position after which the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub day: NaiveDate,
    pub score: f64,
    pub id: String,
}

impl Cursor {
    pub fn of(e: &IndexEntry) -> Self {
        Self { day: e.day, score: e.anomaly_score, id: e.id.clone() }
    }

    /// `YYYY-MM-DD|<score f64 bits, hex>|<id>`: exact (no float printing) and
    /// the id may contain anything, as it comes last.
    pub fn encode(&self) -> String {
        format!("{}|{:016x}|{}", self.day, self.score.to_bits(), self.id)
    }

    pub fn decode(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::invalid("cursor", format!("{s:?} is not a cursor returned by a previous page"));
        let mut parts = s.splitn(3, '|');
        let day = NaiveDate::parse_from_str(parts.next().ok_or_else(bad)?, "%Y-%m-%d").map_err(|_| bad())?;
        let bits = u64::from_str_radix(parts.next().ok_or_else(bad)?, 16).map_err(|_| bad())?;
        let id = parts.next().ok_or_else(bad)?.to_owned();
        let score = f64::from_bits(bits);
        if !score.is_finite() {
            return Err(bad());
        }
        Ok(Self { day, score, id })
    }
}

/// Page order: newest day, highest score, then id descending.
pub fn page_order(a: &IndexEntry, b: &IndexEntry) -> Ordering {
    b.day
        .cmp(&a.day)
        .then_with(|| b.anomaly_score.total_cmp(&a.anomaly_score))
        .then_with(|| b.id.cmp(&a.id))
}

/// Whether `e` comes strictly after `c` in page order.
pub fn is_after(e: &IndexEntry, c: &Cursor) -> bool {
    (e.day, e.anomaly_score, e.id.as_str()).partial_cmp(&(c.day, c.score, c.id.as_str())) == Some(Ordering::Less)
        && e.day <= c.day
}

/// The days `pending_audits(None)` covers, newest first, starting at the
/// cursor's day when there is one.
pub fn lookback_days(today: NaiveDate, cursor: Option<&Cursor>) -> Vec<NaiveDate> {
    let oldest = today.checked_sub_days(Days::new(u64::from(PENDING_LOOKBACK_DAYS) - 1)).unwrap_or(today);
    // Tomorrow too: producers' clocks may run ahead of ours.
    let mut d = today.checked_add_days(Days::new(1)).unwrap_or(today);
    if let Some(c) = cursor {
        d = d.min(c.day);
    }
    let mut out = Vec::new();
    while d >= oldest {
        out.push(d);
        match d.pred_opt() {
            Some(p) => d = p,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(day: &str, score: f64, id: &str) -> IndexEntry {
        IndexEntry {
            day: day.parse().unwrap(),
            id: id.into(),
            anomaly_score: score,
            class: "c".into(),
            vendor: None,
            top_reason: None,
            model_version: 1,
        }
    }

    #[test]
    fn cursor_round_trips_exactly() {
        let c = Cursor { day: "2026-01-02".parse().unwrap(), score: 0.1 + 0.2, id: "a|b".into() };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "x|y|z", "2026-01-02|zz|a", "2026-01-02|7ff8000000000000|a"] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn order_and_after_agree() {
        let mut v = [e("2026-01-01", 0.9, "a"), e("2026-01-02", 0.8, "b"), e("2026-01-02", 0.8, "c"), e("2026-01-02", 0.95, "d")];
        v.sort_by(page_order);
        let ids: Vec<&str> = v.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids, vec!["d", "c", "b", "a"]);
        let c = Cursor::of(&v[1]);
        let after: Vec<&str> = v.iter().filter(|x| is_after(x, &c)).map(|x| x.id.as_str()).collect();
        assert_eq!(after, vec!["b", "a"]);
    }

    #[test]
    fn lookback_covers_window_newest_first() {
        let today: NaiveDate = "2026-03-01".parse().unwrap();
        let days = lookback_days(today, None);
        assert_eq!(days.len() as u32, PENDING_LOOKBACK_DAYS + 1);
        assert_eq!(days[0], "2026-03-02".parse::<NaiveDate>().unwrap());
        let c = Cursor { day: "2026-02-20".parse().unwrap(), score: 0.8, id: "x".into() };
        assert_eq!(lookback_days(today, Some(&c))[0], c.day);
    }
}
