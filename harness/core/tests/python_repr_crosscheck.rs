//! Cross-check of the `python-ascii` profile's float printing against CPython itself: for a few
//! thousand doubles (random bit patterns, random decimals, and digit-tie cases), `repr()` in
//! Python must equal `amp_core::canonical::python_float_repr`. Skips when python3 is absent.

use std::io::Write;
use std::process::{Command, Stdio};

fn python() -> Option<()> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

/// A small deterministic generator (SplitMix64), so failures reproduce.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn python_float_repr_matches_cpython() {
    if python().is_none() {
        eprintln!("skipping: python3 not available");
        return;
    }
    let mut seed = 0x5EED_u64;
    let mut values: Vec<f64> = vec![
        112_779_752_796.0 + 29.0 / 64.0,
        0.1,
        1.0,
        1e16,
        1e-5,
        5e-324,
        1e300,
    ];
    while values.len() < 4000 {
        let bits = splitmix(&mut seed);
        let f = match values.len() % 3 {
            0 => f64::from_bits(bits),
            // Decimals with a binary fraction: where digit ties happen.
            1 => (bits % 1_000_000_000_000) as f64 + ((bits >> 40) % 64) as f64 / 64.0,
            _ => (bits % 10_000_000) as f64 / 1000.0,
        };
        if f.is_finite() {
            values.push(f);
        }
    }
    let input: String = values
        .iter()
        .map(|f| format!("{:016x}\n", f.to_bits()))
        .collect();
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys,struct\nfor l in sys.stdin:\n print(repr(struct.unpack('>d', bytes.fromhex(l.strip()))[0]))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3 runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut mismatches = Vec::new();
    for (f, want) in values.iter().zip(text.lines()) {
        // Python prints inf/nan differently; only finite values are generated.
        let want = want.trim();
        let got = amp_core::canonical::python_float_repr(*f).expect("finite");
        if got != want {
            mismatches.push(format!(
                "{:016x}: python {want}, amp-core {got}",
                f.to_bits()
            ));
        }
    }
    assert_eq!(text.lines().count(), values.len());
    assert!(
        mismatches.is_empty(),
        "{} mismatches, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}
