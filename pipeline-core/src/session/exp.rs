//! Experiments through a session: `exp run` validates every point before anything runs, `exp
//! show` reads the records, and `exp apply` edits `params.toml` in place (comments kept) and then
//! runs `repro`, which restores every stage from the run cache.

use super::{ReproReport, ReproRequest, Session, SessionError};
use crate::atomic;
use crate::engine::Event;
use crate::exp::run::{run_points, Point};
use crate::exp::{ExpError, ExpRecord, ExperimentLog, StoreLog};
use crate::params::{self, PARAMS_FILE};

/// What `exp apply` did.
#[derive(Debug)]
pub struct ApplyReport {
    /// The experiment applied.
    pub record: ExpRecord,
    /// The `repro` that brought the outputs in line with its params.
    pub repro: ReproReport,
}

impl Session {
    /// Runs one experiment per point (each a list of `section.key=value` overrides), `jobs` at
    /// a time, each in a scratch workspace sharing the caches. Every point is validated first,
    /// so a bad value in one grid point runs nothing. `say` receives progress lines.
    ///
    /// The workspace lock is held throughout: experiments write into the shared content store
    /// and run cache, and `gc` (which takes the same lock) must not collect what an experiment
    /// has written but not yet recorded.
    pub fn exp_run(
        &self,
        points: Vec<Vec<String>>,
        jobs: usize,
        say: &(dyn Fn(String) + Sync),
        waiting: &dyn Fn(&str),
    ) -> Result<Vec<ExpRecord>, SessionError> {
        let table = params::read_file(self.ws.root())?;
        let points = points
            .into_iter()
            .map(|overrides| {
                let params = self.validate_params(table.clone(), &overrides)?;
                Ok(Point { overrides, params })
            })
            .collect::<Result<Vec<Point>, SessionError>>()?;
        let _guard = self.lock(waiting)?;
        self.recover()?;
        Ok(run_points(
            &self.ws,
            &self.dag,
            points,
            jobs,
            &self.tracking,
            say,
        )?)
    }

    /// Where the experiments of this pipeline are recorded.
    pub fn experiments(&self) -> StoreLog {
        StoreLog::new(self.tracking.clone(), self.dag.name())
    }

    /// Puts experiment `id`'s params into `params.toml` (validated first, comments and layout
    /// kept, only changed values touched), then runs `repro`.
    pub fn exp_apply(
        &self,
        id: &str,
        events: &(dyn Fn(Event) + Sync),
        waiting: &dyn Fn(&str),
    ) -> Result<ApplyReport, SessionError> {
        let record = self.experiments().get(id)?;
        if let Some(error) = &record.error {
            return Err(SessionError::FailedExperiment {
                id: record.id.clone(),
                error: error.clone(),
            });
        }
        let path = self.ws.path(PARAMS_FILE);
        let io = |source| SessionError::Io {
            path: PARAMS_FILE.to_string(),
            source,
        };
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let new_text =
            edit_params(&text, &record.flat_params()).map_err(|message| ExpError::Corrupt {
                path: PARAMS_FILE.into(),
                message,
            })?;
        // Validate before writing: params.toml is never left invalid.
        let table: toml::Table =
            new_text
                .parse()
                .map_err(|e: toml::de::Error| ExpError::Corrupt {
                    path: PARAMS_FILE.into(),
                    message: e.message().to_string(),
                })?;
        self.validate_params(table, &[])?;
        atomic::write(&path, new_text.as_bytes()).map_err(io)?;
        let repro = self.repro(&ReproRequest::default(), events, waiting)?;
        Ok(ApplyReport { record, repro })
    }
}

/// `text` (a `params.toml`) with every `section.key` of `values` set to the TOML value written
/// there, keeping comments and layout.
fn edit_params(
    text: &str,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    for (key, value) in values {
        set_leaf(&mut doc, key, value)?;
    }
    Ok(doc.to_string())
}

/// Sets `a.b.c` in the document to the TOML value written as `value`, keeping comments and
/// layout; only changed values are touched.
fn set_leaf(doc: &mut toml_edit::DocumentMut, key: &str, value: &str) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let Some((leaf, tables)) = parts.split_last() else {
        return Ok(());
    };
    let mut item = doc.as_item_mut();
    for part in tables {
        item = &mut item[*part];
    }
    let parsed: toml_edit::Value = value
        .parse()
        .or_else(|_| format!("{value:?}").parse())
        .map_err(|e| format!("{key} = {value}: {e}"))?;
    let current = item
        .get(*leaf)
        .and_then(|i| i.as_value())
        .map(|v| v.to_string());
    if current.as_deref().map(str::trim) != Some(parsed.to_string().trim()) {
        let decor = item
            .get(*leaf)
            .and_then(|i| i.as_value())
            .map(|v| v.decor().clone());
        let mut parsed = parsed;
        if let Some(decor) = decor {
            *parsed.decor_mut() = decor;
        }
        item[*leaf] = toml_edit::Item::Value(parsed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_leaf_keeps_comments() {
        let mut doc: toml_edit::DocumentMut = "# top\n[train]\n# trees\nn = 100 # many\nd = 3\n"
            .parse()
            .unwrap();
        set_leaf(&mut doc, "train.n", "20").unwrap();
        set_leaf(&mut doc, "train.d", "3").unwrap();
        assert_eq!(
            doc.to_string(),
            "# top\n[train]\n# trees\nn = 20 # many\nd = 3\n"
        );
    }
}
