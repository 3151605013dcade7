//! Signing, keys and strict/lax verification (SIG-007, SIG-010, SIG-011, C-05, C-08, C-19, C-56).

use amp_core::signing::{verify_fields, verify_signature};
use amp_core::{
    FingerprintProfile, KeyError, Leniency, PayloadHash, PayloadProfile, Priority, PublicKey,
    SecretKey, Signature, SignatureTextError, SigningFields, Strictness, VerifyError,
    canonical_string, canonical_string_is_ambiguous, hash_canonical_bytes, parse_signature_text,
    parse_signature_text_lax, payload_hash, sign_fields, verify,
};
use base64::Engine as _;
use proptest::prelude::*;

const RFC_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC_PK: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

/// The group order L, little-endian.
const L_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn seed(hex_seed: &str) -> [u8; 32] {
    let mut s = [0u8; 32];
    hex::decode_to_slice(hex_seed, &mut s).unwrap();
    s
}

fn rfc_key() -> SecretKey {
    SecretKey::from_seed(seed(RFC_SEED))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// S + L: the malleated twin of a valid signature.
fn add_l(sig: &Signature) -> Signature {
    let mut b = sig.to_bytes();
    let mut carry = 0u16;
    for i in 0..32 {
        let v = b[32 + i] as u16 + L_LE[i] as u16 + carry;
        b[32 + i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    Signature::from_bytes(b)
}

fn identity_key() -> PublicKey {
    let mut b = [0u8; 32];
    b[0] = 1;
    PublicKey::from_bytes(&b).unwrap()
}

#[test]
fn rfc8032_test_vector_1() {
    let key = rfc_key();
    assert_eq!(key.public_key().to_hex(), RFC_PK);
    let sig = key.sign(b"");
    assert_eq!(hex::encode(sig.to_bytes()), RFC_SIG);
    let pk = PublicKey::from_hex(RFC_PK).unwrap();
    for s in Strictness::ALL {
        assert_eq!(verify(&pk, b"", &sig.to_base64(), s), Ok(()));
        assert_eq!(
            verify(&pk, b"x", &sig.to_base64(), s),
            Err(VerifyError::Mismatch)
        );
    }
}

#[test]
fn secret_key_debug_is_redacted_and_pkcs8_roundtrips() {
    let key = rfc_key();
    let dbg = format!("{key:?}");
    assert!(!dbg.contains("9d61") && dbg.contains("redacted"));
    let pem = key.to_pkcs8_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let back = SecretKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    assert_eq!(
        SecretKey::from_pkcs8_pem(&key.public_key().to_spki_pem()).unwrap_err(),
        KeyError::PublicKeyGiven
    );
    assert!(matches!(
        SecretKey::from_pkcs8_pem("garbage"),
        Err(KeyError::BadPem { .. })
    ));
}

#[test]
fn generated_keys_differ_and_work() {
    let a = SecretKey::generate();
    let b = SecretKey::try_generate().unwrap();
    assert_ne!(a.public_key(), b.public_key());
    let sig = a.sign(b"m");
    assert!(verify(&a.public_key(), b"m", &sig.to_base64(), Strictness::Strict).is_ok());
    assert_eq!(
        verify(&b.public_key(), b"m", &sig.to_base64(), Strictness::Strict),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn spki_pem_roundtrip_and_known_encoding() {
    let pk = rfc_key().public_key();
    let pem = pk.to_spki_pem();
    // 12-byte RFC 8410 prefix + key, as `openssl pkey -pubout` prints it.
    let mut der = hex::decode("302a300506032b6570032100").unwrap();
    der.extend_from_slice(pk.as_bytes());
    assert_eq!(pk.to_spki_der().as_slice(), der.as_slice());
    assert_eq!(
        pem,
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64(&der)
        )
    );
    assert_eq!(PublicKey::from_spki_pem(&pem), Ok(pk));
    // CRLF line endings and surrounding whitespace are fine.
    let crlf = format!("\r\n  {}", pem.replace('\n', "\r\n"));
    assert_eq!(PublicKey::from_spki_pem(&crlf), Ok(pk));
}

#[test]
fn spki_pem_rejections() {
    let key = rfc_key();
    // A private key is refused and never echoed.
    let err = PublicKey::from_spki_pem(&key.to_pkcs8_pem()).unwrap_err();
    assert_eq!(err, KeyError::PrivateKeyGiven);
    assert!(!err.to_string().contains("MC4CAQAw"));
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    assert_eq!(
        PublicKey::from_spki_pem(openssh),
        Err(KeyError::PrivateKeyGiven)
    );

    // Small-order keys.
    let weak = identity_key();
    assert!(weak.is_weak());
    assert_eq!(
        PublicKey::from_spki_pem(&weak.to_spki_pem()),
        Err(KeyError::SmallOrder)
    );
    assert_eq!(
        PublicKey::spki_pem_raw_bytes(&weak.to_spki_pem()),
        Ok(*weak.as_bytes())
    );

    // Wrong algorithm: X25519 (1.3.101.110) SPKI.
    let mut der = hex::decode("302a300506032b656e032100").unwrap();
    der.extend_from_slice(&[9u8; 32]);
    let x25519 = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(&der)
    );
    assert_eq!(
        PublicKey::from_spki_pem(&x25519),
        Err(KeyError::WrongAlgorithm {
            oid: "1.3.101.110".into()
        })
    );

    // Wrong label, not PEM, broken base64, truncated DER.
    let cert = key
        .public_key()
        .to_spki_pem()
        .replace("PUBLIC KEY", "CERTIFICATE");
    assert!(matches!(
        PublicKey::from_spki_pem(&cert),
        Err(KeyError::BadPem { .. })
    ));
    assert!(matches!(
        PublicKey::from_spki_pem(RFC_PK),
        Err(KeyError::BadPem { .. })
    ));
    let broken = "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n";
    assert!(matches!(
        PublicKey::from_spki_pem(broken),
        Err(KeyError::BadPem { .. })
    ));
    let short = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(&key.public_key().to_spki_der()[..40])
    );
    assert!(matches!(
        PublicKey::from_spki_pem(&short),
        Err(KeyError::BadPem { .. })
    ));
    let huge = "A".repeat(100_000);
    assert!(matches!(
        PublicKey::from_spki_pem(&huge),
        Err(KeyError::TooLong { .. })
    ));
}

#[test]
fn not_on_curve_matches_dalek() {
    let mut rejected = 0;
    for y in 2u8..=60 {
        let mut b = [0u8; 32];
        b[0] = y;
        let ours = PublicKey::from_bytes(&b);
        let dalek = ed25519_dalek::VerifyingKey::from_bytes(&b);
        assert_eq!(ours.is_ok(), dalek.is_ok(), "y={y}");
        if ours.is_err() {
            assert_eq!(ours, Err(KeyError::NotOnCurve));
            rejected += 1;
        }
    }
    assert!(rejected > 5, "expected some non-points among small y");
}

#[test]
fn small_order_points_are_weak() {
    // identity, order-2 point (y = -1), order-4 point (y = 0).
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    for raw in [*identity_key().as_bytes(), minus_one, [0u8; 32]] {
        let pk = PublicKey::from_bytes(&raw).unwrap();
        assert!(pk.is_weak(), "{}", pk.to_hex());
    }
    assert!(!rfc_key().public_key().is_weak());
}

#[test]
fn weak_key_forgery_rejected_strict_accepted_lax() {
    // With A = identity, R = identity and S = 0 satisfy [S]B = R + [k]A for every message.
    let pk = identity_key();
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let text = b64(&forged);
    assert_eq!(
        verify(&pk, b"any message", &text, Strictness::Strict),
        Err(VerifyError::WeakKey)
    );
    assert_eq!(verify(&pk, b"any message", &text, Strictness::Lax), Ok(()));
    assert_eq!(verify(&pk, b"another", &text, Strictness::Lax), Ok(()));
}

#[test]
fn small_order_r_rejected_strict() {
    let key = rfc_key();
    let mut sig = key.sign(b"m").to_bytes();
    sig[..32].copy_from_slice(identity_key().as_bytes());
    assert_eq!(
        verify_signature(
            &key.public_key(),
            b"m",
            &Signature::from_bytes(sig),
            Strictness::Strict
        ),
        Err(VerifyError::SmallOrderR)
    );
}

#[test]
fn s_plus_l_rejected_strict_accepted_lax() {
    let key = rfc_key();
    let pk = key.public_key();
    let sig = key.sign(b"hello");
    let malleated = add_l(&sig);
    assert_ne!(malleated, sig);
    let text = malleated.to_base64();
    assert_eq!(
        verify(&pk, b"hello", &text, Strictness::Strict),
        Err(VerifyError::NonCanonicalS)
    );
    assert_eq!(verify(&pk, b"hello", &text, Strictness::Lax), Ok(()));
    assert_eq!(
        verify(&pk, b"hellO", &text, Strictness::Lax),
        Err(VerifyError::Mismatch)
    );
    // Top bits set: even the lax legacy check refuses.
    let mut b = sig.to_bytes();
    b[63] |= 0x80;
    assert_eq!(
        verify(&pk, b"hello", &b64(&b), Strictness::Lax),
        Err(VerifyError::NonCanonicalS)
    );
}

#[test]
fn lax_and_strict_agree_on_normal_signatures() {
    let key = SecretKey::from_seed([7u8; 32]);
    let pk = key.public_key();
    for i in 0..20u8 {
        let msg = vec![i; i as usize * 3];
        let sig = key.sign(&msg).to_base64();
        assert_eq!(verify(&pk, &msg, &sig, Strictness::Strict), Ok(()));
        assert_eq!(verify(&pk, &msg, &sig, Strictness::Lax), Ok(()));
        let mut other = msg.clone();
        other.push(1);
        assert_eq!(
            verify(&pk, &other, &sig, Strictness::Lax),
            Err(VerifyError::Mismatch)
        );
    }
}

fn hash(s: &str) -> PayloadHash {
    hash_canonical_bytes(s.as_bytes())
}

#[test]
fn canonical_string_layout() {
    let h = hash("{}");
    let f = SigningFields {
        from: "alice@acme.crabmail.ai",
        to: "bob@acme.crabmail.ai",
        subject: "Hi",
        priority: Priority::Normal,
        in_reply_to: None,
        payload_hash: &h,
    };
    assert_eq!(
        canonical_string(&f),
        format!(
            "alice@acme.crabmail.ai|bob@acme.crabmail.ai|Hi|normal||{}",
            h.as_str()
        )
    );
    // C-05: None and "" sign the same bytes.
    let g = SigningFields {
        in_reply_to: Some(""),
        ..f
    };
    assert_eq!(canonical_string(&f), canonical_string(&g));
    let r = SigningFields {
        in_reply_to: Some("msg_1_abc"),
        priority: Priority::Urgent,
        ..f
    };
    assert!(canonical_string(&r).contains("|urgent|msg_1_abc|"));
    assert!(!canonical_string_is_ambiguous(&f));
    // C-08: a `|` in a field makes two field sets collide.
    let a = SigningFields {
        from: "a|b",
        to: "c",
        ..f
    };
    let b = SigningFields {
        from: "a",
        to: "b|c",
        ..f
    };
    assert!(canonical_string_is_ambiguous(&a) && canonical_string_is_ambiguous(&b));
    assert_eq!(canonical_string(&a), canonical_string(&b));
}

#[test]
fn each_signed_field_altered_is_mismatch() {
    let key = rfc_key();
    let pk = key.public_key();
    let h = hash(r#"{"message":"x","type":"notification"}"#);
    let h2 = hash(r#"{"message":"y","type":"notification"}"#);
    let base = SigningFields {
        from: "alice@a.p",
        to: "bob@b.p",
        subject: "s",
        priority: Priority::High,
        in_reply_to: Some("msg_1_aa"),
        payload_hash: &h,
    };
    let text = sign_fields(&key, &base).to_base64();
    assert!(verify_fields(&pk, &base, &text, Strictness::Strict).is_ok());
    let altered = [
        SigningFields {
            from: "mallory@a.p",
            ..base
        },
        SigningFields {
            to: "carol@b.p",
            ..base
        },
        SigningFields {
            subject: "S",
            ..base
        },
        SigningFields {
            priority: Priority::Low,
            ..base
        },
        SigningFields {
            in_reply_to: None,
            ..base
        },
        SigningFields {
            in_reply_to: Some("msg_1_ab"),
            ..base
        },
        SigningFields {
            payload_hash: &h2,
            ..base
        },
    ];
    for f in altered {
        for s in Strictness::ALL {
            assert_eq!(
                verify_fields(&pk, &f, &text, s),
                Err(VerifyError::Mismatch),
                "{f:?}"
            );
        }
    }
}

/// Builds the signing fields from a route body the way a verifier does: only the six signed
/// inputs are read, so everything else in the body may change freely.
fn fields_of(body: &serde_json::Value, from: &str) -> (String, PayloadHash) {
    let h = payload_hash(&body["payload"], PayloadProfile::Sorted).unwrap();
    let f = SigningFields {
        from,
        to: body["to"].as_str().unwrap(),
        subject: body["subject"].as_str().unwrap(),
        priority: body["priority"]
            .as_str()
            .unwrap_or("normal")
            .parse()
            .unwrap(),
        in_reply_to: body["in_reply_to"].as_str(),
        payload_hash: &h,
    };
    (canonical_string(&f), h.clone())
}

#[test]
fn unsigned_fields_are_irrelevant() {
    let key = rfc_key();
    let body = serde_json::json!({
        "to": "bob@b.p", "subject": "s", "priority": "high",
        "payload": {"type": "notification", "message": "hi", "context": {"k": [1, 2]}},
        "id": "msg_1_aa", "timestamp": "2026-01-01T00:00:00Z", "options": {"receipt": true},
        "idempotency_key": "k1"
    });
    let (canon, _) = fields_of(&body, "alice@a.p");
    let sig = key.sign(canon.as_bytes()).to_base64();
    let mut changed = body.clone();
    changed["id"] = "msg_2_bb".into();
    changed["timestamp"] = "2030-01-01T00:00:00Z".into();
    changed["options"] = serde_json::json!({"receipt": false});
    changed["idempotency_key"] = "k2".into();
    // Key order inside the payload does not matter under the Sorted profile.
    changed["payload"] =
        serde_json::json!({"context": {"k": [1, 2]}, "message": "hi", "type": "notification"});
    let (canon2, _) = fields_of(&changed, "alice@a.p");
    assert_eq!(canon, canon2);
    assert_eq!(
        verify(
            &key.public_key(),
            canon2.as_bytes(),
            &sig,
            Strictness::Strict
        ),
        Ok(())
    );
    // ...but the payload content is signed through its hash.
    changed["payload"]["context"]["k"] = serde_json::json!([2, 1]);
    let (canon3, _) = fields_of(&changed, "alice@a.p");
    assert_eq!(
        verify(
            &key.public_key(),
            canon3.as_bytes(),
            &sig,
            Strictness::Strict
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn signature_text_strict_vs_lax() {
    let key = rfc_key();
    // Pick a message whose signature contains both '+' and '/' so url-safe differs visibly.
    let (sig, std) = (0u32..)
        .map(|i| {
            let s = key.sign(&i.to_be_bytes());
            let t = s.to_base64();
            (s, t)
        })
        .find(|(_, t)| t.contains('+') && t.contains('/'))
        .unwrap();
    assert!(std.ends_with("=="));
    assert_eq!(parse_signature_text(&std, Strictness::Strict), Ok(sig));
    assert_eq!(parse_signature_text_lax(&std), Ok((sig, vec![])));

    let url = std.replace('+', "-").replace('/', "_");
    let unpadded = std.trim_end_matches('=').to_string();
    let spaced = format!(" {}\n{} ", &std[..40], &std[40..]);
    let url_unpadded = url.trim_end_matches('=').to_string();
    let cases: [(&str, SignatureTextError, Vec<Leniency>); 4] = [
        (
            &url,
            SignatureTextError::UrlSafeAlphabet,
            vec![Leniency::UrlSafeAlphabet],
        ),
        (
            &unpadded,
            SignatureTextError::MissingPadding,
            vec![Leniency::MissingPadding],
        ),
        (
            &spaced,
            SignatureTextError::Whitespace,
            vec![Leniency::Whitespace],
        ),
        (
            &url_unpadded,
            SignatureTextError::UrlSafeAlphabet,
            vec![Leniency::UrlSafeAlphabet, Leniency::MissingPadding],
        ),
    ];
    let pk = key.public_key();
    for (text, strict_err, lenient) in cases {
        assert_eq!(
            parse_signature_text(text, Strictness::Strict),
            Err(strict_err.clone())
        );
        assert_eq!(parse_signature_text_lax(text), Ok((sig, lenient)));
        assert_eq!(parse_signature_text(text, Strictness::Lax), Ok(sig));
        assert_eq!(
            verify(&pk, b"", text, Strictness::Strict),
            Err(VerifyError::BadEncoding(strict_err))
        );
    }

    // Non-zero trailing bits: the 88th-but-two char carries 4 unused bits.
    let mut chars: Vec<char> = std.chars().collect();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let idx = alphabet.find(chars[85]).unwrap();
    chars[85] = alphabet.as_bytes()[idx | 1] as char;
    if idx & 1 == 1 {
        chars[85] = alphabet.as_bytes()[idx ^ 1] as char;
    }
    let dirty: String = chars.into_iter().collect();
    assert_ne!(dirty, std);
    assert!(matches!(
        parse_signature_text(&dirty, Strictness::Strict),
        Err(SignatureTextError::InvalidBase64 { .. })
    ));
    let (lax_sig, len) = parse_signature_text_lax(&dirty).unwrap();
    assert_eq!(len, vec![Leniency::TrailingBits]);
    // Only the unused bits differ, so the decoded bytes are identical.
    assert_eq!(lax_sig, sig);

    // Length and garbage.
    assert_eq!(
        parse_signature_text("", Strictness::Strict),
        Err(SignatureTextError::Empty)
    );
    assert_eq!(
        parse_signature_text("  ", Strictness::Lax),
        Err(SignatureTextError::Empty)
    );
    assert_eq!(
        parse_signature_text(&b64(&[1u8; 63]), Strictness::Strict),
        Err(SignatureTextError::WrongLength { len: 63 })
    );
    assert_eq!(
        verify(&pk, b"", &b64(&[1u8; 65]), Strictness::Lax),
        Err(VerifyError::WrongLength { len: 65 })
    );
    assert!(matches!(
        parse_signature_text("!!!!", Strictness::Lax),
        Err(SignatureTextError::InvalidBase64 { .. })
    ));
    assert!(matches!(
        parse_signature_text(&"A".repeat(5000), Strictness::Lax),
        Err(SignatureTextError::TooLong { .. })
    ));
}

#[test]
fn key_text_forms() {
    let pk = rfc_key().public_key();
    assert_eq!(PublicKey::from_hex(&RFC_PK.to_uppercase()), Ok(pk));
    assert!(matches!(
        PublicKey::from_hex("zz"),
        Err(KeyError::WrongLength { .. })
    ));
    assert!(matches!(
        PublicKey::from_hex(&"zz".repeat(32)),
        Err(KeyError::BadEncoding {
            encoding: "hex",
            ..
        })
    ));
    assert_eq!(PublicKey::from_base64(&b64(pk.as_bytes())), Ok(pk));
    assert_eq!(
        PublicKey::from_base64(&b64(&[0u8; 31])),
        Err(KeyError::WrongLength { len: 31 })
    );
}

#[test]
fn fingerprints() {
    use sha2::Digest as _;
    let pk = rfc_key().public_key();
    let raw = sha2::Sha256::digest(pk.as_bytes());
    let der = sha2::Sha256::digest(pk.to_spki_der());
    let pad = format!("SHA256:{}", b64(&raw));
    assert_eq!(pk.fingerprint(FingerprintProfile::default()), pad);
    assert_eq!(
        pk.fingerprint(FingerprintProfile::Raw32B64NoPad),
        pad.trim_end_matches('=')
    );
    assert_eq!(
        pk.fingerprint(FingerprintProfile::SpkiDer),
        format!("SHA256:{}", b64(&der))
    );
    assert_ne!(pk.fingerprint(FingerprintProfile::SpkiDer), pad);
    assert_eq!(
        pk.matching_fingerprint_profiles(&pad),
        vec![FingerprintProfile::Raw32B64Pad]
    );
    for p in FingerprintProfile::ALL {
        assert_eq!(p.name().parse::<FingerprintProfile>(), Ok(p));
    }
    assert!("sha1".parse::<FingerprintProfile>().is_err());
}

/// Runs `openssl` when installed; returns None (test skips) otherwise.
fn openssl(args: &[&str]) -> Option<std::process::Output> {
    std::process::Command::new("openssl")
        .args(args)
        .output()
        .ok()
}

#[test]
fn cross_check_with_openssl() {
    if openssl(&["version"]).is_none_or(|o| !o.status.success()) {
        eprintln!("openssl not installed: skipping cross-check");
        return;
    }
    let dir = std::env::temp_dir().join(format!("amp-core-signing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = SecretKey::from_seed([0x42; 32]);
    let key_path = dir.join("key.pem");
    let msg_path = dir.join("msg.bin");
    let sig_path = dir.join("sig.bin");
    let pub_path = dir.join("pub.pem");
    let msg = b"alice@a.p|bob@b.p|Hi|normal||4Z/XSV1AZKYKorrN9OyxY5kTmYXHIZY37sGUfOrHkdg=";
    std::fs::write(&key_path, key.to_pkcs8_pem()).unwrap();
    std::fs::write(&msg_path, msg).unwrap();
    let p = |x: &std::path::Path| x.to_str().unwrap().to_string();

    let out = openssl(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        &p(&key_path),
        "-rawin",
        "-in",
        &p(&msg_path),
        "-out",
        &p(&sig_path),
    ])
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = std::fs::read(&sig_path).unwrap();
    assert_eq!(theirs.as_slice(), key.sign(msg).to_bytes().as_slice());

    // OpenSSL's public key PEM parses to ours, and ours verifies under OpenSSL.
    let out = openssl(&[
        "pkey",
        "-in",
        &p(&key_path),
        "-pubout",
        "-out",
        &p(&pub_path),
    ])
    .unwrap();
    assert!(out.status.success());
    let their_pub = std::fs::read_to_string(&pub_path).unwrap();
    assert_eq!(their_pub, key.public_key().to_spki_pem());
    assert_eq!(PublicKey::from_spki_pem(&their_pub), Ok(key.public_key()));
    std::fs::write(&pub_path, key.public_key().to_spki_pem()).unwrap();
    let out = openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        &p(&pub_path),
        "-rawin",
        "-in",
        &p(&msg_path),
        "-sigfile",
        &p(&sig_path),
    ])
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn strictness_names() {
    for s in Strictness::ALL {
        assert_eq!(s.name().parse::<Strictness>(), Ok(s));
    }
    assert!("loose".parse::<Strictness>().is_err());
}

proptest! {
    #[test]
    fn parse_signature_text_never_panics(s in ".{0,200}") {
        let _ = parse_signature_text(&s, Strictness::Strict);
        let _ = parse_signature_text_lax(&s);
    }

    #[test]
    fn base64ish_signature_text_never_panics(s in "[A-Za-z0-9+/=_ \n-]{0,120}") {
        let strict = parse_signature_text(&s, Strictness::Strict);
        let lax = parse_signature_text(&s, Strictness::Lax);
        // Whatever strict accepts, lax accepts identically.
        if let Ok(sig) = strict {
            prop_assert_eq!(lax, Ok(sig));
        }
    }

    #[test]
    fn key_parsers_never_panic(s in ".{0,300}") {
        let _ = PublicKey::from_spki_pem(&s);
        let _ = PublicKey::from_hex(&s);
        let _ = PublicKey::from_base64(&s);
        let _ = SecretKey::from_pkcs8_pem(&s);
    }

    #[test]
    fn pem_shaped_keys_never_panic(body in "[A-Za-z0-9+/=]{0,120}") {
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
        let _ = PublicKey::from_spki_pem(&pem);
    }

    #[test]
    fn arbitrary_der_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", b64(&bytes));
        let _ = PublicKey::from_spki_pem(&pem);
    }

    #[test]
    fn hex_of_any_32_bytes_agrees_with_dalek(raw in any::<[u8; 32]>()) {
        let ours = PublicKey::from_hex(&hex::encode(raw));
        let dalek = ed25519_dalek::VerifyingKey::from_bytes(&raw);
        prop_assert_eq!(ours.is_ok(), dalek.is_ok());
        if let (Ok(p), Ok(d)) = (ours, dalek) {
            prop_assert_eq!(p.is_weak(), d.is_weak());
        }
    }

    #[test]
    fn sign_verify_roundtrip(seed in any::<[u8; 32]>(), msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let key = SecretKey::from_seed(seed);
        let pk = key.public_key();
        prop_assert_eq!(PublicKey::from_spki_pem(&pk.to_spki_pem()), Ok(pk));
        let sig = key.sign(&msg);
        prop_assert_eq!(verify(&pk, &msg, &sig.to_base64(), Strictness::Strict), Ok(()));
        let url = sig.to_base64().replace('+', "-").replace('/', "_");
        prop_assert_eq!(verify(&pk, &msg, url.trim_end_matches('='), Strictness::Lax), Ok(()));
        prop_assert_eq!(
            verify(&pk, &msg, &add_l(&sig).to_base64(), Strictness::Strict),
            Err(VerifyError::NonCanonicalS)
        );
        prop_assert_eq!(verify(&pk, &msg, &add_l(&sig).to_base64(), Strictness::Lax), Ok(()));
    }
}
