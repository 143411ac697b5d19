//! The standard Matrix error: the `{"errcode": "M_…", "error": "…"}` body and the HTTP status it travels with.
//!
//! Every failing Matrix API call (client-server and server-server alike) answers with this shape. Services
//! produce a [`MatrixError`]; the HTTP edge serialises it once. The default status of each code follows the spec's
//! "Common error codes" section; a caller overrides it only where an endpoint's definition says otherwise
//! (e.g. `M_UNRECOGNIZED` is 405 for a known path with the wrong method).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// An `errcode` value. Known codes are variants; anything else (another server's custom code) is kept verbatim
/// in [`ErrorCode::Custom`], so parsing a remote error never fails on an unfamiliar code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `M_FORBIDDEN`: the request is not permitted.
    Forbidden,
    /// `M_UNKNOWN_TOKEN`: the access token is not recognised.
    UnknownToken,
    /// `M_MISSING_TOKEN`: no access token was given.
    MissingToken,
    /// `M_USER_LOCKED`: the account is locked.
    UserLocked,
    /// `M_USER_SUSPENDED`: the account is suspended.
    UserSuspended,
    /// `M_BAD_JSON`: the JSON is well-formed but malformed for this request.
    BadJson,
    /// `M_NOT_JSON`: the body is not valid JSON.
    NotJson,
    /// `M_NOT_FOUND`: no resource was found.
    NotFound,
    /// `M_LIMIT_EXCEEDED`: rate limited.
    LimitExceeded,
    /// `M_UNRECOGNIZED`: the server does not understand the request (unknown endpoint or method).
    Unrecognized,
    /// `M_UNKNOWN`: an unknown error.
    Unknown,
    /// `M_UNAUTHORIZED`: the request was not correctly authorised.
    Unauthorized,
    /// `M_USER_DEACTIVATED`: the account is deactivated.
    UserDeactivated,
    /// `M_USER_IN_USE`: the desired user ID is taken.
    UserInUse,
    /// `M_INVALID_USERNAME`: the desired user ID is not valid.
    InvalidUsername,
    /// `M_ROOM_IN_USE`: the desired room alias is taken.
    RoomInUse,
    /// `M_INVALID_ROOM_STATE`: the initial room state is invalid.
    InvalidRoomState,
    /// `M_THREEPID_IN_USE`: the third-party identifier is already in use.
    ThreepidInUse,
    /// `M_THREEPID_NOT_FOUND`: no account matches the third-party identifier.
    ThreepidNotFound,
    /// `M_THREEPID_AUTH_FAILED`: the third-party identifier could not be authenticated.
    ThreepidAuthFailed,
    /// `M_THREEPID_DENIED`: the server does not permit this third-party identifier.
    ThreepidDenied,
    /// `M_SERVER_NOT_TRUSTED`: the request used an untrusted identity server.
    ServerNotTrusted,
    /// `M_UNSUPPORTED_ROOM_VERSION`: the server does not support the room version.
    UnsupportedRoomVersion,
    /// `M_INCOMPATIBLE_ROOM_VERSION`: the server cannot join a room of this version.
    IncompatibleRoomVersion,
    /// `M_BAD_STATE`: the state change cannot be performed.
    BadState,
    /// `M_GUEST_ACCESS_FORBIDDEN`: the room or resource does not permit guests.
    GuestAccessForbidden,
    /// `M_CAPTCHA_NEEDED`: a captcha is required.
    CaptchaNeeded,
    /// `M_CAPTCHA_INVALID`: the captcha response was wrong.
    CaptchaInvalid,
    /// `M_MISSING_PARAM`: a required parameter is missing.
    MissingParam,
    /// `M_INVALID_PARAM`: a parameter has a bad value.
    InvalidParam,
    /// `M_TOO_LARGE`: the request or entity is too large.
    TooLarge,
    /// `M_EXCLUSIVE`: the resource is reserved by an application service.
    Exclusive,
    /// `M_RESOURCE_LIMIT_EXCEEDED`: the server has hit a resource limit.
    ResourceLimitExceeded,
    /// `M_CANNOT_LEAVE_SERVER_NOTICE_ROOM`: server notice rooms cannot be left.
    CannotLeaveServerNoticeRoom,
    /// `M_WEAK_PASSWORD`: the password does not meet the policy.
    WeakPassword,
    /// `M_UNABLE_TO_AUTHORISE_JOIN`: a restricted join could not be checked.
    UnableToAuthoriseJoin,
    /// `M_UNABLE_TO_GRANT_JOIN`: no local user can authorise the restricted join.
    UnableToGrantJoin,
    /// `M_BAD_ALIAS`: an alias in the canonical alias event is not valid.
    BadAlias,
    /// `M_DUPLICATE_ANNOTATION`: the user already sent this annotation.
    DuplicateAnnotation,
    /// `M_NOT_YET_UPLOADED`: the media has not been uploaded yet.
    NotYetUploaded,
    /// `M_CANNOT_OVERWRITE_MEDIA`: the media ID already has content.
    CannotOverwriteMedia,
    /// `M_WRONG_ROOM_KEYS_VERSION`: the key backup version is not the current one.
    WrongRoomKeysVersion,
    /// Any other code, kept verbatim.
    Custom(String),
}

