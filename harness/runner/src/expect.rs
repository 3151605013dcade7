//! Assertions for cases. Each returns `Err(Failure::Fail(..))` with a message that names what
//! was expected and what the target did, so the report reads without the transcript.

use crate::verdict::Failure;
use amp_client::Resp;
use serde_json::Value;

fn excerpt(resp: &Resp) -> String {
    if let Some(code) = resp.error_code() {
        return format!("error `{code}`");
    }
    let t = resp.text();
    let cut: String = t.chars().take(160).collect();
    if cut.is_empty() {
        "empty body".to_string()
    } else if t.chars().count() > 160 {
        format!("body `{cut}…`")
    } else {
        format!("body `{cut}`")
    }
}

/// Status is exactly `code`.
pub fn status(resp: &Resp, code: u16) -> Result<(), Failure> {
    if resp.status == code {
        Ok(())
    } else {
        Err(Failure::Fail(format!(
            "expected HTTP {code}, got {} ({})",
            resp.status,
            excerpt(resp)
        )))
    }
}

/// Status is one of `codes`.
pub fn status_in(resp: &Resp, codes: &[u16]) -> Result<(), Failure> {
    if codes.contains(&resp.status) {
        Ok(())
    } else {
        Err(Failure::Fail(format!(
            "expected HTTP {codes:?}, got {} ({})",
            resp.status,
            excerpt(resp)
        )))
    }
}

/// 2xx.
pub fn success(resp: &Resp) -> Result<(), Failure> {
    if resp.is_success() {
        Ok(())
    } else {
        Err(Failure::Fail(format!(
            "expected a 2xx success, got {} ({})",
            resp.status,
            excerpt(resp)
        )))
    }
}

/// 4xx: the request was refused (any reason).
pub fn rejected(resp: &Resp) -> Result<(), Failure> {
    if (400..500).contains(&resp.status) {
        Ok(())
    } else {
        Err(Failure::Fail(format!(
            "expected the request to be refused with a 4xx, got {} ({})",
            resp.status,
            excerpt(resp)
        )))
    }
}

/// Status AND error code. A refusal for another reason is a failure naming both, because a
/// target that refuses for the wrong reason has not shown it checks what the case tests.
pub fn error(resp: &Resp, status: u16, code: &str) -> Result<(), Failure> {
    let got = resp.error_code();
    if resp.status == status && got == Some(code) {
        return Ok(());
    }
    Err(Failure::Fail(format!(
        "expected HTTP {status} with error `{code}`, got HTTP {} with {}",
        resp.status,
        match got {
            Some(c) => format!("error `{c}`"),
            None => excerpt(resp),
        }
    )))
}

/// The body has the API-007 error shape: an object with string `error` and `message`,
/// optional string `field`, optional object `details`.
pub fn error_format(resp: &Resp) -> Result<(), Failure> {
    let Some(v) = resp.json() else {
        return Err(Failure::Fail(format!(
            "error response (HTTP {}) is not JSON (API-007 wants {{error, message}}): {}",
            resp.status,
            excerpt(resp)
        )));
    };
    let Some(obj) = v.as_object() else {
        return Err(Failure::Fail(
            "error response is JSON but not an object (API-007)".to_string(),
        ));
    };
    let mut problems = Vec::new();
    match obj.get("error") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(_) => problems.push("`error` is not a non-empty string"),
        None => problems.push("`error` is missing"),
    }
    match obj.get("message") {
        Some(Value::String(_)) => {}
        Some(_) => problems.push("`message` is not a string"),
        None => problems.push("`message` is missing"),
    }
    if obj
        .get("field")
        .is_some_and(|f| !f.is_string() && !f.is_null())
    {
        problems.push("`field` is not a string");
    }
    if obj
        .get("details")
        .is_some_and(|d| !d.is_object() && !d.is_null())
    {
        problems.push("`details` is not an object");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Fail(format!(
            "error body does not have the API-007 shape: {}",
            problems.join(", ")
        )))
    }
}

