//! `models register|list|show|alias|describe|tag|delete`: the model registry.

use super::{table, Printer};
use crate::tracking::recorder::Target;
use crate::tracking::{ModelUri, TrackingError, TrackingStore};
use anyhow::bail;
use std::process::ExitCode;

/// `models` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a logged model (`runs:/<run id>/model`) as a new version of NAME.
    Register {
        /// The model's URI.
        uri: String,
        /// The registered model's name.
        #[arg(long)]
        name: String,
    },
    /// Registered models with their newest version and aliases.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One registered model: every version and alias.
    Show {
        /// The registered model's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Point ALIAS (e.g. `champion`) at VERSION, for `models:/NAME@ALIAS`; with --delete, remove it.
    Alias {
        /// The registered model's name.
        name: String,
        /// The alias.
        alias: String,
        /// The version it points at.
        #[arg(required_unless_present = "delete")]
        version: Option<u64>,
        /// Remove the alias instead.
        #[arg(long, conflicts_with = "version")]
        delete: bool,
    },
    /// Set the description of a model, or of one version with --version.
    Describe {
        /// The registered model's name.
        name: String,
        /// The text.
        text: String,
        /// Only this version.
        #[arg(long)]
        version: Option<u64>,
    },
    /// Set a tag on a model, or on one version with --version; --delete removes it.
    Tag {
        /// The registered model's name.
        name: String,
        /// The tag's key.
        key: String,
        /// Its value.
        #[arg(required_unless_present = "delete")]
        value: Option<String>,
        /// Only this version.
        #[arg(long)]
        version: Option<u64>,
        /// Remove the tag instead.
        #[arg(long, conflicts_with = "value")]
        delete: bool,
    },
    /// Delete a registered model with all its versions, or one version (its number is never
    /// reused; aliases pointing at it go too).
    Delete {
        /// The registered model's name.
        name: String,
        /// Only this version.
        #[arg(long)]
        version: Option<u64>,
    },
}

