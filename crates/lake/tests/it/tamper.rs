//! Each kind of tampering makes verification fail and names the object.

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use tarn_lake::verify::{ProblemKind, VerifyOptions, VerifyReport, verify};
use tarn_lake::{Lake, WrittenSnapshot, paths};
use tarn_model::ClusterName;
use tarn_trust::keys::SigningKeyPair;

use crate::backend::Backend;
use crate::suite::{populated, verify_with};

fn assert_problem(report: &VerifyReport, kind: ProblemKind, object: &str) {
    assert!(!report.ok());
    assert!(
        report.problems.iter().any(|p| p.kind == kind && p.object == object),
        "expected {kind:?} on {object}, got {:#?}",
        report.problems
    );
}

fn entry_path(cluster: &str, seq: u64) -> Path {
    paths::log_entry(&cluster.parse::<ClusterName>().unwrap(), seq)
}

async fn get(lake: &Lake, p: &Path) -> Vec<u8> {
    lake.store().get(p).await.unwrap().bytes().await.unwrap().to_vec()
}

async fn put(lake: &Lake, p: &Path, data: Vec<u8>) {
    lake.store().put(p, PutPayload::from(data)).await.unwrap();
}

async fn setup(b: Backend) -> Option<(crate::backend::TestLake, SigningKeyPair, Vec<WrittenSnapshot>)> {
    let t = b.open()?;
    let key = SigningKeyPair::generate();
    let written = populated(&t.lake, &key).await;
    let report = verify_with(&t.lake, &key).await;
    assert!(report.ok(), "clean lake must verify: {:#?}", report.problems);
    Some((t, key, written))
}

pub async fn modified_byte(b: Backend) {
    let Some((t, key, w)) = setup(b).await else { return };
    let p = Path::from(w[1].record.object_path.as_str());
    let mut data = get(&t.lake, &p).await;
    let mid = data.len() / 2;
    data[mid] ^= 0x01;
    put(&t.lake, &p, data).await;
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::DigestMismatch, p.as_ref());
}

pub async fn deleted_object(b: Backend) {
    let Some((t, key, w)) = setup(b).await else { return };
    let p = Path::from(w[2].record.object_path.as_str());
    t.lake.store().delete(&p).await.unwrap();
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::MissingObject, p.as_ref());
}

pub async fn deleted_log_entry(b: Backend) {
    let Some((t, key, w)) = setup(b).await else { return };
    let p = entry_path("a", 2);
    t.lake.store().delete(&p).await.unwrap();
    let r = verify_with(&t.lake, &key).await;
    assert_problem(&r, ProblemKind::MissingEntry, p.as_ref());
    // Its object is now unreferenced, too.
    assert_problem(&r, ProblemKind::Unreferenced, &w[1].record.object_path);
}

pub async fn reordered_entries(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    let (p2, p3) = (entry_path("a", 2), entry_path("a", 3));
    let (e2, e3) = (get(&t.lake, &p2).await, get(&t.lake, &p3).await);
    put(&t.lake, &p2, e3).await;
    put(&t.lake, &p3, e2).await;
    let r = verify_with(&t.lake, &key).await;
    assert_problem(&r, ProblemKind::MisplacedEntry, p2.as_ref());
    assert_problem(&r, ProblemKind::MisplacedEntry, p3.as_ref());
    assert_problem(&r, ProblemKind::BrokenChain, p2.as_ref());
}

pub async fn inserted_object(b: Backend) {
    let Some((t, key, w)) = setup(b).await else { return };
    let src = Path::from(w[0].record.object_path.as_str());
    // An id dated like the lake's real snapshots, so it cannot pass for a write in progress.
    let id = tarn_model::SnapshotId::new_at(crate::suite::t0());
    let forged = format!("evaluations/cluster=a/date=2026-03-01/{id}.parquet");
    put(&t.lake, &Path::from(forged.as_str()), get(&t.lake, &src).await).await;
    put(&t.lake, &Path::from("evaluations/cluster=a/notes.txt"), b"hello".to_vec()).await;
    let r = verify_with(&t.lake, &key).await;
    assert_problem(&r, ProblemKind::Unreferenced, &forged);
    assert_problem(&r, ProblemKind::UnexpectedObject, "evaluations/cluster=a/notes.txt");
}

pub async fn replayed_entry(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    // A validly signed old entry re-appended as the next position.
    let next = entry_path("a", 5);
    put(&t.lake, &next, get(&t.lake, &entry_path("a", 1)).await).await;
    let r = verify_with(&t.lake, &key).await;
    assert_problem(&r, ProblemKind::MisplacedEntry, next.as_ref());
    assert_problem(&r, ProblemKind::BrokenChain, next.as_ref());
    assert_problem(&r, ProblemKind::Replayed, next.as_ref());
}