/// The value at JSON pointer `ptr` (`"/id"`, `"/data/address"`).
pub fn json_field<'r>(resp: &'r Resp, ptr: &str) -> Result<&'r Value, Failure> {
    let Some(v) = resp.json() else {
        return Err(Failure::Fail(format!(
            "expected a JSON body with `{ptr}`, got HTTP {} ({})",
            resp.status,
            excerpt(resp)
        )));
    };
    v.pointer(ptr).ok_or_else(|| {
        Failure::Fail(format!(
            "response (HTTP {}) lacks field `{ptr}`",
            resp.status
        ))
    })
}

/// The string at `ptr`.
pub fn json_str<'r>(resp: &'r Resp, ptr: &str) -> Result<&'r str, Failure> {
    json_field(resp, ptr)?
        .as_str()
        .ok_or_else(|| Failure::Fail(format!("field `{ptr}` is not a string")))
}

/// A generic condition: `expect::that(x == y, "reason")?`.
pub fn that(cond: bool, reason: impl Into<String>) -> Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(Failure::Fail(reason.into()))
    }
}

/// The usual ending of a case that collects every problem it sees before judging: pass when
/// there is none, otherwise fail with `requirement: problem; problem; …`.
pub fn no_problems(problems: &[String], requirement: &str) -> crate::CaseResult {
    if problems.is_empty() {
        Ok(crate::Outcome::Pass)
    } else {
        Err(Failure::Fail(format!(
            "{requirement}: {}",
            problems.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_problems_passes_only_without_problems() {
        assert_eq!(no_problems(&[], "X-001"), Ok(crate::Outcome::Pass));
        assert_eq!(
            no_problems(&["a".into(), "b".into()], "X-001"),
            Err(Failure::Fail("X-001: a; b".into()))
        );
    }

    fn r(status: u16, body: &str) -> Resp {
        Resp::new(status, vec![], body.as_bytes().to_vec())
    }

    #[test]
    fn error_checks_status_and_code() {
        let x = r(403, r#"{"error":"signature_invalid","message":"no"}"#);
        assert!(error(&x, 403, "signature_invalid").is_ok());
        let Err(Failure::Fail(m)) = error(&x, 403, "forbidden") else {
            panic!()
        };
        assert!(
            m.contains("forbidden") && m.contains("signature_invalid"),
            "{m}"
        );
        assert!(
            error(
                &r(400, r#"{"error":"signature_invalid"}"#),
                403,
                "signature_invalid"
            )
            .is_err()
        );
    }

    #[test]
    fn error_format_shape() {
        assert!(error_format(&r(400, r#"{"error":"x","message":"y"}"#)).is_ok());
        assert!(
            error_format(&r(
                400,
                r#"{"error":"x","message":"y","field":"a","details":{}}"#
            ))
            .is_ok()
        );
        assert!(error_format(&r(400, r#"{"error":"x"}"#)).is_err());
        assert!(error_format(&r(400, r#"{"error":1,"message":"y"}"#)).is_err());
        assert!(error_format(&r(400, "oops")).is_err());
        assert!(error_format(&r(400, "[1]")).is_err());
    }

    #[test]
    fn status_success_field() {
        assert!(status(&r(201, "{}"), 201).is_ok());
        assert!(status(&r(200, "{}"), 201).is_err());
        assert!(success(&r(204, "")).is_ok());
        assert!(success(&r(302, "")).is_err());
        assert!(rejected(&r(422, "")).is_ok());
        assert!(status_in(&r(409, ""), &[400, 409]).is_ok());
        let x = r(200, r#"{"a":{"b":"c"}}"#);
        assert_eq!(json_str(&x, "/a/b").unwrap(), "c");
        assert!(json_field(&x, "/a/z").is_err());
        assert!(json_str(&r(200, r#"{"a":1}"#), "/a").is_err());
        assert!(that(false, "x").is_err());
    }
}
