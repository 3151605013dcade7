//! Agent addresses (spec 02; catalogue ADDR-001..009, MESH-001/002, contradictions C-15, C-16).
//!
//! The grammar is the ABNF of ADDR-001 with the constraints of ADDR-002..004: an agent name of
//! 1-63 characters from `[A-Za-z0-9_-]`, `@`, then at least three DNS labels of 1-63 characters
//! from `[A-Za-z0-9-]`, whole address at most 254 characters, ASCII only. Addresses are
//! case-insensitive (ADDR-005), so the parsed form is lowercase.
//!
//! Where the scope (tenant) ends and the provider domain begins is not defined by the spec
//! (C-15). The default split [`ProviderSplit::Last2`] takes the last two labels as the provider,
//! which is what the published vectors (addr-002) expect.

use std::fmt;
use std::str::FromStr;

/// Longest allowed agent name (ADDR-002).
pub const MAX_NAME_LEN: usize = 63;
/// Longest allowed DNS label in the scope or provider (ADDR-003).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest allowed full address (ADDR-004).
pub const MAX_ADDRESS_LEN: usize = 254;
/// Top-level labels that mark a local-network address (MESH-002). The published vectors and
/// spec 05's routing algorithm only look at `local` (C-66).
pub const LOCAL_TLDS: [&str; 3] = ["local", "internal", "localhost"];

/// How to split the domain part of an address into tenant (scope) and provider (C-15).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProviderSplit {
    /// Provider = the last two DNS labels, tenant = the rest (the published vectors' rule).
    #[default]
    Last2,
    /// Provider = the longest listed domain that is a proper label-suffix of the address's domain
    /// (leaving at least one tenant label); falls back to [`ProviderSplit::Last2`] when none match.
    /// Entries are compared case-insensitively.
    Known(Vec<String>),
}

/// A parsed, lowercase-normalised full address `name@tenant.provider`.
///
/// Only [`Address::parse`], [`Address::parse_with`] and [`AddressForm::expand`] build one, so
/// holding an `Address` means the string satisfied ADDR-001..004.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    full: String,
    /// Byte index of the `@`.
    at: usize,
    /// Byte index of the first provider byte (just after the dot ending the tenant).
    provider_start: usize,
}

/// A full address or one of the short forms agents may use inside a tenant (ADDR-008, MESH-011).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressForm {
    /// `name@tenant.provider`.
    Full(Address),
    /// `name` (tenant `None`) or `name@tenant` where tenant is a single label.
    Short {
        name: String,
        tenant: Option<String>,
    },
}

/// Why an address was rejected; [`AddressError::rule`] gives the catalogue id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address is empty: give `name@tenant.provider`")]
    Empty,
    #[error(
        "address contains a non-ASCII character at byte {pos}: addresses are ASCII only (internationalised names are not allowed)"
    )]
    NonAscii { pos: usize },
    #[error("address is {len} characters long: the whole address must be at most 254 characters")]
    TooLong { len: usize },
    #[error("address has no `@`: give `name@tenant.provider`")]
    MissingAt,
    #[error("address has more than one `@` (second at byte {pos}): exactly one is allowed")]
    MultipleAt { pos: usize },
    #[error("agent name is empty: put 1-63 characters of [A-Za-z0-9_-] before the `@`")]
    NameEmpty,
    #[error("agent name is {len} characters long: it must be at most 63")]
    NameTooLong { len: usize },
    #[error(
        "agent name contains {ch:?} at position {pos}: only letters, digits, `-` and `_` are allowed (no `.`)"
    )]
    NameBadChar { ch: char, pos: usize },
    #[error("domain part is empty: give `tenant.provider` after the `@`")]
    DomainEmpty,
    #[error(
        "domain label {index} is empty (leading, trailing or doubled `.`): every label needs 1-63 characters"
    )]
    EmptyLabel { index: usize },
    #[error("domain label `{label}` is {len} characters long: labels must be at most 63")]
    LabelTooLong { label: String, len: usize },
    #[error(
        "domain label `{label}` contains {ch:?}: labels allow only letters, digits and `-` (no `_`)"
    )]
    LabelBadChar { label: String, ch: char },
    #[error(
        "domain has {count} label(s): a full address needs at least a tenant label plus a two-label provider, e.g. `name@acme.example.com`"
    )]
    TooFewLabels { count: usize },
    #[error(
        "short address `{input}` is ambiguous: use `name`, `name@tenant` (one label) or a full `name@tenant.provider`"
    )]
    AmbiguousShort { input: String },
    #[error("cannot expand with provider `{provider}`: it must be a domain of at least two labels")]
    BadExpansionProvider { provider: String },
}

