//! URL previews (`GET /_matrix/client/v1/media/preview_url`): fetch a page a user names and return its
//! OpenGraph data. Off by default (`[media.url_preview] enabled`), because it makes the server send requests
//! to addresses users choose.
//!
//! SSRF protection: only `http`/`https`; every address a host name resolves to, every IP-literal host and every
//! redirect target passes the federation crate's [`IpPolicy`] (private, loopback, link-local … denied by
//! default) before a connection is made — reqwest connects only to the addresses the policy-filtering resolver
//! returned. The whole fetch is bounded in time, redirects and bytes read.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hearth_federation::ip_policy::IpPolicy;
use serde_json::{Value, json};

use super::error::MediaError;
use crate::config::UrlPreviewConfig;

/// Most redirects followed.
const MAX_REDIRECTS: usize = 5;
/// Only this much of an HTML page is searched for metadata.
const MAX_HTML_SCAN_BYTES: usize = 1024 * 1024;

/// The URL preview service; `None` inside when previews are disabled.
#[derive(Clone, Debug)]
pub struct UrlPreviewService {
    inner: Option<Arc<Previewer>>,
}

#[derive(Debug)]
struct Previewer {
    http: reqwest::Client,
    policy: IpPolicy,
    max_bytes: u64,
}

impl UrlPreviewService {
    /// Previews as configured; disabled ones answer 404 `M_UNRECOGNIZED`.
    pub fn new(config: &UrlPreviewConfig) -> Result<UrlPreviewService, MediaError> {
        if !config.enabled {
            return Ok(UrlPreviewService { inner: None });
        }
        let policy = IpPolicy::new(
            config.allowed_ip_ranges.clone(),
            config.denied_ip_ranges.clone(),
        );
        let http = guarded_client(
            &policy,
            config.timeout.as_duration(),
            true,
            concat!("Hearth/", env!("CARGO_PKG_VERSION"), " (URL preview)"),
        )
        .map_err(|e| MediaError::Internal(format!("URL preview client: {e}")))?;
        Ok(UrlPreviewService {
            inner: Some(Arc::new(Previewer {
                http,
                policy,
                max_bytes: config.max_bytes,
            })),
        })
    }

    /// The OpenGraph data of `url` (`og:title`, `og:description`, …, `matrix:image:size` for images).
    pub async fn preview(&self, url: &str) -> Result<Value, MediaError> {
        let Some(previewer) = &self.inner else {
            return Err(MediaError::Disabled("URL previews are disabled".to_owned()));
        };
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| MediaError::InvalidParam("`url` is not a valid URL".to_owned()))?;
        url_permitted(&parsed, &previewer.policy)?;
        let mut response = previewer
            .http
            .get(parsed)
            .send()
            .await
            .map_err(|e| MediaError::Remote(format!("fetching the page failed: {e}")))?;
        if !response.status().is_success() {
            return Err(MediaError::Remote(format!(
                "the page answered {}",
                response.status()
            )));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| MediaError::Remote(format!("reading the page failed: {e}")))?
        {
            if (body.len() + chunk.len()) as u64 > previewer.max_bytes {
                return Err(MediaError::RemoteTooLarge {
                    limit: previewer.max_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if content_type.starts_with("text/html") || content_type.starts_with("application/xhtml") {
            let scanned = &body[..body.len().min(MAX_HTML_SCAN_BYTES)];
            Ok(Value::Object(
                open_graph(&String::from_utf8_lossy(scanned))
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ))
        } else if content_type.starts_with("image/") {
            Ok(json!({"matrix:image:size": body.len(), "og:image:type": content_type}))
        } else {
            Ok(json!({}))
        }
    }
}

/// An HTTP(S) client that connects only where `policy` permits: policy-filtered DNS, IP-literal redirect targets
/// checked, at most [`MAX_REDIRECTS`] redirects, `timeout` for connecting and for the whole request. Used for
/// URL previews and for remote media's `Location` URLs.
pub(super) fn guarded_client(
    policy: &IpPolicy,
    timeout: std::time::Duration,
    verify_certificates: bool,
    user_agent: &'static str,
) -> reqwest::Result<reqwest::Client> {
    let redirect_policy = policy.clone();
    reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .danger_accept_invalid_certs(!verify_certificates)
        .timeout(timeout)
        .connect_timeout(timeout)
        .dns_resolver(Arc::new(PolicyResolver {
            policy: policy.clone(),
        }))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if url_permitted(attempt.url(), &redirect_policy).is_err() {
                attempt.error("redirect to a forbidden address")
            } else {
                attempt.follow()
            }
        }))
        .user_agent(user_agent)
        .build()
}