/// Every known code with its wire spelling; one table so parsing and printing cannot drift apart.
const KNOWN_CODES: &[(ErrorCode, &str)] = &[
    (ErrorCode::Forbidden, "M_FORBIDDEN"),
    (ErrorCode::UnknownToken, "M_UNKNOWN_TOKEN"),
    (ErrorCode::MissingToken, "M_MISSING_TOKEN"),
    (ErrorCode::UserLocked, "M_USER_LOCKED"),
    (ErrorCode::UserSuspended, "M_USER_SUSPENDED"),
    (ErrorCode::BadJson, "M_BAD_JSON"),
    (ErrorCode::NotJson, "M_NOT_JSON"),
    (ErrorCode::NotFound, "M_NOT_FOUND"),
    (ErrorCode::LimitExceeded, "M_LIMIT_EXCEEDED"),
    (ErrorCode::Unrecognized, "M_UNRECOGNIZED"),
    (ErrorCode::Unknown, "M_UNKNOWN"),
    (ErrorCode::Unauthorized, "M_UNAUTHORIZED"),
    (ErrorCode::UserDeactivated, "M_USER_DEACTIVATED"),
    (ErrorCode::UserInUse, "M_USER_IN_USE"),
    (ErrorCode::InvalidUsername, "M_INVALID_USERNAME"),
    (ErrorCode::RoomInUse, "M_ROOM_IN_USE"),
    (ErrorCode::InvalidRoomState, "M_INVALID_ROOM_STATE"),
    (ErrorCode::ThreepidInUse, "M_THREEPID_IN_USE"),
    (ErrorCode::ThreepidNotFound, "M_THREEPID_NOT_FOUND"),
    (ErrorCode::ThreepidAuthFailed, "M_THREEPID_AUTH_FAILED"),
    (ErrorCode::ThreepidDenied, "M_THREEPID_DENIED"),
    (ErrorCode::ServerNotTrusted, "M_SERVER_NOT_TRUSTED"),
    (
        ErrorCode::UnsupportedRoomVersion,
        "M_UNSUPPORTED_ROOM_VERSION",
    ),
    (
        ErrorCode::IncompatibleRoomVersion,
        "M_INCOMPATIBLE_ROOM_VERSION",
    ),
    (ErrorCode::BadState, "M_BAD_STATE"),
    (ErrorCode::GuestAccessForbidden, "M_GUEST_ACCESS_FORBIDDEN"),
    (ErrorCode::CaptchaNeeded, "M_CAPTCHA_NEEDED"),
    (ErrorCode::CaptchaInvalid, "M_CAPTCHA_INVALID"),
    (ErrorCode::MissingParam, "M_MISSING_PARAM"),
    (ErrorCode::InvalidParam, "M_INVALID_PARAM"),
    (ErrorCode::TooLarge, "M_TOO_LARGE"),
    (ErrorCode::Exclusive, "M_EXCLUSIVE"),
    (
        ErrorCode::ResourceLimitExceeded,
        "M_RESOURCE_LIMIT_EXCEEDED",
    ),
    (
        ErrorCode::CannotLeaveServerNoticeRoom,
        "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM",
    ),
    (ErrorCode::WeakPassword, "M_WEAK_PASSWORD"),
    (
        ErrorCode::UnableToAuthoriseJoin,
        "M_UNABLE_TO_AUTHORISE_JOIN",
    ),
    (ErrorCode::UnableToGrantJoin, "M_UNABLE_TO_GRANT_JOIN"),
    (ErrorCode::BadAlias, "M_BAD_ALIAS"),
    (ErrorCode::DuplicateAnnotation, "M_DUPLICATE_ANNOTATION"),
    (ErrorCode::NotYetUploaded, "M_NOT_YET_UPLOADED"),
    (ErrorCode::CannotOverwriteMedia, "M_CANNOT_OVERWRITE_MEDIA"),
    (ErrorCode::WrongRoomKeysVersion, "M_WRONG_ROOM_KEYS_VERSION"),
];

