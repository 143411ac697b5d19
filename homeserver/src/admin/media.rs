//! `hearth admin media …`: list, delete, quarantine and purge media in the configured database and media store
//! (`<data_dir>/media`), through the same [`MediaService`] the server uses.

use clap::Subcommand;
use hearth_client_api::media::parse_mxc_uri;
use hearth_types::ServerName;
use serde_json::{Value, json};

use super::{render, table};
use crate::config::{Config, ConfigDuration};
use crate::services::media::{MediaError, MediaService};
use crate::storage::{MediaRecord, Storage};

/// `hearth admin media …`.
#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// List media (local uploads, pending uploads and cached remote media), oldest first.
    List {
        /// Only media uploaded by this user (localpart or full user ID).
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete a media item and its thumbnails; files no other media uses are removed from disk.
    Delete {
        /// `mxc://server/mediaId`.
        mxc: String,
    },
    /// Hide a media item from everyone (downloads and thumbnails answer 404); the files are kept.
    Quarantine {
        /// `mxc://server/mediaId`.
        mxc: String,
    },
    /// Make a quarantined media item available again.
    Unquarantine {
        /// `mxc://server/mediaId`.
        mxc: String,
    },
    /// Delete cached copies of other servers' media not served for a while (they are fetched again when asked
    /// for), and pending uploads that expired.
    PurgeRemote {
        /// How long unused, e.g. 30d, 12h.
        #[arg(long)]
        older_than: ConfigDuration,
    },
}

/// Runs a media command; the output is a table or JSON.
pub(super) async fn execute(
    config: &Config,
    storage: &Storage,
    server_name: &ServerName,
    json: bool,
    command: MediaCommand,
) -> Result<String, String> {
    let media = MediaService::new(
        storage.clone(),
        server_name.clone(),
        &config.media_dir(),
        config.media.clone(),
    )
    .map_err(describe)?;
    match command {
        MediaCommand::List { user } => {
            let user = user.map(|user| {
                if user.starts_with('@') {
                    user
                } else {
                    format!("@{}:{server_name}", user.to_lowercase())
                }
            });
            let records = storage
                .list_media(user.as_deref())
                .await
                .map_err(|error| error.to_string())?;
            Ok(render(
                json,
                Value::Array(records.iter().map(media_json).collect()),
                || media_table(&records),
            ))
        }
        MediaCommand::Delete { mxc } => {
            let (origin, media_id) = parse(&mxc)?;
            media.delete(origin, media_id).await.map_err(describe)?;
            Ok(render(json, json!({"deleted": mxc}), || {
                format!("deleted {mxc}\n")
            }))
        }
        MediaCommand::Quarantine { mxc } => quarantine(&media, json, &mxc, true).await,
        MediaCommand::Unquarantine { mxc } => quarantine(&media, json, &mxc, false).await,
        MediaCommand::PurgeRemote { older_than } => {
            let purged = media
                .purge_remote(older_than.as_duration())
                .await
                .map_err(describe)?;
            let expired = media.purge_expired_pending().await.map_err(describe)?;
            Ok(render(
                json,
                json!({"purged_remote": purged, "purged_expired_pending": expired}),
                || {
                    format!(
                        "purged {purged} cached remote media item(s) and {expired} expired pending upload(s)\n"
                    )
                },
            ))
        }
    }
}

async fn quarantine(
    media: &MediaService,
    json: bool,
    mxc: &str,
    quarantined: bool,
) -> Result<String, String> {
    let (origin, media_id) = parse(mxc)?;
    media
        .set_quarantined(origin, media_id, quarantined)
        .await
        .map_err(describe)?;
    let what = if quarantined {
        "quarantined"
    } else {
        "released from quarantine"
    };
    Ok(render(
        json,
        json!({"mxc": mxc, "quarantined": quarantined}),
        || format!("{what} {mxc}\n"),
    ))
}

fn parse(mxc: &str) -> Result<(&str, &str), String> {
    parse_mxc_uri(mxc).ok_or_else(|| format!("`{mxc}` is not an mxc://server/mediaId URI"))
}

fn describe(error: MediaError) -> String {
    match error {
        MediaError::NotFound(_) => "no such media".to_owned(),
        other => other.to_string(),
    }
}

fn media_json(record: &MediaRecord) -> Value {
    json!({
        "mxc": format!("mxc://{}/{}", record.origin, record.media_id),
        "remote": record.is_remote,
        "uploader": record.uploader,
        "content_type": record.content_type,
        "upload_name": record.upload_name,
        "size": record.size,
        "sha256": record.sha256,
        "created_ts": record.created_ts,
        "uploaded": record.is_uploaded(),
        "quarantined": record.quarantined,
        "authenticated": record.authenticated,
        "last_access_ts": record.last_access_ts,
    })
}

fn media_table(records: &[MediaRecord]) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|record| {
            vec![
                format!("mxc://{}/{}", record.origin, record.media_id),
                record
                    .uploader
                    .clone()
                    .unwrap_or_else(|| "(remote)".to_owned()),
                record.content_type.clone(),
                record
                    .size
                    .map_or_else(|| "pending".to_owned(), |size| size.to_string()),
                if record.quarantined { "yes" } else { "no" }.to_owned(),
                record.upload_name.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["MXC", "UPLOADER", "TYPE", "SIZE", "QUARANTINED", "NAME"],
        &rows,
    )
}
