//! Judging a refusal by its behaviour: the status decides the verdict of the case's clause;
//! an error code other than the spec's, with the right status, is one run-wide finding per
//! (expected -> received) pair (API-008), never a different verdict or branch.

use amp_runner::{Ctx, Failure, Resp, fail};

/// The error code of `resp` for a finding key and a reason (`<none>` when absent).
pub(crate) fn code_of(resp: &Resp) -> &str {
    resp.error_code().unwrap_or("<none>")
}

/// The error code of `resp`, empty when it has none (for a reason that prints what came back).
pub(crate) fn code(resp: &Resp) -> &str {
    resp.error_code().unwrap_or("")
}

/// Judge a response that should be the refusal `status` + `code`: another status fails,
/// naming `clause`; the right status with a non-spec code is recorded as the run-wide finding
/// `error-code:<code>-><got>` and the check passes, because the provider refused for the
/// reason the case tests and only spells it differently (API-008). Use this wherever a case
/// expects a spec error, instead of `expect::error`.
pub(crate) fn refused(
    ctx: &Ctx,
    resp: &Resp,
    status: u16,
    code: &'static str,
    clause: &'static str,
) -> Result<(), Failure> {
    if resp.status != status {
        return fail(format!(
            "expected HTTP {status} {code} ({clause}), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    code_matches(ctx, resp, code, clause);
    Ok(())
}

/// [`refused`] with a verdict that says what was sent (`what`).
pub(crate) fn expect_refusal(
    ctx: &Ctx,
    resp: &Resp,
    status: u16,
    code: &'static str,
    clause: &'static str,
    what: &str,
) -> Result<(), Failure> {
    refused(ctx, resp, status, code, clause).map_err(|_| {
        Failure::Fail(format!(
            "{what} must be refused with HTTP {status} {code} ({clause}), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ))
    })
}

/// The right status was seen: compare the code, and record a mismatch as a finding (one root
/// cause per `expected -> received` pair for the whole run). Returns whether it matched.
pub(crate) fn code_matches(ctx: &Ctx, resp: &Resp, code: &str, clause: &'static str) -> bool {
    code_among(ctx, resp, &[code], clause)
}

/// [`code_matches`] where the spec allows any of `codes` (e.g. `invalid_request` or
/// `invalid_field` for a field that fails validation).
pub(crate) fn code_among(ctx: &Ctx, resp: &Resp, codes: &[&str], clause: &'static str) -> bool {
    let got = code_of(resp);
    if codes.contains(&got) {
        return true;
    }
    let want = codes.join("|");
    ctx.finding(
        format!("error-code:{want}->{got}"),
        clause,
        format!(
            "the provider answers HTTP {} with error `{got}` where the spec names `{want}` \
             (API-008); the status is right, so cases judge the behaviour and this spelling \
             is reported once",
            resp.status
        ),
    );
    false
}