/// Refuses non-HTTP schemes and IP-literal hosts the policy denies (named hosts are checked on resolution).
pub(super) fn url_permitted(url: &reqwest::Url, policy: &IpPolicy) -> Result<(), MediaError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(MediaError::InvalidParam(
            "only http and https URLs can be previewed".to_owned(),
        ));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(MediaError::InvalidParam("the URL has no host".to_owned())),
    };
    match ip {
        Some(ip) if !policy.permits(ip) => Err(MediaError::Forbidden(
            "this address may not be previewed".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// reqwest DNS: the system resolver, keeping only addresses the policy permits.
struct PolicyResolver {
    policy: IpPolicy,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let permitted: Vec<SocketAddr> = resolved.filter(|a| policy.permits(a.ip())).collect();
            if permitted.is_empty() {
                return Err(format!("{host} has no address that may be previewed").into());
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `og:*` properties of `<meta>` tags, with `og:title` from `<title>` and `og:description` from
/// `<meta name="description">` when the page has no OpenGraph ones. A tolerant scan, not an HTML parser: it
/// only needs attributes of `<meta>` tags and the text of `<title>`.
pub fn open_graph(html: &str) -> BTreeMap<String, String> {
    let mut properties = BTreeMap::new();
    let mut description = None;
    let lower = html.to_ascii_lowercase();
    let mut position = 0;
    while let Some(start) = lower[position..].find("<meta") {
        let start = position + start;
        let Some(end) = lower[start..].find('>') else {
            break;
        };
        let tag = &html[start..start + end];
        let attributes = tag_attributes(tag);
        let content = attributes.get("content").cloned();
        if let (Some(property), Some(content)) = (attributes.get("property"), &content)
            && property.starts_with("og:")
            && properties.len() < 64
        {
            properties
                .entry(property.clone())
                .or_insert_with(|| truncate(content));
        }
        if attributes.get("name").map(String::as_str) == Some("description") {
            description = content.map(|c| truncate(&c));
        }
        position = start + end;
    }
    if !properties.contains_key("og:title")
        && let Some(title) = title_text(html, &lower)
    {
        properties.insert("og:title".to_owned(), truncate(&title));
    }
    if let Some(description) = description {
        properties
            .entry("og:description".to_owned())
            .or_insert(description);
    }
    // Clients expect og:image as an mxc:// URI; Hearth does not re-host preview images, so it sends none.
    properties.retain(|key, _| !key.starts_with("og:image"));
    properties
}

/// The text of the first `<title>` element, if it is not empty.
fn title_text(html: &str, lower: &str) -> Option<String> {
    let start = lower.find("<title")?;
    let text_start = start + lower[start..].find('>')? + 1;
    let close = lower[text_start..].find("</title")?;
    let title = decode_entities(html[text_start..text_start + close].trim());
    (!title.is_empty()).then_some(title)
}

/// Attribute names (lower-cased) and values of one tag's text (`<meta a="b" c='d' e=f`).
fn tag_attributes(tag: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    let bytes = tag.as_bytes();
    let mut i = tag.find(char::is_whitespace).unwrap_or(tag.len());
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let name = tag[name_start..i].to_ascii_lowercase();
        if i >= bytes.len() || bytes[i] != b'=' {
            if name.is_empty() {
                i += 1;
            }
            continue;
        }
        i += 1;
        let value = match bytes.get(i) {
            Some(quote @ (b'"' | b'\'')) => {
                let close = tag[i + 1..]
                    .find(char::from(*quote))
                    .map_or(tag.len(), |c| i + 1 + c);
                let value = &tag[i + 1..close];
                i = close + 1;
                value
            }
            _ => {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[start..i]
            }
        };
        attributes.insert(name, decode_entities(value));
    }
    attributes
}

/// The few HTML entities that matter in titles and descriptions.
fn decode_entities(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Values are cut at 1 000 characters.
fn truncate(value: &str) -> String {
    value.chars().take(1000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_open_graph_properties_and_falls_back_to_title_and_description() {
        let html = r#"<html><head><title>Plain &amp; simple</title>
            <meta property="og:site_name" content='Example'>
            <META name="description" content="A &quot;page&quot;">
            <meta property="og:image" content="https://example.org/x.png"/></head></html>"#;
        let og = open_graph(html);
        assert_eq!(
            og.get("og:title").map(String::as_str),
            Some("Plain & simple")
        );
        assert_eq!(og.get("og:site_name").map(String::as_str), Some("Example"));
        assert_eq!(
            og.get("og:description").map(String::as_str),
            Some("A \"page\"")
        );
        assert!(!og.contains_key("og:image"));
    }

    #[test]
    fn open_graph_title_wins_over_the_title_tag() {
        let og = open_graph(r#"<title>T</title><meta property="og:title" content="OG">"#);
        assert_eq!(og.get("og:title").map(String::as_str), Some("OG"));
    }

    #[test]
    fn private_ip_literals_and_other_schemes_are_refused() {
        let policy = IpPolicy::default();
        for url in [
            "http://127.0.0.1/",
            "http://10.0.0.1:8080/x",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "gopher://example.org/",
        ] {
            let parsed = reqwest::Url::parse(url).unwrap();
            assert!(url_permitted(&parsed, &policy).is_err(), "{url}");
        }
        let public = reqwest::Url::parse("https://example.org/").unwrap();
        assert!(url_permitted(&public, &policy).is_ok());
    }

    #[tokio::test]
    async fn disabled_previews_answer_unrecognized() {
        let service = UrlPreviewService::new(&UrlPreviewConfig::default()).unwrap();
        let error = service.preview("https://example.org/").await.unwrap_err();
        assert!(matches!(error, MediaError::Disabled(_)));
    }
}
