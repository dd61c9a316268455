//! `params.toml`: one table per section, each bound to a typed struct. Sections are validated as a
//! whole before anything runs (a bad file or a bad `-S` override changes nothing), and kept in a
//! canonical JSON form so that fingerprints do not depend on how the file is formatted.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The params file, at the workspace root.
pub const PARAMS_FILE: &str = "params.toml";

/// A struct bound to one section of `params.toml`.
///
/// Derive `Serialize` and `Deserialize` (with `#[serde(deny_unknown_fields)]`), then implement
/// `validate` with the range checks; a violation names the key, the value and the rule.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a params section",
    label = "params sections must implement `pipeline_core::ParamsSection`",
    note = "derive `serde::Serialize` and `serde::Deserialize`, then `impl ParamsSection for {Self}`"
)]
pub trait ParamsSection: Serialize + DeserializeOwned + 'static {
    /// Checks value ranges. The default accepts everything serde accepted.
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

/// A value that breaks a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// The key inside its section.
    pub key: String,
    /// The offending value, as written.
    pub value: String,
    /// The rule it breaks, e.g. "must be between 0 and 1".
    pub rule: String,
}

impl Invalid {
    /// `Ok` when `ok`, otherwise an error for `key = value` naming `rule`.
    pub fn check(key: &str, value: impl fmt::Display, ok: bool, rule: &str) -> Result<(), Invalid> {
        if ok {
            Ok(())
        } else {
            Err(Invalid {
                key: key.to_string(),
                value: value.to_string(),
                rule: rule.to_string(),
            })
        }
    }
}

/// Why params could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A section a stage needs is absent.
    #[error("{origin}: missing section [{section}] (needed by stage `{stage}`)")]
    MissingSection {
        /// Where the params came from.
        origin: String,
        /// The section.
        section: String,
        /// A stage that needs it.
        stage: String,
    },
    /// A section no stage declares.
    #[error("{origin}: section [{section}] is not used by any stage; known sections: {known}")]
    UnknownSection {
        /// Where the params came from.
        origin: String,
        /// The section.
        section: String,
        /// Sections the pipeline declares.
        known: String,
    },
    /// A section failed to deserialize into its struct.
    #[error("{origin}: [{section}] {message}")]
    Shape {
        /// Where the params came from.
        origin: String,
        /// The section.
        section: String,
        /// serde's message (unknown field, missing field).
        message: String,
    },
    /// A value breaks a rule: its type (`feature_fraction = true`: "expected a number (f64)")
    /// or a range rule of the section's `validate`.
    #[error("{origin}: [{section}] {key} = {value}: {rule}", key = .invalid.key, value = .invalid.value, rule = .invalid.rule)]
    Rule {
        /// Where the params came from.
        origin: String,
        /// The section.
        section: String,
        /// The violation.
        invalid: Invalid,
    },
    /// A `-S key=value` override is malformed or names an unknown key.
    #[error("-S {text}: {why}")]
    Override {
        /// The override as given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
}

type Loader = fn(&toml::Value) -> Result<serde_json::Value, LoadError>;

enum LoadError {
    Shape(String),
    Rule(Invalid),
}

/// A params section bound by a stage: its name and how to validate it.
#[derive(Clone)]
pub struct ParamSection {
    /// The section's name in `params.toml`.
    pub name: String,
    load: Loader,
}

impl fmt::Debug for ParamSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParamSection({})", self.name)
    }
}

impl ParamSection {
    /// Binds section `name` to type `T`.
    pub fn of<T: ParamsSection>(name: &str) -> Self {
        fn load<T: ParamsSection>(value: &toml::Value) -> Result<serde_json::Value, LoadError> {
            let typed: T = serde_path_to_error::deserialize(value.clone())
                .map_err(|e| shape_error(value, e))?;
            typed.validate().map_err(LoadError::Rule)?;
            serde_json::to_value(&typed).map_err(|e| LoadError::Shape(e.to_string()))
        }
        ParamSection {
            name: name.to_string(),
            load: load::<T>,
        }
    }
}

