//! Agent addresses (spec 02; catalogue ADDR-001..009, MESH-001/002, C-15, C-16).

use std::fmt;
use std::str::FromStr;

/// How to split the domain part of an address into tenant (scope) and provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProviderSplit {
    /// Provider is the last two DNS labels, tenant the rest (what the published vectors do, C-15).
    #[default]
    Last2,
    /// Provider is the longest listed suffix that matches; falls back to `Last2`.
    Known(Vec<String>),
}

/// A parsed, lowercase-normalised full address `name@tenant.provider`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    full: String,
    name_end: usize,
    provider_start: usize,
}

/// A full address or one of the short forms used inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressForm {
    Full(Address),
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
    #[error("placeholder")]
    Todo,
}

impl AddressError {
    pub fn rule(&self) -> &'static str {
        todo!()
    }
}

impl Address {
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        Self::parse_with(s, &ProviderSplit::Last2)
    }
    pub fn parse_with(_s: &str, _split: &ProviderSplit) -> Result<Address, AddressError> {
        todo!()
    }
    pub fn name(&self) -> &str {
        &self.full[..self.name_end]
    }
    pub fn tenant(&self) -> &str {
        todo!()
    }
    pub fn provider(&self) -> &str {
        &self.full[self.provider_start..]
    }
    pub fn as_str(&self) -> &str {
        &self.full
    }
    pub fn is_local(&self) -> bool {
        self.local_tld().is_some()
    }
    pub fn local_tld(&self) -> Option<&str> {
        todo!()
    }
}

impl AddressForm {
    pub fn expand(&self, _tenant: &str, _provider: &str) -> Result<Address, AddressError> {
        todo!()
    }
}

pub fn parse_any(_s: &str) -> Result<AddressForm, AddressError> {
    todo!()
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
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
