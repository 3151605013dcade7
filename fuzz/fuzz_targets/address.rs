//! Address parsing (ADDR-001..009): no panic on any string; for every accepted address,
//! display → parse gives the same address (round trip), normalisation is idempotent and
//! case-insensitive, and the name/tenant/provider parts recombine to the whole.
#![no_main]

use amp_core::address::{Address, AddressForm, ProviderSplit, parse_any};
use libfuzzer_sys::fuzz_target;

/// Input format (so seeds are plain text): `address \0 tenant \0 provider \0 known1 \0 known2…`
/// — the address to parse, the tenant and provider for short-form expansion, and provider
/// domains for [`ProviderSplit::Known`]. Invalid UTF-8 is replaced (U+FFFD), which must be
/// refused like any other non-ASCII character.
struct Input {
    text: String,
    known: Vec<String>,
    tenant: String,
    provider: String,
}

fn input(data: &[u8]) -> Input {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0').map(str::to_string);
    Input {
        text: parts.next().unwrap_or_default(),
        tenant: parts.next().unwrap_or_else(|| "acme".into()),
        provider: parts.next().unwrap_or_else(|| "example.com".into()),
        known: parts.collect(),
    }
}

fn check_full(a: &Address, split: &ProviderSplit) {
    let shown = a.to_string();
    assert_eq!(shown, a.as_str());
    assert!(
        !shown.bytes().any(|b| b.is_ascii_uppercase()),
        "not lowercase: {shown:?}"
    );
    let again = Address::parse_with(&shown, split).expect("displayed address must re-parse");
    assert_eq!(&again, a, "display → parse is not stable");
    assert_eq!(again.to_string(), shown, "normalisation not idempotent");
    let upper = Address::parse_with(&shown.to_ascii_uppercase(), split)
        .expect("uppercase form of a valid address must parse (ADDR-005)");
    assert_eq!(&upper, a, "addresses must compare case-insensitively");
    assert_eq!(format!("{}@{}", a.name(), a.domain()), shown);
    assert_eq!(format!("{}.{}", a.tenant(), a.provider()), a.domain());
    assert!(
        !a.tenant().is_empty() && !a.provider().is_empty(),
        "empty tenant or provider: {shown:?} split {split:?} → tenant {:?} provider {:?}",
        a.tenant(),
        a.provider()
    );
    assert!(shown.len() <= amp_core::address::MAX_ADDRESS_LEN);
    assert_eq!(a.is_local(), a.local_tld().is_some());
}

fuzz_target!(|data: &[u8]| {
    let input = input(data);
    let split_known = ProviderSplit::Known(input.known.iter().take(4).cloned().collect());
    for split in [ProviderSplit::Last2, split_known] {
        match Address::parse_with(&input.text, &split) {
            Ok(a) => {
                check_full(&a, &split);
                // Whatever split is used, the same text is the same address.
                let last2 = Address::parse(&input.text).expect("split changes validity");
                assert_eq!(last2.as_str(), a.as_str());
            }
            Err(e) => {
                // Every error names a catalogue rule.
                assert!(e.rule().starts_with("ADDR-"));
                let _ = e.to_string();
            }
        }
    }
    match parse_any(&input.text) {
        Ok(form) => {
            let shown = form.to_string();
            let again = parse_any(&shown).expect("displayed form must re-parse");
            assert_eq!(again, form, "parse_any display round trip");
            if let AddressForm::Full(a) = &form {
                check_full(a, &ProviderSplit::Last2);
            }
            if let Ok(full) = form.expand(&input.tenant, &input.provider) {
                let re = Address::parse(full.as_str()).expect("expanded address must parse");
                assert_eq!(re.as_str(), full.as_str());
                if let AddressForm::Short { name, .. } = &form {
                    assert_eq!(full.name(), name.as_str());
                }
            }
        }
        Err(e) => {
            let _ = e.rule();
        }
    }
});