/// Turns serde's error into one that names the key: a wrong type or value becomes
/// `key = value: expected …`, anything else (unknown or missing field) keeps serde's message.
fn shape_error(section: &toml::Value, e: serde_path_to_error::Error<toml::de::Error>) -> LoadError {
    let message = e.inner().message().trim().to_string();
    let typed = message.starts_with("invalid type: ") || message.starts_with("invalid value: ");
    let found = typed
        .then(|| lookup(section, e.path()))
        .flatten()
        .zip(message.rsplit_once(", expected "));
    match found {
        Some(((key, value), (_, expected))) => LoadError::Rule(Invalid {
            key,
            value: value.to_string(),
            rule: format!("expected {}", describe_expected(expected)),
        }),
        None => LoadError::Shape(message),
    }
}

/// The key text (`a`, `a.b`, `a[0]`) and the value at `path` inside a section, when the path
/// leads to a value that is there.
fn lookup<'v>(
    section: &'v toml::Value,
    path: &serde_path_to_error::Path,
) -> Option<(String, &'v toml::Value)> {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    let mut at = section;
    for segment in path {
        match segment {
            Segment::Map { key: name } => {
                at = at.as_table()?.get(name)?;
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Seq { index } => {
                at = at.as_array()?.get(*index)?;
                key.push_str(&format!("[{index}]"));
            }
            Segment::Enum { .. } => {}
            Segment::Unknown => return None,
        }
    }
    (!key.is_empty()).then_some((key, at))
}

/// serde's name of the expected type, in words a person editing `params.toml` reads.
fn describe_expected(expected: &str) -> String {
    match expected {
        "f32" | "f64" => format!("a number ({expected})"),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
            format!("a whole number, 0 or more ({expected})")
        }
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => format!("a whole number ({expected})"),
        "a boolean" => "true or false (bool)".to_string(),
        "a string" => "a quoted string".to_string(),
        other => other.to_string(),
    }
}

/// Every section's validated value, in canonical form (sorted keys).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamValues {
    sections: BTreeMap<String, serde_json::Value>,
}

/// Why a stage could not get its section (a bug in hand-built pipelines, never in macro ones).
#[derive(Debug, thiserror::Error)]
#[error("params section [{section}]: {message}")]
pub struct SectionError {
    section: String,
    message: String,
}

impl ParamValues {
    /// One section as its typed struct.
    pub fn get<T: ParamsSection>(&self, section: &str) -> Result<T, SectionError> {
        let value = self.sections.get(section).ok_or_else(|| SectionError {
            section: section.to_string(),
            message: "not loaded".to_string(),
        })?;
        T::deserialize(value).map_err(|e| SectionError {
            section: section.to_string(),
            message: e.to_string(),
        })
    }

    /// One section in canonical form.
    pub fn section(&self, section: &str) -> Option<&serde_json::Value> {
        self.sections.get(section)
    }

    /// All sections.
    pub fn sections(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.sections
    }

    /// The sections `names`, for one stage's fingerprint and lock entry.
    pub fn subset<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, serde_json::Value> {
        names
            .into_iter()
            .filter_map(|n| Some((n.to_string(), self.sections.get(n)?.clone())))
            .collect()
    }
}

/// The largest `params.toml` read: far beyond any real one.
const PARAMS_LIMIT: u64 = 16 << 20;

/// Reads `params.toml` (absent is an empty file) as a table.
pub fn read_file(root: &Path) -> Result<toml::Table, ParamsError> {
    let path = root.join(PARAMS_FILE);
    // A regular file of sane size only: a FIFO or `/dev/zero` in its place must not hang or
    // exhaust memory.
    let text = match crate::atomic::read_text_limited(&path, PARAMS_LIMIT) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(toml::Table::new()),
        Err(source) => return Err(ParamsError::Read { path, source }),
    };
    text.parse::<toml::Table>()
        .map_err(|e| ParamsError::Syntax {
            path: PathBuf::from(PARAMS_FILE),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })
}