pub async fn rolled_back_log(b: Backend) {
    let Some((t, key, w)) = setup(b).await else { return };
    let witness = verify_with(&t.lake, &key).await.witness;
    let last = entry_path("a", 4);

    // Rolling back the entry but leaving the object behind is visible without a witness.
    let entry = get(&t.lake, &last).await;
    t.lake.store().delete(&last).await.unwrap();
    let r = verify_with(&t.lake, &key).await;
    assert_problem(&r, ProblemKind::Unreferenced, &w[3].record.object_path);
    assert_problem(&r, ProblemKind::RolledBack, last.as_ref());

    // A careful rollback (entry, object and head hint) needs the auditor's witness.
    put(&t.lake, &last, entry).await;
    t.lake.store().delete(&last).await.unwrap();
    t.lake.store().delete(&Path::from(w[3].record.object_path.as_str())).await.unwrap();
    let hint = paths::head_hint(&"a".parse().unwrap());
    put(&t.lake, &hint, br#"{"seq":3}"#.to_vec()).await;
    let without = verify_with(&t.lake, &key).await;
    assert!(without.ok(), "indistinguishable from a log that never had entry 4: {:#?}", without.problems);
    let with =
        verify(&t.lake, &VerifyOptions { keys: vec![key.public()], witness: Some(witness), ..Default::default() })
            .await
            .unwrap();
    assert_problem(&with, ProblemKind::RolledBack, last.as_ref());
}

pub async fn bad_signature(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    let p = entry_path("b", 2);
    let mut entry: serde_json::Value = serde_json::from_slice(&get(&t.lake, &p).await).unwrap();
    let sig = entry["bundle"]["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if sig.starts_with('M') { "N" } else { "M" }, &sig[1..]);
    entry["bundle"]["dsseEnvelope"]["signatures"][0]["sig"] = flipped.into();
    put(&t.lake, &p, serde_json::to_vec_pretty(&entry).unwrap()).await;
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::BadSignature, p.as_ref());
}

pub async fn edited_record(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    let p = entry_path("a", 3);
    let mut entry: serde_json::Value = serde_json::from_slice(&get(&t.lake, &p).await).unwrap();
    entry["snapshot"]["status_counts"]["fail"] = 0.into();
    put(&t.lake, &p, serde_json::to_vec_pretty(&entry).unwrap()).await;
    let r = verify_with(&t.lake, &key).await;
    assert_problem(&r, ProblemKind::SignedContentMismatch, p.as_ref());
    assert_problem(&r, ProblemKind::BrokenChain, entry_path("a", 4).as_ref());
}

pub async fn wrong_key(b: Backend) {
    let Some((t, _, _)) = setup(b).await else { return };
    let r = verify_with(&t.lake, &SigningKeyPair::generate()).await;
    assert_eq!(r.problems.iter().filter(|p| p.kind == ProblemKind::BadSignature).count(), 6);
}

pub async fn appended_to_newest_entry(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    // The newest entry has no successor whose chain link would break.
    let p = entry_path("a", 4);
    let mut v: serde_json::Value = serde_json::from_slice(&get(&t.lake, &p).await).unwrap();
    v["note"] = "approved by auditor".into();
    put(&t.lake, &p, serde_json::to_vec_pretty(&v).unwrap()).await;
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::CorruptEntry, p.as_ref());

    let mut bytes = get(&t.lake, &entry_path("b", 2)).await;
    bytes.extend_from_slice(b"\n");
    put(&t.lake, &entry_path("b", 2), bytes).await;
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::CorruptEntry, entry_path("b", 2).as_ref());
}

pub async fn unsigned_bundle_fields(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    let p = entry_path("a", 4);
    let mut v: serde_json::Value = serde_json::from_slice(&get(&t.lake, &p).await).unwrap();
    v["bundle"]["verificationMaterial"]["tlogEntries"] = serde_json::json!([{"logIndex": "1"}]);
    put(&t.lake, &p, serde_json::to_vec_pretty(&v).unwrap()).await;
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::SignedContentMismatch, p.as_ref());
}

pub async fn entry_from_another_cluster(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    let next = entry_path("a", 5);
    put(&t.lake, &next, get(&t.lake, &entry_path("b", 2)).await).await;
    let r = verify_with(&t.lake, &key).await;
    assert_problem(&r, ProblemKind::MisplacedEntry, next.as_ref());
    // The copy and the original name the same snapshot; whichever is read second is flagged.
    assert!(r.problems.iter().any(|p| p.kind == ProblemKind::Replayed), "{:#?}", r.problems);
}

pub async fn log_from_another_lake(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    // A second lake signed with the same key; its cluster `c` log is copied over wholesale.
    let other = Lake::open("memory://", &tarn_lake::StoreOptions::default()).unwrap();
    let w = crate::suite::write(&other, &key, "c", 0).await;
    let entry = entry_path("c", 1);
    put(&t.lake, &entry, get(&other, &entry).await).await;
    let obj = Path::from(w.record.object_path.as_str());
    put(&t.lake, &obj, get(&other, &obj).await).await;
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::MisplacedEntry, entry.as_ref());
}

pub async fn garbled_head_hint(b: Backend) {
    let Some((t, key, _)) = setup(b).await else { return };
    let hint = paths::head_hint(&"a".parse().unwrap());
    put(&t.lake, &hint, b"not json".to_vec()).await;
    assert_problem(&verify_with(&t.lake, &key).await, ProblemKind::UnexpectedObject, hint.as_ref());
}
