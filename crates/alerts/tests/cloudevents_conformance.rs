//! The CloudEvents maintainers' JSON-format conformance vectors (fixtures/cloudevents): every
//! valid event and batch must pass Tarn's validator, every invalid one must be rejected.

use std::path::PathBuf;

use serde_json::Value;
use tarn_alerts::event::{validate, validate_batch};

fn load(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cloudevents/format-json").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

#[test]
fn format_vectors_agree() {
    let mut agree = 0;
    let mut total = 0;
    let mut wrong = Vec::new();
    for (file, valid) in [
        ("valid-events.json", true),
        ("invalid-events.json", false),
        ("valid-batches.json", true),
        ("invalid-batches.json", false),
    ] {
        let doc = load(file);
        for t in doc["tests"].as_array().expect("tests") {
            total += 1;
            let id = t["id"].as_str().unwrap_or("?");
            let result = match (t.get("event"), t.get("batch")) {
                (Some(e), _) => validate(e),
                (None, Some(b)) => validate_batch(b),
                _ => panic!("{file} {id}: neither event nor batch"),
            };
            // A valid single event must also carry the golden sample's id.
            let sample_ok = match (valid, t.get("event"), t["sampleId"].as_str()) {
                (true, Some(e), Some(sample)) => e["id"].as_str() == Some(sample),
                _ => true,
            };
            if result.is_ok() == valid && sample_ok {
                agree += 1;
            } else {
                wrong
                    .push(format!("{file} {id}: expected {}, got {result:?}", if valid { "valid" } else { "invalid" }));
            }
        }
    }
    println!("CloudEvents JSON format conformance: {agree}/{total} vectors agree");
    assert_eq!(total, 43, "the fixture set changed");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
