//! Cost of signing and verifying a typical AMP message through amp-core versus bare
//! ed25519-dalek on the same canonical bytes: shows what the canonical payload, hashing and the
//! strict checks add on top of the curve arithmetic.

use amp_core::{
    PayloadProfile, Priority, SecretKey, SigningFields, Strictness, canonical_string, payload_hash,
    sign_fields, verify,
};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, Verifier as _};
use std::hint::black_box;

fn typical_payload() -> serde_json::Value {
    serde_json::json!({
        "type": "request",
        "message": "Please review PR #42 and confirm the deployment window for Friday.",
        "context": {
            "repo": "acme/backend",
            "pr": 42,
            "labels": ["deploy", "review"],
            "window": {"start": "2026-01-02T18:00:00Z", "end": "2026-01-02T20:00:00Z"}
        }
    })
}

fn bench(c: &mut Criterion) {
    let key = SecretKey::from_seed([0x11; 32]);
    let pk = key.public_key();
    let payload = typical_payload();
    let from = "alice@acme.crabmail.ai";
    let to = "bob@partner.crabmail.ai";
    let subject = "PR #42 review";

    let hash = payload_hash(&payload, PayloadProfile::Sorted).expect("object payload");
    let fields = SigningFields {
        from,
        to,
        subject,
        priority: Priority::High,
        in_reply_to: None,
        payload_hash: &hash,
    };
    let canonical = canonical_string(&fields);
    let sig_text = sign_fields(&key, &fields).to_base64();

    c.bench_function("amp-core sign (hash+canonical+sign)", |b| {
        b.iter(|| {
            let h = payload_hash(black_box(&payload), PayloadProfile::Sorted).expect("object");
            let f = SigningFields {
                payload_hash: &h,
                ..fields
            };
            black_box(sign_fields(&key, &f).to_base64())
        })
    });
    c.bench_function("amp-core verify strict (hash+canonical+verify)", |b| {
        b.iter(|| {
            let h = payload_hash(black_box(&payload), PayloadProfile::Sorted).expect("object");
            let f = SigningFields {
                payload_hash: &h,
                ..fields
            };
            verify(
                &pk,
                canonical_string(&f).as_bytes(),
                black_box(&sig_text),
                Strictness::Strict,
            )
            .expect("valid")
        })
    });
    c.bench_function("amp-core verify lax (canonical bytes given)", |b| {
        b.iter(|| {
            verify(
                &pk,
                canonical.as_bytes(),
                black_box(&sig_text),
                Strictness::Lax,
            )
            .expect("valid")
        })
    });
    c.bench_function("amp-core payload_hash sorted", |b| {
        b.iter(|| payload_hash(black_box(&payload), PayloadProfile::Sorted).expect("object"))
    });

    let dalek_key = ed25519_dalek::SigningKey::from_bytes(&[0x11; 32]);
    let dalek_pk = dalek_key.verifying_key();
    let dalek_sig = dalek_key.sign(canonical.as_bytes());
    c.bench_function("bare dalek sign (canonical bytes)", |b| {
        b.iter(|| black_box(dalek_key.sign(black_box(canonical.as_bytes()))))
    });
    c.bench_function("bare dalek verify (canonical bytes)", |b| {
        b.iter(|| {
            dalek_pk
                .verify(black_box(canonical.as_bytes()), &dalek_sig)
                .expect("valid")
        })
    });
    c.bench_function("bare dalek verify_strict (canonical bytes)", |b| {
        b.iter(|| {
            dalek_pk
                .verify_strict(black_box(canonical.as_bytes()), &dalek_sig)
                .expect("valid")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
