//! Where remotes are named: `.pipeline/config.toml`, meant to be committed so that a teammate's
//! clone knows the team's remotes, and `.pipeline/config.local.toml`, never committed, which
//! holds every option that is a credential. `remote modify` decides which file a key goes to, so
//! a secret cannot end up in the committed file by mistake.
//!
//! Options are the object-store client's own configuration keys (`endpoint`, `region`,
//! `allow_http`, `access_key_id`, `account_name`, …, as the `object_store` crate spells them);
//! each is checked against the remote's kind when it is set, so a typo is refused there and then.

use super::super::DataError;
use crate::atomic;
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Both config files, as read.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_remote: Option<String>,
    #[serde(default)]
    pub remote: BTreeMap<String, RemoteConfig>,
}

/// One remote: its URL and options.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RemoteConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(flatten)]
    pub options: BTreeMap<String, String>,
}

/// The kinds of remote, by URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Directory,
    S3,
    Gcs,
    Azure,
}

impl Kind {
    /// The kind a URL names, or why it names none.
    pub fn of(url: &str) -> Result<Kind, String> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Ok(Kind::Directory);
        };
        let kind = match scheme {
            "file" => return Ok(Kind::Directory),
            "s3" => Kind::S3,
            "gs" => Kind::Gcs,
            "azure" | "az" => Kind::Azure,
            other => {
                return Err(format!(
                    "{other}:// is not a remote kind: use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, azure://CONTAINER/PREFIX, file://DIR or a directory"
                ))
            }
        };
        let bucket = rest.split('/').next().unwrap_or_default();
        if bucket.is_empty() {
            return Err(format!("`{url}` names no bucket or container"));
        }
        Ok(kind)
    }
}

/// Whether an option is a credential, kept out of the committed file.
pub(crate) fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "access_key",
        "account_key",
        "sas",
        "service_account",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

fn config_error(path: &Path, message: impl std::fmt::Display) -> DataError {
    DataError::Config {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn local_file(ws: &Workspace) -> PathBuf {
    ws.layout().state_dir().join("config.local.toml")
}

fn read_file(path: &Path) -> Result<Config, DataError> {
    match atomic::read_text_limited(path, 1 << 20) {
        Ok(Some(text)) => toml::from_str(&text).map_err(|e| config_error(path, e)),
        Ok(None) => Ok(Config::default()),
        Err(e) => Err(config_error(path, e)),
    }
}

fn write_file(path: &Path, config: &Config) -> Result<(), DataError> {
    let text = toml::to_string(config).map_err(|e| config_error(path, e))?;
    atomic::write(path, text.as_bytes()).map_err(|e| config_error(path, e))
}

/// The committed config alone (what `remote add/modify/remove` rewrite).
pub(crate) fn load_shared(ws: &Workspace) -> Result<Config, DataError> {
    read_file(&ws.layout().config_file())
}

/// The local config alone.
pub(crate) fn load_local(ws: &Workspace) -> Result<Config, DataError> {
    read_file(&local_file(ws))
}

/// Both files merged: the local file's options override the shared file's.
pub(crate) fn load(ws: &Workspace) -> Result<Config, DataError> {
    let mut config = load_shared(ws)?;
    let local = load_local(ws)?;
    for (name, remote) in local.remote {
        let entry = config.remote.entry(name).or_default();
        if !remote.url.is_empty() {
            entry.url = remote.url;
        }
        entry.options.extend(remote.options);
    }
    if local.default_remote.is_some() {
        config.default_remote = local.default_remote;
    }
    Ok(config)
}

pub(crate) fn save_shared(ws: &Workspace, config: &Config) -> Result<(), DataError> {
    write_file(&ws.layout().config_file(), config)
}

pub(crate) fn save_local(ws: &Workspace, config: &Config) -> Result<(), DataError> {
    write_file(&local_file(ws), config)
}

/// A remote by name (or the default one): (name, its config).
pub(crate) fn resolve(
    ws: &Workspace,
    name: Option<&str>,
) -> Result<(String, RemoteConfig), DataError> {
    let config = load(ws)?;
    let path = ws.layout().config_file();
    let name = match name {
        Some(name) => name.to_string(),
        None => config.default_remote.clone().ok_or_else(|| {
            config_error(&path, "no remote configured: `remote add NAME URL` first")
        })?,
    };
    let remote = config
        .remote
        .get(&name)
        .filter(|r| !r.url.is_empty())
        .cloned()
        .ok_or_else(|| config_error(&path, format!("no remote named `{name}`")))?;
    Ok((name, remote))
}

/// The name of the default remote, if one is configured.
pub(crate) fn default_remote(ws: &Workspace) -> Result<Option<String>, DataError> {
    Ok(load(ws)?.default_remote)
}

/// Refuses an option the remote's kind does not know.
pub(crate) fn check_option(kind: Kind, key: &str) -> Result<(), String> {
    use object_store::aws::AmazonS3ConfigKey;
    use object_store::azure::AzureConfigKey;
    use object_store::gcp::GoogleConfigKey;
    let known = match kind {
        Kind::Directory => false,
        Kind::S3 => key.parse::<AmazonS3ConfigKey>().is_ok(),
        Kind::Gcs => key.parse::<GoogleConfigKey>().is_ok(),
        Kind::Azure => key.parse::<AzureConfigKey>().is_ok(),
    };
    if known {
        Ok(())
    } else if kind == Kind::Directory {
        Err(format!("`{key}`: a directory remote takes no options"))
    } else {
        Err(format!(
            "`{key}` is not an option of this kind of remote (e.g. endpoint, region, allow_http, access_key_id for S3; account_name, use_emulator for Azure; service_account_key for GCS)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_kind() {
        assert_eq!(Kind::of("s3://b/p"), Ok(Kind::S3));
        assert_eq!(Kind::of("gs://b"), Ok(Kind::Gcs));
        assert_eq!(Kind::of("azure://c/p"), Ok(Kind::Azure));
        assert_eq!(Kind::of("az://c"), Ok(Kind::Azure));
        assert_eq!(Kind::of("file:///tmp/x"), Ok(Kind::Directory));
        assert_eq!(Kind::of("../shared"), Ok(Kind::Directory));
        assert!(Kind::of("s3://").unwrap_err().contains("no bucket"));
        assert!(Kind::of("ftp://h/x").unwrap_err().contains("ftp://"));
    }

    #[test]
    fn credentials_are_secret_and_endpoints_are_not() {
        for key in [
            "secret_access_key",
            "access_key_id",
            "session_token",
            "account_key",
            "access_key",
            "sas_key",
            "service_account_key",
            "bearer_token",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in [
            "endpoint",
            "region",
            "allow_http",
            "account_name",
            "use_emulator",
        ] {
            assert!(!is_secret(key), "{key}");
        }
    }

    #[test]
    fn options_are_checked_against_the_kind() {
        assert!(check_option(Kind::S3, "endpoint").is_ok());
        assert!(check_option(Kind::S3, "allow_http").is_ok());
        assert!(check_option(Kind::Azure, "use_emulator").is_ok());
        assert!(check_option(Kind::Gcs, "service_account_key").is_ok());
        assert!(check_option(Kind::S3, "endpointt").is_err());
        assert!(check_option(Kind::Directory, "endpoint").is_err());
    }
}
