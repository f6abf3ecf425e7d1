//! Conformance of [`Objects`] on every engine: conditions, versions, listing, caps, restarts.

use bytes::Bytes;
use hubgate_storage::{
    Error, MAX_OBJECT_KEY_BYTES, MAX_OBJECT_LIST, MAX_OBJECT_VALUE_BYTES, Precondition,
    SharedStorage, StorageConfig, StorageUrl, open,
};
use tempfile::TempDir;

fn engines() -> Vec<(&'static str, SharedStorage, Option<TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sled = open(&StorageConfig::new(StorageUrl::Sled(dir.path().join("d")))).unwrap();
    let memory = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    vec![("memory", memory, None), ("sled", sled, Some(dir))]
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn conditions_decide_every_write_and_versions_never_repeat() {
    for (name, s, _dir) in engines() {
        assert_eq!(s.object(b"k").await.unwrap(), None, "{name}");
        assert_eq!(
            s.put_object(b"k", b("x"), Precondition::Present)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.put_object(b"k", b("x"), Precondition::Version(1))
                .await
                .unwrap(),
            None
        );
        let v1 = s
            .put_object(b"k", b("one"), Precondition::Absent)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.put_object(b"k", b("x"), Precondition::Absent)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.put_object(b"k", b("x"), Precondition::NotVersion(v1))
                .await
                .unwrap(),
            None
        );
        let v2 = s
            .put_object(b"k", b("two"), Precondition::Version(v1))
            .await
            .unwrap()
            .unwrap();
        assert!(v2 > v1, "{name}");
        assert_eq!(
            s.put_object(b"k", b("x"), Precondition::Version(v1))
                .await
                .unwrap(),
            None,
            "stale version"
        );
        let got = s.object(b"k").await.unwrap().unwrap();
        assert_eq!((got.value, got.version), (b("two"), v2), "{name}");
        // Same bytes again: still a new version.
        let v3 = s
            .put_object(b"k", b("two"), Precondition::Any)
            .await
            .unwrap()
            .unwrap();
        assert!(v3 > v2);
        assert!(
            !s.delete_object(b"k", Precondition::Version(v2))
                .await
                .unwrap()
        );
        assert!(
            s.delete_object(b"k", Precondition::Version(v3))
                .await
                .unwrap()
        );
        assert!(
            !s.delete_object(b"k", Precondition::Any).await.unwrap(),
            "already gone"
        );
        // Recreated after a delete: a version the old one never had.
        let v4 = s
            .put_object(b"k", b("again"), Precondition::Absent)
            .await
            .unwrap()
            .unwrap();
        assert!(v4 > v3);
        assert_eq!(
            s.put_object(b"k", b("x"), Precondition::Version(v1))
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn racing_writers_with_one_version_have_exactly_one_winner() {
    for (name, s, _dir) in engines() {
        let v = s
            .put_object(b"race", b("0"), Precondition::Any)
            .await
            .unwrap()
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.put_object(b"race", b(&i.to_string()), Precondition::Version(v))
                    .await
                    .unwrap()
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += t.await.unwrap().is_some() as usize;
        }
        assert_eq!(winners, 1, "{name}");
    }
}

#[tokio::test]
async fn listing_is_ordered_by_key_within_the_prefix_from_the_start_key() {
    for (name, s, _dir) in engines() {
        for key in ["a/2", "a/10", "a/1", "b/1", "a", "a/3"] {
            s.put_object(key.as_bytes(), b(key), Precondition::Any)
                .await
                .unwrap();
        }
        let keys = |list: Vec<(Bytes, _)>| -> Vec<String> {
            list.into_iter()
                .map(|(k, _)| String::from_utf8(k.to_vec()).unwrap())
                .collect()
        };
        assert_eq!(
            keys(s.list_objects(b"a/", b"", 100).await.unwrap()),
            ["a/1", "a/10", "a/2", "a/3"],
            "{name}"
        );
        assert_eq!(
            keys(s.list_objects(b"a/", b"a/10", 2).await.unwrap()),
            ["a/10", "a/2"]
        );
        assert_eq!(
            keys(s.list_objects(b"a/", b"a/3\0", 10).await.unwrap()),
            Vec::<String>::new()
        );
        assert_eq!(keys(s.list_objects(b"", b"", 100).await.unwrap()).len(), 6);
        let (_, first) = &s.list_objects(b"b/", b"", 1).await.unwrap()[0];
        assert_eq!(first.value, b("b/1"));
    }
}

#[tokio::test]
async fn sizes_are_capped() {
    for (name, s, _dir) in engines() {
        let long = vec![b'k'; MAX_OBJECT_KEY_BYTES + 1];
        let err = s
            .put_object(&long, b("x"), Precondition::Any)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ObjectTooLarge { what: "key", .. }),
            "{name}: {err}"
        );
        assert!(s.object(&long).await.is_err());
        s.put_object(&long[1..], b("x"), Precondition::Any)
            .await
            .unwrap();
        let big = Bytes::from(vec![0u8; MAX_OBJECT_VALUE_BYTES + 1]);
        let err = s
            .put_object(b"k", big.clone(), Precondition::Any)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ObjectTooLarge { what: "value", .. }),
            "{name}: {err}"
        );
        s.put_object(b"k", big.slice(1..), Precondition::Any)
            .await
            .unwrap();
        for i in 0..MAX_OBJECT_LIST + 3 {
            s.put_object(
                format!("many/{i:05}").as_bytes(),
                Bytes::new(),
                Precondition::Any,
            )
            .await
            .unwrap();
        }
        assert_eq!(
            s.list_objects(b"many/", b"", usize::MAX)
                .await
                .unwrap()
                .len(),
            MAX_OBJECT_LIST
        );
    }
}

#[tokio::test]
async fn sled_objects_survive_a_reopen_and_versions_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig::new(StorageUrl::Sled(dir.path().join("d")));
    let s = open(&config).unwrap();
    let v = s
        .put_object(b"c/x", b("kept"), Precondition::Absent)
        .await
        .unwrap()
        .unwrap();
    s.put_object(b"c/gone", b("g"), Precondition::Absent)
        .await
        .unwrap();
    assert!(s.delete_object(b"c/gone", Precondition::Any).await.unwrap());
    drop(s);
    let s = open(&config).unwrap();
    let got = s.object(b"c/x").await.unwrap().unwrap();
    assert_eq!((got.value, got.version), (b("kept"), v));
    assert_eq!(s.object(b"c/gone").await.unwrap(), None);
    let next = s
        .put_object(b"c/x", b("new"), Precondition::Version(v))
        .await
        .unwrap()
        .unwrap();
    assert!(next > v);
    assert_eq!(s.list_objects(b"c/", b"", 10).await.unwrap().len(), 1);
}
