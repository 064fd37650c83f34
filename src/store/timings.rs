//! Processing times the API has shown, per preset, kept so that the poll
//! cadence (`pipeline::cadence`) predicts a task's end from the first task
//! after a restart. One small JSON record per preset in `meta`, under
//! `timings:<preset>`, holding the most recent [`MAX_SAMPLES`] samples. The
//! record is advisory: it is written without a flush (sled's own flusher
//! makes it durable within half a second), and one that cannot be read is
//! ignored rather than failing anything.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// Samples kept per preset: enough for a steady median, few enough that a
/// change in the API's speed shows within a day's tasks.
pub const MAX_SAMPLES: usize = 32;

/// When one task was seen to end, in seconds from its submit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProcessingSample {
    /// The video's length in seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_s: Option<f64>,
    /// The last poll that saw the task still running, if it tells anything
    /// (see `pipeline::cadence::Sample`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_at: Option<f64>,
    /// The first poll that saw it ended.
    pub ended_by: f64,
}

fn key(preset: &str) -> String {
    format!("timings:{preset}")
}

impl Store {
    /// The samples recorded for `preset`, oldest first (none if unreadable).
    pub fn processing_samples(&self, preset: &str) -> Result<Vec<ProcessingSample>, StoreError> {
        Ok(self
            .meta
            .get(key(preset))?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }

    /// Replace `preset`'s samples (only the newest [`MAX_SAMPLES`] are kept).
    pub fn set_processing_samples(
        &self,
        preset: &str,
        samples: &[ProcessingSample],
    ) -> Result<(), StoreError> {
        let newest = &samples[samples.len().saturating_sub(MAX_SAMPLES)..];
        let bytes = serde_json::to_vec(newest).expect("samples always serialize");
        self.meta.insert(key(preset), bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_survive_a_reopen_and_keep_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<ProcessingSample> = (0..40)
            .map(|i| ProcessingSample {
                video_s: Some(600.0),
                running_at: None,
                ended_by: f64::from(i),
            })
            .collect();
        {
            let store = Store::open(dir.path()).unwrap();
            assert!(store.processing_samples("default").unwrap().is_empty());
            store.set_processing_samples("default", &samples).unwrap();
            store.db.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let back = store.processing_samples("default").unwrap();
        assert_eq!(back.len(), MAX_SAMPLES);
        assert_eq!(back.last().unwrap().ended_by, 39.0);
        assert!(store.processing_samples("other").unwrap().is_empty());
    }
}
