//! How served media is labelled: the `Content-Type` to send, `inline` or `attachment`, and the file name in
//! `Content-Disposition` (RFC 6266 / RFC 8187), so that uploaded HTML, SVG or scripts are never rendered by a
//! browser in the server's origin and a crafted file name cannot inject headers or paths.

/// The content types the spec allows with `Content-Disposition: inline` ("Serving inline content").
pub const INLINE_CONTENT_TYPES: &[&str] = &[
    "text/css",
    "text/plain",
    "text/csv",
    "application/json",
    "application/ld+json",
    "image/jpeg",
    "image/gif",
    "image/png",
    "image/apng",
    "image/webp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "audio/mp4",
    "audio/webm",
    "audio/aac",
    "audio/mpeg",
    "audio/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wav",
    "audio/flac",
    "audio/x-flac",
];

/// The `Content-Security-Policy` the spec recommends for served media.
pub const CONTENT_SECURITY_POLICY: &str = "sandbox; default-src 'none'; script-src 'none'; \
     plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';";

/// The longest file name kept (in characters); longer names are cut.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// `type/subtype` of a content type, lower-cased, without parameters.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether content of this type may be served `inline`.
pub fn is_inline_safe(content_type: &str) -> bool {
    INLINE_CONTENT_TYPES.contains(&essence(content_type).as_str())
}

/// The content type to store for an upload: what the client sent if it is a plausible `type/subtype[;
/// params]` of visible ASCII, otherwise `application/octet-stream` (the spec's default).
pub fn stored_content_type(sent: Option<&str>) -> String {
    let Some(sent) = sent.map(str::trim) else {
        return "application/octet-stream".to_owned();
    };
    let printable = sent.bytes().all(|b| (0x20..0x7f).contains(&b));
    let essence = essence(sent);
    let shaped = essence
        .split_once('/')
        .is_some_and(|(kind, sub)| is_token(kind) && is_token(sub));
    if printable && shaped && sent.len() <= 255 {
        sent.to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

/// A client-supplied file name made safe to store and echo: control characters (CR, LF, NUL, …) removed,
/// path separators replaced by `_`, surrounding whitespace and dots trimmed, at most
/// [`MAX_FILE_NAME_CHARS`] characters. `None` when nothing is left.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let trimmed = cleaned.trim().trim_matches('.').trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The `Content-Disposition` value: `inline` for [`INLINE_CONTENT_TYPES`], `attachment` otherwise, with the
/// (sanitised) file name as an ASCII `filename="…"` fallback and, when it is not plain ASCII, an RFC 8187
/// `filename*=utf-8''…` parameter.
pub fn content_disposition(content_type: &str, file_name: Option<&str>) -> String {
    let kind = if is_inline_safe(content_type) {
        "inline"
    } else {
        "attachment"
    };
    let Some(name) = file_name.and_then(sanitize_file_name) else {
        return kind.to_owned();
    };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && c != '"' && c != '\\' && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if fallback == name {
        format!("{kind}; filename=\"{name}\"")
    } else {
        format!(
            "{kind}; filename=\"{fallback}\"; filename*=utf-8''{}",
            percent_encode_attr(&name)
        )
    }
}

/// The file name another server's `Content-Disposition` names (remote media): `filename*=utf-8''…` (RFC 8187)
/// preferred over `filename="…"` or a bare token. Not sanitised here; callers pass it through
/// [`sanitize_file_name`] before storing it.
pub fn file_name_from_disposition(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for parameter in split_parameters(value).into_iter().skip(1) {
        let Some((name, raw)) = parameter.split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "filename" => plain = Some(unquote(raw.trim())),
            "filename*" => extended = decode_extended(raw.trim()),
            _ => {}
        }
    }
    extended.or(plain).filter(|name| !name.is_empty())
}

/// Splits a header value at `;` outside quoted strings.
fn split_parameters(value: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// A `quoted-string`'s content (backslash escapes removed), or a token as it is.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 8187 `ext-value` in UTF-8 (`utf-8'lang'percent-encoded`); other charsets are not understood.
fn decode_extended(value: &str) -> Option<String> {
    let mut pieces = value.splitn(3, '\'');
    let charset = pieces.next()?;
    let _language = pieces.next()?;
    let encoded = pieces.next()?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// RFC 8187 `value-chars`: `attr-char`s as they are, every other byte of the UTF-8 encoding as `%XX`.
fn percent_encode_attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_svg_and_scripts_are_attachments() {
        for kind in [
            "text/html",
            "image/svg+xml",
            "application/javascript",
            "text/javascript",
            "application/xhtml+xml",
            "TEXT/HTML; charset=utf-8",
        ] {
            assert!(
                content_disposition(kind, None).starts_with("attachment"),
                "{kind}"
            );
        }
        assert_eq!(content_disposition("image/PNG", None), "inline");
        assert_eq!(
            content_disposition("text/plain; charset=utf-8", None),
            "inline"
        );
    }

    #[test]
    fn crafted_file_names_cannot_break_the_header() {
        let value = content_disposition(
            "text/html",
            Some("evil\"name\r\nSet-Cookie: x=1/../..\\passwd"),
        );
        assert!(!value.contains('\r') && !value.contains('\n'));
        assert_eq!(
            value,
            "attachment; filename=\"evil_nameSet-Cookie: x=1_.._.._passwd\"; \
             filename*=utf-8''evil%22nameSet-Cookie%3A%20x%3D1_.._.._passwd"
        );
    }

    #[test]
    fn non_ascii_names_are_rfc_8187_encoded() {
        assert_eq!(
            content_disposition("image/png", Some("Grüße.png")),
            "inline; filename=\"Gr__e.png\"; filename*=utf-8''Gr%C3%BC%C3%9Fe.png"
        );
        assert_eq!(
            content_disposition("image/png", Some("cat.png")),
            "inline; filename=\"cat.png\""
        );
    }

    #[test]
    fn file_names_are_read_back_from_dispositions() {
        for name in ["cat.png", "Grüße.png", "a;b \"c\".txt"] {
            let header = content_disposition("image/png", Some(name));
            assert_eq!(
                file_name_from_disposition(&header).as_deref(),
                Some(name),
                "{header}"
            );
        }
        assert_eq!(
            file_name_from_disposition("attachment; filename=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            file_name_from_disposition("inline; filename=\"a;b.txt\"; size=3").as_deref(),
            Some("a;b.txt")
        );
        assert_eq!(file_name_from_disposition("inline"), None);
        assert_eq!(
            file_name_from_disposition("inline; filename*=iso-8859-1''x%E4"),
            None
        );
        assert_eq!(
            file_name_from_disposition("inline; filename*=utf-8''bad%ZZ; filename=\"ok\"")
                .as_deref(),
            Some("ok")
        );
    }

    #[test]
    fn empty_or_dot_names_are_dropped() {
        assert_eq!(sanitize_file_name(" .. "), None);
        assert_eq!(sanitize_file_name("\r\n"), None);
        assert_eq!(sanitize_file_name("../x").as_deref(), Some("_x"));
        assert_eq!(content_disposition("text/plain", Some("..")), "inline");
    }

    #[test]
    fn stored_content_type_falls_back_to_octet_stream() {
        assert_eq!(stored_content_type(None), "application/octet-stream");
        assert_eq!(stored_content_type(Some("image/png")), "image/png");
        assert_eq!(
            stored_content_type(Some("text/plain; charset=utf-8")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            stored_content_type(Some("nonsense")),
            "application/octet-stream"
        );
        assert_eq!(
            stored_content_type(Some("a/b\r\nx")),
            "application/octet-stream"
        );
    }
}
