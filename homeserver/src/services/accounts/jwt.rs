//! JWT login (`org.matrix.login.jwt`, as Synapse offers it): verification of tokens signed by a trusted issuer
//! with an HMAC secret from `[login.jwt]`.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::JwtLoginConfig;

/// Checks tokens against the configured secret, algorithm and issuer.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl JwtVerifier {
    /// The verifier `config` describes; `None` when JWT login is disabled.
    pub fn from_config(config: &JwtLoginConfig) -> Option<JwtVerifier> {
        if !config.enabled || config.secret.is_empty() {
            return None;
        }
        let algorithm = match config.algorithm.as_str() {
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            _ => Algorithm::HS256,
        };
        let mut validation = Validation::new(algorithm);
        // `exp` is checked when present, as Synapse does, but not required.
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 0;
        if !config.issuer.is_empty() {
            validation.set_issuer(&[config.issuer.as_str()]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        Some(JwtVerifier {
            key: DecodingKey::from_secret(config.secret.as_bytes()),
            validation,
        })
    }

    /// The `sub` claim of a valid token; 403 `M_FORBIDDEN` for any invalid one.
    pub fn subject(&self, token: &str) -> Result<String, MatrixError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims.sub)
            .map_err(|error| {
                MatrixError::new(ErrorCode::Forbidden, format!("Invalid JWT: {error}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    fn verifier(issuer: &str) -> JwtVerifier {
        JwtVerifier::from_config(&JwtLoginConfig {
            enabled: true,
            secret: "secret".into(),
            algorithm: "HS256".into(),
            issuer: issuer.into(),
        })
        .unwrap()
    }

    fn token(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn accepts_a_token_signed_with_the_secret() {
        let subject = verifier("").subject(&token(json!({"sub": "alice"}), "secret"));
        assert_eq!(subject.unwrap(), "alice");
    }

    #[test]
    fn rejects_wrong_secret_expired_token_and_wrong_issuer() {
        assert!(
            verifier("")
                .subject(&token(json!({"sub": "a"}), "other"))
                .is_err()
        );
        assert!(
            verifier("")
                .subject(&token(json!({"sub": "a", "exp": 1}), "secret"))
                .is_err()
        );
        let with_issuer = verifier("hearth-tests");
        assert!(
            with_issuer
                .subject(&token(json!({"sub": "a"}), "secret"))
                .is_err()
        );
        assert!(
            with_issuer
                .subject(&token(json!({"sub": "a", "iss": "x"}), "secret"))
                .is_err()
        );
        assert!(
            with_issuer
                .subject(&token(json!({"sub": "a", "iss": "hearth-tests"}), "secret"))
                .is_ok()
        );
    }

    #[test]
    fn disabled_config_gives_no_verifier() {
        assert!(JwtVerifier::from_config(&JwtLoginConfig::default()).is_none());
    }
}