/// Applies `-S section.key=value` overrides to `table`. The value is read as TOML (`200`, `0.5`,
/// `true`, `"text"`), falling back to a plain string.
pub fn apply_overrides(table: &mut toml::Table, overrides: &[String]) -> Result<(), ParamsError> {
    for text in overrides {
        let bad = |why: &str| ParamsError::Override {
            text: text.clone(),
            why: why.to_string(),
        };
        let (key, raw) = text
            .split_once('=')
            .ok_or_else(|| bad("expected section.key=value"))?;
        let parts: Vec<&str> = key.trim().split('.').collect();
        if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad("the key must be section.key, e.g. train.max_depth"));
        }
        let value = parse_value(raw.trim());
        let mut at = table
            .get_mut(parts[0])
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| bad(&format!("no section [{}] in {PARAMS_FILE}", parts[0])))?;
        for (depth, part) in parts[1..parts.len() - 1].iter().enumerate() {
            at = at
                .get_mut(*part)
                .and_then(toml::Value::as_table_mut)
                .ok_or_else(|| bad(&format!("no table `{}`", parts[..depth + 2].join("."))))?;
        }
        let leaf = parts[parts.len() - 1];
        match at.get(leaf) {
            None => {
                return Err(bad(&format!(
                    "no key `{leaf}` in [{}]",
                    parts[..parts.len() - 1].join(".")
                )))
            }
            Some(toml::Value::Table(_)) => {
                return Err(bad(&format!("`{key}` is a table, not a value")))
            }
            Some(_) => {}
        }
        at.insert(leaf.to_string(), value);
    }
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Validates every section the pipeline declares, and rejects sections nobody declares.
/// `origin` says where the values came from, for messages.
pub fn validate<'a>(
    table: &toml::Table,
    sections: impl IntoIterator<Item = (&'a str, &'a ParamSection)>,
    origin: &str,
) -> Result<ParamValues, ParamsError> {
    let mut values = BTreeMap::new();
    let mut known: BTreeMap<&str, &ParamSection> = BTreeMap::new();
    let mut needed_by: BTreeMap<&str, &str> = BTreeMap::new();
    for (stage, section) in sections {
        known.insert(section.name.as_str(), section);
        needed_by.entry(section.name.as_str()).or_insert(stage);
    }
    for name in table.keys() {
        if !known.contains_key(name.as_str()) {
            return Err(ParamsError::UnknownSection {
                origin: origin.to_string(),
                section: name.clone(),
                known: known.keys().copied().collect::<Vec<_>>().join(", "),
            });
        }
    }
    for (name, section) in known {
        let value = table.get(name).ok_or_else(|| ParamsError::MissingSection {
            origin: origin.to_string(),
            section: name.to_string(),
            stage: needed_by.get(name).copied().unwrap_or_default().to_string(),
        })?;
        let canonical = (section.load)(value).map_err(|e| match e {
            LoadError::Shape(message) => ParamsError::Shape {
                origin: origin.to_string(),
                section: name.to_string(),
                message,
            },
            LoadError::Rule(invalid) => ParamsError::Rule {
                origin: origin.to_string(),
                section: name.to_string(),
                invalid,
            },
        })?;
        values.insert(name.to_string(), canonical);
    }
    Ok(ParamValues { sections: values })
}

/// `section.key` → value text for a set of canonical sections.
pub fn flat_params(params: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (section, value) in params {
        flatten_param(section, value, &mut out);
    }
    out
}