impl AddressError {
    /// The catalogue id of the rule that failed.
    pub fn rule(&self) -> &'static str {
        use AddressError::*;
        match self {
            Empty
            | NonAscii { .. }
            | MissingAt
            | MultipleAt { .. }
            | DomainEmpty
            | TooFewLabels { .. } => "ADDR-001",
            NameEmpty | NameTooLong { .. } | NameBadChar { .. } => "ADDR-002",
            EmptyLabel { .. } | LabelTooLong { .. } | LabelBadChar { .. } => "ADDR-003",
            TooLong { .. } => "ADDR-004",
            AmbiguousShort { .. } | BadExpansionProvider { .. } => "ADDR-008",
        }
    }
}

fn check_ascii(s: &str) -> Result<(), AddressError> {
    if s.is_empty() {
        return Err(AddressError::Empty);
    }
    match s.bytes().position(|b| !b.is_ascii()) {
        Some(pos) => Err(AddressError::NonAscii { pos }),
        None => Ok(()),
    }
}

fn check_name(name: &str) -> Result<(), AddressError> {
    if name.is_empty() {
        return Err(AddressError::NameEmpty);
    }
    if let Some((pos, ch)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(AddressError::NameBadChar { ch, pos });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(AddressError::NameTooLong { len: name.len() });
    }
    Ok(())
}

/// Checks every label of a dotted domain; returns the label count.
fn check_labels(domain: &str) -> Result<usize, AddressError> {
    if domain.is_empty() {
        return Err(AddressError::DomainEmpty);
    }
    let mut count = 0;
    for (index, label) in domain.split('.').enumerate() {
        count += 1;
        if label.is_empty() {
            return Err(AddressError::EmptyLabel { index });
        }
        if let Some(ch) = label
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(AddressError::LabelBadChar {
                label: truncate(label),
                ch,
            });
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(AddressError::LabelTooLong {
                label: truncate(label),
                len: label.len(),
            });
        }
    }
    Ok(count)
}

