//! The offered-load schedule: consecutive phases of constant rate. Document
//! `i` has a fixed *scheduled* send time derived from the phases alone, so
//! the publisher stays open-loop whatever the pipeline does (`steady` is
//! one phase, `burst` three, `ramp` one per step).

use std::time::Duration;

/// `count` documents at `rate` documents per second.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub rate: f64,
    pub count: u64,
    /// Label in the report (`steady`, `burst`, `step 3`…).
    pub label: String,
}

impl Phase {
    /// A phase of `rate` for `secs` seconds (at least one document).
    pub fn timed(label: &str, rate: f64, secs: f64) -> Self {
        Self { rate, count: (rate * secs).round().max(1.0) as u64, label: label.into() }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.count as f64 / self.rate)
    }
}

/// Errors in a schedule.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("phase {0:?}: rate must be a positive finite number, got {1}")]
    BadRate(String, f64),
    #[error("the schedule has no documents")]
    Empty,
}

/// Phases back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub phases: Vec<Phase>,
}

impl Schedule {
    pub fn new(phases: Vec<Phase>) -> Result<Self, ScheduleError> {
        for p in &phases {
            if !(p.rate.is_finite() && p.rate > 0.0) {
                return Err(ScheduleError::BadRate(p.label.clone(), p.rate));
            }
        }
        let s = Self { phases: phases.into_iter().filter(|p| p.count > 0).collect() };
        if s.count() == 0 {
            return Err(ScheduleError::Empty);
        }
        Ok(s)
    }

    /// One phase of `rate` for `secs`.
    pub fn constant(rate: f64, secs: f64) -> Result<Self, ScheduleError> {
        Self::new(vec![Phase::timed("steady", rate, secs)])
    }

    /// Total documents.
    pub fn count(&self) -> u64 {
        self.phases.iter().map(|p| p.count).sum()
    }

    /// Time from the first to the end of the last phase.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(Phase::duration).sum()
    }

    /// Scheduled offset of document `i` from the start, and its phase index.
    /// Documents past the end keep the last phase's rate.
    pub fn at(&self, i: u64) -> (Duration, usize) {
        let mut base = 0.0;
        let mut first = 0u64;
        for (k, p) in self.phases.iter().enumerate() {
            if i < first + p.count || k + 1 == self.phases.len() {
                return (Duration::from_secs_f64(base + (i - first) as f64 / p.rate), k);
            }
            base += p.count as f64 / p.rate;
            first += p.count;
        }
        (Duration::ZERO, 0)
    }

    /// Mean offered rate over the schedule.
    pub fn mean_rate(&self) -> f64 {
        let d = self.duration().as_secs_f64();
        if d > 0.0 {
            self.count() as f64 / d
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_each_other() {
        let s = Schedule::new(vec![Phase::timed("a", 10.0, 2.0), Phase::timed("b", 100.0, 1.0), Phase::timed("c", 10.0, 1.0)]).unwrap();
        assert_eq!(s.count(), 20 + 100 + 10);
        assert_eq!(s.at(0), (Duration::ZERO, 0));
        assert_eq!(s.at(19).1, 0);
        let (t, k) = s.at(20);
        assert_eq!(k, 1);
        assert!((t.as_secs_f64() - 2.0).abs() < 1e-9);
        let (t, k) = s.at(120);
        assert_eq!(k, 2);
        assert!((t.as_secs_f64() - 3.0).abs() < 1e-9);
        assert!((s.duration().as_secs_f64() - 4.0).abs() < 1e-9);
        assert!((s.mean_rate() - 32.5).abs() < 1e-9);
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert!(matches!(Schedule::constant(0.0, 1.0), Err(ScheduleError::BadRate(..))));
        assert!(matches!(Schedule::constant(f64::NAN, 1.0), Err(ScheduleError::BadRate(..))));
        assert_eq!(Schedule::new(vec![]), Err(ScheduleError::Empty));
    }
}
