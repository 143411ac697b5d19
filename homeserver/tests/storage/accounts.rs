//! Users, devices and access tokens.

use hearth::storage::{NewAccessToken, NewUser, StorageError, TokenHash};

use super::harness::{TestDb, token_for, user};

pub async fn creates_and_reads_user(db: &TestDb) {
    let storage = db.connect().await;
    let created = storage
        .create_user(&user("@alice:hearth.test"))
        .await
        .unwrap();
    let fetched = storage
        .get_user("@alice:hearth.test")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(created, fetched);
    assert_eq!(fetched.user_id, "@alice:hearth.test");
    assert_eq!(fetched.created_ts, 1_700_000_000_000);
    assert_eq!(fetched.displayname.as_deref(), Some("Alice"));
    assert!(fetched.password_hash.is_some());
    assert!(!fetched.is_admin && !fetched.is_guest && !fetched.deactivated);
    assert_eq!(fetched.avatar_url, None);
    assert_eq!(storage.get_user("@nobody:hearth.test").await.unwrap(), None);
    assert_eq!(storage.count_users().await.unwrap(), 1);
}

pub async fn rejects_duplicate_user_with_conflict(db: &TestDb) {
    let storage = db.connect().await;
    storage
        .create_user(&user("@alice:hearth.test"))
        .await
        .unwrap();
    let again = NewUser {
        displayname: Some("Impostor"),
        ..user("@alice:hearth.test")
    };
    let err = storage.create_user(&again).await.expect_err("duplicate");
    assert!(matches!(err, StorageError::Conflict("user")), "{err:?}");
    let kept = storage
        .get_user("@alice:hearth.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.displayname.as_deref(), Some("Alice"));
}

pub async fn lists_users_in_pages(db: &TestDb) {
    let storage = db.connect().await;
    for name in ["@carol:h", "@alice:h", "@bob:h", "@dave:h", "@erin:h"] {
        storage.create_user(&user(name)).await.unwrap();
    }
    let first = storage.list_users(None, 2).await.unwrap();
    let ids = |users: &[hearth::storage::User]| -> Vec<String> {
        users.iter().map(|u| u.user_id.clone()).collect()
    };
    assert_eq!(ids(&first), ["@alice:h", "@bob:h"]);
    let second = storage.list_users(Some("@bob:h"), 2).await.unwrap();
    assert_eq!(ids(&second), ["@carol:h", "@dave:h"]);
    let last = storage.list_users(Some("@dave:h"), 2).await.unwrap();
    assert_eq!(ids(&last), ["@erin:h"]);
    assert!(
        storage
            .list_users(Some("@erin:h"), 2)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn updates_password_admin_flag_and_profile(db: &TestDb) {
    let storage = db.connect().await;
    let id = "@alice:hearth.test";
    storage.create_user(&user(id)).await.unwrap();
    storage
        .set_password_hash(id, Some("$argon2id$new"))
        .await
        .unwrap();
    storage.set_admin(id, true).await.unwrap();
    storage.set_displayname(id, None).await.unwrap();
    storage
        .set_avatar_url(id, Some("mxc://hearth.test/abc"))
        .await
        .unwrap();
    let u = storage.get_user(id).await.unwrap().unwrap();
    assert_eq!(u.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(u.is_admin);
    assert_eq!(u.displayname, None);
    assert_eq!(u.avatar_url.as_deref(), Some("mxc://hearth.test/abc"));
    storage.set_password_hash(id, None).await.unwrap();
    storage.set_admin(id, false).await.unwrap();
    let u = storage.get_user(id).await.unwrap().unwrap();
    assert_eq!(u.password_hash, None);
    assert!(!u.is_admin);
}

pub async fn updates_of_unknown_user_report_not_found(db: &TestDb) {
    let storage = db.connect().await;
    let ghost = "@ghost:hearth.test";
    let results = [
        storage.set_password_hash(ghost, Some("x")).await,
        storage.set_admin(ghost, true).await,
        storage.set_displayname(ghost, Some("Boo")).await,
        storage.set_avatar_url(ghost, None).await,
        storage.deactivate_user(ghost).await,
    ];
    for result in results {
        assert!(
            matches!(result, Err(StorageError::NotFound("user"))),
            "{result:?}"
        );
    }
}

pub async fn deactivation_logs_user_out_everywhere(db: &TestDb) {
    let storage = db.connect().await;
    let id = "@alice:hearth.test";
    storage.create_user(&user(id)).await.unwrap();
    storage
        .create_user(&user("@bob:hearth.test"))
        .await
        .unwrap();
    storage.create_device(id, "PHONE", None, 1).await.unwrap();
    storage
        .create_device("@bob:hearth.test", "BOBPC", None, 1)
        .await
        .unwrap();
    storage
        .insert_access_token(&token_for("a1", id, Some("PHONE")))
        .await
        .unwrap();
    storage
        .insert_access_token(&token_for("a2", id, None))
        .await
        .unwrap();
    storage
        .insert_access_token(&token_for("b1", "@bob:hearth.test", Some("BOBPC")))
        .await
        .unwrap();

    storage.deactivate_user(id).await.unwrap();
    storage
        .deactivate_user(id)
        .await
        .expect("deactivating twice is harmless");

    let u = storage.get_user(id).await.unwrap().expect("row is kept");
    assert!(u.deactivated);
    assert_eq!(u.password_hash, None);
    assert!(storage.list_devices(id).await.unwrap().is_empty());
    for token in ["a1", "a2"] {
        assert_eq!(
            storage
                .lookup_access_token(&TokenHash::of(token))
                .await
                .unwrap(),
            None
        );
    }
    assert!(
        storage
            .lookup_access_token(&TokenHash::of("b1"))
            .await
            .unwrap()
            .is_some()
    );
    let err = storage
        .create_user(&user(id))
        .await
        .expect_err("ID is never reused");
    assert!(matches!(err, StorageError::Conflict("user")));
}

pub async fn creates_lists_renames_and_deletes_devices(db: &TestDb) {
    let storage = db.connect().await;
    let id = "@alice:hearth.test";
    storage.create_user(&user(id)).await.unwrap();
    let phone = storage
        .create_device(id, "PHONE", Some("Phone"), 5)
        .await
        .unwrap();
    assert_eq!((phone.created_ts, phone.last_seen_ts), (5, None));
    storage.create_device(id, "LAPTOP", None, 6).await.unwrap();

    let listed: Vec<String> = storage
        .list_devices(id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    assert_eq!(listed, ["LAPTOP", "PHONE"]);

    storage
        .set_device_display_name(id, "LAPTOP", Some("Work"))
        .await
        .unwrap();
    storage
        .record_device_seen(id, "LAPTOP", 99, Some("192.0.2.1"))
        .await
        .unwrap();
    let laptop = storage.get_device(id, "LAPTOP").await.unwrap().unwrap();
    assert_eq!(laptop.display_name.as_deref(), Some("Work"));
    assert_eq!(laptop.last_seen_ts, Some(99));
    assert_eq!(laptop.last_seen_ip.as_deref(), Some("192.0.2.1"));

    storage.delete_device(id, "PHONE").await.unwrap();
    assert_eq!(storage.get_device(id, "PHONE").await.unwrap(), None);
    let again = storage.delete_device(id, "PHONE").await;
    assert!(
        matches!(again, Err(StorageError::NotFound("device"))),
        "{again:?}"
    );
    let rename = storage.set_device_display_name(id, "PHONE", None).await;
    assert!(
        matches!(rename, Err(StorageError::NotFound("device"))),
        "{rename:?}"
    );
}

pub async fn rejects_duplicate_device_and_device_of_unknown_user(db: &TestDb) {
    let storage = db.connect().await;
    let id = "@alice:hearth.test";
    storage.create_user(&user(id)).await.unwrap();
    storage.create_device(id, "PHONE", None, 1).await.unwrap();
    let dup = storage.create_device(id, "PHONE", None, 2).await;
    assert!(
        matches!(dup, Err(StorageError::Conflict("device"))),
        "{dup:?}"
    );
    let orphan = storage
        .create_device("@ghost:hearth.test", "X", None, 1)
        .await;
    assert!(
        matches!(orphan, Err(StorageError::NotFound("user"))),
        "{orphan:?}"
    );
    // The same device ID may exist for another user.
    storage
        .create_user(&user("@bob:hearth.test"))
        .await
        .unwrap();
    storage
        .create_device("@bob:hearth.test", "PHONE", None, 1)
        .await
        .unwrap();
}

pub async fn looks_up_access_token_by_hash_with_owner_flags(db: &TestDb) {
    let storage = db.connect().await;
    let id = "@alice:hearth.test";
    storage
        .create_user(&NewUser {
            is_admin: true,
            ..user(id)
        })
        .await
        .unwrap();
    storage.create_device(id, "PHONE", None, 1).await.unwrap();
    let new = NewAccessToken {
        expires_ts: Some(5_000),
        ..token_for("secret-token", id, Some("PHONE"))
    };
    storage.insert_access_token(&new).await.unwrap();

    let found = storage
        .lookup_access_token(&TokenHash::of("secret-token"))
        .await
        .unwrap()
        .expect("token found by the hash of the presented string");
    assert_eq!(found.user_id, id);
    assert_eq!(found.device_id.as_deref(), Some("PHONE"));
    assert_eq!((found.created_ts, found.expires_ts), (10, Some(5_000)));
    assert!(found.is_admin && !found.is_guest && !found.deactivated);
    assert!(!found.is_expired_at(4_999) && found.is_expired_at(5_000));

    assert_eq!(
        storage
            .lookup_access_token(&TokenHash::of("secret-tokeN"))
            .await
            .unwrap(),
        None
    );
    let dup = storage.insert_access_token(&new).await;
    assert!(
        matches!(dup, Err(StorageError::Conflict("access token"))),
        "{dup:?}"
    );
    let orphan = storage
        .insert_access_token(&token_for("x", id, Some("NO_SUCH_DEVICE")))
        .await;
    assert!(
        matches!(orphan, Err(StorageError::NotFound(_))),
        "{orphan:?}"
    );
}

pub async fn deletes_access_tokens_by_token_user_and_device(db: &TestDb) {
    let storage = db.connect().await;
    let id = "@alice:hearth.test";
    storage.create_user(&user(id)).await.unwrap();
    storage.create_device(id, "A", None, 1).await.unwrap();
    storage.create_device(id, "B", None, 1).await.unwrap();
    for (token, device) in [("t1", "A"), ("t2", "A"), ("t3", "B"), ("t4", "B")] {
        storage
            .insert_access_token(&token_for(token, id, Some(device)))
            .await
            .unwrap();
    }
    assert!(
        storage
            .delete_access_token(&TokenHash::of("t1"))
            .await
            .unwrap()
    );
    assert!(
        !storage
            .delete_access_token(&TokenHash::of("t1"))
            .await
            .unwrap()
    );
    assert_eq!(
        storage
            .delete_access_tokens_for_device(id, "A")
            .await
            .unwrap(),
        1
    );
    assert!(
        storage.get_device(id, "A").await.unwrap().is_some(),
        "device itself stays"
    );
    assert_eq!(storage.delete_access_tokens_for_user(id).await.unwrap(), 2);
    assert_eq!(
        storage
            .lookup_access_token(&TokenHash::of("t3"))
            .await
            .unwrap(),
        None
    );
}

pub async fn deleting_device_deletes_its_tokens(db: &TestDb) {
    let storage = db.connect().await;
    let id = "@alice:hearth.test";
    storage.create_user(&user(id)).await.unwrap();
    storage.create_device(id, "A", None, 1).await.unwrap();
    storage.create_device(id, "B", None, 1).await.unwrap();
    storage
        .insert_access_token(&token_for("ta", id, Some("A")))
        .await
        .unwrap();
    storage
        .insert_access_token(&token_for("tb", id, Some("B")))
        .await
        .unwrap();
    storage.delete_device(id, "A").await.unwrap();
    assert_eq!(
        storage
            .lookup_access_token(&TokenHash::of("ta"))
            .await
            .unwrap(),
        None
    );
    assert!(
        storage
            .lookup_access_token(&TokenHash::of("tb"))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn concurrent_writes_all_succeed(db: &TestDb) {
    let storage = db.connect().await;
    let writers: Vec<_> = (0..32)
        .map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move {
                let id = format!("@user{i}:hearth.test");
                storage.create_user(&user(&id)).await?;
                storage.create_device(&id, "D", None, 1).await?;
                storage.get_user(&id).await
            })
        })
        .collect();
    for writer in writers {
        assert!(
            writer
                .await
                .expect("task")
                .expect("write succeeds")
                .is_some()
        );
    }
    assert_eq!(storage.count_users().await.unwrap(), 32);
}
