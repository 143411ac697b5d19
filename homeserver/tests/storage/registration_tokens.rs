//! Registration tokens: limits on uses and expiry hold, also under concurrent registrations.

use hearth::storage::{NewRegistrationToken, StorageError};

use super::harness::TestDb;

fn invite(
    token: &str,
    uses_allowed: Option<i64>,
    expiry_ts: Option<i64>,
) -> NewRegistrationToken<'_> {
    NewRegistrationToken {
        token,
        uses_allowed,
        expiry_ts,
        created_ts: 100,
    }
}

pub async fn manages_registration_tokens(db: &TestDb) {
    let storage = db.connect().await;
    let created = storage
        .create_registration_token(&invite("abc", Some(3), Some(10_000)))
        .await
        .unwrap();
    assert_eq!((created.pending, created.completed), (0, 0));
    assert_eq!(
        storage.get_registration_token("abc").await.unwrap(),
        Some(created)
    );
    let dup = storage
        .create_registration_token(&invite("abc", None, None))
        .await;
    assert!(
        matches!(dup, Err(StorageError::Conflict("registration token"))),
        "{dup:?}"
    );

    storage
        .create_registration_token(&invite("def", None, None))
        .await
        .unwrap();
    let all: Vec<String> = storage
        .list_registration_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.token)
        .collect();
    assert_eq!(all, ["abc", "def"]);

    let updated = storage
        .update_registration_token("abc", Some(5), None)
        .await
        .unwrap();
    assert_eq!((updated.uses_allowed, updated.expiry_ts), (Some(5), None));

    storage.revoke_registration_token("abc").await.unwrap();
    assert_eq!(storage.get_registration_token("abc").await.unwrap(), None);
    let again = storage.revoke_registration_token("abc").await;
    assert!(
        matches!(again, Err(StorageError::NotFound("registration token"))),
        "{again:?}"
    );
    let update = storage.update_registration_token("abc", None, None).await;
    assert!(
        matches!(update, Err(StorageError::NotFound(_))),
        "{update:?}"
    );
}

pub async fn registration_token_allows_exactly_its_uses_under_concurrency(db: &TestDb) {
    let storage = db.connect().await;
    storage
        .create_registration_token(&invite("three", Some(3), None))
        .await
        .unwrap();
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let storage = storage.clone();
            tokio::spawn(async move { storage.consume_registration_token("three", 1_000).await })
        })
        .collect();
    let mut consumed = 0;
    for attempt in attempts {
        if attempt.await.expect("task").expect("storage") {
            consumed += 1;
        }
    }
    assert_eq!(consumed, 3, "exactly uses_allowed consumes succeed");
    let token = storage
        .get_registration_token("three")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((token.pending, token.completed), (0, 3));
    assert!(!token.is_valid_at(1_000));
}

pub async fn expired_or_unknown_registration_token_is_not_consumed(db: &TestDb) {
    let storage = db.connect().await;
    storage
        .create_registration_token(&invite("soon", None, Some(2_000)))
        .await
        .unwrap();
    assert!(
        storage
            .consume_registration_token("soon", 1_999)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .consume_registration_token("soon", 2_000)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .consume_registration_token("unknown", 0)
            .await
            .unwrap()
    );
    let token = storage
        .get_registration_token("soon")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.completed, 1);

    storage
        .create_registration_token(&invite("zero", Some(0), None))
        .await
        .unwrap();
    assert!(!storage.consume_registration_token("zero", 0).await.unwrap());
}

pub async fn registration_token_reservations_count_against_uses(db: &TestDb) {
    let storage = db.connect().await;
    storage
        .create_registration_token(&invite("two", Some(2), None))
        .await
        .unwrap();
    assert!(storage.reserve_registration_token("two", 0).await.unwrap());
    assert!(storage.reserve_registration_token("two", 0).await.unwrap());
    assert!(
        !storage.reserve_registration_token("two", 0).await.unwrap(),
        "both uses reserved"
    );
    assert!(!storage.consume_registration_token("two", 0).await.unwrap());

    storage
        .release_registration_token_reservation("two")
        .await
        .unwrap();
    storage
        .complete_registration_token_reservation("two")
        .await
        .unwrap();
    let token = storage
        .get_registration_token("two")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((token.pending, token.completed), (0, 1));
    let none_pending = storage.complete_registration_token_reservation("two").await;
    assert!(
        matches!(none_pending, Err(StorageError::NotFound(_))),
        "{none_pending:?}"
    );
    assert!(
        storage.consume_registration_token("two", 0).await.unwrap(),
        "released use is free"
    );
}