impl ErrorCode {
    /// The code as it appears in the `errcode` field.
    pub fn as_str(&self) -> &str {
        if let ErrorCode::Custom(code) = self {
            return code;
        }
        KNOWN_CODES
            .iter()
            .find(|(known, _)| known == self)
            .map_or("M_UNKNOWN", |(_, wire)| wire)
    }

    /// Parses a wire code; unknown codes become [`ErrorCode::Custom`].
    pub fn from_wire(code: &str) -> Self {
        KNOWN_CODES
            .iter()
            .find(|(_, wire)| *wire == code)
            .map_or_else(
                || ErrorCode::Custom(code.to_owned()),
                |(known, _)| known.clone(),
            )
    }

    /// The HTTP status this code is sent with unless an endpoint says otherwise.
    pub fn default_status(&self) -> u16 {
        match self {
            ErrorCode::UnknownToken
            | ErrorCode::MissingToken
            | ErrorCode::UserLocked
            | ErrorCode::Unauthorized
            | ErrorCode::CaptchaNeeded
            | ErrorCode::ThreepidAuthFailed => 401,
            ErrorCode::Forbidden
            | ErrorCode::UserSuspended
            | ErrorCode::UserDeactivated
            | ErrorCode::ThreepidDenied
            | ErrorCode::ServerNotTrusted
            | ErrorCode::GuestAccessForbidden
            | ErrorCode::ResourceLimitExceeded
            | ErrorCode::CannotLeaveServerNoticeRoom
            | ErrorCode::WrongRoomKeysVersion => 403,
            ErrorCode::NotFound | ErrorCode::Unrecognized => 404,
            ErrorCode::CannotOverwriteMedia => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::LimitExceeded => 429,
            ErrorCode::NotYetUploaded => 504,
            ErrorCode::Custom(_) => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(ErrorCode::from_wire(&code))
    }
}

/// A Matrix error response: HTTP status plus the JSON body.
///
/// `status` is not part of the body; a value parsed from a body carries 500 until the receiver sets the status
/// the response actually had.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatrixError {
    /// HTTP status to answer with.
    #[serde(skip, default = "status_of_parsed_error")]
    pub status: u16,
    /// The machine-readable code.
    pub errcode: ErrorCode,
    /// A human-readable message.
    pub error: String,
    /// Extra fields some codes carry (`retry_after_ms`, `soft_logout`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn status_of_parsed_error() -> u16 {
    500
}