pub fn run(tracking: &Target, command: Command, out: &Printer) -> anyhow::Result<ExitCode> {
    let store = tracking.open()?;
    match command {
        Command::Register { uri, name } => register(store.as_ref(), &uri, &name, out),
        Command::List { json } => list(store.as_ref(), json, out),
        Command::Show { name, json } => show(store.as_ref(), &name, json, out),
        Command::Alias {
            name,
            alias,
            version,
            delete,
        } => {
            match version {
                Some(version) if !delete => {
                    store.set_model_alias(&name, &alias, version)?;
                    out.line(format!(
                        "models:/{name}@{alias} now points at version {version}"
                    ));
                }
                _ => {
                    store.delete_model_alias(&name, &alias)?;
                    out.line(format!("Removed alias models:/{name}@{alias}"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Describe {
            name,
            text,
            version,
        } => {
            store.set_model_description(&name, version, &text)?;
            out.line(match version {
                Some(v) => format!("Described version {v} of model `{name}`"),
                None => format!("Described model `{name}`"),
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Tag {
            name,
            key,
            value,
            version,
            delete,
        } => {
            let target = match version {
                Some(v) => format!("version {v} of model `{name}`"),
                None => format!("model `{name}`"),
            };
            match value {
                Some(value) if !delete => {
                    store.set_model_tag(
                        &name,
                        version,
                        &crate::tracking::Tag::new(&key, &value),
                    )?;
                    out.line(format!("Tagged {target}: {key} = {value}"));
                }
                _ => {
                    store.delete_model_tag(&name, version, &key)?;
                    out.line(format!("Removed tag {key} from {target}"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { name, version } => {
            match version {
                Some(version) => {
                    store.delete_model_version(&name, version)?;
                    out.line(format!("Deleted version {version} of model `{name}`"));
                }
                None => {
                    store.delete_registered_model(&name)?;
                    out.line(format!("Deleted model `{name}` and all its versions"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn register(
    store: &dyn TrackingStore,
    uri: &str,
    name: &str,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let (source, run_id, model_id) = match ModelUri::parse(uri)? {
        ModelUri::LoggedModel { model_id } => {
            let model = store.get_logged_model(&model_id)?;
            (uri.to_string(), model.source_run_id, Some(model_id))
        }
        ModelUri::Run { run_id, path } => {
            store.get_run(&run_id)?;
            if store
                .list_artifacts(&run_id, Some(&path))
                .map(|files| files.is_empty())
                .unwrap_or(true)
            {
                bail!("run {run_id} has no model at `{path}` (see `runs show {run_id}`)");
            }
            // The logged model the run recorded under that name: the version registers it, as
            // MLflow 3 does, so it carries its id.
            let logged = store
                .logged_models_of_run(&run_id)
                .unwrap_or_default()
                .into_iter()
                .rev()
                .find(|model| model.name == path);
            match logged {
                Some(model) => (
                    format!("models:/{}", model.model_id),
                    Some(run_id),
                    Some(model.model_id),
                ),
                None => (uri.to_string(), Some(run_id), None),
            }
        }
        // Another version's model, registered again.
        _ => {
            let version = store.resolve_model_uri(uri)?;
            (version.source, version.run_id, version.model_id)
        }
    };
    match store.create_registered_model(name) {
        Ok(_) | Err(TrackingError::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let version =
        store.create_model_version_linked(name, &source, run_id.as_deref(), model_id.as_deref())?;
    out.line(format!(
        "Registered {source} as models:/{name}/{} (version {})",
        version.version, version.version
    ));
    Ok(ExitCode::SUCCESS)
}

fn list(store: &dyn TrackingStore, json: bool, out: &Printer) -> anyhow::Result<ExitCode> {
    let models = store.list_registered_models()?;
    if json {
        out.line(serde_json::to_string_pretty(&models)?);
        return Ok(ExitCode::SUCCESS);
    }
    if models.is_empty() {
        out.line("No registered models: `models register runs:/<run id>/model --name NAME`.");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let latest = m.latest_versions.iter().map(|v| v.version).max();
            let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}→{v}")).collect();
            vec![
                m.name.clone(),
                latest.map_or_else(|| "-".into(), |v| v.to_string()),
                aliases.join(", "),
            ]
        })
        .collect();
    out.line(table::render(&["Name", "Latest", "Aliases"].map(String::from), &rows).trim_end());
    Ok(ExitCode::SUCCESS)
}

fn show(
    store: &dyn TrackingStore,
    name: &str,
    json: bool,
    out: &Printer,
) -> anyhow::Result<ExitCode> {
    let model = store.get_registered_model(name)?;
    let versions = store.model_versions(&model.name)?;
    if json {
        out.line(serde_json::to_string_pretty(&serde_json::json!({
            "name": model.name, "aliases": model.aliases, "versions": versions,
            "description": model.description, "tags": model.tags,
        }))?);
        return Ok(ExitCode::SUCCESS);
    }
    out.line(format!("Model {name}"));
    if !model.description.is_empty() {
        out.line(format!("  {}", model.description));
    }
    for tag in &model.tags {
        out.line(format!("  {} = {}", tag.key, tag.value));
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            let aliases: Vec<&str> = model
                .aliases
                .iter()
                .filter(|(_, n)| *n == v.version)
                .map(|(a, _)| a.as_str())
                .collect();
            vec![
                v.version.to_string(),
                v.source.clone(),
                table::format_time(v.creation_time),
                aliases.join(", "),
                v.description.clone(),
                v.tags
                    .iter()
                    .map(|t| format!("{}={}", t.key, t.value))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    out.line(
        table::render(
            &[
                "Version",
                "Source",
                "Created",
                "Aliases",
                "Description",
                "Tags",
            ]
            .map(String::from),
            &rows,
        )
        .trim_end(),
    );
    Ok(ExitCode::SUCCESS)
}