fn flatten_param(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                flatten_param(&format!("{prefix}.{key}"), inner, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Train {
        n_estimators: u32,
        rate: f64,
    }

    impl ParamsSection for Train {
        fn validate(&self) -> Result<(), Invalid> {
            Invalid::check(
                "n_estimators",
                self.n_estimators,
                self.n_estimators >= 1,
                "must be at least 1",
            )
        }
    }

    fn load(text: &str, overrides: &[&str]) -> Result<ParamValues, ParamsError> {
        let mut table: toml::Table = text.parse().unwrap();
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        apply_overrides(&mut table, &overrides)?;
        let section = ParamSection::of::<Train>("train");
        validate(&table, [("fit", &section)], PARAMS_FILE)
    }

    #[test]
    fn canonical_form_ignores_formatting() {
        let a = load("[train]\nn_estimators = 5\nrate = 0.5\n", &[]).unwrap();
        let b = load("[train]\nrate=0.50\n  n_estimators=5 # five\n", &[]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn errors_name_key_value_and_rule() {
        let e = load("[train]\nn_estimators = 0\nrate = 1.0\n", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "params.toml: [train] n_estimators = 0: must be at least 1"
        );
        let e = load("[train]\nn_estimators = 3\nrate = 1.0\nextra = 1\n", &[]).unwrap_err();
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");
        let e = load("[train]\nn_estimators = 3\nrate = 1.0\n[other]\n", &[]).unwrap_err();
        assert!(e.to_string().contains("section [other] is not used"), "{e}");
    }

    #[test]
    fn overrides_are_typed_and_checked() {
        let v = load(
            "[train]\nn_estimators = 5\nrate = 0.5\n",
            &["train.n_estimators=7"],
        )
        .unwrap();
        assert_eq!(v.section("train").unwrap()["n_estimators"], 7);
        let e = load(
            "[train]\nn_estimators = 5\nrate = 0.5\n",
            &["train.n_estimators=0"],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("n_estimators = 0: must be at least 1"),
            "{e}"
        );
        let e = load(
            "[train]\nn_estimators = 5\nrate = 0.5\n",
            &["train.depth=3"],
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "-S train.depth=3: no key `depth` in [train]");
        let e = load(
            "[train]\nn_estimators = 5\nrate = 0.5\n",
            &["train.rate=abc"],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "params.toml: [train] rate = \"abc\": expected a number (f64)"
        );
    }

    #[test]
    fn type_errors_name_section_key_value_and_type() {
        let cases = [
            (
                "[train]\nn_estimators = 3\nrate = true\n",
                "params.toml: [train] rate = true: expected a number (f64)",
            ),
            (
                "[train]\nn_estimators = \"ten\"\nrate = 0.5\n",
                "params.toml: [train] n_estimators = \"ten\": expected a whole number, 0 or more (u32)",
            ),
            (
                "[train]\nn_estimators = -1\nrate = 0.5\n",
                "params.toml: [train] n_estimators = -1: expected a whole number, 0 or more (u32)",
            ),
            (
                "[train]\nn_estimators = 2.5\nrate = 0.5\n",
                "params.toml: [train] n_estimators = 2.5: expected a whole number, 0 or more (u32)",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(load(text, &[]).unwrap_err().to_string(), message);
        }
        // Missing fields keep serde's message, which names the field.
        let e = load("[train]\nn_estimators = 3\n", &[]).unwrap_err();
        assert_eq!(e.to_string(), "params.toml: [train] missing field `rate`");
    }

    /// Any section type gets the same messages: optional, nested and list values included.
    #[test]
    fn type_errors_name_nested_keys() {
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Model {
            depth: Option<usize>,
            enabled: bool,
            layers: Layers,
        }
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Layers {
            widths: Vec<u32>,
            name: String,
        }
        impl ParamsSection for Model {}

        let section = ParamSection::of::<Model>("model");
        let check = |text: &str| {
            let table: toml::Table = text.parse().unwrap();
            validate(&table, [("fit", &section)], PARAMS_FILE)
                .err()
                .map(|e| e.to_string())
        };
        let ok =
            "[model]\ndepth = 3\nenabled = true\n[model.layers]\nwidths = [1, 2]\nname = \"a\"\n";
        assert_eq!(check(ok), None);
        for (from, to, message) in [
            (
                "depth = 3",
                "depth = \"ten\"",
                "params.toml: [model] depth = \"ten\": expected a whole number, 0 or more (usize)",
            ),
            (
                "enabled = true",
                "enabled = 1",
                "params.toml: [model] enabled = 1: expected true or false (bool)",
            ),
            (
                "widths = [1, 2]",
                "widths = [1, \"x\"]",
                "params.toml: [model] layers.widths[1] = \"x\": expected a whole number, 0 or more (u32)",
            ),
            (
                "name = \"a\"",
                "name = 4",
                "params.toml: [model] layers.name = 4: expected a quoted string",
            ),
        ] {
            assert_eq!(check(&ok.replace(from, to)).as_deref(), Some(message));
        }
    }
}