/// Keeps error messages short when a hostile label is huge.
fn truncate(s: &str) -> String {
    if s.len() <= 80 {
        s.to_string()
    } else {
        let mut end = 77;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

impl Address {
    /// Parses a full address with the default [`ProviderSplit::Last2`].
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        Self::parse_with(s, &ProviderSplit::Last2)
    }

    /// Parses a full address, splitting tenant and provider as `split` says.
    pub fn parse_with(s: &str, split: &ProviderSplit) -> Result<Address, AddressError> {
        check_ascii(s)?;
        let mut ats = s.match_indices('@').map(|(i, _)| i);
        let at = ats.next().ok_or(AddressError::MissingAt)?;
        if let Some(pos) = ats.next() {
            return Err(AddressError::MultipleAt { pos });
        }
        let lower = s.to_ascii_lowercase();
        let (name, domain) = (&lower[..at], &lower[at + 1..]);
        check_name(name)?;
        let count = check_labels(domain)?;
        if count < 3 {
            return Err(AddressError::TooFewLabels { count });
        }
        if lower.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong { len: lower.len() });
        }
        let provider_in_domain = provider_offset(domain, split);
        let provider_start = at + 1 + provider_in_domain;
        Ok(Address {
            full: lower,
            at,
            provider_start,
        })
    }

    /// The agent name (before the `@`).
    pub fn name(&self) -> &str {
        &self.full[..self.at]
    }

    /// The scope / tenant; may contain dots (`team.acme`).
    pub fn tenant(&self) -> &str {
        &self.full[self.at + 1..self.provider_start - 1]
    }

    /// The provider domain.
    pub fn provider(&self) -> &str {
        &self.full[self.provider_start..]
    }

    /// The domain after the `@` (tenant + provider).
    pub fn domain(&self) -> &str {
        &self.full[self.at + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// True for `.local`, `.internal` and `.localhost` addresses (MESH-002).
    pub fn is_local(&self) -> bool {
        self.local_tld().is_some()
    }

    /// The local-network top-level label, if any. The published vectors only treat `local` as
    /// local (C-66); callers that follow them compare this with `Some("local")`.
    pub fn local_tld(&self) -> Option<&str> {
        let tld = self.full.rsplit('.').next()?;
        LOCAL_TLDS.iter().find(|t| **t == tld).copied()
    }
}

/// Byte offset (within `domain`) where the provider starts. `domain` has at least 3 labels.
fn provider_offset(domain: &str, split: &ProviderSplit) -> usize {
    if let ProviderSplit::Known(list) = split {
        let best = list
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .filter(|p| {
                !p.is_empty()
                    && domain.len() > p.len() + 1
                    && domain.ends_with(p.as_str())
                    && domain.as_bytes()[domain.len() - p.len() - 1] == b'.'
            })
            .map(|p| p.len())
            .max();
        if let Some(len) = best {
            return domain.len() - len;
        }
    }
    // Last two labels: the byte after the second-to-last dot.
    let mut dots = domain.rmatch_indices('.').map(|(i, _)| i);
    let _last = dots.next();
    match dots.next() {
        Some(i) => i + 1,
        None => 0, // unreachable for >= 3 labels; keeps this total
    }
}

impl AddressForm {
    /// Expands a short form to a full address in `tenant` at `provider` (ADDR-009, MESH-011):
    /// `name` → `name@tenant.provider`, `name@t` → `name@t.provider`; full addresses are
    /// returned unchanged. The result is checked against the full grammar.
    pub fn expand(&self, tenant: &str, provider: &str) -> Result<Address, AddressError> {
        match self {
            AddressForm::Full(a) => Ok(a.clone()),
            AddressForm::Short { name, tenant: own } => {
                if !provider.contains('.') {
                    return Err(AddressError::BadExpansionProvider {
                        provider: truncate(provider),
                    });
                }
                let t = own.as_deref().unwrap_or(tenant);
                let full = format!("{name}@{t}.{provider}");
                let split = ProviderSplit::Known(vec![provider.to_string()]);
                Address::parse_with(&full, &split)
            }
        }
    }
}

/// Parses a full address or a short form: `name` or `name@tenant` (tenant one label, ADDR-008,
/// vector addr-004). A domain of exactly two labels is neither (it would have no tenant under
/// `last2`) and is refused as ambiguous.
pub fn parse_any(s: &str) -> Result<AddressForm, AddressError> {
    check_ascii(s)?;
    match s.find('@') {
        None => {
            let name = s.to_ascii_lowercase();
            check_name(&name)?;
            Ok(AddressForm::Short { name, tenant: None })
        }
        Some(at) => {
            let domain = &s[at + 1..];
            if domain.contains('@') {
                return Address::parse(s).map(AddressForm::Full);
            }
            match domain.matches('.').count() {
                0 => {
                    let lower = s.to_ascii_lowercase();
                    let (name, tenant) = (&lower[..at], &lower[at + 1..]);
                    check_name(name)?;
                    check_labels(tenant)?;
                    Ok(AddressForm::Short {
                        name: name.to_string(),
                        tenant: Some(tenant.to_string()),
                    })
                }
                1 => {
                    // Validate the parts first so that the error names a concrete rule.
                    let lower = s.to_ascii_lowercase();
                    check_name(&lower[..at])?;
                    check_labels(&lower[at + 1..])?;
                    Err(AddressError::AmbiguousShort { input: truncate(s) })
                }
                _ => Address::parse(s).map(AddressForm::Full),
            }
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Display for AddressForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressForm::Full(a) => a.fmt(f),
            AddressForm::Short { name, tenant: None } => f.write_str(name),
            AddressForm::Short {
                name,
                tenant: Some(t),
            } => write!(f, "{name}@{t}"),
        }
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl AsRef<str> for Address {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        let a = Address::parse("alice@acme.crabmail.ai").unwrap();
        assert_eq!(
            (a.name(), a.tenant(), a.provider(), a.is_local()),
            ("alice", "acme", "crabmail.ai", false)
        );
        let b = Address::parse("bob@team.acme.crabmail.ai").unwrap();
        assert_eq!(
            (b.name(), b.tenant(), b.provider()),
            ("bob", "team.acme", "crabmail.ai")
        );
        let c = Address::parse("agent@org.aimaestro.local").unwrap();
        assert_eq!(
            (c.tenant(), c.provider(), c.is_local(), c.local_tld()),
            ("org", "aimaestro.local", true, Some("local"))
        );
        assert_eq!(
            parse_any("simple-name").unwrap(),
            AddressForm::Short {
                name: "simple-name".into(),
                tenant: None
            }
        );
    }

    #[test]
    fn lowercases_and_round_trips() {
        let a: Address = "Alice_X@ACME.Crabmail.AI".parse().unwrap();
        assert_eq!(a.as_str(), "alice_x@acme.crabmail.ai");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"alice_x@acme.crabmail.ai\"");
        let back: Address = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<Address>("\"nope\"").is_err());
    }

    #[test]
    fn rejections_name_the_rule() {
        let cases: &[(&str, &str)] = &[
            ("", "ADDR-001"),
            ("alice", "ADDR-001"),
            ("a@b@c.d.e", "ADDR-001"),
            ("a@acme.com", "ADDR-001"),
            ("@acme.x.com", "ADDR-002"),
            ("a.b@acme.x.com", "ADDR-002"),
            ("é@acme.x.com", "ADDR-001"),
            ("a@ac_me.x.com", "ADDR-003"),
            ("a@.acme.x.com", "ADDR-003"),
            ("a@acme.x.com.", "ADDR-003"),
            ("a@acme..x.com", "ADDR-003"),
        ];
        for (input, rule) in cases {
            let err = Address::parse(input).unwrap_err();
            assert_eq!(err.rule(), *rule, "{input}: {err}");
        }
        let long_name = format!("{}@acme.x.com", "n".repeat(64));
        assert_eq!(
            Address::parse(&long_name).unwrap_err(),
            AddressError::NameTooLong { len: 64 }
        );
        assert!(Address::parse(&format!("{}@acme.x.com", "n".repeat(63))).is_ok());
        let long_label = format!("a@{}.x.com", "l".repeat(64));
        assert!(matches!(
            Address::parse(&long_label).unwrap_err(),
            AddressError::LabelTooLong { len: 64, .. }
        ));
    }

    #[test]
    fn total_length_boundary() {
        // name(63) + '@' + labels: build exactly 254 and 255.
        let name = "n".repeat(63);
        let l63 = "l".repeat(63);
        // 63+1 + 63+1+63+1+ x + 1 + "com"(3)  => 254 needs x = 58
        let ok = format!("{name}@{l63}.{l63}.{}.com", "l".repeat(58));
        assert_eq!(ok.len(), 254);
        assert!(Address::parse(&ok).is_ok());
        let bad = format!("{name}@{l63}.{l63}.{}.com", "l".repeat(59));
        assert_eq!(
            Address::parse(&bad).unwrap_err(),
            AddressError::TooLong { len: 255 }
        );
    }

    #[test]
    fn known_split_and_local_tlds() {
        let split = ProviderSplit::Known(vec!["agents.corp.io".into()]);
        let a = Address::parse_with("bob@team.agents.corp.io", &split).unwrap();
        assert_eq!((a.tenant(), a.provider()), ("team", "agents.corp.io"));
        let b = Address::parse_with("bob@team.acme.crabmail.ai", &split).unwrap();
        assert_eq!(b.provider(), "crabmail.ai");
        // A known provider that is the whole domain would leave no tenant: fall back.
        let c = Address::parse_with(
            "bob@x.agents.corp.io",
            &ProviderSplit::Known(vec!["x.agents.corp.io".into()]),
        )
        .unwrap();
        assert_eq!(c.provider(), "corp.io");
        assert_eq!(
            Address::parse("a@h.org.p.internal").unwrap().local_tld(),
            Some("internal")
        );
        assert!(Address::parse("a@h.p.localhost").unwrap().is_local());
        assert!(!Address::parse("a@h.local.com").unwrap().is_local());
    }

    #[test]
    fn short_forms_expand() {
        let s = parse_any("agent-b").unwrap();
        assert_eq!(
            s.expand("host1", "prov.local").unwrap().as_str(),
            "agent-b@host1.prov.local"
        );
        let t = parse_any("Agent-B@Server-01").unwrap();
        assert_eq!(
            t,
            AddressForm::Short {
                name: "agent-b".into(),
                tenant: Some("server-01".into())
            }
        );
        assert_eq!(
            t.expand("ignored", "prov.local").unwrap().as_str(),
            "agent-b@server-01.prov.local"
        );
        let e = t.expand("x", "prov.local").unwrap();
        assert_eq!((e.tenant(), e.provider()), ("server-01", "prov.local"));
        assert!(matches!(
            parse_any("a@acme.com"),
            Err(AddressError::AmbiguousShort { .. })
        ));
        assert!(matches!(
            parse_any("a@x.acme.com"),
            Ok(AddressForm::Full(_))
        ));
        assert!(parse_any("a@b_c").is_err());
        assert!(s.expand("t", "nodot").is_err());
    }
}