impl MatrixError {
    /// An error with the code's default status.
    pub fn new(errcode: ErrorCode, error: impl Into<String>) -> Self {
        Self {
            status: errcode.default_status(),
            errcode,
            error: error.into(),
            extra: Map::new(),
        }
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same error with an extra body field.
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// 404 `M_UNRECOGNIZED`: no endpoint at this path.
    pub fn unrecognized() -> Self {
        Self::new(ErrorCode::Unrecognized, "Unrecognized request")
    }

    /// 405 `M_UNRECOGNIZED`: the path exists but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(ErrorCode::Unrecognized, "Unrecognized request").with_status(405)
    }

    /// 404 `M_NOT_FOUND` with a message naming what was missing.
    pub fn not_found(error: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, error)
    }

    /// 413 `M_TOO_LARGE`: the request body exceeds the configured limit.
    pub fn too_large(error: impl Into<String>) -> Self {
        Self::new(ErrorCode::TooLarge, error)
    }

    /// 500 `M_UNKNOWN`: a server-side fault. The message must not leak internals; log those instead.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Unknown, "Internal server error").with_status(500)
    }

    /// 429 `M_LIMIT_EXCEEDED`, optionally telling the client how long to wait.
    pub fn limit_exceeded(retry_after_ms: Option<u64>) -> Self {
        let error = Self::new(ErrorCode::LimitExceeded, "Too many requests");
        match retry_after_ms {
            Some(ms) => error.with_field("retry_after_ms", ms),
            None => error,
        }
    }
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.errcode, self.error)
    }
}

impl std::error::Error for MatrixError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_known_code_round_trips_through_its_wire_spelling() {
        for (code, wire) in KNOWN_CODES {
            assert_eq!(code.as_str(), *wire);
            assert_eq!(&ErrorCode::from_wire(wire), code);
        }
    }

    #[test]
    fn unknown_wire_code_is_kept_verbatim() {
        let code = ErrorCode::from_wire("ORG_EXAMPLE_CUSTOM");
        assert_eq!(code, ErrorCode::Custom("ORG_EXAMPLE_CUSTOM".into()));
        assert_eq!(code.as_str(), "ORG_EXAMPLE_CUSTOM");
    }

    #[test]
    fn default_statuses_follow_the_spec() {
        assert_eq!(ErrorCode::Forbidden.default_status(), 403);
        assert_eq!(ErrorCode::UnknownToken.default_status(), 401);
        assert_eq!(ErrorCode::MissingToken.default_status(), 401);
        assert_eq!(ErrorCode::NotFound.default_status(), 404);
        assert_eq!(ErrorCode::Unrecognized.default_status(), 404);
        assert_eq!(ErrorCode::LimitExceeded.default_status(), 429);
        assert_eq!(ErrorCode::TooLarge.default_status(), 413);
        assert_eq!(ErrorCode::BadJson.default_status(), 400);
        assert_eq!(ErrorCode::NotJson.default_status(), 400);
    }

    #[test]
    fn unrecognized_and_method_not_allowed_differ_only_in_status() {
        let not_found = MatrixError::unrecognized();
        let wrong_method = MatrixError::method_not_allowed();
        assert_eq!(not_found.status, 404);
        assert_eq!(wrong_method.status, 405);
        assert_eq!(
            serde_json::to_value(&not_found).unwrap(),
            serde_json::to_value(&wrong_method).unwrap()
        );
    }

    #[test]
    fn body_has_errcode_error_and_extra_fields_but_no_status() {
        let body = serde_json::to_value(MatrixError::limit_exceeded(Some(1500))).unwrap();
        assert_eq!(
            body,
            json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 1500})
        );
    }

    #[test]
    fn parses_a_remote_error_body_keeping_extra_fields() {
        let parsed: MatrixError = serde_json::from_value(
            json!({"errcode": "M_UNKNOWN_TOKEN", "error": "x", "soft_logout": true}),
        )
        .unwrap();
        assert_eq!(parsed.errcode, ErrorCode::UnknownToken);
        assert_eq!(parsed.extra.get("soft_logout"), Some(&json!(true)));
    }
}
