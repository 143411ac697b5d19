//! Per-user sync data: account data, filters, receipts, presence and their stream positions.

use hearth::storage::{NewReceipt, StorageError};

use super::harness::{TestDb, user};

const ALICE: &str = "@alice:hearth.test";
const ROOM: &str = "!room:hearth.test";

pub async fn account_data_round_trips_and_advances_its_stream(db: &TestDb) {
    let storage = db.connect().await;
    storage.create_user(&user(ALICE)).await.unwrap();
    let start = storage.stream_positions().await.unwrap();
    assert_eq!(start.account_data, 0);

    let first = storage
        .set_account_data(ALICE, None, "m.direct", r#"{"@bob:x":["!a:x"]}"#)
        .await
        .unwrap();
    let second = storage
        .set_account_data(ALICE, Some(ROOM), "m.tag", r#"{"tags":{}}"#)
        .await
        .unwrap();
    assert!(second > first && first > 0);
    assert_eq!(
        storage
            .get_account_data(ALICE, None, "m.direct")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"@bob:x":["!a:x"]}"#)
    );
    assert_eq!(
        storage
            .get_account_data(ALICE, None, "m.tag")
            .await
            .unwrap(),
        None,
        "global and room data are separate"
    );

    let replaced = storage
        .set_account_data(ALICE, None, "m.direct", "{}")
        .await
        .unwrap();
    let all = storage
        .account_data_between(ALICE, 0, replaced)
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "a replaced entry appears once: {all:?}");
    assert_eq!(all[0].room_id.as_deref(), Some(ROOM));
    assert_eq!(all[1].data_type, "m.direct");
    assert_eq!(all[1].content, "{}");
    let since_second = storage
        .account_data_between(ALICE, second, replaced)
        .await
        .unwrap();
    assert_eq!(since_second.len(), 1);
    assert_eq!(since_second[0].stream_id, replaced);
    assert_eq!(
        storage.stream_positions().await.unwrap().account_data,
        replaced
    );

    let err = storage
        .set_account_data("@nobody:hearth.test", None, "m.direct", "{}")
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StorageError::NotFound("user")), "{err:?}");
}

pub async fn filters_get_increasing_ids_per_user(db: &TestDb) {
    let storage = db.connect().await;
    storage.create_user(&user(ALICE)).await.unwrap();
    storage
        .create_user(&user("@bob:hearth.test"))
        .await
        .unwrap();
    assert_eq!(storage.create_filter(ALICE, "{}").await.unwrap(), 0);
    assert_eq!(
        storage
            .create_filter(ALICE, r#"{"room":{}}"#)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        storage
            .create_filter("@bob:hearth.test", "{}")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        storage.get_filter(ALICE, 1).await.unwrap().as_deref(),
        Some(r#"{"room":{}}"#)
    );
    assert_eq!(storage.get_filter(ALICE, 7).await.unwrap(), None);
    assert_eq!(
        storage.get_filter("@bob:hearth.test", 1).await.unwrap(),
        None
    );
}

pub async fn receipts_replace_per_user_type_and_thread(db: &TestDb) {
    let storage = db.connect().await;
    let receipt = |event_id, thread_id| NewReceipt {
        room_id: ROOM,
        receipt_type: "m.read",
        user_id: ALICE,
        thread_id,
        event_id,
        ts: 5,
    };
    let first = storage.set_receipt(&receipt("$a", None)).await.unwrap();
    let second = storage.set_receipt(&receipt("$b", None)).await.unwrap();
    let threaded = storage
        .set_receipt(&receipt("$c", Some("$root")))
        .await
        .unwrap();
    assert!(first < second && second < threaded);
    let mine = storage.user_receipts_in_room(ROOM, ALICE).await.unwrap();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert_eq!(mine[0].event_id, "$b");
    assert_eq!(mine[0].thread_id, "");
    assert_eq!(mine[1].thread_id, "$root");
    let news = storage
        .room_receipts_between(ROOM, first, threaded)
        .await
        .unwrap();
    assert_eq!(news.len(), 2);
    assert!(
        storage
            .room_receipts_between("!other:hearth.test", 0, threaded)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(storage.stream_positions().await.unwrap().receipts, threaded);
}

pub async fn presence_is_replaced_and_streamed(db: &TestDb) {
    let storage = db.connect().await;
    storage.create_user(&user(ALICE)).await.unwrap();
    assert_eq!(storage.get_presence(ALICE).await.unwrap(), None);
    let first = storage
        .set_presence(ALICE, "online", Some("lunch"), 100)
        .await
        .unwrap();
    let second = storage
        .set_presence(ALICE, "unavailable", None, 200)
        .await
        .unwrap();
    let stored = storage.get_presence(ALICE).await.unwrap().expect("set");
    assert_eq!(stored.state, "unavailable");
    assert_eq!(stored.status_msg, None);
    assert_eq!(stored.last_active_ts, 200);
    assert_eq!(stored.stream_id, second);
    assert_eq!(storage.presence_between(0, second).await.unwrap().len(), 1);
    assert!(
        storage
            .presence_between(second, second)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(first < second);
    assert!(
        storage
            .set_presence(ALICE, "dancing", None, 300)
            .await
            .is_err(),
        "only the spec's states are stored"
    );
}
