//! Steps that judge JSON shapes field by field (a missing field or one of the wrong JSON type is
//! named, nothing else is assumed) and read a provider's public key and fingerprint.

use crate::provider_key::ProviderKey;
use amp_core::signing::FingerprintProfile;
use amp_runner::{Resp, fail};
use serde_json::{Map, Value};

/// JSON type a field must have.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Bool,
    Num,
    Arr,
    Obj,
}

impl Ty {
    pub(crate) fn matches(self, v: &Value) -> bool {
        match self {
            Ty::Str => v.as_str().is_some_and(|s| !s.is_empty()),
            Ty::Bool => v.is_boolean(),
            Ty::Num => v.is_number(),
            Ty::Arr => v.is_array(),
            Ty::Obj => v.is_object(),
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Str => "a non-empty string",
            Ty::Bool => "a boolean",
            Ty::Num => "a number",
            Ty::Arr => "an array",
            Ty::Obj => "an object",
        }
    }
}

/// Every problem with `fields` in `obj` (missing or of the wrong type), prefixed by `at`.
pub(crate) fn shape_problems(
    obj: &Map<String, Value>,
    at: &str,
    fields: &[(&str, Ty)],
) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(f, ty)| match obj.get(*f) {
            None => Some(format!("`{at}{f}` is missing")),
            Some(v) if !ty.matches(v) => Some(format!("`{at}{f}` is not {}", ty.name())),
            Some(_) => None,
        })
        .collect()
}

/// The body as a JSON object, or a failure naming the endpoint.
pub(crate) fn object<'r>(
    resp: &'r Resp,
    what: &str,
) -> Result<&'r Map<String, Value>, amp_runner::Failure> {
    match resp.json().and_then(Value::as_object) {
        Some(o) => Ok(o),
        None => fail(format!("{what} did not answer a JSON object")),
    }
}

/// A provider public key and fingerprint published by discovery: the key must be an Ed25519
/// SPKI PEM and the fingerprint a C-19 form of it (none: a problem). Returns a note when the
/// form is not `expected`, the one the run declared with `--fingerprint` (or the default).
pub(crate) fn key_and_fingerprint(
    obj: &Map<String, Value>,
    what: &str,
    expected: FingerprintProfile,
    problems: &mut Vec<String>,
) -> Option<String> {
    let pem = obj.get("public_key").and_then(Value::as_str)?;
    let fp = obj.get("fingerprint").and_then(Value::as_str)?;
    // 07: Ed25519, RSA-2048+ or ECDSA P-256; only Ed25519 fingerprints have known forms.
    let pk = match crate::provider_key::parse(pem) {
        Ok(ProviderKey::Ed25519(pk)) => pk,
        Ok(ProviderKey::Rsa { bits }) if bits < 2048 => {
            problems.push(format!(
                "{what} `public_key` is an RSA key of {bits} bits; 07 requires at least 2048"
            ));
            return None;
        }
        Ok(ProviderKey::Rsa { .. } | ProviderKey::P256) => return None,
        Err(e) => {
            problems.push(format!(
                "{what} `public_key` is not a provider key 07 allows: {e}"
            ));
            return None;
        }
    };
    let forms = pk.matching_fingerprint_profiles(fp);
    if forms.contains(&expected) {
        None
    } else if let Some(p) = forms.first() {
        Some(format!(
            "{what} `fingerprint` is the {p} form of its public key, not the {expected} form \
             the run expects (C-19; declare --fingerprint {p} if the target means to use it)"
        ))
    } else {
        problems.push(format!(
            "{what} `fingerprint` is no form (raw32-b64pad, raw32-b64nopad, spki-der) of its \
             public key"
        ));
        None
    }
}
